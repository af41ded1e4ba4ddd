import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finishChecksum, internetChecksum, pseudoHeaderSum, sumWords } from '../../../src/wire/checksum.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

describe('internet checksum (RFC 1071)', () => {
  it('matches the checksum of a real IPv4 header', () => {
    // A UDP datagram's IPv4 header, 192.168.0.1 -> 192.168.0.199, checksum field 0xb861.
    const header = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(header)).toBe(0); // a header that carries its checksum sums to zero
    header[10] = 0;
    header[11] = 0;
    expect(internetChecksum(header)).toBe(0xb861);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(sumWords(hex('01'))).toBe(0x0100);
    expect(internetChecksum(hex('0001 02'))).toBe(~(0x0001 + 0x0200) & 0xffff);
  });

  it('folds carries beyond 32 bits', () => {
    // 0x1_0000_ffff = words 0x0001 0x0000 0xffff: the sum wraps to 0x0001, complement 0xfffe.
    expect(finishChecksum(0x1_0000_ffff)).toBe(0xfffe);
    const ones = new Uint8Array(200_000).fill(0xff);
    expect(internetChecksum(ones)).toBe(0);
  });

  it('gives the same result however the data is split at even offsets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(150), (data, cut) => {
        const at = Math.min(data.length, cut * 2);
        const whole = internetChecksum(data);
        const split = finishChecksum(sumWords(data.subarray(at), sumWords(data.subarray(0, at))));
        expect(split).toBe(whole);
      }),
    );
  });

  it('builds the pseudo-header sum from addresses, protocol and length', () => {
    // 10.0.0.1 -> 10.0.0.2, TCP, 20 bytes
    expect(pseudoHeaderSum(0x0a000001, 0x0a000002, 6, 20)).toBe(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20);
  });
});
