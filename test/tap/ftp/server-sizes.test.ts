import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';
import { READ_CHUNK_BYTES } from '../../../src/ftp/server/file-source.js';
import { createFtpTapNet, seededBytes, sha256, sha256File, type FtpTapNet } from '../../support/ftp-server-tap.js';

/**
 * Sizes at the edges of the server's chunking, through curl (kernel TCP in the
 * namespace): RETR reads files in READ_CHUNK_BYTES chunks and reuses their buffers
 * (file-source.ts), STOR copies segments into 1 MiB batches and syncs in the
 * background every 16 MiB (file-sink.ts). Every file must arrive byte for byte.
 */
const CHUNK = READ_CHUNK_BYTES;
const SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 7];

describeTap('ftp server: transfer sizes around the chunk size', () => {
  let t: FtpTapNet;

  beforeAll(async () => {
    t = await createFtpTapNet('ftpsizes', {}, 1024);
    await mkdir(join(t.root, 'incoming'));
    for (const [i, n] of SIZES.entries()) await writeFile(join(t.root, `s${n}.bin`), seededBytes(n, 500 + i));
  });
  afterAll(async () => {
    await t?.destroy();
  });

  async function curl(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const r = await t.net.exec('curl', ['-sS', '--max-time', '60', ...args], { timeoutMs: 70_000 });
    return { code: r.code, stderr: r.stderr };
  }

  it.each(SIZES)('RETR of %i bytes arrives whole', async (n) => {
    const out = join(t.work, `got${n}.bin`);
    const r = await curl(['-o', out, `ftp://10.0.0.2/s${n}.bin`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(sha256(seededBytes(n, 500 + SIZES.indexOf(n))));
  });

  it.each([1, CHUNK - 1, CHUNK, CHUNK + 1])('RETR with REST to %i bytes before the end of a 5 MiB file', async (fromEnd) => {
    const n = 5 * CHUNK + 7;
    const whole = seededBytes(n, 500 + SIZES.indexOf(n));
    const out = join(t.work, `rest${fromEnd}.bin`);
    // curl -C N: REST N, then the rest of the file.
    const r = await curl(['-C', String(n - fromEnd), '-o', out, `ftp://10.0.0.2/s${n}.bin`]);
    expect(r.stderr).toBe('');
    expect(await sha256File(out)).toBe(sha256(whole.subarray(n - fromEnd)));
  });

  it.each([0, 1, CHUNK - 1, CHUNK + 1, 17 * CHUNK + 3])('STOR of %i bytes lands whole under its name, no temporary file left', async (n) => {
    const payload = seededBytes(n, 900 + n);
    const src = join(t.work, `up${n}.bin`);
    await writeFile(src, payload);
    const r = await curl(['-T', src, `ftp://10.0.0.2/incoming/u${n}.bin`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await sha256File(join(t.root, 'incoming', `u${n}.bin`))).toBe(sha256(payload));
    expect((await readdir(join(t.root, 'incoming'))).filter((f) => f.startsWith('.tapstack-'))).toEqual([]);
  });
});
