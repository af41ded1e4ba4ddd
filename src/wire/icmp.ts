import { internetChecksum } from './checksum.js';
import { readU16 } from './bytes.js';
import { parsed, refused, type ParseResult } from './result.js';

/**
 * ICMP for IPv4 (RFC 792): the messages this stack sends and understands. Every
 * message starts with type, code and a checksum over the whole ICMP message.
 *
 *   0      1      2          4
 *   | type | code | checksum | rest of header (4) | data ...
 *
 * Echo:        rest = identifier (2), sequence number (2); data echoed back.
 * Unreachable: rest = unused (2), next-hop MTU (2, RFC 1191, code 4 only);
 *              data = the offending datagram's IP header + at least 8 bytes.
 * Time exceeded: rest unused; data as above.
 */

export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;

/** Destination unreachable codes (RFC 792, RFC 1191). */
export const UNREACH_NET = 0;
export const UNREACH_HOST = 1;
export const UNREACH_PROTOCOL = 2;
export const UNREACH_PORT = 3;
export const UNREACH_FRAG_NEEDED = 4;

/** Time exceeded codes (RFC 792). */
export const TIME_EXCEEDED_TTL = 0;
export const TIME_EXCEEDED_REASSEMBLY = 1;

export type IcmpMessage =
  | { kind: 'echo-request' | 'echo-reply'; identifier: number; sequence: number; data: Uint8Array }
  | { kind: 'dest-unreachable'; code: number; nextHopMtu: number; quoted: Uint8Array }
  | { kind: 'time-exceeded'; code: number; quoted: Uint8Array }
  /** Any other type: recognised as ICMP, not interpreted. */
  | { kind: 'other'; type: number; code: number; rest: Uint8Array; data: Uint8Array };

export type IcmpError = 'truncated' | 'bad_checksum';

export type IcmpResult = ParseResult<IcmpMessage, IcmpError>;

/** True for the error messages (RFC 1122 3.2.2: never answer these with an error). */
export function isIcmpErrorType(type: number): boolean {
  // 3 unreachable, 4 source quench, 5 redirect, 11 time exceeded, 12 parameter problem
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** Parse an ICMP message (the IP payload). Never throws; byte fields are views. */
export function parseIcmp(buf: Uint8Array, options: { verifyChecksum?: boolean } = {}): IcmpResult {
  if (buf.length < ICMP_HEADER_LEN) return refused('truncated');
  if (options.verifyChecksum !== false && internetChecksum(buf) !== 0) return refused('bad_checksum');
  const type = buf[0]!;
  const code = buf[1]!;
  const data = buf.subarray(ICMP_HEADER_LEN);
  switch (type) {
    case ICMP_ECHO_REQUEST:
    case ICMP_ECHO_REPLY:
      return parsed({
        kind: type === ICMP_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        identifier: readU16(buf, 4),
        sequence: readU16(buf, 6),
        data,
      });
    case ICMP_DEST_UNREACHABLE:
      return parsed({ kind: 'dest-unreachable', code, nextHopMtu: readU16(buf, 6), quoted: data });
    case ICMP_TIME_EXCEEDED:
      return parsed({ kind: 'time-exceeded', code, quoted: data });
    default:
      return parsed({ kind: 'other', type, code, rest: buf.subarray(4, 8), data });
  }
}

/** Bytes needed to encode `msg`. */
export function icmpLength(msg: IcmpMessage): number {
  switch (msg.kind) {
    case 'echo-request':
    case 'echo-reply':
    case 'other':
      return ICMP_HEADER_LEN + msg.data.length;
    case 'dest-unreachable':
    case 'time-exceeded':
      return ICMP_HEADER_LEN + msg.quoted.length;
  }
}

/**
 * Write `msg` at `offset` of `buf` (room for icmpLength(msg) bytes), checksum
 * included. Returns the number of bytes written.
 */
export function writeIcmp(buf: Uint8Array, offset: number, msg: IcmpMessage): number {
  const len = icmpLength(msg);
  const out = buf.subarray(offset, offset + len);
  out.fill(0, 0, ICMP_HEADER_LEN);
  switch (msg.kind) {
    case 'echo-request':
    case 'echo-reply':
      out[0] = msg.kind === 'echo-request' ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY;
      out[4] = (msg.identifier >>> 8) & 0xff;
      out[5] = msg.identifier & 0xff;
      out[6] = (msg.sequence >>> 8) & 0xff;
      out[7] = msg.sequence & 0xff;
      out.set(msg.data, ICMP_HEADER_LEN);
      break;
    case 'dest-unreachable':
      out[0] = ICMP_DEST_UNREACHABLE;
      out[1] = msg.code;
      out[6] = (msg.nextHopMtu >>> 8) & 0xff;
      out[7] = msg.nextHopMtu & 0xff;
      out.set(msg.quoted, ICMP_HEADER_LEN);
      break;
    case 'time-exceeded':
      out[0] = ICMP_TIME_EXCEEDED;
      out[1] = msg.code;
      out.set(msg.quoted, ICMP_HEADER_LEN);
      break;
    case 'other':
      out[0] = msg.type;
      out[1] = msg.code;
      out.set(msg.rest.subarray(0, 4), 4);
      out.set(msg.data, ICMP_HEADER_LEN);
      break;
  }
  const sum = internetChecksum(out);
  out[2] = sum >>> 8;
  out[3] = sum & 0xff;
  return len;
}

export function encodeIcmp(msg: IcmpMessage): Uint8Array {
  const buf = new Uint8Array(icmpLength(msg));
  writeIcmp(buf, 0, msg);
  return buf;
}
