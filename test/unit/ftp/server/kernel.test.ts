import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpServer } from '../../../../src/ftp/server/server.js';
import { RealClock } from '../../../../src/stack/clock.js';
import { kernelTcp } from '../../../support/kernel-tcp.js';
import { ControlClient, pasv, epsv, readAll, tempDir } from '../../../support/ftp-server-harness.js';

// The server on the kernel's TCP (127.0.0.1): the same code as over our stack, with a
// real, independent TCP underneath.
describe('ftp server over the kernel TCP', () => {
  const tcp = kernelTcp();
  let server: FtpServer;
  let dir: string;
  let cleanup: () => Promise<void>;
  let ctrlPort: number;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await writeFile(join(dir, 'readme.txt'), 'line one\nline two\n');
    await mkdir(join(dir, 'pub'));
    server = new FtpServer({ tcp, clock: new RealClock(), root: dir, port: 0, dataPort: 0, anonymousWritable: true, pasvPorts: { min: 40000, max: 44999 } });
    ctrlPort = (await server.listen()).port;
  });
  afterEach(async () => {
    await server.close();
    await cleanup();
  });

  it('logs in, lists, downloads, uploads and quits', async () => {
    const c = await ControlClient.connect(tcp, '127.0.0.1', ctrlPort);
    expect((await c.next()).lines).toEqual(['220 ANY-DOMAIN.COM FTP Service']);
    expect((await c.cmd('USER ftp')).lines).toEqual(['331 Anonymous access allowed, send identity (e-mail name) as password.']);
    expect((await c.cmd('PASS abc@any-domain.com')).lines).toEqual(['230-Welcome to ftp.any-domain.com', '230 Anonymous user logged in.']);
    expect((await c.cmd('PWD')).lines).toEqual(['257 "/" is the current directory.']);

    let data = await pasv(c, tcp);
    c.send('LIST');
    expect((await c.next()).lines).toEqual(['150 Opening ASCII mode data connection for /bin/ls.']);
    const listing = (await readAll(data)).toString();
    expect((await c.next()).lines).toEqual(['226 Transfer complete.']);
    expect(listing).toMatch(/^d[rwx-]{9} +\d+ ftp +ftp +\d+ \w{3} [ \d]\d [ \d]\d:\d\d pub\r\n-/);

    data = await epsv(c, tcp, '127.0.0.1');
    c.send('RETR readme.txt');
    expect((await c.next()).lines).toEqual(['150 Opening ASCII mode data connection for readme.txt(18 bytes).']);
    expect((await readAll(data)).toString()).toBe('line one\r\nline two\r\n');
    expect((await c.next()).code).toBe(226);

    expect((await c.cmd('TYPE I')).code).toBe(200);
    const payload = Buffer.alloc(300_000, 7);
    data = await pasv(c, tcp);
    c.send('STOR up.bin');
    expect((await c.next()).code).toBe(150);
    data.end(payload);
    expect((await c.next()).lines).toEqual(['226 Transfer complete.']);
    const stored = await readFile(join(dir, 'up.bin'));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));

    expect((await c.cmd('QUIT')).lines).toEqual(['221 Thank you for visiting ftp.any-domain.com.']);
    await c.closed();
  });
});
