import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI, createCliNamespace, sh, type CliNamespace } from '../support/cli.js';
import { describeTap } from '../support/gate.js';

/**
 * `tapstack ftp-user add` and `tapstack ftp-server` as users run them: the compiled
 * CLI (dist/) runs inside a fresh namespace on a persistent TAP device made there
 * (kernel side 10.0.0.1/24), and curl talks to it. Nothing outside the namespace.
 */
let net: CliNamespace;
let dev: string;
let work: string;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describeTap('tapstack ftp-server and ftp-user', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tapstack-ftpcli-'));
    net = await createCliNamespace('ftpcli');
    dev = net.dev;
  });

  afterAll(async () => {
    await net?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('serves a directory: anonymous download, named user upload, clean stop on SIGINT', async () => {
    const srv = join(work, 'srv');
    mkdirSync(join(srv, 'bob'), { recursive: true });
    const file = Buffer.alloc(500_000);
    for (let i = 0; i < file.length; i++) file[i] = (i * 7) & 0xff;
    writeFileSync(join(srv, 'data.bin'), file);
    const users = join(work, 'users.txt');
    const add = sh(process.execPath, [CLI, 'ftp-user', 'add', users, 'bob', '--home', '/bob', '--writable'], { input: 'builder\n' });
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(readFileSync(users, 'utf8')).toMatch(/^bob:scrypt\$\d+\$\d+\$\d+\$\S+:\/bob:rw$/m);
    expect(readFileSync(users, 'utf8')).not.toContain('builder');

    const pcap = join(work, 'ftp.pcapng');
    const args = ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', srv, '--users', users, '--pcap', pcap, '--stats', '--banner', 'CLI FTP'];
    const server = net.start(args);
    const stdout = await server.waitForLine();
    expect(stdout).toMatch(/^tapstack ftp-server: \S+ 10\.0\.0\.2\/24 .* serving .* on 10\.0\.0\.2:21 for anonymous \(read-only\), 1 named user\(s\)/);

    const out = join(work, 'down.bin');
    const get = await net.exec('curl', ['-sS', '--max-time', '30', '-o', out, 'ftp://10.0.0.2/data.bin']);
    expect(get.stderr).toBe('');
    expect(sha(readFileSync(out))).toBe(sha(file));
    const denied = await net.exec('curl', ['-sS', '--max-time', '30', '-T', out, 'ftp://10.0.0.2/up.bin']);
    expect(denied.code).not.toBe(0);
    const put = await net.exec('curl', ['-sS', '--max-time', '30', '-u', 'bob:builder', '-T', out, 'ftp://10.0.0.2/up.bin']);
    expect(put.stderr).toBe('');
    expect(sha(readFileSync(join(srv, 'bob', 'up.bin')))).toBe(sha(file));

    server.child.kill('SIGINT');
    const { code, stderr } = await server.done;
    expect(code).toBe(0);
    expect(stderr).toMatch(/^ftp\.server\.login\.anonymous\s+2$/m);
    expect(stderr).toMatch(/^ftp\.server\.login\.user\s+1$/m);
    const ftp = sh('tshark', ['-r', pcap, '-Y', 'ftp.response.code == 220']);
    expect(ftp.stdout).toContain('CLI FTP');
    const bad = sh('tshark', ['-r', pcap, '-Y', '_ws.malformed']);
    expect(bad.stdout.trim()).toBe('');
  });

  it('bad arguments give one line on stderr and exit code 2', async () => {
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
      const r = await net.run(args, { input: 'pw\n' });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
