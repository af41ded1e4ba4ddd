import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CrlfToLf, LfToCrlf, countLineFeeds, lfToCrlf } from '../../../../src/ftp/common/ascii.js';

async function run(transform: LfToCrlf | CrlfToLf, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), transform, async function* (source) {
    for await (const c of source) out.push(c as Buffer);
  });
  return Buffer.concat(out);
}

describe('TYPE A conversion', () => {
  it('LF -> CRLF on the way out', () => {
    expect(lfToCrlf(Buffer.from('a\nb\n\nc')).toString()).toBe('a\r\nb\r\n\r\nc');
    expect(countLineFeeds(Buffer.from('a\nb\n\nc'))).toBe(3);
  });

  it('CRLF -> LF on the way in, also when CR and LF are in different chunks', async () => {
    const got = await run(new CrlfToLf(), [Buffer.from('one\r'), Buffer.from('\ntwo\r\n\r'), Buffer.from('x\r')]);
    expect(got.toString()).toBe('one\ntwo\n\rx\r');
  });

  it('round-trips any bytes split anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 5 }), async (bytes, cuts) => {
        const data = Buffer.from(bytes);
        const wire = await run(new LfToCrlf(), [data]);
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(wire.subarray(prev, p));
          prev = p;
        }
        chunks.push(wire.subarray(prev));
        const back = await run(new CrlfToLf(), chunks.filter((c) => c.length > 0));
        expect(back.equals(data)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
