import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import type { Ipv4Address } from './address.js';
import { IPPROTO_UDP } from './ipv4.js';
import { readU16 } from './bytes.js';
import { parsed, refused, type ParseResult } from './result.js';

/**
 * UDP (RFC 768): an 8-byte header in front of the data.
 *
 *   0      7 8     15 16    23 24    31
 *  +--------+--------+--------+--------+
 *  |   Source Port   | Destination Port|
 *  +--------+--------+--------+--------+
 *  |     Length      |    Checksum     |
 *  +--------+--------+--------+--------+
 *  |          data octets ...
 *
 * Length counts header and data. The checksum covers a pseudo-header (source and
 * destination address, protocol 17, UDP length), the header and the data.
 */

export const UDP_HEADER_LENGTH = 8;

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  /** Header plus data, in bytes, as carried in the header. */
  length: number;
  /** As carried; 0 means the sender computed none. */
  checksum: number;
}

export interface UdpDatagram {
  header: UdpHeader;
  /** The data: a view into the received bytes, not a copy. */
  payload: Uint8Array;
}

/** Why a UDP datagram was refused; each kind is also the counter suffix `udp.rx.<kind>`. */
export type UdpErrorKind = 'truncated' | 'bad_length' | 'bad_checksum';

export interface UdpError {
  kind: UdpErrorKind;
  message: string;
}

export type UdpParseResult = ParseResult<UdpDatagram, UdpError>;

/**
 * Parse and check a UDP datagram carried in an IPv4 datagram from `src` to `dst`.
 * `bytes` is the whole IP payload. Never throws.
 */
export function parseUdp(bytes: Uint8Array, src: Ipv4Address, dst: Ipv4Address, options: { verifyChecksum?: boolean } = {}): UdpParseResult {
  if (bytes.length < UDP_HEADER_LENGTH) {
    return fail('truncated', `${bytes.length} bytes, shorter than the 8-byte UDP header`);
  }
  const header: UdpHeader = {
    srcPort: readU16(bytes, 0),
    dstPort: readU16(bytes, 2),
    length: readU16(bytes, 4),
    checksum: readU16(bytes, 6),
  };
  // The UDP length must agree with what IP delivered: shorter than a header is
  // nonsense, longer means data is missing, shorter than the IP payload means the two
  // layers disagree about where the datagram ends. We refuse all three.
  if (header.length < UDP_HEADER_LENGTH || header.length !== bytes.length) {
    return fail('bad_length', `UDP length ${header.length} but the IP payload holds ${bytes.length} bytes`);
  }
  // RFC 768: an all-zero checksum field means the sender did not compute one. A
  // dissector may skip the check (captures taken on the sender carry offloaded sums).
  if (header.checksum !== 0 && options.verifyChecksum !== false) {
    const sum = sumWords(bytes, pseudoHeaderSum(src, dst, IPPROTO_UDP, header.length));
    if (finishChecksum(sum) !== 0) {
      return fail('bad_checksum', `checksum 0x${header.checksum.toString(16).padStart(4, '0')} does not verify`);
    }
  }
  return parsed({ header, payload: bytes.subarray(UDP_HEADER_LENGTH, header.length) });
}

export interface UdpEncodeOptions {
  src: Ipv4Address;
  dst: Ipv4Address;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/**
 * Build the 8-byte header for `payload`, checksum included. The payload is not
 * copied: send `[header, payload]` as the parts of one IP datagram.
 */
export function encodeUdpHeader(options: UdpEncodeOptions): Uint8Array {
  const length = UDP_HEADER_LENGTH + options.payload.length;
  if (length > 0xffff) throw new RangeError(`UDP datagram of ${length} bytes exceeds 65535`);
  const header = new Uint8Array(UDP_HEADER_LENGTH);
  header[0] = options.srcPort >>> 8;
  header[1] = options.srcPort & 0xff;
  header[2] = options.dstPort >>> 8;
  header[3] = options.dstPort & 0xff;
  header[4] = length >>> 8;
  header[5] = length & 0xff;
  // Checksum field is zero while summing; the payload is summed in place.
  let sum = pseudoHeaderSum(options.src, options.dst, IPPROTO_UDP, length);
  sum = sumWords(header, sum);
  sum = sumWords(options.payload, sum);
  let checksum = finishChecksum(sum);
  // RFC 768: a computed checksum of zero is sent as all ones (0 means "none").
  if (checksum === 0) checksum = 0xffff;
  header[6] = checksum >>> 8;
  header[7] = checksum & 0xff;
  return header;
}

/** Header and payload in one new buffer (for tests and captures; the stack sends parts). */
export function encodeUdp(options: UdpEncodeOptions): Uint8Array {
  const header = encodeUdpHeader(options);
  const out = new Uint8Array(header.length + options.payload.length);
  out.set(header, 0);
  out.set(options.payload, header.length);
  return out;
}

function fail(kind: UdpErrorKind, message: string): UdpParseResult {
  return refused({ kind, message });
}
