import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCliNamespace, type CliNamespace } from '../support/cli.js';
import { describeTap } from '../support/gate.js';

/**
 * `tapstack resolve` and `tapstack dns-server` as users run them: the compiled CLI runs
 * INSIDE a fresh namespace on a persistent TAP device made there (kernel side
 * 10.0.0.1/24, where dnsmasq serves any-domain.com). Nothing is configured outside.
 */
let net: CliNamespace;
let dev: string;
let workDir: string;

const resolve = (args: string[]) => net.run(['resolve', ...args, '--tap', dev, '--ip', '10.0.0.2/24']);

describeTap('tapstack resolve / dns-server on a TAP device', () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tapstack-dnscli-'));
    net = await createCliNamespace('dnscli');
    dev = net.dev;
    net.spawnPeer('dnsmasq', ['--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null',
      '--listen-address=10.0.0.1', '--bind-interfaces', '--local=/any-domain.com/',
      '--host-record=ftp.any-domain.com,192.0.2.21', '--cname=files.any-domain.com,ftp.any-domain.com']);
    // dnsmasq answers on the kernel's own address as soon as it is up.
    for (let i = 0; i < 50; i++) {
      if ((await net.exec('dig', ['@10.0.0.1', '+short', '+tries=1', '+time=1', 'ftp.any-domain.com'])).stdout.includes('192.0.2.21')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await net?.destroy();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('resolve prints the address, and with --verbose the CNAME chain', async () => {
    const a = await resolve(['ftp.any-domain.com', '--dns', '10.0.0.1']);
    expect(a).toMatchObject({ code: 0, stdout: '192.0.2.21\n' });
    const v = await resolve(['files.any-domain.com', '--dns', '10.0.0.1', '--verbose']);
    expect(v.code).toBe(0);
    expect(v.stdout).toBe('192.0.2.21\n');
    expect(v.stderr).toMatch(/files\.any-domain\.com is an alias for ftp\.any-domain\.com/);
  });

  it('resolve with a silent first server still answers from the second', async () => {
    const r = await resolve(['ftp.any-domain.com', '--dns', '10.0.0.9', '--dns', '10.0.0.1', '--timeout', '300']);
    expect(r).toMatchObject({ code: 0, stdout: '192.0.2.21\n' });
  });

  it('resolve of a name that does not exist: exit 1, one line', async () => {
    const r = await resolve(['nope.any-domain.com', '--dns', '10.0.0.1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^tapstack: cannot resolve nope\.any-domain\.com: .*\(ENOTFOUND\)\n$/);
  });

  it('bad arguments: one line, exit 2', async () => {
    const r = await resolve(['ftp.any-domain.com']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const d = await net.run(['dns-server', '--tap', dev, '--ip', '10.0.0.2/24', '--record', 'ftp=1.2.3']);
    expect(d.code).toBe(2);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('dns-server answers dig from records and a zone file, and stops on SIGTERM', async () => {
    const zone = join(workDir, 'zone.txt');
    writeFileSync(zone, '$ORIGIN tapstack.test\n$TTL 60\nwww CNAME ftp\nftp A 10.0.0.21\n');
    const server = net.start(['dns-server', '--tap', dev, '--ip', '10.0.0.2/24', '--record', 'ftp.any-domain.org=10.0.0.31', '--zone', zone]);
    for (let i = 0; i < 100 && !server.stderr().includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(server.stderr()).toMatch(/serving 3 records/);
    const dig = async (args: string[]) => (await net.exec('dig', ['@10.0.0.2', '+tries=2', '+time=2', '+noedns', ...args])).stdout;
    expect(await dig(['+short', 'ftp.any-domain.org'])).toBe('10.0.0.31\n');
    const www = await dig(['www.tapstack.test']);
    expect(www).toMatch(/status: NOERROR/);
    expect(www).toMatch(/flags: qr aa rd;/);
    expect(www).toMatch(/www\.tapstack\.test\.\s+60\s+IN\s+CNAME\s+ftp\.tapstack\.test\./);
    expect(await dig(['nope.tapstack.test'])).toMatch(/status: NXDOMAIN/);
    expect(await dig(['example.org'])).toMatch(/status: REFUSED/);
    server.child.kill('SIGTERM');
    expect((await server.done).code).toBe(0);
  });
});
