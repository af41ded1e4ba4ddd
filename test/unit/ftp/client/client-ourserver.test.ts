import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpClient, FtpReplyError } from '../../../../src/ftp/client/index.js';
import { ALICE_PASSWORD, createFtpFixture, type FtpFixture } from '../../../support/ftp-server-fixture.js';

// Our client on host 10.0.0.1 against our own FTP server on 10.0.0.2, both on our own
// TCP/IP stack, joined by the in-memory link.

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let fx: FtpFixture | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-own-'));
});
afterEach(async () => {
  await fx?.close();
  fx = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function client(options: Partial<ConstructorParameters<typeof FtpClient>[0]> = {}): Promise<FtpClient> {
  fx = await createFtpFixture();
  const c = new FtpClient({ tcp: fx.net.client.tcp, ...options });
  await c.connect('10.0.0.2');
  return c;
}

describe('FtpClient against our FtpServer over the in-memory link', () => {
  it('plays the seed session: USER ftp, PASS, PORT 5001, LIST, CWD, PORT 5002, RETR, QUIT', async () => {
    const c = await client({ mode: 'active', type: 'A' });
    const sent: string[] = [];
    const replies: number[] = [];
    const dataLinks: unknown[] = [];
    c.on('command', (l: string) => sent.push(l));
    c.on('reply', (r: { code: number }) => replies.push(r.code));
    c.on('data', (d: unknown) => dataLinks.push(d));
    await c.login('ftp', 'abc@any-domain.com');
    const entries = await c.list();
    expect(entries.map((e) => e.name).sort()).toEqual(expect.arrayContaining(['pub', 'readme.txt']));
    expect(entries.find((e) => e.name === 'readme.txt')).toMatchObject({ type: 'file', size: 18 });
    await c.cwd('pub');
    const got = await c.get('a.txt', dir);
    const bye = await c.quit();
    expect(sent).toEqual(['USER ftp', 'PASS XXXX', 'PORT 10,0,0,1,19,137', 'LIST', 'CWD pub', 'PORT 10,0,0,1,19,138', 'RETR a.txt', 'QUIT']);
    expect(replies).toEqual([331, 230, 200, 150, 226, 250, 200, 150, 226, 221]);
    // RFC 959 3.2: the server connects from its port 20 to our 5001, then 5002.
    expect(dataLinks).toEqual([
      { mode: 'active', local: 5001, remote: '10.0.0.2:20' },
      { mode: 'active', local: 5002, remote: '10.0.0.2:20' },
    ]);
    expect(readFileSync(got.path, 'utf8')).toBe('A');
    expect(bye?.text).toBe('Thank you for visiting ftp.any-domain.com.');
  });

  it('downloads in passive mode (EPSV) and in ASCII mode, byte-exact by sha256', async () => {
    const c = await client();
    await c.login();
    const res = await c.get('/readme.txt', dir);
    expect(sha256(readFileSync(res.path))).toBe(sha256(await readFile(join(fx!.root, 'readme.txt'))));
    const ascii = await c.get('/readme.txt', join(dir, 'ascii.txt'), { type: 'A' });
    expect(readFileSync(ascii.path, 'utf8')).toBe('line one\nline two\n');
    expect(await c.size('/readme.txt')).toBe(18);
    expect((await c.mdtm('/readme.txt')).getTime()).toBeGreaterThan(0);
    expect((await c.nlst('/pub')).sort()).toEqual(['/pub/a.txt', '/pub/b.txt']);
    const mlsd = await c.mlsd('/pub');
    expect(mlsd.map((e) => [e.name, e.type, e.size]).sort()).toEqual([
      ['a.txt', 'file', 1],
      ['b.txt', 'file', 2],
    ]);
    const feat = await c.features();
    expect(feat.has('EPSV')).toBe(true);
    await c.quit();
  });

  it('falls back to PASV when EPSV is turned off, and uses EPRT when asked', async () => {
    const c = await client({ useEpsv: false });
    await c.login();
    expect((await c.nlst('/pub')).sort()).toEqual(['/pub/a.txt', '/pub/b.txt']);
    c.mode = 'active';
    c.useEprt = true;
    const sent: string[] = [];
    c.on('command', (l: string) => sent.push(l));
    expect((await c.nlst('/pub')).sort()).toEqual(['/pub/a.txt', '/pub/b.txt']);
    expect(sent[0]).toBe('EPRT |1|10.0.0.1|5001|');
    await c.quit();
  });

  it('uploads as a named user, appends, resumes, renames and deletes', async () => {
    const c = await client();
    await c.login('alice', ALICE_PASSWORD);
    const body = Buffer.alloc(200_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
    const local = join(dir, 'big.bin');
    writeFileSync(local, body);
    expect(await c.put(local)).toEqual({ bytes: body.length, verifiedSize: body.length });
    expect(sha256(await readFile(join(fx!.root, 'alice', 'big.bin')))).toBe(sha256(body));

    // A cut upload: the server has the first 50 000 bytes; resume sends the rest.
    writeFileSync(join(fx!.root, 'alice', 'big.bin'), body.subarray(0, 50_000));
    expect(await c.put(local, 'big.bin', { resume: true })).toEqual({ bytes: 150_000, verifiedSize: body.length });
    expect(sha256(await readFile(join(fx!.root, 'alice', 'big.bin')))).toBe(sha256(body));

    await c.mkdir('sub');
    await c.rename('big.bin', 'sub/moved.bin');
    expect(await c.nlst('sub')).toEqual(['sub/moved.bin']);
    await c.delete('sub/moved.bin');
    await c.rmdir('sub');
    const err = await c.delete('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FtpReplyError);
    expect((err as FtpReplyError).code).toBe(550);
    await c.quit();
  });

  it('resumes a download from a partial file with REST', async () => {
    const c = await client();
    await c.login('alice', ALICE_PASSWORD);
    const body = Buffer.alloc(100_000, 0x5a);
    body.write('the end', 99_990);
    writeFileSync(join(fx!.root, 'alice', 'r.bin'), body);
    writeFileSync(join(dir, '.r.bin.part'), body.subarray(0, 40_000));
    const sent: string[] = [];
    c.on('command', (l: string) => sent.push(l));
    const res = await c.get('r.bin', dir, { resume: true });
    expect(res).toMatchObject({ offset: 40_000, bytes: 60_000 });
    expect(sent).toContain('REST 40000');
    expect(sha256(readFileSync(join(dir, 'r.bin')))).toBe(sha256(body));
    expect(readdirSync(dir)).toEqual(['r.bin']);
    await c.quit();
  });

  it('reports the server refusing a write by anonymous users with the reply code', async () => {
    const c = await client();
    await c.login();
    const local = join(dir, 'x.txt');
    writeFileSync(local, 'x');
    const err = await c.put(local, '/x.txt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FtpReplyError);
    expect((err as FtpReplyError).code).toBeGreaterThanOrEqual(500);
    // The session is still usable afterwards.
    expect(await c.pwd()).toBe('/');
    await c.quit();
  });
});
