import type { CapturedFrame } from '../support/prober.js';
import type { Ipv4Address } from '../../src/wire/address.js';
import { readU16, writeU16 } from '../../src/wire/bytes.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { encodeEthernet, ETHERTYPE_IPV4, parseEthernet } from '../../src/wire/ethernet.js';
import { parseIcmp, type IcmpMessage } from '../../src/wire/icmp.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, parseIpv4Packet, writeIpv4Header, type Ipv4Header } from '../../src/wire/ipv4.js';
import { encodeTcp, parseTcp, setTcpChecksum, type TcpHeader, type TcpHeaderFields, type TcpOptions } from '../../src/wire/tcp.js';
import { encodeUdp, parseUdp } from '../../src/wire/udp.js';

/**
 * Frames for the probes. Well-formed headers come from our own wire/ encoders (they
 * have their own byte-level tests); the knobs here exist to break them on purpose:
 * a raw option list, a wrong data offset or IHL, a bad checksum, another version.
 */

export interface Ipv4Knobs {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  ttl?: number;
  identification?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Bytes, a multiple of 8. */
  fragmentOffset?: number;
  /** Options after the 20-byte header (a multiple of 4 bytes; IHL follows). */
  options?: Uint8Array;
  /** Overrides, applied after the checksum unless `badChecksum`. */
  version?: number;
  ihlWords?: number;
  totalLength?: number;
  badChecksum?: boolean;
}

/** An IPv4 datagram around `payload`. */
export function ipv4(k: Ipv4Knobs, payload: Uint8Array): Uint8Array {
  const options = k.options ?? new Uint8Array(0);
  const headerLength = 20 + options.length;
  const out = new Uint8Array(headerLength + payload.length);
  writeIpv4Header(out, 0, {
    totalLength: out.length,
    identification: k.identification ?? 0x1234,
    dontFragment: k.dontFragment ?? false,
    moreFragments: k.moreFragments ?? false,
    fragmentOffset: k.fragmentOffset ?? 0,
    ttl: k.ttl ?? 64,
    protocol: k.protocol,
    src: k.src,
    dst: k.dst,
  });
  out.set(options, 20);
  out.set(payload, headerLength);
  out[0] = ((k.version ?? 4) << 4) | (k.ihlWords ?? headerLength / 4);
  if (k.totalLength !== undefined) writeU16(out, 2, k.totalLength);
  // The checksum over the header as it now is (options and overrides included).
  writeU16(out, 10, 0);
  const sum = internetChecksum(out.subarray(0, headerLength));
  writeU16(out, 10, k.badChecksum ? sum ^ 0x5555 : sum);
  return out;
}

/** The header fields our encoder takes, and what breaks them on purpose. */
export interface TcpKnobs extends TcpHeaderFields {
  /** Option bytes as they go on the wire, instead of `options` (padded to 4 with zeros). */
  rawOptions?: Uint8Array;
  /** Data offset field (32-bit words) instead of the true header length. */
  dataOffsetWords?: number;
  badChecksum?: boolean;
}

/**
 * A TCP segment with its checksum over the pseudo-header of src -> dst: our encoder
 * writes it, then the knobs (raw options, data offset, bad checksum) break it and the
 * checksum is summed again over what is now there.
 */
export function tcp(k: TcpKnobs, payload: Uint8Array, src: Ipv4Address, dst: Ipv4Address): Uint8Array {
  const header = encodeTcp({ ...k, options: k.rawOptions ? undefined : k.options }, payload, { src, dst });
  const rawOptions = k.rawOptions ? new Uint8Array(Math.ceil(k.rawOptions.length / 4) * 4) : new Uint8Array(0);
  if (k.rawOptions) rawOptions.set(k.rawOptions);
  const headerLength = header.length + rawOptions.length;
  const out = new Uint8Array(headerLength + payload.length);
  out.set(header);
  out.set(rawOptions, header.length);
  out.set(payload, headerLength);
  if (!k.rawOptions && k.dataOffsetWords === undefined && !k.badChecksum) return out;
  out[12] = (k.dataOffsetWords ?? headerLength / 4) << 4;
  setTcpChecksum(out, { src, dst });
  if (k.badChecksum) writeU16(out, 16, readU16(out, 16) ^ 0x5555);
  return out;
}

/** A UDP datagram with its checksum: a right one (our encoder), none (0, RFC 768), or a wrong one. */
export function udp(srcPort: number, dstPort: number, payload: Uint8Array, src: Ipv4Address, dst: Ipv4Address, checksum: 'good' | 'none' | 'bad' = 'good'): Uint8Array {
  const out = encodeUdp({ src, dst, srcPort, dstPort, payload });
  if (checksum === 'none') writeU16(out, 6, 0);
  if (checksum === 'bad') writeU16(out, 6, readU16(out, 6) ^ 0x5555);
  return out;
}

export function ethernetIpv4(dst: Uint8Array, src: Uint8Array, packet: Uint8Array): Uint8Array {
  return encodeEthernet({ dst, src, etherType: ETHERTYPE_IPV4 }, packet);
}

/** A frame the dut sent, decoded as far as it goes. */
export interface Seen {
  at: number;
  ip: Ipv4Header;
  /** The IP datagram (for quoting it in an ICMP error). */
  datagram: Uint8Array;
  tcp?: { header: TcpHeader; payload: Uint8Array };
  icmp?: IcmpMessage;
  udp?: { srcPort: number; dstPort: number };
}

/** Decode an IPv4 frame (checksums verified: a dut that sends bad ones fails the probe). */
export function decode(frame: CapturedFrame): Seen | null {
  const eth = parseEthernet(frame.bytes);
  if (!eth.ok || eth.value.etherType !== ETHERTYPE_IPV4) return null;
  const ip = parseIpv4Packet(eth.value.payload);
  if (!ip.ok) return null;
  const { header, payload } = ip.value;
  const seen: Seen = { at: frame.at, ip: header, datagram: eth.value.payload.subarray(0, header.totalLength) };
  if (header.protocol === IPPROTO_TCP) {
    const t = parseTcp(payload, { src: header.src, dst: header.dst });
    if (t.ok) seen.tcp = t.value;
  } else if (header.protocol === IPPROTO_ICMP) {
    const m = parseIcmp(payload);
    if (m.ok) seen.icmp = m.value;
  } else if (header.protocol === IPPROTO_UDP) {
    const u = parseUdp(payload, header.src, header.dst);
    if (u.ok) seen.udp = { srcPort: u.value.header.srcPort, dstPort: u.value.header.dstPort };
  }
  return seen;
}

/** " <mss 1460,sackOK,ts,ws 7>": the options for the table. */
export function describeOptions(o: TcpOptions): string {
  const parts: string[] = [];
  if (o.mss !== undefined) parts.push(`mss ${o.mss}`);
  if (o.sackPermitted) parts.push('sackOK');
  if (o.timestamp) parts.push('ts');
  if (o.windowScale !== undefined) parts.push(`ws ${o.windowScale}`);
  if (o.sack) parts.push(`sack ${o.sack.length}`);
  return parts.length ? ` <${parts.join(',')}>` : '';
}

export function describeIcmp(m: IcmpMessage): string {
  switch (m.kind) {
    case 'echo-reply':
    case 'echo-request':
      return `ICMP ${m.kind}`;
    case 'dest-unreachable':
      return `ICMP unreachable code ${m.code}`;
    case 'time-exceeded':
      return `ICMP time-exceeded code ${m.code}`;
    case 'other':
      return `ICMP type ${m.type} code ${m.code}`;
  }
}
