import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finishChecksum, internetChecksum, sumWords } from '../../../src/wire/checksum.js';

/** RFC 1071 the slow way: big-endian 16-bit words, one at a time, odd byte padded. */
function reference(data: Uint8Array): number {
  let acc = 0;
  for (let i = 0; i < data.length; i += 2) acc += (data[i]! << 8) | (i + 1 < data.length ? data[i + 1]! : 0);
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

describe('sumWords on long buffers (32-bit words at any alignment)', () => {
  it('agrees with the word-by-word definition for every start alignment and length parity', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(7), (bytes, shift) => {
        // The same bytes at another offset in their ArrayBuffer: 0..7 bytes further on.
        const room = new Uint8Array(bytes.length + 8);
        room.set(bytes, shift);
        const view = room.subarray(shift, shift + bytes.length);
        expect(internetChecksum(view)).toBe(reference(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('is right for a 64 KiB super-segment of all ones and of a pattern, added to an accumulator', () => {
    const ones = new Uint8Array(65_535).fill(0xff);
    expect(internetChecksum(ones.subarray(1))).toBe(reference(ones.subarray(1)));
    const pattern = Uint8Array.from({ length: 65_000 }, (_, i) => (i * 7919) & 0xff);
    const pseudo = 0x1234 + 0xabcd;
    expect(finishChecksum(sumWords(pattern.subarray(3), pseudo))).toBe(
      reference(Uint8Array.from([0x12, 0x34, 0xab, 0xcd, ...pattern.subarray(3)])),
    );
  });
});
