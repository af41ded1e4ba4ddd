/**
 * The pcapng file format (draft-ietf-opsawg-pcapng; "PCAP Next Generation Dump File
 * Format"). A file is a sequence of blocks, each framed as
 *
 *   Block Type (32) | Block Total Length (32) | body ... | Block Total Length (32)
 *
 * with every block, option and packet padded to a multiple of 4 bytes. We write:
 *   - a Section Header Block (SHB) that fixes the byte order,
 *   - one Interface Description Block (IDB) per interface: link type, snaplen and
 *     if_tsresol (timestamp units),
 *   - one Enhanced Packet Block (EPB) per frame, with the options opt_comment
 *     (a per-packet comment that Wireshark shows) and epb_flags (the direction).
 *
 * Reading accepts both byte orders, several sections, EPBs, Simple Packet Blocks and
 * the obsolete Packet Block, and skips every other block type. It never throws and
 * never reads past the buffer; a file that ends inside a block (a writer that
 * crashed) yields the packets before it and `truncated: true`.
 */
import {
  DEFAULT_SNAPLEN,
  LINKTYPE_ETHERNET,
  captureError,
  looksLikePcap,
  readPcap,
  type CaptureReadResult,
  type CapturedPacket,
  type PacketDirection,
  type TimestampResolution,
} from './pcap.js';
import { parsed } from './result.js';

export const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
export const BLOCK_INTERFACE_DESCRIPTION = 0x00000001;
export const BLOCK_PACKET_OBSOLETE = 0x00000002;
export const BLOCK_SIMPLE_PACKET = 0x00000003;
export const BLOCK_ENHANCED_PACKET = 0x00000006;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

// Option codes (pcapng section 3.5 and the per-block option tables).
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const EPB_FLAGS = 2;

// epb_flags bits 0-1: inbound/outbound direction (00 = not available).
const FLAG_INBOUND = 0b01;
const FLAG_OUTBOUND = 0b10;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

const pad4 = (n: number): number => (n + 3) & ~3;

/** An option to encode: code plus raw value bytes. */
interface RawOption {
  code: number;
  value: Uint8Array;
}

/** Size of an option list including opt_endofopt; 0 when there are no options. */
function optionsLength(options: readonly RawOption[]): number {
  if (options.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of options) n += 4 + pad4(o.value.length);
  return n;
}

function writeOptions(view: DataView, out: Uint8Array, offset: number, options: readonly RawOption[]): number {
  if (options.length === 0) return offset;
  for (const o of options) {
    view.setUint16(offset, o.code, true);
    view.setUint16(offset + 2, o.value.length, true);
    out.set(o.value, offset + 4);
    offset += 4 + pad4(o.value.length); // padding bytes stay zero
  }
  view.setUint16(offset, OPT_ENDOFOPT, true);
  view.setUint16(offset + 2, 0, true);
  return offset + 4;
}

/** Allocate a block, write its type and both length fields; returns the body writer. */
function newBlock(type: number, bodyLength: number): { out: Uint8Array; view: DataView } {
  const total = 12 + bodyLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  view.setUint32(total - 4, total, true);
  return { out, view };
}

/** The epb_flags option of each direction (a little-endian u32), built once: the capture writes one per frame. */
const DIRECTION_OPTION: Record<PacketDirection, RawOption> = {
  inbound: { code: EPB_FLAGS, value: Uint8Array.of(FLAG_INBOUND, 0, 0, 0) },
  outbound: { code: EPB_FLAGS, value: Uint8Array.of(FLAG_OUTBOUND, 0, 0, 0) },
};

/** An option value longer than 65535 bytes cannot be encoded; cut it (on a UTF-8 boundary). */
function textOption(code: number, text: string): RawOption {
  let value = utf8.encode(text);
  if (value.length > 0xffff) {
    let end = 0xffff;
    while (end > 0 && (value[end]! & 0xc0) === 0x80) end--; // don't split a character
    value = value.subarray(0, end);
  }
  return { code, value };
}

export interface SectionHeaderOptions {
  /** shb_userappl: the application that wrote the file. */
  application?: string;
}

/** Section Header Block: byte-order magic, version 1.0, section length unknown (-1). */
export function encodeSectionHeader(options: SectionHeaderOptions = {}): Uint8Array {
  const opts: RawOption[] = [];
  if (options.application) opts.push(textOption(SHB_USERAPPL, options.application));
  const { out, view } = newBlock(BLOCK_SECTION_HEADER, 16 + optionsLength(opts));
  view.setUint32(8, BYTE_ORDER_MAGIC, true);
  view.setUint16(12, 1, true); // major version
  view.setUint16(14, 0, true); // minor version
  view.setBigInt64(16, -1n, true); // section length not specified
  writeOptions(view, out, 24, opts);
  return out;
}

export interface InterfaceDescriptionOptions {
  linktype?: number;
  snaplen?: number;
  /** if_tsresol: microseconds (the default, 10^-6) or nanoseconds (10^-9). */
  resolution?: TimestampResolution;
  /** if_name, e.g. "tap0". */
  name?: string;
}

/** Interface Description Block: link type, snaplen, if_name and if_tsresol. */
export function encodeInterfaceDescription(options: InterfaceDescriptionOptions = {}): Uint8Array {
  const opts: RawOption[] = [];
  if (options.name) opts.push(textOption(IF_NAME, options.name));
  // if_tsresol is a single byte: the negative power of 10 of the timestamp unit.
  opts.push({ code: IF_TSRESOL, value: Uint8Array.of(options.resolution === 'ns' ? 9 : 6) });
  const { out, view } = newBlock(BLOCK_INTERFACE_DESCRIPTION, 8 + optionsLength(opts));
  view.setUint16(8, options.linktype ?? LINKTYPE_ETHERNET, true);
  view.setUint16(10, 0, true); // reserved
  view.setUint32(12, options.snaplen ?? DEFAULT_SNAPLEN, true);
  writeOptions(view, out, 16, opts);
  return out;
}

export interface EnhancedPacketOptions {
  interfaceId?: number;
  /** Nanoseconds since the Unix epoch. */
  timestampNs: bigint;
  /** Must match the if_tsresol of the interface (default microseconds). */
  resolution?: TimestampResolution;
  data: Uint8Array;
  /** Length on the wire; defaults to data.length. */
  originalLength?: number;
  /** The interface's snaplen: longer frames are cut to it. */
  snaplen?: number;
  /** opt_comment: a UTF-8 comment, shown by Wireshark as the packet comment. */
  comment?: string;
  /** epb_flags direction bits. */
  direction?: PacketDirection;
}

/** Enhanced Packet Block: interface, 64-bit timestamp, lengths, padded data, options. */
export function encodeEnhancedPacket(p: EnhancedPacketOptions): Uint8Array {
  const captured = Math.min(p.data.length, p.snaplen ?? DEFAULT_SNAPLEN);
  const opts: RawOption[] = [];
  if (p.comment !== undefined && p.comment !== '') opts.push(textOption(OPT_COMMENT, p.comment));
  if (p.direction) opts.push(DIRECTION_OPTION[p.direction]);
  const { out, view } = newBlock(BLOCK_ENHANCED_PACKET, 20 + pad4(captured) + optionsLength(opts));
  const ticks = p.resolution === 'ns' ? p.timestampNs : p.timestampNs / 1000n;
  view.setUint32(8, p.interfaceId ?? 0, true);
  view.setUint32(12, Number((ticks >> 32n) & 0xffffffffn), true); // timestamp, upper 32 bits
  view.setUint32(16, Number(ticks & 0xffffffffn), true); // timestamp, lower 32 bits
  view.setUint32(20, captured, true);
  view.setUint32(24, p.originalLength ?? p.data.length, true);
  out.set(p.data.subarray(0, captured), 28);
  writeOptions(view, out, 28 + pad4(captured), opts);
  return out;
}

export interface PcapngFileOptions extends SectionHeaderOptions, InterfaceDescriptionOptions {}

/** A whole single-interface file in one buffer (for tests and small exports). */
export function encodePcapng(
  packets: readonly Omit<EnhancedPacketOptions, 'resolution' | 'snaplen' | 'interfaceId'>[],
  options: PcapngFileOptions = {},
): Uint8Array {
  const parts = [encodeSectionHeader(options), encodeInterfaceDescription(options)];
  for (const p of packets) parts.push(encodeEnhancedPacket({ ...p, resolution: options.resolution, snaplen: options.snaplen }));
  return concat(parts);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Reading

interface InterfaceInfo {
  linktype: number;
  snaplen: number;
  /** Multiply ticks by num / den to get nanoseconds. */
  num: bigint;
  den: bigint;
  /** if_tsoffset in seconds. */
  offsetSeconds: bigint;
}

/** Walk an option list inside [start, end); stops quietly at anything malformed. */
function* options(view: DataView, start: number, end: number, le: boolean): Generator<{ code: number; at: number; length: number }> {
  let o = start;
  while (end - o >= 4) {
    const code = view.getUint16(o, le);
    const length = view.getUint16(o + 2, le);
    if (code === OPT_ENDOFOPT) return;
    if (end - (o + 4) < length) return;
    yield { code, at: o + 4, length };
    o += 4 + pad4(length);
  }
}

function parseTsresol(v: number): { num: bigint; den: bigint } {
  // MSB clear: 10^-v seconds; MSB set: 2^-(v & 0x7f) seconds.
  const exp = BigInt(v & 0x7f);
  const unit = (v & 0x80) === 0 ? 10n ** exp : 2n ** exp;
  return { num: 1_000_000_000n, den: unit };
}

/** True when the bytes start with a pcapng Section Header Block. */
export function looksLikePcapng(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a;
}

/** Read a whole pcapng file. Never throws. */
export function readPcapng(bytes: Uint8Array): CaptureReadResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 28) return captureError('too_short', 0, `pcapng section header needs 28 bytes, got ${bytes.length}`);
  if (!looksLikePcapng(bytes)) return captureError('bad_magic', 0, 'not a pcapng file (no section header block)');

  const packets: CapturedPacket[] = [];
  let interfaces: InterfaceInfo[] = [];
  let le: boolean | null = null;
  let offset = 0;
  const done = (truncated: boolean): CaptureReadResult => parsed({ format: 'pcapng', packets, truncated });

  while (offset < bytes.length) {
    if (bytes.length - offset < 12) return done(true);
    // The SHB type reads the same in both byte orders, so it is found before `le` is known.
    if (looksLikePcapng(bytes.subarray(offset))) {
      // The byte-order magic decides how to read this block, its length included.
      const magicLe = view.getUint32(offset + 8, true);
      if (magicLe === BYTE_ORDER_MAGIC) le = true;
      else if (view.getUint32(offset + 8, false) === BYTE_ORDER_MAGIC) le = false;
      else return captureError('bad_magic', offset + 8, 'section header with an unknown byte-order magic');
      const major = bytes.length - offset >= 14 ? view.getUint16(offset + 12, le) : 1;
      if (major !== 1) return captureError('unsupported_version', offset + 12, `pcapng version ${major} is not supported`);
      interfaces = []; // interface ids are numbered per section
    }
    if (le === null) return captureError('no_section', offset, 'block before any section header');

    const type = view.getUint32(offset, le);
    const total = view.getUint32(offset + 4, le);
    if (total < 12 || total % 4 !== 0) return captureError('bad_block_length', offset + 4, `block length ${total} is not a multiple of 4 of at least 12`);
    if (bytes.length - offset < total) return done(true);
    if (view.getUint32(offset + total - 4, le) !== total) {
      return captureError('bad_block_length', offset + total - 4, 'trailing block length differs from the leading one');
    }
    const bodyStart = offset + 8;
    const bodyEnd = offset + total - 4;
    const bodyLength = bodyEnd - bodyStart;

    switch (type) {
      case BLOCK_SECTION_HEADER:
        if (bodyLength < 16) return captureError('bad_block_length', offset + 4, 'section header block too short');
        break;
      case BLOCK_INTERFACE_DESCRIPTION: {
        if (bodyLength < 8) return captureError('bad_block_length', offset + 4, 'interface description block too short');
        const info: InterfaceInfo = {
          linktype: view.getUint16(bodyStart, le),
          snaplen: view.getUint32(bodyStart + 4, le),
          ...parseTsresol(6),
          offsetSeconds: 0n,
        };
        for (const o of options(view, bodyStart + 8, bodyEnd, le)) {
          if (o.code === IF_TSRESOL && o.length >= 1) Object.assign(info, parseTsresol(bytes[o.at]!));
          if (o.code === IF_TSOFFSET && o.length >= 8) info.offsetSeconds = view.getBigInt64(o.at, le);
        }
        interfaces.push(info);
        break;
      }
      case BLOCK_ENHANCED_PACKET:
      case BLOCK_PACKET_OBSOLETE: {
        if (bodyLength < 20) return captureError('bad_block_length', offset + 4, 'packet block too short');
        const obsolete = type === BLOCK_PACKET_OBSOLETE;
        const interfaceId = obsolete ? view.getUint16(bodyStart, le) : view.getUint32(bodyStart, le);
        const iface = interfaces[interfaceId];
        if (!iface) return captureError('unknown_interface', bodyStart, `packet on interface ${interfaceId}, which was not described`);
        const ticks = (BigInt(view.getUint32(bodyStart + 4, le)) << 32n) | BigInt(view.getUint32(bodyStart + 8, le));
        const captured = view.getUint32(bodyStart + 12, le);
        const original = view.getUint32(bodyStart + 16, le);
        const dataStart = bodyStart + 20;
        if (captured > bodyEnd - dataStart) return captureError('bad_block_length', bodyStart + 12, 'captured length runs past the end of the block');
        const packet: CapturedPacket = {
          timestampNs: (ticks * iface.num) / iface.den + iface.offsetSeconds * 1_000_000_000n,
          interfaceId,
          linktype: iface.linktype,
          data: bytes.subarray(dataStart, dataStart + captured),
          originalLength: original,
        };
        for (const o of options(view, dataStart + pad4(captured), bodyEnd, le)) {
          if (o.code === OPT_COMMENT && packet.comment === undefined) {
            packet.comment = utf8Decoder.decode(bytes.subarray(o.at, o.at + o.length));
          } else if (o.code === EPB_FLAGS && !obsolete && o.length >= 4) {
            const dir = view.getUint32(o.at, le) & 0b11;
            if (dir === FLAG_INBOUND) packet.direction = 'inbound';
            else if (dir === FLAG_OUTBOUND) packet.direction = 'outbound';
          }
        }
        packets.push(packet);
        break;
      }
      case BLOCK_SIMPLE_PACKET: {
        if (bodyLength < 4) return captureError('bad_block_length', offset + 4, 'simple packet block too short');
        const iface = interfaces[0];
        if (!iface) return captureError('unknown_interface', bodyStart, 'simple packet block without interface 0');
        const original = view.getUint32(bodyStart, le);
        // pcapng (Simple Packet Block): the captured length is the smaller of the original length and snaplen.
        const limit = iface.snaplen > 0 ? Math.min(original, iface.snaplen) : original;
        const captured = Math.min(limit, bodyEnd - (bodyStart + 4));
        packets.push({
          timestampNs: 0n,
          interfaceId: 0,
          linktype: iface.linktype,
          data: bytes.subarray(bodyStart + 4, bodyStart + 4 + captured),
          originalLength: original,
        });
        break;
      }
      default:
        break; // name resolution, statistics, custom blocks...: not needed here
    }
    offset += total;
  }
  return done(false);
}

/** Read a pcap or a pcapng file, whichever it is. Never throws. */
export function readCapture(bytes: Uint8Array): CaptureReadResult {
  if (looksLikePcapng(bytes)) return readPcapng(bytes);
  if (looksLikePcap(bytes)) return readPcap(bytes);
  return captureError(bytes.length < 4 ? 'too_short' : 'bad_magic', 0, 'neither a pcap nor a pcapng file');
}
