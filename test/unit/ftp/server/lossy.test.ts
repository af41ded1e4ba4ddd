import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../../src/stack/random.js';
import { pasv, readAll } from '../../../support/ftp-server-harness.js';
import { createFtpFixture, type FtpFixture } from '../../../support/ftp-server-fixture.js';
import { sha256 } from '../../../support/tcp-hosts.js';

// Downloads, uploads and a listing through a lossy, reordering link (seeded faults on
// the client's side): the FTP exchange and every byte must come through unchanged.
let fx: FtpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

describe('ftp server over a lossy link', () => {
  it.each([1, 2, 3])('seed %i: RETR, STOR and LIST survive loss, duplication and reordering', async (seed) => {
    try {
      fx = await createFtpFixture({ anonymousWritable: true }, { seed, faults: { loss: 0.02, duplicate: 0.01, reorder: 0.02 } });
      const payload = Buffer.from(new SeededRandom(seed).bytes(200_000));
      await writeFile(join(fx.root, 'data.bin'), payload);
      const c = await fx.anonymous();
      expect((await c.cmd('TYPE I')).code).toBe(200);

      let data = await pasv(c, fx.net.client.tcp);
      let body = readAll(data);
      c.send('RETR data.bin');
      expect((await c.next()).code).toBe(150);
      expect(sha256(await body)).toBe(sha256(payload));
      expect((await c.next()).lines).toEqual(['226 Transfer complete.']);

      data = await pasv(c, fx.net.client.tcp);
      c.send('STOR copy.bin');
      expect((await c.next()).code).toBe(150);
      data.end(payload);
      expect((await c.next()).lines).toEqual(['226 Transfer complete.']);
      expect(sha256(await readFile(join(fx.root, 'copy.bin')))).toBe(sha256(payload));

      data = await pasv(c, fx.net.client.tcp);
      body = readAll(data);
      c.send('NLST');
      expect((await c.next()).code).toBe(150);
      expect((await body).toString()).toBe('alice\r\ncopy.bin\r\ndata.bin\r\npub\r\nreadme.txt\r\n');
      expect((await c.next()).code).toBe(226);
      expect((await c.cmd('QUIT')).code).toBe(221);
      expect(fx.net.faults!.stats.outbound.dropped + fx.net.faults!.stats.inbound.dropped).toBeGreaterThan(0);
    } catch (err) {
      console.log(`ftp lossy link test failed with seed ${seed}`);
      throw err;
    }
  });
});
