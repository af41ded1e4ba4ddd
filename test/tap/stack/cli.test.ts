import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AS_NOBODY, createCliNamespace, sh, type CliNamespace } from '../support/cli.js';
import { describeTap } from '../support/gate.js';

/**
 * The `tapstack up` and `tapstack ping` commands as users run them: the compiled CLI
 * (dist/, built by `npm install`/`npm run build`) runs INSIDE a fresh namespace and
 * attaches to a persistent TAP device made there with `ip tuntap add`, whose kernel
 * side is 10.0.0.1/24. Nothing is configured outside the namespace.
 */
let net: CliNamespace;
let dev: string;
let workDir: string;

describeTap('tapstack up / ping on a TAP device', () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tapstack-cli-'));
    net = await createCliNamespace('cli');
    dev = net.dev;
  });

  afterAll(async () => {
    await net?.destroy();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('tapstack ping prints replies and the summary like iputils ping', async () => {
    const r = await net.run(['ping', '10.0.0.1', '--tap', dev, '--ip', '10.0.0.2/24', '-c', '3', '-i', '0.2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.');
    for (let seq = 1; seq <= 3; seq++) {
      expect(lines[seq]).toMatch(new RegExp(`^64 bytes from 10\\.0\\.0\\.1: icmp_seq=${seq} ttl=64 time=\\d+(\\.\\d+)? ms$`));
    }
    expect(lines).toContain('--- 10.0.0.1 ping statistics ---');
    expect(r.stdout).toMatch(/\n3 packets transmitted, 3 received, 0% packet loss, time \d+ms\n/);
    expect(r.stdout).toMatch(/\nrtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms\n$/);
  });

  it('tapstack ping -s 3000 gets fragmented replies; no reply exits 1', async () => {
    const big = await net.run(['ping', '10.0.0.1', '--tap', dev, '--ip', '10.0.0.2/24', '-c', '2', '-i', '0.2', '-s', '3000']);
    expect(big.stdout).toContain('3008 bytes from 10.0.0.1: icmp_seq=1');
    expect(big.stdout).toContain('2 packets transmitted, 2 received');
    const none = await net.run(['ping', '10.0.0.9', '--tap', dev, '--ip', '10.0.0.2/24', '-c', '1', '-W', '0.5']);
    expect(none.stdout).toContain('1 packets transmitted, 0 received, 100% packet loss');
    expect(none.code).toBe(1);
  });

  it('tapstack up answers the kernel until SIGINT, then exits 0 with counters and a clean capture', async () => {
    const pcap = join(workDir, 'up.pcapng');
    const up = net.start(['up', '--tap', dev, '--ip', '10.0.0.2/24', '--mac', '02:54:53:00:00:02', '--pcap', pcap, '--stats']);
    const stdout = await up.waitForLine();
    expect(stdout).toMatch(/^tapstack up: \S+ 10\.0\.0\.2\/24 02:54:53:00:00:02 mtu 1500/);
    const ping = await net.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.0.0.2']);
    expect(ping.stdout).toContain('3 packets transmitted, 3 received');
    const neigh = await net.exec('ip', ['neigh', 'show', '10.0.0.2']);
    expect(neigh.stdout).toContain('lladdr 02:54:53:00:00:02');
    up.child.kill('SIGINT');
    const { code, stderr } = await up.done;
    expect(code).toBe(0);
    expect(stderr).toMatch(/^icmp\.tx\.echo_reply\s+3$/m);
    expect(stderr).toMatch(/^arp\.tx\.gratuitous\s+1$/m);
    // The kernel asked for us and we never asked back: learned, not confirmed (STALE).
    expect(stderr).toMatch(/^--- neighbours ---\n10\.0\.0\.1\s+([0-9a-f]{2}:){5}[0-9a-f]{2} \(stale\)$/m);
    const expert = sh('tshark', ['-r', pcap, '-o', 'ip.check_checksum:TRUE', '-q', '-z', 'expert']);
    expect(expert.code).toBe(0);
    expect(expert.stdout + expert.stderr).not.toMatch(/malformed|bad checksum|incorrect|Error/i);
    const replies = sh('tshark', ['-r', pcap, '-Y', 'icmp.type == 0']);
    expect(replies.stdout.trim().split('\n').length).toBe(3);
  });

  it('bad arguments and a missing permission give one line on stderr and exit code 2', async () => {
    const cases: string[][] = [
      ['up', '--tap', dev, '--ip', '10.0.0.300/24'],
      ['up', '--tap', dev, '--ip', '10.0.0.2/33'],
      ['up', '--tap', dev, '--ip', '10.0.0.2'],
      ['up', '--tap', dev, '--ip', '10.0.0.2/24', '--mac', '02:00:00:00:00'],
      ['up', '--tap', dev, '--ip', '10.0.0.2/24', '--gateway', '10.0.0'],
      ['up', '--tap', dev, '--ip', '10.0.0.2/24', '--gateway', '192.168.1.1'],
      ['up', '--tap', dev, '--ip', '10.0.0.255/24'],
      ['up', '--tap', dev, '--ip', '10.0.0.2/24', '--mtu', 'lots'],
      ['ping', '10.0.0.1', '--tap', dev, '--ip', '10.0.0.2/24', '-c', '0'],
      ['ping', 'nowhere', '--tap', dev, '--ip', '10.0.0.2/24'],
    ];
    for (const args of cases) {
      const r = await net.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tapstack: /);
    }
    const denied = await net.run(['up', '--tap', 'tsdenied0', '--ip', '10.0.0.2/24'], { via: AS_NOBODY });
    expect(denied.code).toBe(2);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    // EACCES on /dev/net/tun (file mode) or EPERM from TUNSETIFF (no CAP_NET_ADMIN).
    expect(denied.stderr).toMatch(/^tapstack: .*tsdenied0.*(permission|CAP_NET_ADMIN)/i);
  });
});
