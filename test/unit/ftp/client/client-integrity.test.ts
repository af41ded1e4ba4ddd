import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpClient, FtpShell, FtpSizeMismatchError } from '../../../../src/ftp/client/index.js';
import { announcedSize, checkDownload } from '../../../../src/ftp/client/integrity.js';
import { RealClock } from '../../../../src/stack/clock.js';
import { FakeFtpServer, type FakeServerOptions } from '../../../support/ftp-client-fake-server.js';
import { MemTcpNet, type MemTcpHost } from '../../../support/ftp-client-memtcp.js';

/**
 * A transfer that the server calls complete (226) but that moved the wrong number of
 * bytes is a failure: the scripted server lies on purpose, and the client must notice.
 */

const SERVER = '192.168.0.1';
/** Every byte that a line-end conversion could touch: CRLF, a lone CR, a lone LF, NUL. */
const binary = Buffer.concat([Buffer.from('GIF89a\r\n\x1a\n\0\r\0\n\r\r\n\n'), Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 31) & 0xff))]);

describe('checkDownload: the byte count against SIZE or the 150 announcement', () => {
  it('reads "(N bytes)" from a 150 reply', () => {
    expect(announcedSize('Opening BINARY mode data connection for big.bin (1048576 bytes).')).toBe(1_048_576);
    expect(announcedSize('Accepted data connection')).toBeUndefined();
  });

  it('TYPE I: exactly the size, after REST the rest of it', () => {
    expect(() => checkDownload({ type: 'I', offset: 0, received: 100, size: 100 })).not.toThrow();
    expect(() => checkDownload({ type: 'I', offset: 40, received: 60, size: 100 })).not.toThrow();
    expect(() => checkDownload({ type: 'I', offset: 0, received: 99, size: 100 })).toThrow('partial file: received 99 of 100 bytes');
    expect(() => checkDownload({ type: 'I', offset: 0, received: 101, size: 100 })).toThrow('too many bytes: received 101 where the server announced 100');
    expect(() => checkDownload({ type: 'I', offset: 0, received: 99, announced: 100 })).toThrow(FtpSizeMismatchError);
    // Nothing announced: nothing to check.
    expect(() => checkDownload({ type: 'I', offset: 0, received: 5 })).not.toThrow();
  });

  it('TYPE A: only short is wrong (a Unix server may add a CR to every LF)', () => {
    expect(() => checkDownload({ type: 'A', offset: 0, received: 120, announced: 100 })).not.toThrow();
    expect(() => checkDownload({ type: 'A', offset: 0, received: 80, announced: 100 })).toThrow('partial file: received 80 of 100 bytes');
  });
});

describe('FtpClient refuses damaged transfers', () => {
  let clientHost: MemTcpHost;
  let server: FakeFtpServer;
  let dir: string;

  function start(opts: Partial<FakeServerOptions> = {}): FtpClient {
    const net = new MemTcpNet();
    server = new FakeFtpServer({ tcp: net.host(SERVER), address: SERVER, ...opts });
    server.addFile('/big.bin', binary);
    clientHost = net.host('192.168.0.2');
    return new FtpClient({ tcp: clientHost, type: 'I' });
  }
  async function loggedIn(opts: Partial<FakeServerOptions> = {}): Promise<FtpClient> {
    const c = start(opts);
    await c.connect(SERVER);
    await c.login();
    return c;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-integrity-'));
  });
  afterEach(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks SIZE in TYPE I before RETR, and a download that matches it succeeds', async () => {
    const c = await loggedIn();
    const got = await c.get('/big.bin', dir);
    expect(server.log.slice(-4)).toEqual(['TYPE I', 'SIZE /big.bin', 'EPSV', 'RETR /big.bin']);
    expect(readFileSync(got.path).equals(binary)).toBe(true);
    await c.quit();
  });

  it('a short download (226 after 15 bytes too few) fails, keeps the .part, never writes the real name', async () => {
    const c = await loggedIn({ retrShortBy: 15 });
    const err = await c.get('/big.bin', dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FtpSizeMismatchError);
    expect((err as Error).message).toBe(`partial file: received ${binary.length - 15} of ${binary.length} bytes`);
    expect((err as FtpSizeMismatchError).keptPath).toBe(join(dir, '.big.bin.part'));
    expect(readdirSync(dir)).toEqual(['.big.bin.part']);
    expect(c.counters.get('ftp.client.transfer.size_mismatch')).toBe(1);
    // The session is still in step: reget completes it once the server behaves.
    server.options.retrShortBy = undefined;
    const res = await c.get('/big.bin', dir, { resume: true });
    expect(res.offset).toBe(binary.length - 15);
    expect(readFileSync(join(dir, 'big.bin')).equals(binary)).toBe(true);
    await c.quit();
  });

  it('a long download fails too', async () => {
    const c = await loggedIn({ retrShortBy: -3 });
    await expect(c.get('/big.bin', dir)).rejects.toThrow(`too many bytes: received ${binary.length + 3} where the server announced ${binary.length}`);
    expect(existsSync(join(dir, 'big.bin'))).toBe(false);
    await c.quit();
  });

  it('without SIZE, the "(N bytes)" of the 150 reply is the reference; with neither, nothing is claimed', async () => {
    const c = await loggedIn({ retrShortBy: 1, noSize: true });
    await expect(c.get('/big.bin', dir)).rejects.toThrow('partial file');
    server.options.quiet150 = true;
    // A server that says nothing about sizes (no SIZE, no "(N bytes)") cannot be checked.
    const res = await c.get('/big.bin', join(dir, 'unchecked.bin'));
    expect(res.bytes).toBe(binary.length - 1);
    await c.quit();
  });

  it('an upload whose SIZE afterwards differs from the local file fails', async () => {
    const c = await loggedIn({ storeShortBy: 2 });
    const local = join(dir, 'up.bin');
    writeFileSync(local, binary);
    await expect(c.put(local, '/up.bin')).rejects.toThrow(`upload of /up.bin is damaged: the server has ${binary.length - 2} bytes, the local file ${binary.length}`);
    expect(server.log.slice(-2)).toEqual(['STOR /up.bin', 'SIZE /up.bin']);
    server.options.storeShortBy = undefined;
    expect(await c.put(local, '/up.bin')).toEqual({ bytes: binary.length, verifiedSize: binary.length });
    // Append: SIZE before and after; the file must have grown by the local size.
    expect(await c.put(local, '/up.bin', { append: true })).toEqual({ bytes: binary.length, verifiedSize: 2 * binary.length });
    await c.quit();
  });
});

describe('the shell switches to binary after SYST says UNIX Type: L8, as tnftp', () => {
  let server: FakeFtpServer;
  let dir: string;
  afterEach(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function session(opts: Partial<FakeServerOptions>, lines: string[]): Promise<{ ok: boolean[]; output: string }> {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-syst-'));
    const net = new MemTcpNet();
    // convertAscii: like proftpd, TYPE A really changes line ends on the wire.
    server = new FakeFtpServer({ tcp: net.host(SERVER), address: SERVER, ...opts });
    server.addFile('/big.bin', binary);
    let output = '';
    const out = new Writable({
      write(c: Buffer, _e, done) {
        output += c.toString();
        done();
      },
    });
    // The CLI's default: the client starts in ASCII (RFC 959), the shell decides.
    const client = new FtpClient({ tcp: net.host('192.168.0.2'), type: 'A' });
    const shell = new FtpShell({ client, out, clock: new RealClock(), localDir: dir, defaultUser: 'ftp', defaultPassword: 'x@y', debug: true });
    const ok: boolean[] = [];
    for (const l of lines) ok.push(await shell.execute(l));
    return { ok, output };
  }

  it('the default mode (no `binary` typed) downloads and uploads a binary file unchanged', async () => {
    const { ok, output } = await session({}, ['open 192.168.0.1', 'get big.bin', 'put big.bin copy.bin', 'bye']);
    expect(ok).toEqual([true, true, true, true]);
    expect(output).toContain('---> SYST\n215 UNIX Type: L8\nRemote system type is UNIX.\n---> TYPE I\n200 Switching to Binary mode.\nUsing binary mode to transfer files.\n');
    expect(readFileSync(join(dir, 'big.bin')).equals(binary)).toBe(true);
    expect(server.files.get('/copy.bin')!.equals(binary)).toBe(true);
    expect(server.log).toContain('TYPE I');
  });

  it('another system stays in ASCII (and `binary` still switches)', async () => {
    const { output } = await session({ system: 'Windows_NT' }, ['open 192.168.0.1', 'get big.bin text.txt', 'binary', 'get big.bin', 'bye']);
    expect(output).toContain('Remote system type is Windows_NT.');
    expect(output).not.toContain('Using binary mode');
    expect(readFileSync(join(dir, 'text.txt')).equals(binary)).toBe(false); // ASCII changed it
    expect(readFileSync(join(dir, 'big.bin')).equals(binary)).toBe(true);
  });
});
