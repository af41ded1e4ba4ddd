import { readIpv4, writeIpv4, type Ipv4Address } from './address.js';
import { finishChecksum, internetChecksum } from './checksum.js';
import { readU16 } from './bytes.js';
import { parsed, refused, type ParseResult } from './result.js';

/**
 * IPv4 header (RFC 791 3.1).
 *
 *   0       4       8              16    19               31
 *   |version|  IHL  | DSCP/ECN     |     total length      |
 *   |        identification        |flags| fragment offset |
 *   |  TTL          |   protocol   |    header checksum    |
 *   |                      source address                  |
 *   |                   destination address                |
 *   |                  options (IHL > 5) ...               |
 *
 * Options are not interpreted (this stack sends none); they are skipped by IHL and
 * handed over as a view so that nothing reads them by accident.
 */

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_DATAGRAM = 65535;

const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

export interface Ipv4Header {
  /** Header length in bytes (IHL * 4), 20..60. */
  headerLength: number;
  dscp: number;
  ecn: number;
  /** Length of the datagram (header + data), from the header. */
  totalLength: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Offset of this fragment's data in the original datagram, in bytes (field * 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: Ipv4Address;
  dst: Ipv4Address;
  /** The option bytes (empty when IHL = 5); a view, not interpreted. */
  options: Uint8Array;
}

export interface Ipv4Packet {
  header: Ipv4Header;
  /** The raw header bytes (IHL * 4): a view, for quoting in ICMP errors. */
  headerBytes: Uint8Array;
  /** The data after the header, cut to total length (Ethernet padding removed). */
  payload: Uint8Array;
}

export type Ipv4Error =
  | 'truncated'
  | 'bad_version'
  /** IHL below 5 (20 bytes). */
  | 'bad_header_length'
  /** Total length smaller than the header or larger than the bytes received. */
  | 'bad_total_length'
  | 'bad_checksum';

export type Ipv4Result = ParseResult<Ipv4Packet, Ipv4Error>;

/**
 * Parse and validate a datagram (the Ethernet payload). Never throws; all byte fields
 * of the result are views into `buf`.
 */
export function parseIpv4Packet(buf: Uint8Array, options: { verifyChecksum?: boolean } = {}): Ipv4Result {
  const header = readHeader(buf);
  if (typeof header === 'string') return refused(header);
  // RFC 791: total length covers header and data. Bytes beyond it are link padding.
  if (header.totalLength < header.headerLength || header.totalLength > buf.length) {
    return refused('bad_total_length');
  }
  const headerBytes = buf.subarray(0, header.headerLength);
  // RFC 1071: a header that carries its checksum sums to zero.
  if (options.verifyChecksum !== false && internetChecksum(headerBytes) !== 0) {
    return refused('bad_checksum');
  }
  return parsed({ header, headerBytes, payload: buf.subarray(header.headerLength, header.totalLength) });
}

/**
 * Parse only the fixed header and options, without the total-length and checksum
 * checks: what an ICMP error quotes is a header plus a few bytes of a datagram that
 * was longer (RFC 792). `payload` is whatever follows the header in `buf`.
 */
export function parseIpv4HeaderOnly(buf: Uint8Array): Ipv4Result {
  const header = readHeader(buf);
  if (typeof header === 'string') return refused(header);
  const headerLength = header.headerLength;
  return parsed({ header, headerBytes: buf.subarray(0, headerLength), payload: buf.subarray(headerLength) });
}

/** The header both parsers start from, or why it is not one. */
function readHeader(buf: Uint8Array): Ipv4Header | 'truncated' | 'bad_version' | 'bad_header_length' {
  if (buf.length < IPV4_MIN_HEADER_LEN) return 'truncated';
  const version = buf[0]! >>> 4;
  if (version !== 4) return 'bad_version';
  const headerLength = (buf[0]! & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LEN) return 'bad_header_length';
  if (headerLength > buf.length) return 'truncated';
  const flagsAndOffset = readU16(buf, 6);
  return {
    headerLength,
    dscp: buf[1]! >>> 2,
    ecn: buf[1]! & 0x03,
    totalLength: readU16(buf, 2),
    identification: readU16(buf, 4),
    dontFragment: (flagsAndOffset & FLAG_DF) !== 0,
    moreFragments: (flagsAndOffset & FLAG_MF) !== 0,
    fragmentOffset: (flagsAndOffset & 0x1fff) * 8,
    ttl: buf[8]!,
    protocol: buf[9]!,
    checksum: readU16(buf, 10),
    src: readIpv4(buf, 12),
    dst: readIpv4(buf, 16),
    // Almost every datagram has none: one shared empty view then, not a new one each.
    options: headerLength === IPV4_MIN_HEADER_LEN ? NO_OPTIONS : buf.subarray(IPV4_MIN_HEADER_LEN, headerLength),
  };
}

const NO_OPTIONS = new Uint8Array(0);

/** True when the datagram is a fragment (not a whole datagram). */
export function isFragment(header: Pick<Ipv4Header, 'moreFragments' | 'fragmentOffset'>): boolean {
  return header.moreFragments || header.fragmentOffset !== 0;
}

/** The fields a sender chooses; the header length is always 20 (no options sent). */
export interface Ipv4HeaderFields {
  dscp?: number;
  ecn?: number;
  totalLength: number;
  identification: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In bytes; must be a multiple of 8. */
  fragmentOffset?: number;
  ttl: number;
  protocol: number;
  src: Ipv4Address;
  dst: Ipv4Address;
}

/**
 * Write a 20-byte header (no options) at `offset` of `buf`, with its checksum.
 * Returns the number of bytes written (20).
 */
export function writeIpv4Header(buf: Uint8Array, offset: number, f: Ipv4HeaderFields): number {
  const fragmentField = ((f.fragmentOffset ?? 0) / 8) & 0x1fff;
  const flags = (f.dontFragment ? FLAG_DF : 0) | (f.moreFragments ? FLAG_MF : 0);
  buf[offset] = 0x45; // version 4, IHL 5
  buf[offset + 1] = (((f.dscp ?? 0) & 0x3f) << 2) | ((f.ecn ?? 0) & 0x03);
  buf[offset + 2] = f.totalLength >>> 8;
  buf[offset + 3] = f.totalLength & 0xff;
  buf[offset + 4] = (f.identification >>> 8) & 0xff;
  buf[offset + 5] = f.identification & 0xff;
  const fo = flags | fragmentField;
  buf[offset + 6] = fo >>> 8;
  buf[offset + 7] = fo & 0xff;
  buf[offset + 8] = f.ttl & 0xff;
  buf[offset + 9] = f.protocol & 0xff;
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  writeIpv4(buf, offset + 12, f.src);
  writeIpv4(buf, offset + 16, f.dst);
  // RFC 1071 over the ten header words, summed in place (this runs for every frame we send).
  let acc = 0;
  for (let i = offset; i < offset + IPV4_MIN_HEADER_LEN; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  const sum = finishChecksum(acc);
  buf[offset + 10] = sum >>> 8;
  buf[offset + 11] = sum & 0xff;
  return IPV4_MIN_HEADER_LEN;
}

/** Reserved flag bit (RFC 791 "must be zero"; RFC 3514 jokes about it). Exposed for tests. */
export function reservedFlagSet(buf: Uint8Array): boolean {
  return buf.length >= 8 && (((readU16(buf, 6)) & FLAG_RESERVED) !== 0);
}

/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), as in the protocol field. */
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** 255.255.255.255, the limited broadcast address (RFC 919). */
export const IPV4_BROADCAST: Ipv4Address = 0xffffffff;

/** 224.0.0.0/4 (RFC 1112). */
export function isMulticastIpv4(addr: Ipv4Address): boolean {
  return addr >>> 28 === 0xe;
}
