import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import { IPPROTO_TCP } from './ipv4.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { parsed, refused, type ParseResult } from './result.js';

/**
 * The TCP header (RFC 9293 3.1) and its options: a codec only, no state.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * |                        Sequence Number                        |
 * |                    Acknowledgment Number                      |
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * |           Checksum            |         Urgent Pointer        |
 * |                    Options (0-40 bytes)                       |
 */

export const TCP_HEADER_MIN = 20;
export const TCP_HEADER_MAX = 60;

/** Control bits (RFC 9293 3.1, RFC 3168 for ECE/CWR). */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;

/** A SACK block (RFC 2018 3): the bytes [left, right) arrived. Sequence numbers. */
export interface SackBlock {
  left: number;
  right: number;
}

/** The options we understand; absent fields were not present. */
export interface TcpOptions {
  /** RFC 9293 3.7.1: only in SYNs. */
  mss?: number;
  /** RFC 7323 2: shift count, only in SYNs. */
  windowScale?: number;
  /** RFC 2018 2: only in SYNs. */
  sackPermitted?: boolean;
  /** RFC 2018 3: at most 4 blocks (3 beside timestamps). */
  sack?: SackBlock[];
  /** RFC 7323 3: TSval and TSecr. */
  timestamp?: { value: number; echo: number };
  /** Set by the parser when the list was malformed; the options above are those read before the problem. */
  malformed?: TcpOptionProblem;
}

export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in bytes (data offset * 4). */
  headerLength: number;
  flags: number;
  window: number;
  checksum: number;
  urgent: number;
  options: TcpOptions;
}

export interface TcpSegment {
  header: TcpHeader;
  /** The data: a view into the received bytes. */
  payload: Uint8Array;
}

/** Why a segment was rejected; counters are named `tcp.rx.<error>`. */
export type TcpParseError =
  | 'truncated'
  | 'bad_data_offset'
  | 'bad_checksum';

/** Why option parsing stopped early or skipped an option (counted as `tcp.rx.<problem>`). */
export type TcpOptionProblem = 'bad_option_length' | 'option_overrun';

export type TcpParseResult = ParseResult<TcpSegment, TcpParseError>;

/** Addresses for the pseudo-header checksum (RFC 9293 3.1). */
export interface TcpPseudoHeader {
  src: number;
  dst: number;
}


/**
 * Parse the option list the way Linux does (tcp_parse_options), for the robustness
 * RFC 9293 3.1 asks ("must be prepared to handle an illegal option length", MUST-7):
 * unknown kinds are skipped by their length; a known option with the wrong length
 * (RFC 9293 3.2 MSS length 4, RFC 7323 and RFC 2018 lengths) is skipped too; a
 * length below 2 or one running past the header ends parsing, and the options
 * before it are kept. The segment itself is never refused for its options;
 * `malformed` tells why parsing stopped or what was skipped, so TCP can count it.
 */
export function parseTcpOptions(bytes: Uint8Array): ParseResult<TcpOptions, never> {
  const options: TcpOptions = {};
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const kind = bytes[i]!;
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= n) {
      options.malformed = 'option_overrun';
      break;
    }
    const len = bytes[i + 1]!;
    if (len < 2) {
      options.malformed = 'bad_option_length';
      break;
    }
    if (i + len > n) {
      options.malformed = 'option_overrun';
      break;
    }
    if (!readOption(bytes, i, kind, len, options)) options.malformed = 'bad_option_length';
    i += len;
  }
  return parsed(options);
}

/** Read one known option of `len` bytes at `i` into `options`; false when its length is wrong for its kind. */
function readOption(bytes: Uint8Array, i: number, kind: number, len: number, options: TcpOptions): boolean {
  switch (kind) {
    case TcpOptionKind.MSS:
      if (len !== 4) return false;
      options.mss = readU16(bytes, i + 2);
      return true;
    case TcpOptionKind.WINDOW_SCALE:
      if (len !== 3) return false;
      options.windowScale = bytes[i + 2]!;
      return true;
    case TcpOptionKind.SACK_PERMITTED:
      if (len !== 2) return false;
      options.sackPermitted = true;
      return true;
    case TcpOptionKind.SACK: {
      if ((len - 2) % 8 !== 0 || len === 2) return false;
      const blocks: SackBlock[] = [];
      for (let j = i + 2; j < i + len; j += 8) blocks.push({ left: readU32(bytes, j), right: readU32(bytes, j + 4) });
      options.sack = blocks;
      return true;
    }
    case TcpOptionKind.TIMESTAMPS:
      if (len !== 10) return false;
      options.timestamp = { value: readU32(bytes, i + 2), echo: readU32(bytes, i + 6) };
      return true;
    default:
      // Unknown option: skipped by its length.
      return true;
  }
}

/**
 * Parse a TCP segment. With `pseudo` the checksum is verified (RFC 9293 3.1); a
 * malformed segment gives a typed error, never an exception.
 */
export function parseTcp(bytes: Uint8Array, pseudo?: TcpPseudoHeader): TcpParseResult {
  if (bytes.length < TCP_HEADER_MIN) return refused('truncated');
  const headerLength = (bytes[12]! >>> 4) * 4;
  if (headerLength < TCP_HEADER_MIN) return refused('bad_data_offset');
  if (headerLength > bytes.length) return refused('truncated');
  if (pseudo) {
    const acc = sumWords(bytes, pseudoHeaderSum(pseudo.src, pseudo.dst, IPPROTO_TCP, bytes.length));
    if (finishChecksum(acc) !== 0) return refused('bad_checksum');
  }
  let options: TcpOptions = {};
  if (headerLength > TCP_HEADER_MIN) {
    const parsedOptions = parseTcpOptions(bytes.subarray(TCP_HEADER_MIN, headerLength));
    if (parsedOptions.ok) options = parsedOptions.value;
  }
  return parsed({
    header: {
      srcPort: readU16(bytes, 0),
      dstPort: readU16(bytes, 2),
      seq: readU32(bytes, 4),
      ack: readU32(bytes, 8),
      headerLength,
      flags: bytes[13]!,
      window: readU16(bytes, 14),
      checksum: readU16(bytes, 16),
      urgent: readU16(bytes, 18),
      options,
    },
    payload: bytes.subarray(headerLength),
  });
}

/** Bytes the options take on the wire, padded to 4 (the layout of encodeTcpOptions). */
export function tcpOptionsLength(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.timestamp) n += 12; // [SACK-permitted or NOP NOP] + timestamps
  else if (o.sackPermitted) n += 4; // NOP NOP SACK-permitted
  if (o.windowScale !== undefined) n += 4; // NOP + window scale
  if (o.sack && o.sack.length > 0) n += 4 + 8 * Math.min(o.sack.length, 4); // NOP NOP kind len + blocks
  return n;
}

/**
 * Write the options in the order and alignment Linux uses, so our SYNs look like
 * the kernel's in Wireshark:
 *   MSS | SACK-permitted + timestamps (or NOP NOP + timestamps) | NOP + WS | NOP NOP + SACK
 * Returns the number of bytes written (a multiple of 4).
 */
export function encodeTcpOptions(o: TcpOptions, out: Uint8Array, offset = 0): number {
  let i = offset;
  if (o.mss !== undefined) {
    out[i++] = TcpOptionKind.MSS;
    out[i++] = 4;
    writeU16(out, i, o.mss);
    i += 2;
  }
  if (o.timestamp) {
    if (o.sackPermitted) {
      out[i++] = TcpOptionKind.SACK_PERMITTED;
      out[i++] = 2;
    } else {
      out[i++] = TcpOptionKind.NOP;
      out[i++] = TcpOptionKind.NOP;
    }
    out[i++] = TcpOptionKind.TIMESTAMPS;
    out[i++] = 10;
    writeU32(out, i, o.timestamp.value);
    writeU32(out, i + 4, o.timestamp.echo);
    i += 8;
  } else if (o.sackPermitted) {
    out[i++] = TcpOptionKind.NOP;
    out[i++] = TcpOptionKind.NOP;
    out[i++] = TcpOptionKind.SACK_PERMITTED;
    out[i++] = 2;
  }
  if (o.windowScale !== undefined) {
    out[i++] = TcpOptionKind.NOP;
    out[i++] = TcpOptionKind.WINDOW_SCALE;
    out[i++] = 3;
    out[i++] = o.windowScale;
  }
  if (o.sack && o.sack.length > 0) {
    const blocks = o.sack.slice(0, 4);
    out[i++] = TcpOptionKind.NOP;
    out[i++] = TcpOptionKind.NOP;
    out[i++] = TcpOptionKind.SACK;
    out[i++] = 2 + 8 * blocks.length;
    for (const b of blocks) {
      writeU32(out, i, b.left);
      writeU32(out, i + 4, b.right);
      i += 8;
    }
  }
  return i - offset;
}

/** What the encoder needs: the header fields a sender chooses. */
export interface TcpHeaderFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent?: number;
  options?: TcpOptions;
}

/**
 * Encode a header for `payload` and fill in the checksum over the pseudo-header,
 * the header and the payload (`pseudo` null: left zero, for a link that fills it
 * in, see Link.checksumOffload). Returns a new header buffer; the payload is not
 * copied, so the caller can send [header, payload] as two parts of one datagram.
 */
export function encodeTcp(fields: TcpHeaderFields, payload: Uint8Array, pseudo: TcpPseudoHeader | null): Uint8Array {
  const optLen = fields.options ? tcpOptionsLength(fields.options) : 0;
  const headerLength = TCP_HEADER_MIN + optLen;
  const h = new Uint8Array(headerLength);
  writeU16(h, 0, fields.srcPort);
  writeU16(h, 2, fields.dstPort);
  writeU32(h, 4, fields.seq);
  writeU32(h, 8, fields.ack);
  h[12] = (headerLength / 4) << 4;
  h[13] = fields.flags & 0xff;
  writeU16(h, 14, fields.window);
  // h[16..17] checksum: zero while summing
  writeU16(h, 18, fields.urgent ?? 0);
  if (fields.options) encodeTcpOptions(fields.options, h, TCP_HEADER_MIN);
  // Without a pseudo-header the checksum stays zero for the link to fill in
  // (transmit checksum offload, as a NIC does it).
  if (!pseudo) return h;
  let acc = pseudoHeaderSum(pseudo.src, pseudo.dst, IPPROTO_TCP, headerLength + payload.length);
  acc = sumWords(h, acc);
  acc = sumWords(payload, acc);
  writeU16(h, 16, finishChecksum(acc));
  return h;
}

/**
 * Fill in the checksum of a whole segment in place (RFC 9293 3.1: over the
 * pseudo-header, the header with the checksum field taken as zero, and the data), as
 * a NIC with checksum offload does; for tools that change a segment after encoding it.
 */
export function setTcpChecksum(segment: Uint8Array, pseudo: TcpPseudoHeader): void {
  writeU16(segment, 16, 0);
  writeU16(segment, 16, finishChecksum(sumWords(segment, pseudoHeaderSum(pseudo.src, pseudo.dst, IPPROTO_TCP, segment.length))));
}

/**
 * The set control bits by name, highest bit first ("ACK,SYN", "ACK,PSH,FIN"): the
 * order of Wireshark's flag string (tcp.flags.str), not of its Info column.
 */
export function formatTcpFlags(flags: number): string {
  const names: string[] = [];
  if (flags & TcpFlags.CWR) names.push('CWR');
  if (flags & TcpFlags.ECE) names.push('ECE');
  if (flags & TcpFlags.URG) names.push('URG');
  if (flags & TcpFlags.ACK) names.push('ACK');
  if (flags & TcpFlags.PSH) names.push('PSH');
  if (flags & TcpFlags.RST) names.push('RST');
  if (flags & TcpFlags.SYN) names.push('SYN');
  if (flags & TcpFlags.FIN) names.push('FIN');
  return names.join(',');
}
