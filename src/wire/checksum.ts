/**
 * The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones'
 * complement sum of the data taken as big-endian 16-bit words.
 *
 * The sum is accumulated in a plain JS number (exact up to 2^53), so carries are
 * folded only once at the end; this keeps the per-byte work to one add per word.
 */

/** Add `data` (as big-endian 16-bit words, odd byte padded with zero) to `acc`. */
export function sumWords(data: Uint8Array, acc = 0): number {
  const n = data.length;
  const even = n & ~1;
  let i = 0;
  // Unrolled by 8 bytes: the hot loop of every TCP segment.
  const fast = even & ~7;
  for (; i < fast; i += 8) {
    acc +=
      ((data[i]! << 8) | data[i + 1]!) +
      ((data[i + 2]! << 8) | data[i + 3]!) +
      ((data[i + 4]! << 8) | data[i + 5]!) +
      ((data[i + 6]! << 8) | data[i + 7]!);
  }
  for (; i < even; i += 2) acc += (data[i]! << 8) | data[i + 1]!;
  if (n & 1) acc += data[n - 1]! << 8;
  return acc;
}

/** Fold the carries of an accumulated sum into 16 bits and complement it. */
export function finishChecksum(acc: number): number {
  // Fold high bits down until they fit; a JS number can carry far more than 32 bits.
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
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
