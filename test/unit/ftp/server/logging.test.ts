import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../../src/stack/log.js';
import { formatXferLine } from '../../../../src/ftp/server/xferlog.js';
import { pasv, readAll } from '../../../support/ftp-server-harness.js';
import { ALICE_PASSWORD, createFtpFixture, type FtpFixture } from '../../../support/ftp-server-fixture.js';

let fx: FtpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink) as unknown as Logger, lines };
}

describe('logging', () => {
  it('one line per command and per transfer, never the password', async () => {
    const { logger, lines } = memoryLogger();
    const xferlog = join((await import('node:os')).tmpdir(), `tapstack-xferlog-${process.pid}.log`);
    await writeFile(xferlog, '');
    fx = await createFtpFixture({ logger, xferlog, now: () => new Date(Date.UTC(2026, 10, 21, 11, 41, 3)) });
    const c = await fx.connect();
    expect((await c.cmd('USER alice')).code).toBe(331);
    expect((await c.cmd(`PASS ${ALICE_PASSWORD}`)).code).toBe(230);
    const data = await pasv(c, fx.net.client.tcp);
    const body = readAll(data);
    c.send('RETR home.txt');
    expect((await c.next()).code).toBe(150);
    await body;
    expect((await c.next()).code).toBe(226);
    expect((await c.cmd('QUIT')).code).toBe(221);
    await c.closed();
    await fx.server.close();

    const all = JSON.stringify(lines);
    expect(all).not.toContain(ALICE_PASSWORD);
    const commands = lines.filter((l) => l.msg === 'command');
    expect(commands.map((l) => [l.cmd, l.code])).toEqual([
      ['USER', 331],
      ['PASS', 230],
      ['PASV', 227],
      ['RETR', 226],
      ['QUIT', 221],
    ]);
    expect(commands[1]!.arg).toBe('****');
    const transfers = lines.filter((l) => l.msg === 'transfer');
    expect(transfers).toHaveLength(1);
    expect(transfers[0]).toMatchObject({ transfer: 'RETR', path: '/home.txt', bytes: 5, result: 'ok' });
    expect(await readFile(xferlog, 'utf8')).toBe('Sat Nov 21 11:41:03 2026 1 10.0.0.1 5 /home.txt a _ o r alice ftp 0 * c\n');
    await rm(xferlog);
  });

  it('formats xferlog lines (wu-ftpd format)', () => {
    const line = formatXferLine(
      { seconds: 3.4, host: '10.0.0.1', bytes: 1715, path: '/my file.txt', binary: true, incoming: true, anonymous: true, user: 'abc@any-domain.com', complete: false },
      new Date(Date.UTC(2026, 0, 5, 7, 8, 9)),
    );
    expect(line).toBe('Mon Jan  5 07:08:09 2026 3 10.0.0.1 1715 /my_file.txt b _ i a abc@any-domain.com ftp 0 * i');
  });
});

describe('UTF-8 path names (RFC 2640)', () => {
  it('stores, lists and retrieves a file with a non-ASCII name', async () => {
    fx = await createFtpFixture({ anonymousWritable: true });
    const c = await fx.anonymous();
    const name = 'grüße-файл-例.txt';
    let data = await pasv(c, fx.net.client.tcp);
    c.send(`STOR ${name}`);
    expect((await c.next()).code).toBe(150);
    data.end('utf8 content');
    expect((await c.next()).code).toBe(226);
    expect(await readFile(join(fx.root, name), 'utf8')).toBe('utf8 content');
    data = await pasv(c, fx.net.client.tcp);
    let body = readAll(data);
    c.send('NLST');
    expect((await c.next()).code).toBe(150);
    expect((await body).toString('utf8')).toContain(`${name}\r\n`);
    expect((await c.next()).code).toBe(226);
    data = await pasv(c, fx.net.client.tcp);
    body = readAll(data);
    c.send(`RETR ${name}`);
    expect((await c.next()).lines[0]).toBe(`150 Opening ASCII mode data connection for ${name}(12 bytes).`);
    expect((await body).toString()).toBe('utf8 content');
    expect((await c.next()).code).toBe(226);
  });
});
