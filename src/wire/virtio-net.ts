import { readU16 } from './bytes.js';
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4 } from './ethernet.js';
import { IPPROTO_TCP } from './ipv4.js';
import { parsed, refused, type ParseResult } from './result.js';

/**
 * struct virtio_net_hdr: the 10 bytes that precede every frame on a TAP device opened
 * with IFF_VNET_HDR (<linux/virtio_net.h>; the virtio spec 1.2, 5.1.6 "Device
 * Operation"). They describe offloads: a checksum left for the other side to finish,
 * and a "super-frame" of up to 64 KiB that still has to be cut into segments.
 *
 *   offset size field
 *        0    1 flags        NEEDS_CSUM (1): the checksum field holds only the
 *                            pseudo-header sum; DATA_VALID (2): already verified
 *        1    1 gso_type     NONE 0, TCPV4 1, UDP 3, TCPV6 4, | ECN 0x80
 *        2    2 hdr_len      bytes of Ethernet + IP + TCP headers (a hint)
 *        4    2 gso_size     payload bytes per segment when the frame is cut
 *        6    2 csum_start   where checksumming starts, from the Ethernet header
 *        8    2 csum_offset  where the checksum field is, from csum_start
 *
 * Unlike everything else in wire/, the 16-bit fields are LITTLE-endian: the legacy
 * virtio header is in the host's byte order, and TAP devices use it that way on
 * little-endian machines (x86, arm64) unless TUNSETVNETBE asks otherwise.
 */

export const VIRTIO_NET_HDR_LEN = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** Or-ed into gso_type: the segments carry ECN (the CWR flag goes on the first only). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export type VirtioGsoType = 'none' | 'tcpv4' | 'udp' | 'tcpv6';

export interface VirtioNetHeader {
  /** The checksum at checksumStart + checksumOffset is still to be finished. */
  needsChecksum: boolean;
  /** The sender already verified the checksum (the receiver may skip it). */
  dataValid: boolean;
  gsoType: VirtioGsoType;
  /** The ECN bit of gso_type. */
  ecn: boolean;
  headerLength: number;
  /** Payload bytes per segment (the MSS) when gsoType is not 'none'; else 0. */
  gsoSize: number;
  checksumStart: number;
  checksumOffset: number;
}

export type VirtioNetParseError = 'truncated' | 'unknown_gso_type';

const GSO_CODES: Record<VirtioGsoType, number> = {
  none: VIRTIO_NET_HDR_GSO_NONE,
  tcpv4: VIRTIO_NET_HDR_GSO_TCPV4,
  udp: VIRTIO_NET_HDR_GSO_UDP,
  tcpv6: VIRTIO_NET_HDR_GSO_TCPV6,
};
const GSO_NAMES = new Map<number, VirtioGsoType>(Object.entries(GSO_CODES).map(([name, code]) => [code, name as VirtioGsoType]));

function readLe16(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}

function writeLe16(b: Uint8Array, i: number, v: number): void {
  b[i] = v & 0xff;
  b[i + 1] = (v >>> 8) & 0xff;
}

/** Read the header at `offset` (the frame follows it). */
export function parseVirtioNetHeader(bytes: Uint8Array, offset = 0): ParseResult<VirtioNetHeader, VirtioNetParseError> {
  if (bytes.length - offset < VIRTIO_NET_HDR_LEN) return refused('truncated');
  const flags = bytes[offset]!;
  const gso = bytes[offset + 1]!;
  const gsoType = GSO_NAMES.get(gso & ~VIRTIO_NET_HDR_GSO_ECN);
  if (gsoType === undefined) return refused('unknown_gso_type');
  return parsed({
    needsChecksum: (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0,
    dataValid: (flags & VIRTIO_NET_HDR_F_DATA_VALID) !== 0,
    gsoType,
    ecn: (gso & VIRTIO_NET_HDR_GSO_ECN) !== 0,
    headerLength: readLe16(bytes, offset + 2),
    gsoSize: readLe16(bytes, offset + 4),
    checksumStart: readLe16(bytes, offset + 6),
    checksumOffset: readLe16(bytes, offset + 8),
  });
}

/** Write `h` into `out` at `offset` (10 bytes). */
export function writeVirtioNetHeader(out: Uint8Array, offset: number, h: VirtioNetHeader): void {
  out[offset] = (h.needsChecksum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0) | (h.dataValid ? VIRTIO_NET_HDR_F_DATA_VALID : 0);
  out[offset + 1] = GSO_CODES[h.gsoType] | (h.ecn ? VIRTIO_NET_HDR_GSO_ECN : 0);
  writeLe16(out, offset + 2, h.headerLength);
  writeLe16(out, offset + 4, h.gsoSize);
  writeLe16(out, offset + 6, h.checksumStart);
  writeLe16(out, offset + 8, h.checksumOffset);
}

/** A header that asks for nothing: a finished frame of normal size. */
export const PLAIN_VIRTIO_NET_HEADER: Readonly<VirtioNetHeader> = Object.freeze({
  needsChecksum: false,
  dataValid: false,
  gsoType: 'none',
  ecn: false,
  headerLength: 0,
  gsoSize: 0,
  checksumStart: 0,
  checksumOffset: 0,
});

/** What the offload needs to know of a TCP super-frame (see tcpSuperFrame). */
export interface TcpSuperFrame {
  /** Ethernet + IP + TCP header bytes: virtio_net_hdr.hdr_len. */
  headerLength: number;
  /** TCP payload bytes per segment when cut for an MTU: virtio_net_hdr.gso_size. */
  segmentSize: number;
  /** TCP payload bytes of the whole super-frame. */
  payload: number;
  /** Where the TCP header starts (csum_start); its checksum field is 16 bytes on (csum_offset). */
  tcpStart: number;
}

/** csum_offset of a TCP header's checksum field. */
export const TCP_CHECKSUM_OFFSET = 16;

/**
 * If `frame` is an IPv4/TCP frame whose datagram exceeds `mtu`, the header bytes
 * (Ethernet + IP + TCP) and the payload per segment once the kernel cuts it: the MTU
 * less this frame's IP and TCP headers (options included, as every segment repeats
 * them). Else undefined.
 */
export function tcpSuperFrame(frame: Uint8Array, mtu: number): TcpSuperFrame | undefined {
  const ip = ETHERNET_HEADER_LEN;
  if (frame.length <= ip + mtu || frame.length < ip + 40) return undefined;
  if (readU16(frame, 12) !== ETHERTYPE_IPV4 || frame[ip + 9] !== IPPROTO_TCP) return undefined;
  const ipHeader = (frame[ip]! & 0x0f) * 4;
  if (frame.length < ip + ipHeader + 20) return undefined;
  const tcpHeader = (frame[ip + ipHeader + 12]! >>> 4) * 4;
  const payload = readU16(frame, ip + 2) - ipHeader - tcpHeader;
  return { headerLength: ip + ipHeader + tcpHeader, segmentSize: mtu - ipHeader - tcpHeader, payload, tcpStart: ip + ipHeader };
}
