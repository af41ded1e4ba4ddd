import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpClient, FtpConnectionError, FtpReplyError } from '../../../../src/ftp/client/index.js';
import { VirtualClock } from '../../../../src/stack/clock.js';
import { FakeFtpServer, type FakeServerOptions } from '../../../support/ftp-client-fake-server.js';
import { MemTcpNet, type MemTcpHost } from '../../../support/ftp-client-memtcp.js';

const SERVER = '192.168.0.1';
const CLIENT = '192.168.0.2';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function sink(): { stream: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(c: Buffer, _e, done) {
        chunks.push(c);
        done();
      },
    }),
    data: () => Buffer.concat(chunks),
  };
}

describe('FtpClient over an in-memory TcpApi, against a scripted server', () => {
  let net: MemTcpNet;
  let clientHost: MemTcpHost;
  let server: FakeFtpServer;
  let dir: string;

  function start(opts: Partial<FakeServerOptions> = {}) {
    net = new MemTcpNet();
    const serverHost = net.host(SERVER);
    clientHost = net.host(CLIENT);
    server = new FakeFtpServer({ tcp: serverHost, address: SERVER, users: { alice: 's3cret' }, ...opts });
    server.dirs.add('/pub');
    server.addFile('/pub/readme.txt', 'line one\nline two\n');
    server.addFile('/pub/data.bin', Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff)));
    return server;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-'));
  });
  afterEach(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plays the seed session in active mode: USER, PASS, PORT, LIST, CWD, PORT, RETR, QUIT with ports 5001 and 5002', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost, mode: 'active', type: 'A' });
    const shown: string[] = [];
    client.on('command', (l: string) => shown.push(`---> ${l}`));
    client.on('reply', (r: { code: number }) => shown.push(String(r.code)));
    await client.connect(SERVER);
    await client.login('ftp', 'abc@any-domain.com');
    const entries = await client.list();
    expect(entries.map((e) => e.name)).toEqual(['pub']);
    await client.cwd('pub');
    const got = await client.get('readme.txt', dir);
    await client.quit();

    expect(server.log).toEqual(['USER ftp', 'PASS abc@any-domain.com', 'PORT 192,168,0,2,19,137', 'LIST', 'CWD pub', 'PORT 192,168,0,2,19,138', 'RETR readme.txt', 'QUIT']);
    expect(server.activeConnections.map((c) => [c.from, c.to.port])).toEqual([
      [20, 5001],
      [20, 5002],
    ]);
    // ASCII mode: CRLF on the wire, LF on disk, identical to the original.
    expect(got.path).toBe(join(dir, 'readme.txt'));
    expect(sha256(readFileSync(got.path))).toBe(sha256('line one\nline two\n'));
    // Verbose output like BSD ftp, with the password masked.
    expect(shown).toContain('---> PASS XXXX');
    expect(shown).toContain('---> PORT 192,168,0,2,19,137');
    expect(shown.slice(0, 3)).toEqual(['220', '---> USER ftp', '331']);
    // Named counters for --stats.
    expect(client.counters.snapshot('ftp.client')).toMatchObject({
      'ftp.client.tx.command': 8,
      'ftp.client.rx.reply.1xx': 2,
      'ftp.client.rx.reply.2xx': 8,
      'ftp.client.rx.reply.3xx': 1,
      'ftp.client.data.active': 2,
      'ftp.client.transfer.ok': 2,
      'ftp.client.rx.bytes': 20, // as on the wire: CRLF line ends
    });
  });

  it('uses EPSV in passive mode and falls back to PASV when the server lacks it', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    await client.login();
    const out = sink();
    await client.download('/pub/data.bin', out.stream);
    expect(sha256(out.data())).toBe(sha256(server.files.get('/pub/data.bin')!));
    expect(server.log).toContain('EPSV');
    expect(server.log).toContain('TYPE I');
    await client.quit();

    start({ noExtended: true, pasvAddress: '10.9.9.9' });
    const old = new FtpClient({ tcp: clientHost });
    await old.connect(SERVER);
    await old.login();
    // The 227 names 10.9.9.9, but we connect to the control peer (the default).
    expect((await old.nlst('/pub')).sort()).toEqual(['data.bin', 'readme.txt']);
    expect(await old.nlst('/pub')).toHaveLength(2); // EPSV is not tried again
    expect(server.log.filter((l) => l === 'EPSV')).toHaveLength(1);
    expect(server.log.filter((l) => l === 'PASV')).toHaveLength(2);
    expect(old.counters.get('ftp.client.epsv_refused')).toBe(1);
    expect(old.counters.get('ftp.client.data.passive')).toBe(2);
    await old.quit();
  });

  it('trusts the 227 address only when told to', async () => {
    start({ noExtended: true, pasvAddress: '10.9.9.9' });
    const client = new FtpClient({ tcp: clientHost, trustPasvAddress: true, connectTimeout: 1000 });
    await client.connect(SERVER);
    await client.login();
    await expect(client.nlst()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    client.close();
  });

  it('uses EPRT when asked and falls back to PORT', async () => {
    start({ noExtended: true });
    const client = new FtpClient({ tcp: clientHost, mode: 'active', useEprt: true });
    await client.connect(SERVER);
    await client.login();
    await client.nlst();
    expect(server.log).toEqual(expect.arrayContaining(['EPRT |1|192.168.0.2|5001|', 'PORT 192,168,0,2,19,137']));
    // The refused EPRT is not tried again.
    await client.nlst();
    expect(server.log.filter((l) => l.startsWith('EPRT'))).toHaveLength(1);
    await client.quit();
  });

  it('logs in with user and password, and reports a wrong password with its code', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    const err = await client.login('alice', 'wrong').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FtpReplyError);
    expect(err).toMatchObject({ code: 530, text: 'Login incorrect.' });
    expect((err as Error).message).toBe('PASS XXXX: 530 Login incorrect.');
    await client.login('alice', 's3cret');
    await client.quit();
  });

  it('runs the simple commands', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    await client.login();
    expect(await client.pwd()).toBe('/');
    const feat = await client.features();
    expect([...feat.keys()]).toEqual(['EPSV', 'MDTM', 'REST', 'SIZE']);
    expect(feat.get('REST')).toBe('STREAM');
    await client.cwd('/pub');
    expect(await client.pwd()).toBe('/pub');
    await client.cdup();
    expect(await client.pwd()).toBe('/');
    expect(await client.size('/pub/data.bin')).toBe(70_000);
    expect(await client.mdtm('/pub/data.bin')).toEqual(new Date(Date.UTC(2026, 10, 21, 11, 42, 49)));
    expect(await client.mkdir('new')).toBe('/new');
    await client.rmdir('new');
    await client.rename('/pub/readme.txt', '/pub/README');
    expect(server.files.has('/pub/README')).toBe(true);
    await client.delete('/pub/README');
    expect(server.files.has('/pub/README')).toBe(false);
    expect((await client.site('CHMOD 644 x')).code).toBe(200);
    expect((await client.raw('NOOP')).code).toBe(200);
    expect((await client.raw('XYZZY')).code).toBe(500);
    await expect(client.cwd('/nope')).rejects.toMatchObject({ code: 550 });
    const mlsd = await client.mlsd('/pub');
    expect(mlsd.map((e) => [e.name, e.size])).toEqual([['data.bin', 70_000]]);
    await client.quit();
  });

  it('uploads with STOR and APPE, in binary and ASCII, and resumes an upload', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    await client.login();
    const local = join(dir, 'up.bin');
    const content = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 13) & 0xff));
    writeFileSync(local, content);
    expect(await client.put(local, '/pub/up.bin')).toEqual({ bytes: 50_000, verifiedSize: 50_000 });
    expect(sha256(server.files.get('/pub/up.bin')!)).toBe(sha256(content));

    // Resume: the server has the first 20 000 bytes; only the rest is sent, with APPE.
    server.files.set('/pub/up.bin', content.subarray(0, 20_000));
    expect(await client.put(local, '/pub/up.bin', { resume: true })).toEqual({ bytes: 30_000, verifiedSize: 50_000 });
    expect(sha256(server.files.get('/pub/up.bin')!)).toBe(sha256(content));
    expect(server.log).toContain('APPE /pub/up.bin');

    // ASCII: LF locally, CRLF on the wire (the server turns it back into LF).
    await client.upload(Readable.from([Buffer.from('a\nb\r\nc\n')]), '/pub/text.txt', { type: 'A' });
    expect(server.files.get('/pub/text.txt')!.toString()).toBe('a\nb\nc\n');
    await client.upload(Readable.from([Buffer.from('d\n')]), '/pub/text.txt', { append: true, type: 'A' });
    expect(server.files.get('/pub/text.txt')!.toString()).toBe('a\nb\nc\nd\n');
    await client.quit();
  });

  it('leaves a .part file when a download is cut, and reget finishes it with REST', async () => {
    start({ cutRetrAfter: 30_000 });
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    await client.login();
    const err = await client.get('/pub/data.bin', dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    // Never under its own name while incomplete.
    expect(existsSync(join(dir, 'data.bin'))).toBe(false);
    expect(readdirSync(dir)).toEqual(['.data.bin.part']);
    const partial = readFileSync(join(dir, '.data.bin.part')).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThanOrEqual(30_000);

    server.options.cutRetrAfter = undefined;
    const progress: number[] = [];
    const res = await client.get('/pub/data.bin', dir, { resume: true, onProgress: (b) => progress.push(b) });
    expect(res.offset).toBe(partial);
    expect(res.bytes).toBe(70_000 - partial);
    expect(server.log).toContain(`REST ${partial}`);
    expect(sha256(readFileSync(join(dir, 'data.bin')))).toBe(sha256(server.files.get('/pub/data.bin')!));
    expect(readdirSync(dir)).toEqual(['data.bin']);
    expect(progress.at(-1)).toBe(70_000);
    await client.quit();
  });

  it('abort() stops a download in the middle; the session goes on', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    await client.login();
    expect(client.abort()).toBe(false); // nothing running
    let aborted = false;
    const err = await client
      .get('/pub/data.bin', dir, {
        onProgress: () => {
          if (!aborted) aborted = client.abort();
        },
      })
      .catch((e: unknown) => e);
    expect(aborted).toBe(true);
    expect(err).toMatchObject({ code: 'ECONNABORTED' });
    // Never under its own name; a .part stays only if some bytes reached the disk.
    expect(readdirSync(dir).filter((n) => n !== '.data.bin.part')).toEqual([]);
    expect(await client.pwd()).toBe('/');
    expect(client.counters.get('ftp.client.transfer.aborted')).toBe(1);
    await client.quit();
  });

  it('never writes outside the target directory, whatever the remote name', async () => {
    start();
    server.addFile('/pub/x', 'x');
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    await client.login();
    const res = await client.get('/pub/../pub/x', dir);
    expect(res.path).toBe(join(dir, 'x'));
    await expect(client.get('/pub/..', dir)).rejects.toThrow(/refusing/);
    await client.quit();
  });

  it('refuses line breaks in arguments (no command injection through names)', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost });
    await client.connect(SERVER);
    await client.login();
    await expect(client.delete('a\r\nDELE /pub/readme.txt')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(server.files.has('/pub/readme.txt')).toBe(true);
    client.close();
  });

  it('fails with a timeout, not a hang, when the server stops answering (virtual clock)', async () => {
    start({ silentOn: 'CWD' });
    const clock = new VirtualClock();
    const client = new FtpClient({ tcp: clientHost, clock, replyTimeout: 5000 });
    const connecting = client.connect(SERVER);
    await clock.runUntil(() => client.connected);
    await connecting;
    const login = client.login();
    await login;
    let err: unknown;
    const cwd = client.cwd('/pub').catch((e: unknown) => (err = e));
    await clock.runUntil(() => err !== undefined);
    await cwd;
    expect(err).toBeInstanceOf(FtpConnectionError);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(clock.now()).toBeGreaterThanOrEqual(5000);
    expect(client.counters.get('ftp.client.reply_timeout')).toBe(1);
    // The control connection is gone: later calls fail at once.
    await expect(client.pwd()).rejects.toMatchObject({ code: 'ENOTCONN' });
  });

  it('fails, not hangs, when the control connection is cut during a transfer', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost, replyTimeout: 2000 });
    await client.connect(SERVER);
    await client.login();
    const out = sink();
    const transfer = client.download('/pub/data.bin', out.stream).catch((e: unknown) => e);
    // Cut the control connection as soon as the data connection exists.
    await new Promise<void>((r) => client.once('data', () => r()));
    clientHost.sockets[0]!.reset();
    const err = await transfer;
    expect(err).toBeInstanceOf(FtpConnectionError);
    await expect(client.pwd()).rejects.toBeInstanceOf(FtpConnectionError);
  });

  it('fails at once with the reply when the server answers 425 instead of connecting (active mode)', async () => {
    start({ refuseData: true });
    const clock = new VirtualClock();
    const client = new FtpClient({ tcp: clientHost, mode: 'active', clock, connectTimeout: 60_000 });
    const connecting = client.connect(SERVER);
    await clock.runUntil(() => client.connected);
    await connecting;
    await client.login();
    const err = await client.nlst().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FtpReplyError);
    expect(err).toMatchObject({ code: 425 });
    expect(clock.now()).toBe(0); // no timeout was needed
    expect(await client.pwd()).toBe('/');
    await client.quit();
  });

  it('reports a refused connection and a refused data connection', async () => {
    start();
    const client = new FtpClient({ tcp: clientHost });
    await expect(client.connect('192.168.0.99')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(client.connect('ftp.any-domain.com')).rejects.toThrow(/no resolver/);
    const named = new FtpClient({ tcp: clientHost, lookup: async (n) => (n === 'ftp.any-domain.com' ? SERVER : '0') });
    expect((await named.connect('ftp.any-domain.com')).code).toBe(220);
    await named.quit();
  });
});
