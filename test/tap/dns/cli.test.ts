import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';

/**
 * `tapstack resolve` and `tapstack dns-server` as users run them: the compiled CLI runs
 * INSIDE a fresh namespace on a persistent TAP device made there (kernel side
 * 10.0.0.1/24, where dnsmasq serves any-domain.com). Nothing is configured outside.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'dist/cli/main.js');
const ns = `tapstack-dnscli-${process.pid}`;
const dev = `tsdns${process.pid.toString(36)}`.slice(0, 15);
let workDir: string;
let dnsmasq: ChildProcess | undefined;

function sh(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[]): void {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stderr: () => string;
}

function tapstack(args: string[]): Run {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done, stderr: () => stderr };
}

const resolve = (args: string[]) => tapstack(['resolve', ...args, '--tap', dev, '--ip', '10.0.0.2/24']).done;

describeTap('tapstack resolve / dns-server on a TAP device', () => {
  beforeAll(async () => {
    if (!existsSync(cli) || newest(join(root, 'src')) > statSync(cli).mtimeMs) {
      sh('npx', ['tsc', '-p', join(root, 'tsconfig.build.json')]);
    }
    workDir = mkdtempSync(join(tmpdir(), 'tapstack-dnscli-'));
    must('ip', ['netns', 'add', ns]);
    must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    must('ip', ['-n', ns, 'tuntap', 'add', 'dev', dev, 'mode', 'tap']);
    must('ip', ['-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', dev]);
    must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    dnsmasq = spawn('ip', ['netns', 'exec', ns, 'dnsmasq', '--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null',
      '--listen-address=10.0.0.1', '--bind-interfaces', '--local=/any-domain.com/',
      '--host-record=ftp.any-domain.com,192.0.2.21', '--cname=files.any-domain.com,ftp.any-domain.com'], { stdio: 'ignore' });
    // dnsmasq answers on the kernel's own address as soon as it is up.
    for (let i = 0; i < 50; i++) {
      if (sh('ip', ['netns', 'exec', ns, 'dig', '@10.0.0.1', '+short', '+tries=1', '+time=1', 'ftp.any-domain.com']).stdout.includes('192.0.2.21')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(() => {
    dnsmasq?.kill('SIGTERM');
    sh('ip', ['netns', 'delete', ns]);
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
    const d = await tapstack(['dns-server', '--tap', dev, '--ip', '10.0.0.2/24', '--record', 'ftp=1.2.3']).done;
    expect(d.code).toBe(2);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('dns-server answers dig from records and a zone file, and stops on SIGTERM', async () => {
    const zone = join(workDir, 'zone.txt');
    writeFileSync(zone, '$ORIGIN tapstack.test\n$TTL 60\nwww CNAME ftp\nftp A 10.0.0.21\n');
    const server = tapstack(['dns-server', '--tap', dev, '--ip', '10.0.0.2/24', '--record', 'ftp.any-domain.org=10.0.0.31', '--zone', zone]);
    for (let i = 0; i < 100 && !server.stderr().includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(server.stderr()).toMatch(/serving 3 records/);
    const dig = (args: string[]) => sh('ip', ['netns', 'exec', ns, 'dig', '@10.0.0.2', '+tries=2', '+time=2', '+noedns', ...args]).stdout;
    expect(dig(['+short', 'ftp.any-domain.org'])).toBe('10.0.0.31\n');
    const www = dig(['www.tapstack.test']);
    expect(www).toMatch(/status: NOERROR/);
    expect(www).toMatch(/flags: qr aa rd;/);
    expect(www).toMatch(/www\.tapstack\.test\.\s+60\s+IN\s+CNAME\s+ftp\.tapstack\.test\./);
    expect(dig(['nope.tapstack.test'])).toMatch(/status: NXDOMAIN/);
    expect(dig(['example.org'])).toMatch(/status: REFUSED/);
    server.child.kill('SIGTERM');
    expect((await server.done).code).toBe(0);
  });
});
