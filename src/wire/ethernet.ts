import type { MacAddress } from './address.js';
import { readU16 } from './bytes.js';
import { parsed, refused, type ParseResult } from './result.js';

/**
 * Ethernet II framing (IEEE 802.3 with an EtherType instead of a length). A frame on
 * a TAP device starts at the destination MAC: no preamble, no frame check sequence.
 *
 *   0      6      12          14
 *   | dst  | src  | EtherType | payload ...
 *
 * An 802.1Q tag (TPID 0x8100) between the source MAC and the EtherType is recognised
 * and reported as `vlan`; the stack itself does not speak VLANs and drops such frames.
 */

export const ETHERNET_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_LLDP = 0x88cc;

/** Values below this are an 802.3 length field, not an EtherType (IEEE 802.3 3.2.6). */
const ETHERTYPE_MIN = 0x0600;

export interface EthernetFrame {
  dst: MacAddress;
  src: MacAddress;
  etherType: number;
  /** The 12-bit VLAN identifier when the frame carried an 802.1Q tag. */
  vlan?: number;
  /** Everything after the header (may include the padding of short frames). */
  payload: Uint8Array;
}

export type EthernetError =
  /** Shorter than the header it announces. */
  | 'truncated'
  /** An 802.3 length field (with LLC/SNAP) instead of an EtherType: not Ethernet II. */
  | 'not_ethernet_ii';

export type EthernetResult = ParseResult<EthernetFrame, EthernetError>;

/** Parse a frame. Never throws; `dst`, `src` and `payload` are views into `frame`. */
export function parseEthernet(frame: Uint8Array): EthernetResult {
  if (frame.length < ETHERNET_HEADER_LEN) return refused('truncated');
  let etherType = readU16(frame, 12);
  let headerLen = ETHERNET_HEADER_LEN;
  let vlan: number | undefined;
  if (etherType === ETHERTYPE_VLAN) {
    if (frame.length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return refused('truncated');
    vlan = (readU16(frame, 14)) & 0x0fff;
    etherType = readU16(frame, 16);
    headerLen += VLAN_TAG_LEN;
  }
  if (etherType < ETHERTYPE_MIN) return refused('not_ethernet_ii');
  const value: EthernetFrame = {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    etherType,
    payload: frame.subarray(headerLen),
  };
  if (vlan !== undefined) value.vlan = vlan;
  return parsed(value);
}

/**
 * Write an untagged Ethernet II header at `offset` of `buf` (which must have room for
 * 14 bytes). Returns the number of bytes written.
 */
export function writeEthernetHeader(
  buf: Uint8Array,
  offset: number,
  header: { dst: MacAddress; src: MacAddress; etherType: number },
): number {
  // Byte by byte: cheaper than two views and two copies for six bytes each (this runs per frame).
  const { dst, src } = header;
  for (let i = 0; i < 6; i++) {
    buf[offset + i] = dst[i]!;
    buf[offset + 6 + i] = src[i]!;
  }
  buf[offset + 12] = header.etherType >>> 8;
  buf[offset + 13] = header.etherType & 0xff;
  return ETHERNET_HEADER_LEN;
}

/** A whole frame: header followed by a copy of `payload`. */
export function encodeEthernet(header: { dst: MacAddress; src: MacAddress; etherType: number }, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER_LEN + payload.length);
  writeEthernetHeader(frame, 0, header);
  frame.set(payload, ETHERNET_HEADER_LEN);
  return frame;
}

/** True for a group address (multicast or broadcast): the I/G bit of the first byte. */
export function isMulticastMac(mac: Uint8Array): boolean {
  return (mac[0]! & 0x01) !== 0;
}

export function isBroadcastMac(mac: Uint8Array): boolean {
  return mac[0] === 0xff && mac[1] === 0xff && mac[2] === 0xff && mac[3] === 0xff && mac[4] === 0xff && mac[5] === 0xff;
}
