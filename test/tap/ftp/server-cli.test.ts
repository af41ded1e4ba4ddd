import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';

/**
 * `tapstack ftp-user add` and `tapstack ftp-server` as users run them: the compiled
 * CLI (dist/) runs inside a fresh namespace on a persistent TAP device made there
 * (kernel side 10.0.0.1/24), and curl talks to it. Nothing outside the namespace.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'dist/cli/main.js');
const ns = `tapstack-ftpcli-${process.pid}`;
const dev = `tsfc${process.pid.toString(36)}`.slice(0, 15);
let work: string;

function sh(cmd: string, args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...(input !== undefined ? { input } : {}) });
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

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describeTap('tapstack ftp-server and ftp-user', () => {
  beforeAll(() => {
    if (!existsSync(cli) || newest(join(root, 'src')) > statSync(cli).mtimeMs) {
      sh('npx', ['tsc', '-p', join(root, 'tsconfig.build.json')]);
    }
    work = mkdtempSync(join(tmpdir(), 'tapstack-ftpcli-'));
    must('ip', ['netns', 'add', ns]);
    must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    must('ip', ['-n', ns, 'tuntap', 'add', 'dev', dev, 'mode', 'tap']);
    must('ip', ['-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', dev]);
    must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  });

  afterAll(() => {
    sh('ip', ['netns', 'delete', ns]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('serves a directory: anonymous download, named user upload, clean stop on SIGINT', async () => {
    const srv = join(work, 'srv');
    mkdirSync(join(srv, 'bob'), { recursive: true });
    const file = Buffer.alloc(500_000);
    for (let i = 0; i < file.length; i++) file[i] = (i * 7) & 0xff;
    writeFileSync(join(srv, 'data.bin'), file);
    const users = join(work, 'users.txt');
    const add = sh(process.execPath, [cli, 'ftp-user', 'add', users, 'bob', '--home', '/bob', '--writable'], 'builder\n');
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(readFileSync(users, 'utf8')).toMatch(/^bob:scrypt\$\d+\$\d+\$\d+\$\S+:\/bob:rw$/m);
    expect(readFileSync(users, 'utf8')).not.toContain('builder');

    const pcap = join(work, 'ftp.pcapng');
    const args = ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', srv, '--users', users, '--pcap', pcap, '--stats', '--banner', 'CLI FTP'];
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        if (stdout.includes('\n')) resolve();
      });
      child.on('close', () => reject(new Error(`ftp-server exited: ${stderr}`)));
    });
    expect(stdout).toMatch(/^tapstack ftp-server: \S+ 10\.0\.0\.2\/24 .* serving .* on 10\.0\.0\.2:21 for anonymous \(read-only\), 1 named user\(s\)/);

    const out = join(work, 'down.bin');
    const get = sh('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '30', '-o', out, 'ftp://10.0.0.2/data.bin']);
    expect(get.stderr).toBe('');
    expect(sha(readFileSync(out))).toBe(sha(file));
    const denied = sh('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '30', '-T', out, 'ftp://10.0.0.2/up.bin']);
    expect(denied.code).not.toBe(0);
    const put = sh('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '30', '-u', 'bob:builder', '-T', out, 'ftp://10.0.0.2/up.bin']);
    expect(put.stderr).toBe('');
    expect(sha(readFileSync(join(srv, 'bob', 'up.bin')))).toBe(sha(file));

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/^ftp\.server\.login\.anonymous\s+2$/m);
    expect(stderr).toMatch(/^ftp\.server\.login\.user\s+1$/m);
    const ftp = sh('tshark', ['-r', pcap, '-Y', 'ftp.response.code == 220']);
    expect(ftp.stdout).toContain('CLI FTP');
    const bad = sh('tshark', ['-r', pcap, '-Y', '_ws.malformed']);
    expect(bad.stdout.trim()).toBe('');
  });

  it('bad arguments give one line on stderr and exit code 2', () => {
    const cases: string[][] = [
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', join(work, 'missing')],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--pasv-ports', '9-3'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--port', 'x'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--no-anonymous'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--users', join(work, 'missing.txt')],
      ['ftp-user', 'add', join(work, 'u.txt'), 'anonymous', '--home', '/'],
      ['ftp-user', 'add', join(work, 'u.txt'), 'carol', '--home', 'relative'],
    ];
    for (const args of cases) {
      const r = sh('ip', ['netns', 'exec', ns, process.execPath, cli, ...args], 'pw\n');
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
