/**
 * The classic libpcap file format (https://www.tcpdump.org/manpages/pcap-savefile.5.txt,
 * draft-ietf-opsawg-pcap): a 24-byte file header, then for every packet a 16-byte
 * record header followed by the captured bytes.
 *
 * Writing always produces little-endian files. Reading accepts both byte orders and
 * both timestamp resolutions (magic a1b2c3d4 = microseconds, a1b23c4d = nanoseconds).
 * Reading never throws and never reads past the buffer: it returns a typed error, or
 * the packets with `truncated: true` when the file ends in the middle of a record
 * (what a capture that was cut short by a crash looks like).
 *
 * This file also holds the types shared with the pcapng codec (src/wire/pcapng.ts).
 */

import { parsed, refused, type ParseResult } from './result.js';

/** LINKTYPE_ETHERNET (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_ETHERNET = 1;

/**
 * LINKTYPE_USER0, for private use: CaptureLink writes its notes (frames that never
 * crossed the capture point, such as ones a fault injector dropped) on an interface
 * of this type, so Wireshark lists them in order without dissecting them as traffic.
 */
export const LINKTYPE_NOTE = 147;

/** Default snapshot length: large enough for any frame we will ever see. */
export const DEFAULT_SNAPLEN = 262_144;

/** Timestamp units of a capture: microseconds or nanoseconds. */
export type TimestampResolution = 'us' | 'ns';

/** Which way a frame went, seen from the capturing interface (pcapng epb_flags). */
export type PacketDirection = 'inbound' | 'outbound';

/** One packet read from a pcap or pcapng file. */
export interface CapturedPacket {
  /** Nanoseconds since the Unix epoch (a bigint: ns since 1970 exceed 2^53). */
  timestampNs: bigint;
  /** The interface it was captured on (always 0 for classic pcap). */
  interfaceId: number;
  /** The link type of that interface (1 = Ethernet). */
  linktype: number;
  /** The captured bytes: a view into the file buffer. */
  data: Uint8Array;
  /** Length of the packet on the wire (may exceed data.length when truncated by snaplen). */
  originalLength: number;
  /** pcapng opt_comment, if any. */
  comment?: string;
  /** pcapng epb_flags direction, if recorded. */
  direction?: PacketDirection;
}

/** What a reader returns: the packets, or a typed error. */
export type CaptureReadResult = ParseResult<CaptureFile, CaptureReadError>;

export interface CaptureFile {
  format: 'pcap' | 'pcapng';
  packets: CapturedPacket[];
  /** True when the file ended inside a record/block; `packets` holds what came before. */
  truncated: boolean;
}

export type CaptureReadErrorKind =
  | 'too_short' // not even a file header
  | 'bad_magic' // not a pcap/pcapng file
  | 'unsupported_version'
  | 'bad_block_length' // a pcapng block whose length field is impossible
  | 'bad_record_length' // a pcap record that claims more than its snaplen allows
  | 'unknown_interface' // a pcapng packet block names an interface that was not described
  | 'no_section'; // a pcapng block before any section header

export interface CaptureReadError {
  kind: CaptureReadErrorKind;
  /** Byte offset in the file where the problem was found. */
  offset: number;
  message: string;
}

export function captureError(kind: CaptureReadErrorKind, offset: number, message: string): CaptureReadResult {
  return refused({ kind, offset, message });
}

const MAGIC_MICROS = 0xa1b2c3d4;
const MAGIC_NANOS = 0xa1b23c4d;
const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

export interface PcapHeaderOptions {
  linktype?: number;
  snaplen?: number;
  resolution?: TimestampResolution;
}

/** The 24-byte file header: magic, version 2.4, thiszone 0, sigfigs 0, snaplen, linktype. */
export function encodePcapHeader(options: PcapHeaderOptions = {}): Uint8Array {
  const out = new Uint8Array(FILE_HEADER_LENGTH);
  const view = new DataView(out.buffer);
  view.setUint32(0, options.resolution === 'ns' ? MAGIC_NANOS : MAGIC_MICROS, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  // bytes 8..15: thiszone and sigfigs, both 0 as every modern writer does
  view.setUint32(16, options.snaplen ?? DEFAULT_SNAPLEN, true);
  view.setUint32(20, options.linktype ?? LINKTYPE_ETHERNET, true);
  return out;
}

export interface PcapRecordOptions {
  timestampNs: bigint;
  data: Uint8Array;
  /** Length on the wire; defaults to data.length. */
  originalLength?: number;
  snaplen?: number;
  resolution?: TimestampResolution;
}

/** One record: ts_sec, ts_usec (or ts_nsec), incl_len, orig_len, then the bytes. */
export function encodePcapRecord(options: PcapRecordOptions): Uint8Array {
  const snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
  const included = Math.min(options.data.length, snaplen);
  const out = new Uint8Array(RECORD_HEADER_LENGTH + included);
  const view = new DataView(out.buffer);
  const seconds = options.timestampNs / 1_000_000_000n;
  const fractionNs = options.timestampNs % 1_000_000_000n;
  const fraction = options.resolution === 'ns' ? fractionNs : fractionNs / 1000n;
  view.setUint32(0, Number(seconds & 0xffffffffn), true);
  view.setUint32(4, Number(fraction), true);
  view.setUint32(8, included, true);
  view.setUint32(12, options.originalLength ?? options.data.length, true);
  out.set(options.data.subarray(0, included), RECORD_HEADER_LENGTH);
  return out;
}

/** True when the bytes start like a classic pcap file (either byte order). */
export function looksLikePcap(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = view.getUint32(0, true);
  const be = view.getUint32(0, false);
  return le === MAGIC_MICROS || le === MAGIC_NANOS || be === MAGIC_MICROS || be === MAGIC_NANOS;
}

/** Read a whole classic pcap file. Never throws. */
export function readPcap(bytes: Uint8Array): CaptureReadResult {
  if (bytes.length < FILE_HEADER_LENGTH) return captureError('too_short', 0, `pcap file header needs ${FILE_HEADER_LENGTH} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  // The magic number tells both the byte order of the writer and the timestamp unit.
  let littleEndian: boolean;
  const magicLe = view.getUint32(0, true);
  const magicBe = view.getUint32(0, false);
  if (magicLe === MAGIC_MICROS || magicLe === MAGIC_NANOS) littleEndian = true;
  else if (magicBe === MAGIC_MICROS || magicBe === MAGIC_NANOS) littleEndian = false;
  else return captureError('bad_magic', 0, 'not a pcap file (unknown magic number)');
  const magic = view.getUint32(0, littleEndian);
  const nanos = magic === MAGIC_NANOS;

  const major = view.getUint16(4, littleEndian);
  if (major !== 2) return captureError('unsupported_version', 4, `pcap version ${major} is not supported`);
  const snaplen = view.getUint32(16, littleEndian);
  // The upper bits of the linktype field carry FCS information; the type is the low 16.
  const linktype = view.getUint32(20, littleEndian) & 0xffff;

  const packets: CapturedPacket[] = [];
  let offset = FILE_HEADER_LENGTH;
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_LENGTH) return parsed({ format: 'pcap', packets, truncated: true });
    const seconds = view.getUint32(offset, littleEndian);
    const fraction = view.getUint32(offset + 4, littleEndian);
    const included = view.getUint32(offset + 8, littleEndian);
    const original = view.getUint32(offset + 12, littleEndian);
    // A record larger than the snapshot length (or absurdly large when snaplen is 0)
    // means we are not looking at a record boundary any more.
    const limit = snaplen > 0 ? Math.max(snaplen, DEFAULT_SNAPLEN) : DEFAULT_SNAPLEN;
    if (included > limit) return captureError('bad_record_length', offset + 8, `record claims ${included} bytes, more than the snapshot length`);
    const start = offset + RECORD_HEADER_LENGTH;
    if (bytes.length - start < included) return parsed({ format: 'pcap', packets, truncated: true });
    packets.push({
      timestampNs: BigInt(seconds) * 1_000_000_000n + BigInt(fraction) * (nanos ? 1n : 1000n),
      interfaceId: 0,
      linktype,
      data: bytes.subarray(start, start + included),
      originalLength: original,
    });
    offset = start + included;
  }
  return parsed({ format: 'pcap', packets, truncated: false });
}
