import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FtpServerOptions } from '../../../src/ftp/server/server.js';
import { hashPassword, UserDatabase } from '../../../src/ftp/server/users.js';
import { describeTap } from '../support/gate.js';
import { ftpIds, startVsftpd } from '../../support/ftp-client-peers.js';
import { createFtpTapNet, seededBytes, type FtpTapNet } from '../../support/ftp-server-tap.js';

/**
 * Issue 11, against our server on our stack over TAP with real clients in the
 * namespace (python3 ftplib and raw sockets, BSD ftp = tnftp): the symlink race,
 * a client killed mid-STOR, 226 for a client that keeps its data socket open, ABOR
 * after everything was queued, per-address login back-off, and NLST globs. vsftpd
 * runs the same symlink race on the kernel side, as the reference.
 * The privilege drop (mode-600 file, read-only directory) runs the CLI as root that
 * becomes nobody: server-cli.test.ts.
 */

/** Run a python3 script in the namespace; its last stdout line is JSON. */
async function py(t: FtpTapNet, script: string, args: string[] = [], timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const r = await t.net.exec('python3', ['-c', script, ...args], { timeoutMs });
  if (r.code !== 0) throw new Error(`python3 exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('.tapstack-'));
}

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const RACE = String.raw`
import ftplib, io, json, os, sys, threading, time
# root: the directory on disk that holds swap/; at: the same directory as the FTP client names it.
root, outside, rounds, host, at = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
stop = False
swaps = 0
def racer():
    # Swap root/swap between the real directory and a symlink to the outside, for ever.
    global swaps
    while not stop:
        os.rename(root + '/swap', root + '/swap.real')
        os.symlink(outside, root + '/swap')
        time.sleep(0.0005)
        os.unlink(root + '/swap')
        os.rename(root + '/swap.real', root + '/swap')
        swaps += 1
        time.sleep(0.0005)
th = threading.Thread(target=racer); th.start()
out = {'retr_ok': 0, 'retr_refused': 0, 'leaked': 0, 'stor_ok': 0, 'stor_refused': 0, 'mkd_ok': 0, 'mkd_refused': 0, 'codes': []}
f = ftplib.FTP(); f.connect(host, 21, timeout=30); f.login(); f.voidcmd('TYPE I')
try:
    for i in range(rounds):
        buf = io.BytesIO()
        try:
            f.retrbinary('RETR ' + at + 'swap/f.txt', buf.write); out['retr_ok'] += 1
            if b'OUTSIDE' in buf.getvalue(): out['leaked'] += 1
        except ftplib.error_perm as e:
            out['retr_refused'] += 1; out['codes'].append(str(e)[:3])
        try:
            f.storbinary('STOR ' + at + 'swap/new%d.txt' % i, io.BytesIO(b'x' * 100)); out['stor_ok'] += 1
        except ftplib.error_perm as e:
            out['stor_refused'] += 1; out['codes'].append(str(e)[:3])
        try:
            f.mkd(at + 'swap/dir%d' % i); out['mkd_ok'] += 1
        except ftplib.error_perm as e:
            out['mkd_refused'] += 1; out['codes'].append(str(e)[:3])
finally:
    stop = True; th.join()
f.quit()
out['swaps'] = swaps
out['codes'] = sorted(set(out['codes']))
print(json.dumps(out))
`;

const KILLED_STOR = String.raw`
import ftplib, os, signal, socket, sys, time
f = ftplib.FTP(); f.connect('10.0.0.2', 21, timeout=30); f.login(); f.voidcmd('TYPE I')
conn = f.transfercmd('STOR victim.bin')
chunk = b'N' * 65536
for i in range(8):
    conn.sendall(chunk)
time.sleep(0.3)
# Killed mid-upload: the kernel closes both connections for us (FIN on each).
os.kill(os.getpid(), signal.SIGKILL)
`;

/**
 * A raw control connection for the scripts below: reply() reads one (multi-line)
 * reply, cmd() sends a command and reads its reply, pasv_port() asks for PASV.
 * Logged in anonymously in TYPE I.
 */
const RAW_CONTROL = String.raw`
import json, socket, time
c = socket.create_connection(('10.0.0.2', 21), timeout=30)
r = c.makefile('rb')
def reply():
    line = r.readline().decode()
    while line[3:4] == '-':
        line = r.readline().decode()
    return line.strip()
def cmd(s):
    c.sendall((s + '\r\n').encode()); return reply()
def pasv_port():
    p = cmd('PASV')
    nums = [int(x) for x in p[p.index('(') + 1:p.index(')')].split(',')]
    return nums[4] * 256 + nums[5]
reply(); cmd('USER anonymous'); cmd('PASS raw@example.com'); cmd('TYPE I')
`;

const KEEP_OPEN = RAW_CONTROL + String.raw`
d = socket.create_connection(('10.0.0.2', pasv_port()), timeout=30)
first = cmd('RETR readme.txt')
data = b''
while True:
    b = d.recv(65536)
    if not b: break
    data += b
eof = time.monotonic()
# The server's FIN arrived; we keep our side of the data connection open.
done = reply()
waited = time.monotonic() - eof
d.close()
print(json.dumps({'first': first, 'done': done, 'waited': waited, 'bytes': len(data)}))
`;

const ABOR_QUEUED = RAW_CONTROL + String.raw`
port = pasv_port()
d = socket.socket()
# A tiny receive buffer and no reading: the server queues the whole file, the peer acknowledges little.
d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
d.connect(('10.0.0.2', port))
first = cmd('RETR queued.bin')
time.sleep(1.0)
stat = cmd('STAT')
c.sendall(b'ABOR\r\n')
after = [reply(), reply()]
d.close()
noop = cmd('NOOP')
print(json.dumps({'first': first, 'stat': stat, 'after': after, 'noop': noop}))
`;

const LOGIN_ATTACK = String.raw`
import ftplib, json, sys, threading, time
attacker, seconds = sys.argv[1], float(sys.argv[2])
def login_time():
    t0 = time.monotonic()
    f = ftplib.FTP(); f.connect('10.0.0.2', 21, timeout=60); f.login('alice', 'wonderland'); f.quit()
    return time.monotonic() - t0
baseline = sorted(login_time() for _ in range(3))[1]
stop = time.monotonic() + seconds
guesses = [0]
def guess():
    while time.monotonic() < stop:
        try:
            f = ftplib.FTP(source_address=(attacker, 0)); f.connect('10.0.0.2', 21, timeout=60)
            for i in range(3):
                try:
                    f.login('alice', 'guess%d' % i)
                except ftplib.error_perm:
                    guesses[0] += 1
            f.close()
        except (ftplib.all_errors) as e:
            time.sleep(0.05)
threads = [threading.Thread(target=guess) for _ in range(50)]
for th in threads: th.start()
time.sleep(1.0)
during = sorted(login_time() for _ in range(3))[1]
for th in threads: th.join()
print(json.dumps({'baseline': baseline, 'during': during, 'guesses': guesses[0]}))
`;

const BAN = String.raw`
import ftplib, json, sys
attacker = sys.argv[1]
codes = []
for i in range(3):
    f = ftplib.FTP(source_address=(attacker, 0))
    try:
        f.connect('10.0.0.2', 21, timeout=60)
        for j in range(2):
            try:
                f.login('alice', 'nope')
            except ftplib.all_errors as e:
                codes.append(str(e)[:3])
        f.close()
    except ftplib.all_errors as e:
        codes.append(str(e)[:3])
f = ftplib.FTP(); f.connect('10.0.0.2', 21, timeout=60)
other = f.login('alice', 'wonderland'); f.quit()
print(json.dumps({'codes': codes, 'other': other}))
`;

const GLOB = String.raw`
import ftplib, json
f = ftplib.FTP(); f.connect('10.0.0.2', 21, timeout=30); f.login()
out = {'txt': sorted(f.nlst('*.txt')), 'sub': sorted(f.nlst('pub/*.txt')), 'set': sorted(f.nlst('g[12].*'))}
lines = []
f.retrlines('LIST *.txt', lines.append)
out['list'] = sorted(l.split()[-1] for l in lines)
try:
    f.nlst('*.nothing'); out['none'] = 'ok?'
except ftplib.error_temp as e:
    out['none'] = str(e)
f.quit()
print(json.dumps(out))
`;

/** A server with the named user alice (password wonderland), and 10.0.0.3 as a second source address in the namespace: the attacker. */
async function serverWithAttacker(tag: string, hash: string, options: Partial<FtpServerOptions>): Promise<FtpTapNet> {
  const users = new UserDatabase([{ name: 'alice', hash, home: '/', writable: false }]);
  const t = await createFtpTapNet(tag, { users, ...options });
  const r = await t.net.exec('ip', ['addr', 'add', '10.0.0.3/24', 'dev', t.net.dev]);
  if (r.code !== 0) {
    await t.destroy();
    throw new Error(`ip addr add: ${r.stderr}`);
  }
  return t;
}

describeTap('ftp server hardening (issue 11)', () => {
  describe('files', () => {
    let t: FtpTapNet;
    beforeAll(async () => {
      t = await createFtpTapNet('ftphard', { dataTimeoutMs: 60_000 });
      await mkdir(join(t.root, 'swap'));
      await writeFile(join(t.root, 'swap', 'f.txt'), 'inside\n');
      await writeFile(join(t.outside, 'f.txt'), 'OUTSIDE-SECRET\n');
    });
    afterAll(async () => {
      await t?.destroy();
    });

    it('a directory swapped for a symlink to the outside mid-session leaks nothing and creates nothing outside', async () => {
      const out = await py(t, RACE, [t.root, t.outside, '150', '10.0.0.2', ''], 240_000);
      console.log(`race: ${JSON.stringify(out)}`);
      expect(out.leaked).toBe(0);
      expect(await readdir(t.outside)).toEqual(['f.txt', 'secret.txt']);
      expect(await readFile(join(t.outside, 'f.txt'), 'utf8')).toBe('OUTSIDE-SECRET\n');
      // The race really ran both ways: some commands reached the real directory, some met the link.
      expect(out.swaps as number).toBeGreaterThan(10);
      expect((out.retr_ok as number) + (out.stor_ok as number) + (out.mkd_ok as number)).toBeGreaterThan(0);
      expect((out.retr_refused as number) + (out.stor_refused as number) + (out.mkd_refused as number)).toBeGreaterThan(0);
      // Refusals are permanent answers (550), not 451.
      expect(out.codes).toEqual(['550']);
      expect(t.server.counters.get('ftp.server.path.outside_root')).toBeGreaterThan(0);
      expect(await tempFiles(join(t.root, 'swap'))).toEqual([]);
    });

    it('vsftpd, side by side in the same race: nothing leaks either (its anonymous user is chrooted)', async () => {
      const top = mkdtempSync(join(tmpdir(), 'tapstack-ftphard-vs-'));
      try {
        chmodSync(top, 0o755);
        const vs = await startVsftpd(t.net, top, '10.0.0.1', 21, ['anon_mkdir_write_enable=YES']);
        const swap = join(vs.root, 'incoming', 'swap');
        await mkdir(swap);
        await writeFile(join(swap, 'f.txt'), 'inside\n');
        const { uid, gid } = ftpIds();
        chownSync(swap, uid, gid);
        const out = await py(t, RACE, [join(vs.root, 'incoming'), t.outside, '150', '10.0.0.1', 'incoming/'], 240_000);
        console.log(`vsftpd race: ${JSON.stringify(out)}`);
        expect(out.leaked).toBe(0);
        expect(await readdir(t.outside)).toEqual(['f.txt', 'secret.txt']);
      } finally {
        rmSync(top, { recursive: true, force: true });
      }
    });

    it('a client killed mid-STOR leaves the earlier version intact and no temporary file', async () => {
      const earlier = seededBytes(200_000, 99);
      await writeFile(join(t.root, 'victim.bin'), earlier);
      const aborted = t.server.counters.get('ftp.server.transfer.aborted');
      const ok = t.server.counters.get('ftp.server.transfer.ok');
      const r = await t.net.exec('python3', ['-c', KILLED_STOR], { timeoutMs: 60_000 });
      expect(r.code).not.toBe(0); // killed
      await waitFor(() => t.server.sessionCount === 0 && t.server.counters.get('ftp.server.transfer.aborted') > aborted);
      expect(await readFile(join(t.root, 'victim.bin'))).toEqual(earlier);
      expect(await tempFiles(t.root)).toEqual([]);
      // Counted (and logged) as an aborted transfer, not as a complete one.
      expect(t.server.counters.get('ftp.server.transfer.ok')).toBe(ok);
    });

    it('answers 226 once the data is acknowledged, while the client keeps its data socket open', async () => {
      const out = await py(t, KEEP_OPEN);
      expect(out.first).toMatch(/^150 /);
      expect(out.done).toBe('226 Transfer complete.');
      expect(out.bytes).toBe((await readFile(join(t.root, 'readme.txt'))).length);
      // The data timeout is 60 s: before, 226 waited for it. A generous bound for a busy machine.
      expect(out.waited as number).toBeLessThan(5);
      console.log(`226 came ${((out.waited as number) * 1000).toFixed(1)} ms after the server's FIN, data socket still open`);
    });

    it('ABOR after the whole file was queued is an aborted transfer, and STAT counts acknowledged bytes', async () => {
      const size = 300_000;
      await writeFile(join(t.root, 'queued.bin'), seededBytes(size, 3));
      const out = await py(t, ABOR_QUEUED);
      expect(out.first).toMatch(/^150 /);
      const m = /^213 Status: RETR \/queued\.bin, (\d+) of 300000 bytes transferred\.$/.exec(out.stat as string);
      expect(m, out.stat as string).not.toBeNull();
      expect(Number(m![1])).toBeLessThan(size);
      expect(out.after).toEqual(['426 Connection closed; transfer aborted.', '226 ABOR command successful.']);
      expect(out.noop).toBe('200 NOOP ok.');
    });

    it('NLST and LIST expand *, ? and [...] in one directory (ftplib, and BSD ftp mget)', async () => {
      for (const n of ['g1.txt', 'g2.txt', 'g3.bin']) await writeFile(join(t.root, n), n);
      const out = await py(t, GLOB);
      expect(out.txt).toEqual(['g1.txt', 'g2.txt', 'readme.txt']);
      expect(out.sub).toEqual(['pub/a.txt']);
      expect(out.set).toEqual(['g1.txt', 'g2.txt']);
      expect(out.list).toEqual(['g1.txt', 'g2.txt', 'readme.txt']);
      expect(out.none).toBe('450 No files found.');
      const into = join(t.work, 'mget');
      await mkdir(into);
      const script = `user anonymous mget@example.com\nbinary\nlcd ${into}\nmget g*.txt\nquit\n`;
      const r = await t.net.exec('tnftp', ['-n', '-i', '10.0.0.2'], { input: script, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      expect((await readdir(into)).sort()).toEqual(['g1.txt', 'g2.txt']);
      expect(await readFile(join(into, 'g2.txt'), 'utf8')).toBe('g2.txt');
    });
  });

  describe('logins', () => {
    let t: FtpTapNet;
    beforeAll(async () => {
      // The real scrypt cost (N = 16384), as ftp-user add stores it.
      t = await serverWithAttacker('ftplogin', await hashPassword('wonderland'), { loginFailDelayMs: 200, loginBanAfter: 100_000, maxPerIp: 60 });
    });
    afterAll(async () => {
      await t?.destroy();
    });

    it('an address guessing over 50 connections does not slow another address much', async () => {
      const out = await py(t, LOGIN_ATTACK, ['10.0.0.3', '8'], 180_000);
      expect(out.guesses as number).toBeGreaterThan(20);
      // Measured: a login takes about the same with or without the attack. A generous bound.
      expect(out.during as number).toBeLessThan(Math.max(3, 10 * (out.baseline as number)));
      expect(t.server.counters.get('ftp.server.login.delayed')).toBeGreaterThan(0);
      console.log(`login: ${(out.baseline as number).toFixed(3)} s alone, ${(out.during as number).toFixed(3)} s during ${out.guesses} guesses`);
    });
  });

  describe('bans', () => {
    let t: FtpTapNet;
    beforeAll(async () => {
      t = await serverWithAttacker('ftpban', await hashPassword('wonderland', { N: 1024, r: 8, p: 1 }), { loginFailDelayMs: 50, loginBanAfter: 3, loginBanMs: 600_000 });
    });
    afterAll(async () => {
      await t?.destroy();
    });

    it('bans an address after loginBanAfter failures; other addresses still log in', async () => {
      const out = await py(t, BAN, ['10.0.0.3']);
      const codes = out.codes as string[];
      expect(codes.slice(0, 2)).toEqual(['530', '530']);
      // The third failure bans: 421 and the connection closes; new connections get 421 at once.
      expect(codes[2]).toBe('421');
      expect(codes.at(-1)).toBe('421');
      expect(out.other).toBe('230 User alice logged in.');
      expect(t.server.counters.get('ftp.server.login.banned')).toBe(1);
      expect(t.server.counters.get('ftp.server.refused.banned')).toBeGreaterThan(0);
    });
  });
});
