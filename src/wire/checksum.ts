/**
 * The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones'
 * complement sum of the data taken as big-endian 16-bit words.
 *
 * The sum is accumulated in a plain JS number (exact up to 2^53), so carries are
 * folded only once at the end; this keeps the work to one add per word. Long buffers
 * are summed as 32-bit words (see sumWords).
 */

/** Below this many bytes the plain loop wins (making a 32-bit view costs more). */
const WIDE_MIN = 64;
/** 32-bit words summed into a double before it is folded: 2^20 words stay below 2^53. */
const WIDE_FOLD_EVERY = 1 << 20;

/**
 * Add `data` (as big-endian 16-bit words, odd byte padded with zero) to `acc`. The
 * result is only meaningful once folded (finishChecksum): it is the sum modulo 0xffff.
 */
export function sumWords(data: Uint8Array, acc = 0): number {
  const n = data.length;
  if (n < WIDE_MIN) return acc + sumBytes(data, 0, n);
  // The bulk as native 32-bit words (about 3x faster than byte pairs in V8): from the
  // first byte at a 4-byte aligned address, which a Uint32Array view requires.
  const head = -data.byteOffset & 3;
  const words = (n - head) >>> 2;
  const wide = new Uint32Array(data.buffer, data.byteOffset + head, words);
  let sum = 0;
  for (let i = 0; i < words; i += WIDE_FOLD_EVERY) {
    const end = Math.min(words, i + WIDE_FOLD_EVERY);
    let w = 0;
    let j = i;
    for (; j + 4 <= end; j += 4) w += wide[j]! + wide[j + 1]! + wide[j + 2]! + wide[j + 3]!;
    for (; j < end; j++) w += wide[j]!;
    sum = fold16(sum + fold16(w));
  }
  // RFC 1071 2(B): the ones' complement sum is the same whichever byte of a word is
  // taken as the high one, up to swapping the two bytes of the result. The native
  // (little-endian) words put the first byte low: swap back, unless the aligned part
  // starts at an odd byte of `data`, where that byte is a low byte anyway.
  const part = head & 1 ? sum : ((sum & 0xff) << 8) | (sum >>> 8);
  return acc + part + sumBytes(data, 0, head) + sumBytes(data, head + words * 4, n);
}

/** Bytes [from, to) of `data` as big-endian 16-bit words counted from data[0]. */
function sumBytes(data: Uint8Array, from: number, to: number): number {
  let acc = 0;
  let i = from;
  if (i & 1 && i < to) acc += data[i++]!; // a low byte: its word started before `from`
  // Unrolled by 8 bytes: the loop of short buffers (headers).
  const fast = i + ((to - i) & ~7);
  for (; i < fast; i += 8) {
    acc +=
      ((data[i]! << 8) | data[i + 1]!) +
      ((data[i + 2]! << 8) | data[i + 3]!) +
      ((data[i + 4]! << 8) | data[i + 5]!) +
      ((data[i + 6]! << 8) | data[i + 7]!);
  }
  for (; i + 1 < to; i += 2) acc += (data[i]! << 8) | data[i + 1]!;
  if (i < to) acc += data[i]! << 8;
  return acc;
}

/** Fold a sum (below 2^53) to 16 bits, carries added back in (not complemented). */
function fold16(acc: number): number {
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return acc;
}

/** Fold the carries of an accumulated sum into 16 bits and complement it. */
export function finishChecksum(acc: number): number {
  // A JS number can carry far more than 32 bits: fold until it fits.
  return ~fold16(acc) & 0xffff;
}

/** Checksum of one buffer. A buffer that already holds its checksum sums to 0. */
export function internetChecksum(data: Uint8Array, acc = 0): number {
  return finishChecksum(sumWords(data, acc));
}

/**
 * Partial sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768, RFC 9293 3.1):
 * source address, destination address, zero, protocol, transport length.
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}
