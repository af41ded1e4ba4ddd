import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FtpClient } from '../../../src/ftp/client/index.js';
import { createHost, type Host } from '../../../src/host.js';
import { startPureFtpd, startVsftpd, type FtpPeer } from '../../support/ftp-client-peers.js';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

/**
 * Our FTP client on our own stack, behind a TAP device, against real servers run by
 * the kernel side of a private namespace (10.0.0.1): vsftpd (Debian package) and
 * Pure-FTPd (unpacked at /opt/pure-ftpd), started by ftp-client-peers.ts with their own
 * configuration in a temp directory. Every transfer is checked by sha256; the three
 * servers in both modes and types are in client-integrity.test.ts.
 */

const SERVER = '10.0.0.1';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let net: TestNet | undefined;
let host: Host | undefined;
let work: string;
let vs: FtpPeer;
let pure: FtpPeer;
const big = randomBytes(1_500_000);
const readme = Buffer.from('Welcome to ftp.any-domain.com\nThis is readme.txt.\n');

function newClient(options: Partial<ConstructorParameters<typeof FtpClient>[0]> = {}): FtpClient {
  // Pure-FTPd's password hashing makes PASS take seconds on a busy machine: be patient.
  return new FtpClient({ tcp: host!.tcp, clock: host!.clock, connectTimeout: 5000, replyTimeout: 30_000, dataTimeout: 10_000, ...options });
}

describeTap('FTP client on our stack against vsftpd and Pure-FTPd', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-interop-'));
    chmodSync(work, 0o755);
    net = await createTestNet('ftpc');
    vs = await startVsftpd(net, work, SERVER);
    writeFileSync(join(vs.root, 'pub', 'readme.txt'), readme);
    writeFileSync(join(vs.root, 'pub', 'big.bin'), big);
    writeFileSync(join(vs.root, 'pub', 'name with spaces.txt'), 'x');
    pure = await startPureFtpd(net, work, SERVER);
    writeFileSync(join(pure.root, 'big.bin'), big);
    host = createHost({ link: net.link, address: '10.0.0.2', prefixLength: 24 });
  });

  afterAll(async () => {
    await host?.close();
    await net?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('vsftpd, active mode: the seed session (anonymous LIST, CWD, RETR) from data ports 5001 and 5002', async () => {
    const c = newClient({ mode: 'active', type: 'A' });
    const sent: string[] = [];
    const data: unknown[] = [];
    c.on('command', (l: string) => sent.push(l));
    c.on('data', (d: unknown) => data.push(d));
    expect((await c.connect(SERVER)).code).toBe(220);
    await c.login('ftp', 'abc@any-domain.com');
    const root = await c.list();
    expect(root.map((e) => [e.name, e.type]).sort()).toEqual([
      ['incoming', 'dir'],
      ['pub', 'dir'],
    ]);
    await c.cwd('pub');
    const got = await c.get('readme.txt', work);
    await c.quit();
    expect(sent).toEqual(['USER ftp', 'PASS XXXX', 'PORT 10,0,0,2,19,137', 'LIST', 'CWD pub', 'PORT 10,0,0,2,19,138', 'RETR readme.txt', 'QUIT']);
    // connect_from_port_20: the server's data connections come from port 20.
    expect(data).toEqual([
      { mode: 'active', local: 5001, remote: '10.0.0.1:20' },
      { mode: 'active', local: 5002, remote: '10.0.0.1:20' },
    ]);
    expect(sha256(readFileSync(got.path))).toBe(sha256(readme));
  });

  it('vsftpd, passive mode (EPSV): LIST parsing of its real output and a 1.5 MB binary download', async () => {
    const c = newClient();
    await c.connect(SERVER);
    await c.login();
    const entries = await c.list('pub');
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    expect(byName['big.bin']).toMatchObject({ type: 'file', size: big.length });
    expect(byName['readme.txt']).toMatchObject({ type: 'file', size: readme.length });
    expect(byName['name with spaces.txt']).toMatchObject({ type: 'file', size: 1 });
    expect(await c.size('pub/big.bin')).toBe(big.length);
    const sent: string[] = [];
    c.on('command', (l: string) => sent.push(l));
    const got = await c.get('pub/big.bin', join(work, 'vs-big.bin'));
    // TYPE I is on already (SIZE above): SIZE again, the size the download is checked against.
    expect(sent.slice(0, 3)).toEqual(['SIZE pub/big.bin', 'EPSV', 'RETR pub/big.bin']);
    expect(sha256(readFileSync(got.path))).toBe(sha256(big));
    await c.quit();
  });

  it('vsftpd: PASV fallback when EPSV is off, and an anonymous upload in active mode', async () => {
    const c = newClient({ useEpsv: false });
    await c.connect(SERVER);
    await c.login();
    expect((await c.nlst('pub')).sort()).toEqual(['pub/big.bin', 'pub/name with spaces.txt', 'pub/readme.txt']);
    c.mode = 'active';
    const local = join(work, 'to-upload.bin');
    const body = randomBytes(300_000);
    writeFileSync(local, body);
    expect(await c.put(local, 'incoming/up.bin')).toEqual({ bytes: body.length, verifiedSize: body.length });
    expect(sha256(readFileSync(join(vs.root, 'incoming', 'up.bin')))).toBe(sha256(body));
    await c.quit();
  });

  it('vsftpd: a download cut in the middle leaves .part, and reget finishes it with REST', async () => {
    const c = newClient();
    await c.connect(SERVER);
    await c.login();
    const dir = mkdtempSync(join(work, 'cut-'));
    const cut = await c
      .get('pub/big.bin', dir, {
        onProgress: (bytes) => {
          if (bytes > 400_000) throw new Error('cut on purpose');
        },
      })
      .catch((e: unknown) => e);
    expect((cut as Error).message).toBe('cut on purpose');
    expect(readdirSync(dir)).toEqual(['.big.bin.part']);
    const partial = readFileSync(join(dir, '.big.bin.part')).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(big.length);
    // The control connection survived the cut data connection.
    const res = await c.get('pub/big.bin', dir, { resume: true });
    expect(res.offset).toBe(partial);
    expect(res.bytes).toBe(big.length - partial);
    expect(readdirSync(dir)).toEqual(['big.bin']);
    expect(sha256(readFileSync(join(dir, 'big.bin')))).toBe(sha256(big));
    await c.quit();
  });

  it('Pure-FTPd, passive: authenticated login, LIST and MLSD of its real output, download', async () => {
    const c = newClient();
    const t0 = performance.now();
    if (process.env.FTPC_DEBUG) {
      c.on('command', (l: string) => console.log((performance.now() - t0).toFixed(0), '--->', l));
      c.on('reply', (r: { lines: string[] }) => console.log((performance.now() - t0).toFixed(0), r.lines.join(' | ')));
    }
    await c.connect(SERVER, 2121);
    await c.login('uploader', 'upl0ad');
    expect(await c.pwd()).toBe('/');
    const feat = await c.features();
    expect(feat.has('MLSD')).toBe(true);
    const list = await c.list();
    expect(list.find((e) => e.name === 'big.bin')).toMatchObject({ type: 'file', size: big.length });
    const mlsd = await c.mlsd();
    expect(mlsd.find((e) => e.name === 'big.bin')).toMatchObject({ type: 'file', size: big.length });
    const got = await c.get('big.bin', join(work, 'pure-big.bin'));
    expect(sha256(readFileSync(got.path))).toBe(sha256(big));
    await c.quit();
  });

  it('Pure-FTPd, active and passive: authenticated uploads, append and a resumed upload', async () => {
    const c = newClient({ mode: 'active' });
    await c.connect(SERVER, 2121);
    await c.login('uploader', 'upl0ad');
    const body = randomBytes(700_000);
    const local = join(work, 'pure-up.bin');
    writeFileSync(local, body);
    expect(await c.put(local, 'up.bin')).toEqual({ bytes: body.length, verifiedSize: body.length });
    expect(sha256(readFileSync(join(pure.root, 'up.bin')))).toBe(sha256(body));
    c.mode = 'passive';
    // A cut upload: the server holds the first 250 000 bytes; resume sends the rest with APPE.
    writeFileSync(join(pure.root, 'up.bin'), body.subarray(0, 250_000));
    expect(await c.put(local, 'up.bin', { resume: true })).toEqual({ bytes: body.length - 250_000, verifiedSize: body.length });
    expect(sha256(readFileSync(join(pure.root, 'up.bin')))).toBe(sha256(body));
    await c.mkdir('sub');
    await c.rename('up.bin', 'sub/up.bin');
    expect(await c.size('sub/up.bin')).toBe(body.length);
    await c.delete('sub/up.bin');
    await c.rmdir('sub');
    expect(existsSync(join(pure.root, 'sub'))).toBe(false);
    await c.quit();
  });
});
