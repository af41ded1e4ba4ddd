import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FtpClient, FtpShell, type DataMode } from '../../../src/ftp/client/index.js';
import { createHost, type Host } from '../../../src/host.js';
import { startProftpd, startPureFtpd, startVsftpd, type FtpPeer } from '../../support/ftp-client-peers.js';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

/**
 * Never a wrong byte: our client on our stack against vsftpd, Pure-FTPd and proftpd
 * (the kernel side of a private namespace), in active and passive mode. The binary
 * file holds CRLF, lone CR, lone LF and NUL bytes, exactly what a TYPE A transfer
 * would change; every download and upload is compared by sha256.
 */

const SERVER = '10.0.0.1';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** 1 MiB: a header full of line ends, then random bytes (which hold many more). */
const binary = Buffer.concat([Buffer.from('\r\n\r\r\n\n\0\r\0\n'), randomBytes(1_048_576 - 10)]);
const text = Buffer.from('first line\nsecond line\n\nlast line\n');

let net: TestNet | undefined;
let host: Host | undefined;
let work: string;
const peers: FtpPeer[] = [];

function newClient(mode: DataMode, type: 'A' | 'I'): FtpClient {
  // Pure-FTPd's password hashing makes PASS take seconds on a busy machine: be patient.
  return new FtpClient({ tcp: host!.tcp, clock: host!.clock, mode, type, connectTimeout: 10_000, replyTimeout: 30_000, dataTimeout: 20_000 });
}

async function login(peer: FtpPeer, mode: DataMode, type: 'A' | 'I'): Promise<FtpClient> {
  const c = newClient(mode, type);
  await c.connect(SERVER, peer.port);
  await c.login(peer.user, peer.password);
  return c;
}

describeTap('FTP client integrity against vsftpd, Pure-FTPd and proftpd (sha256 on every transfer)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-integrity-'));
    chmodSync(work, 0o755);
    net = await createTestNet('ftpci');
    peers.push(await startVsftpd(net, work, SERVER), await startPureFtpd(net, work, SERVER), await startProftpd(net, work, SERVER));
    for (const p of peers) {
      writeFileSync(join(p.root, 'pub', 'binary.bin'), binary);
      writeFileSync(join(p.root, 'pub', 'text.txt'), text);
    }
    host = createHost({ link: net.link, address: '10.0.0.2', prefixLength: 24 });
  }, 60_000);

  afterAll(async () => {
    await host?.close();
    await net?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const name of ['vsftpd', 'pure-ftpd', 'proftpd'] as const) {
    for (const mode of ['passive', 'active'] as const) {
      it(`${name}, ${mode}: TYPE I download and upload of a binary file, byte for byte`, async () => {
        const peer = peers.find((p) => p.name === name)!;
        const c = await login(peer, mode, 'I');
        const local = join(work, `${name}-${mode}.bin`);
        const got = await c.get('pub/binary.bin', local);
        expect(got.bytes).toBe(binary.length);
        expect(sha256(readFileSync(local))).toBe(sha256(binary));
        const sent = await c.put(local, `incoming/${mode}.bin`);
        // Checked by SIZE afterwards (TYPE I), and on the server's disk here.
        expect(sent).toEqual({ bytes: binary.length, verifiedSize: binary.length });
        expect(sha256(readFileSync(join(peer.root, 'incoming', `${mode}.bin`)))).toBe(sha256(binary));
        await c.quit();
      });
    }

    it(`${name}: TYPE A download of a text file gives the same text (LF) locally`, async () => {
      const peer = peers.find((p) => p.name === name)!;
      const c = await login(peer, 'passive', 'A');
      const local = join(work, `${name}-text.txt`);
      const got = await c.get('pub/text.txt', local);
      expect(sha256(readFileSync(local))).toBe(sha256(text));
      // proftpd and Pure-FTPd turn each LF into CRLF on the wire; vsftpd sends the file as it is.
      expect(got.bytes).toBe(name === 'vsftpd' ? text.length : text.length + 4);
      await c.quit();
    });

    it(`${name}: the shell's default mode (no \`binary\` typed) keeps a binary file intact both ways`, async () => {
      const peer = peers.find((p) => p.name === name)!;
      let output = '';
      const out = new Writable({
        write(chunk: Buffer, _e, done) {
          output += chunk.toString();
          done();
        },
      });
      const dir = mkdtempSync(join(work, `${name}-shell-`));
      // As `tapstack ftp` starts it: ASCII (RFC 959), until SYST says UNIX Type: L8.
      const shell = new FtpShell({ client: newClient('passive', 'A'), out, clock: host!.clock, localDir: dir, defaultUser: peer.user, defaultPassword: peer.password });
      for (const line of [`open ${SERVER} ${peer.port}`, 'get pub/binary.bin', `put binary.bin incoming/shell.bin`, 'bye']) {
        expect(await shell.execute(line), `${line}\n${output}`).toBe(true);
      }
      expect(output).toContain('215 UNIX Type: L8');
      expect(output).toContain('Using binary mode to transfer files.');
      expect(sha256(readFileSync(join(dir, 'binary.bin')))).toBe(sha256(binary));
      expect(sha256(readFileSync(join(peer.root, 'incoming', 'shell.bin')))).toBe(sha256(binary));
    });
  }
});
