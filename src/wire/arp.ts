import { readIpv4, writeIpv4, type Ipv4Address, type MacAddress } from './address.js';
import { readU16 } from './bytes.js';
import { parsed, refused, type ParseResult } from './result.js';

/**
 * ARP (RFC 826) for Ethernet and IPv4, the only pairing this stack speaks. Any other
 * hardware or protocol type is a parse error, not a packet to guess about.
 *
 *   0        2        4     5     6      8         14        18        24        28
 *   | htype  | ptype  | hlen| plen| oper | sha (6) | spa (4) | tha (6) | tpa (4) |
 */

export const ARP_PACKET_LEN = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  operation: typeof ARP_REQUEST | typeof ARP_REPLY;
  senderMac: MacAddress;
  senderIp: Ipv4Address;
  targetMac: MacAddress;
  targetIp: Ipv4Address;
}

export type ArpError =
  | 'truncated'
  /** Hardware type is not Ethernet (1) or its address length is not 6. */
  | 'unsupported_hardware'
  /** Protocol type is not IPv4 (0x0800) or its address length is not 4. */
  | 'unsupported_protocol'
  /** Neither request (1) nor reply (2); RARP and InARP are not ours. */
  | 'bad_operation';

export type ArpResult = ParseResult<ArpPacket, ArpError>;

/** Parse an ARP packet (the Ethernet payload). Never throws; MACs are views. */
export function parseArp(buf: Uint8Array): ArpResult {
  // Trailing bytes are Ethernet padding (a minimum frame is 60 bytes): ignored.
  if (buf.length < ARP_PACKET_LEN) return refused('truncated');
  const htype = readU16(buf, 0);
  const ptype = readU16(buf, 2);
  if (htype !== ARP_HTYPE_ETHERNET || buf[4] !== 6) return refused('unsupported_hardware');
  if (ptype !== ARP_PTYPE_IPV4 || buf[5] !== 4) return refused('unsupported_protocol');
  const operation = readU16(buf, 6);
  if (operation !== ARP_REQUEST && operation !== ARP_REPLY) return refused('bad_operation');
  return parsed({
    operation,
    senderMac: buf.subarray(8, 14),
    senderIp: readIpv4(buf, 14),
    targetMac: buf.subarray(18, 24),
    targetIp: readIpv4(buf, 24),
  });
}

/** Write `packet` at `offset` of `buf` (28 bytes of room). Returns the bytes written. */
export function writeArp(buf: Uint8Array, offset: number, packet: ArpPacket): number {
  buf[offset] = 0;
  buf[offset + 1] = ARP_HTYPE_ETHERNET;
  buf[offset + 2] = ARP_PTYPE_IPV4 >>> 8;
  buf[offset + 3] = ARP_PTYPE_IPV4 & 0xff;
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  buf[offset + 6] = 0;
  buf[offset + 7] = packet.operation;
  buf.set(packet.senderMac.subarray(0, 6), offset + 8);
  writeIpv4(buf, offset + 14, packet.senderIp);
  buf.set(packet.targetMac.subarray(0, 6), offset + 18);
  writeIpv4(buf, offset + 24, packet.targetIp);
  return ARP_PACKET_LEN;
}

export function encodeArp(packet: ArpPacket): Uint8Array {
  const buf = new Uint8Array(ARP_PACKET_LEN);
  writeArp(buf, 0, packet);
  return buf;
}
