import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI, createCliNamespace, sh, type CliNamespace } from '../support/cli.js';
import { describeTap } from '../support/gate.js';

/**
 * `tapstack ftp-user add` and `tapstack ftp-server` as users run them: the compiled
 * CLI (dist/) runs inside a fresh namespace on a persistent TAP device made there
 * (kernel side 10.0.0.1/24), and curl talks to it. Nothing outside the namespace.
 * Started as root, the server becomes `nobody` once the TAP device is open, so the
 * served trees are made readable for nobody (mkdtemp makes a mode-700 directory).
 */
let net: CliNamespace;
let dev: string;
let work: string;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** uid and gid of `nobody` on Debian, the user the server becomes by default. */
const NOBODY = 65534;

/** What the kernel refuses `nobody`, asked through ftplib: code of the first reply to each command. */
const PRIVILEGES = String.raw`
import ftplib, io, json
f = ftplib.FTP(); f.connect('10.0.0.2', 21, timeout=30); f.login()
out = {}
def first(name, cmd):
    # The first reply only: 550 at once, or a 150 that would come before a failure.
    f.makepasv()
    try:
        out[name] = f.sendcmd(cmd)[:3]
        if out[name] == '150':
            f.getresp()
    except ftplib.all_errors as e:
        out[name] = str(e)[:3]
first('retr_600', 'RETR secret600.txt')
first('retr_700dir', 'RETR private/inner.txt')
first('stor_ro', 'STOR ro/new.txt')
first('stor_top', 'STOR top.txt')
for name, cmd in (('mkd_ro', 'MKD ro/d'), ('dele_ro', 'DELE ro/keep.txt'), ('cwd_700', 'CWD private'), ('size_600', 'SIZE secret600.txt')):
    try:
        out[name] = f.sendcmd(cmd)[:3]
    except ftplib.all_errors as e:
        out[name] = str(e)[:3]
buf = io.BytesIO()
for name, run in (('retr_ok', lambda: f.retrbinary('RETR ro/keep.txt', buf.write)), ('stor_ok', lambda: f.storbinary('STOR pub/up.txt', io.BytesIO(b'uploaded')))):
    try:
        out[name] = run()[:3]
    except ftplib.all_errors as e:
        out[name] = str(e)
f.quit()
print(json.dumps(out))
`;

describeTap('tapstack ftp-server and ftp-user', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tapstack-ftpcli-'));
    chmodSync(work, 0o755);
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
    // bob uploads: his home belongs to the user the server runs as.
    chownSync(join(srv, 'bob'), NOBODY, NOBODY);
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

  it('as nobody: a root-owned mode-600 file, a mode-700 directory and a read-only directory are 550, never 150 first nor 451', async () => {
    const srv = join(work, 'priv');
    mkdirSync(join(srv, 'private'), { recursive: true });
    mkdirSync(join(srv, 'ro'));
    mkdirSync(join(srv, 'pub'));
    writeFileSync(join(srv, 'secret600.txt'), 'root only\n', { mode: 0o600 });
    writeFileSync(join(srv, 'private', 'inner.txt'), 'inner\n');
    writeFileSync(join(srv, 'ro', 'keep.txt'), 'keep\n');
    chmodSync(join(srv, 'private'), 0o700);
    chmodSync(join(srv, 'ro'), 0o555);
    chownSync(join(srv, 'pub'), NOBODY, NOBODY);
    const server = net.start(['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', srv, '--writable']);
    expect(await server.waitForLine()).toMatch(/ as user nobody/);
    const r = await net.exec('python3', ['-c', PRIVILEGES]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      retr_600: '550',
      retr_700dir: '550',
      stor_ro: '550',
      stor_top: '550',
      mkd_ro: '550',
      dele_ro: '550',
      cwd_700: '550',
      // In TYPE A, SIZE counts the line ends, which means reading the file.
      size_600: '550',
      retr_ok: '226',
      stor_ok: '226',
    });
    expect(readFileSync(join(srv, 'pub', 'up.txt'), 'utf8')).toBe('uploaded');
    expect(readFileSync(join(srv, 'ro', 'keep.txt'), 'utf8')).toBe('keep\n');
    server.child.kill('SIGINT');
    expect((await server.done).code).toBe(0);
  });

  it('bad arguments give one line on stderr and exit code 2', async () => {
    // A root that nobody cannot read: refused after the privileges are dropped.
    const closed = join(work, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    const cases: string[][] = [
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', join(work, 'missing')],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--pasv-ports', '9-3'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--port', 'x'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--no-anonymous'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--users', join(work, 'missing.txt')],
      ['ftp-user', 'add', join(work, 'u.txt'), 'anonymous', '--home', '/'],
      ['ftp-user', 'add', join(work, 'u.txt'), 'carol', '--home', 'relative'],
      ['ftp-user', 'add', join(work, 'u.txt'), 'carol', '--home', '/home/../..'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', closed],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--run-as', 'no-such-user'],
      ['ftp-server', '--tap', dev, '--ip', '10.0.0.2/24', '--root', work, '--run-as', 'root'],
    ];
    for (const args of cases) {
      const r = await net.run(args, { input: 'pw\n' });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
