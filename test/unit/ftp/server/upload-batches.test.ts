import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../../src/stack/random.js';
import { pasv } from '../../../support/ftp-server-harness.js';
import { createFtpFixture, type FtpFixture } from '../../../support/ftp-server-fixture.js';
import { sha256 } from '../../../support/tcp-hosts.js';

// upload.ts writes what arrives in batches (one writev per batch of segments, from a
// moving file position). Megabytes in, after kept bytes of the old file (APPE, REST):
// every byte must land at its place.
let fx: FtpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

describe('ftp server: large uploads written in batches', () => {
  it('APPE and REST+STOR of 2 MB after kept bytes arrive whole', async () => {
    fx = await createFtpFixture({ anonymousWritable: true });
    const random = new SeededRandom(7);
    const old = Buffer.from(random.bytes(100_001));
    const payload = Buffer.from(random.bytes(2 * 1024 * 1024 + 3));
    await writeFile(join(fx.root, 'a.bin'), old);
    await writeFile(join(fx.root, 'r.bin'), old);
    const c = await fx.anonymous();
    expect((await c.cmd('TYPE I')).code).toBe(200);

    const upload = async (command: string): Promise<void> => {
      const data = await pasv(c, fx!.net.client.tcp);
      c.send(command);
      expect((await c.next()).code).toBe(150);
      data.end(payload);
      expect((await c.next()).lines).toEqual(['226 Transfer complete.']);
    };

    await upload('APPE a.bin');
    expect(sha256(await readFile(join(fx.root, 'a.bin')))).toBe(sha256(Buffer.concat([old, payload])));

    expect((await c.cmd('REST 12345')).code).toBe(350);
    await upload('STOR r.bin');
    expect(sha256(await readFile(join(fx.root, 'r.bin')))).toBe(sha256(Buffer.concat([old.subarray(0, 12345), payload])));
    expect((await c.cmd('QUIT')).code).toBe(221);
  });
});
