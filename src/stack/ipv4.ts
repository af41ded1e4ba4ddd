import {
  BROADCAST_MAC,
  formatIpv4,
  prefixMask,
  readIpv4,
  sameSubnet,
  type Ipv4Address,
  type MacAddress,
} from '../wire/address.js';
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, writeEthernetHeader } from '../wire/ethernet.js';
import { ICMP_DEST_UNREACHABLE, ICMP_TIME_EXCEEDED, TIME_EXCEEDED_REASSEMBLY, UNREACH_HOST, UNREACH_PROTOCOL } from '../wire/icmp.js';
import {
  IPV4_BROADCAST,
  IPV4_MAX_DATAGRAM,
  IPV4_MIN_HEADER_LEN,
  IPPROTO_TCP,
  isFragment,
  isMulticastIpv4,
  parseIpv4Packet,
  writeIpv4Header,
  type Ipv4HeaderFields,
} from '../wire/ipv4.js';
import type { ArpLayer } from './arp.js';
import type { IcmpErrorType } from './icmp.js';
import { FrameAllocator } from './frame-allocator.js';
import type { Logger } from './log.js';
import type { IpDatagram, IpSendOptions, NetworkLayer, ProtocolHandler } from './network.js';
import { Reassembler, type ReassemblyOptions } from './reassembly.js';
import type { StackServices } from './services.js';

export interface Ipv4Options {
  /** Default gateway for destinations outside our prefix. */
  gateway?: Ipv4Address;
  /** Largest datagram the link carries (default 1500). */
  mtu?: number;
  /**
   * Largest TCP datagram when the link cuts TCP super-frames into `mtu`-sized
   * segments itself (a TAP with offload, TapLink.superFrameMtu). Default: `mtu`.
   */
  superFrameMtu?: number;
  /** The link finishes TCP checksums of unfragmented frames (NetworkLayer.tcpChecksumOffload). */
  tcpChecksumOffload?: boolean;
  /** TTL of the datagrams we originate (default 64, as Linux). */
  defaultTtl?: number;
  reassembly?: ReassemblyOptions;
}

/** What IPv4 needs from ICMP: errors about received datagrams (set by the host). */
export interface IcmpErrorSender {
  sendError(original: IpDatagram, type: IcmpErrorType, code: number): boolean;
}

/**
 * The IPv4 layer of one interface (RFC 791, RFC 1122 3.2.1): checks incoming
 * datagrams, keeps the ones addressed to us, reassembles fragments and hands each
 * datagram to the handler of its protocol; on the way out it picks the next hop
 * (on-link or the gateway), fragments what exceeds the MTU and asks ARP for the MAC.
 */
export class Ipv4Layer implements NetworkLayer {
  readonly address: Ipv4Address;
  readonly prefixLength: number;
  readonly mtu: number;
  /** Largest TCP datagram we send: above `mtu` only on a link that segments TCP. */
  readonly superFrameMtu: number;
  readonly tcpChecksumOffload: boolean;
  /** The header descriptions send() fills in for each frame (see there). */
  private readonly ipFields: Ipv4HeaderFields = {
    identification: 0,
    ttl: 0,
    protocol: 0,
    src: 0,
    dst: 0,
    dontFragment: false,
    totalLength: 0,
    moreFragments: false,
    fragmentOffset: 0,
  };
  private readonly ethernetFields: { dst: MacAddress; src: MacAddress; etherType: number };
  readonly gateway: Ipv4Address | undefined;
  readonly defaultTtl: number;
  readonly reassembler: Reassembler;
  /** Set by the host once ICMP exists (ICMP sends through this layer). */
  icmp: IcmpErrorSender | undefined;

  private readonly handlers = new Map<number, ProtocolHandler>();
  /** Datagrams that arrived as link-layer or IP broadcast: never answered with errors. */
  private readonly broadcasts = new WeakSet<IpDatagram>();
  private nextIdentification: number;
  private readonly frames = new FrameAllocator();
  private readonly log: Logger;

  constructor(
    private readonly services: StackServices,
    private readonly arp: ArpLayer,
    options: Ipv4Options = {},
  ) {
    this.address = services.address;
    this.prefixLength = services.prefixLength;
    this.mtu = options.mtu ?? 1500;
    this.superFrameMtu = Math.max(this.mtu, options.superFrameMtu ?? 0);
    this.tcpChecksumOffload = options.tcpChecksumOffload ?? false;
    this.ethernetFields = { dst: UNRESOLVED_MAC, src: services.mac, etherType: ETHERTYPE_IPV4 };
    this.gateway = options.gateway;
    this.defaultTtl = options.defaultTtl ?? 64;
    this.nextIdentification = services.random.int(0, 0xffff);
    this.log = services.log.child({ layer: 'ipv4' });
    arp.neighbours.onUnresolved = (_ip, frames) => this.reportUnresolved(frames);
    this.reassembler = new Reassembler(services, options.reassembly, (header, data) => {
      // RFC 792: time exceeded, code 1 "fragment reassembly time exceeded".
      this.icmp?.sendError(this.datagramFromHeader(header, data), ICMP_TIME_EXCEEDED, TIME_EXCEEDED_REASSEMBLY);
    });
  }

  register(protocol: number, handler: ProtocolHandler): void {
    if (this.handlers.has(protocol)) throw new Error(`IP protocol ${protocol} already has a handler`);
    this.handlers.set(protocol, handler);
  }

  /** The handler of an IP protocol number, if any (ICMP errors are routed with it). */
  handler(protocol: number): ProtocolHandler | undefined {
    return this.handlers.get(protocol);
  }

  /** 255.255.255.255 or the directed broadcast of our prefix (RFC 919, RFC 922). */
  isBroadcast(addr: Ipv4Address): boolean {
    if (addr === IPV4_BROADCAST) return true;
    if (this.prefixLength >= 31) return false; // RFC 3021: /31 has no broadcast address
    return addr === (this.address | ~prefixMask(this.prefixLength)) >>> 0;
  }

  /** True if `d` reached us as a broadcast or multicast (link layer or IP). */
  wasBroadcast(d: IpDatagram): boolean {
    return this.broadcasts.has(d) || this.isBroadcast(d.dst) || isMulticastIpv4(d.dst);
  }

  /**
   * Handle an IPv4 datagram (the Ethernet payload). `checksumsVerified`: the link
   * already verified its header and transport checksums (RX_CHECKSUM_GOOD).
   */
  receive(packet: Uint8Array, linkBroadcast: boolean, checksumsVerified = false): void {
    const { counters } = this.services;
    const parsed = parseIpv4Packet(packet, { verifyChecksum: !checksumsVerified });
    if (!parsed.ok) {
      counters.inc(`ipv4.rx.${parsed.error}`);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ error: parsed.error }, 'drop IPv4');
      return;
    }
    const { header: h } = parsed.value;
    let headerBytes = parsed.value.headerBytes;
    let payload = parsed.value.payload;

    // RFC 1122 3.2.1.3: accept our address and the broadcast addresses; we join no groups.
    let broadcast = linkBroadcast;
    if (h.dst !== this.address) {
      if (this.isBroadcast(h.dst)) {
        broadcast = true;
      } else if (isMulticastIpv4(h.dst)) {
        counters.inc('ipv4.rx.multicast');
        return;
      } else {
        counters.inc('ipv4.rx.not_for_us');
        if (this.log.isLevelEnabled('debug')) this.log.debug({ dst: formatIpv4(h.dst) }, 'drop IPv4: not for us');
        return;
      }
    }
    // RFC 1122 3.2.1.3: a source address must be a single host.
    if (isMulticastIpv4(h.src) || this.isBroadcast(h.src)) {
      counters.inc('ipv4.rx.bad_source');
      return;
    }

    // A link verifies the transport checksum of unfragmented datagrams only: the
    // checksum of a reassembled one covers every fragment.
    let transportVerified = checksumsVerified;
    if (isFragment(h)) {
      const whole = this.reassembler.add(h, headerBytes, payload);
      if (!whole) return;
      headerBytes = whole.header;
      payload = whole.payload;
      transportVerified = false;
    }

    // For a reassembled datagram, header (and TTL) are those of fragment 0.
    const datagram: IpDatagram = { src: h.src, dst: h.dst, protocol: h.protocol, ttl: headerBytes[8]!, payload, header: headerBytes };
    if (transportVerified) datagram.checksumVerified = true;
    if (broadcast) this.broadcasts.add(datagram);
    counters.inc('ipv4.rx.datagrams');
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ src: formatIpv4(h.src), protocol: h.protocol, len: payload.length }, 'IPv4 in');
    }

    const handler = this.handlers.get(h.protocol);
    if (!handler) {
      // RFC 1122 3.2.2.1: protocol unreachable for a protocol nobody speaks.
      counters.inc('ipv4.rx.unknown_protocol');
      this.icmp?.sendError(datagram, ICMP_DEST_UNREACHABLE, UNREACH_PROTOCOL);
      return;
    }
    counters.inc('ipv4.rx.delivered');
    handler.receive(datagram);
  }

  send(options: IpSendOptions): boolean {
    const { counters } = this.services;
    const parts: readonly Uint8Array[] = options.payload instanceof Uint8Array ? [options.payload] : options.payload;
    let length = 0;
    for (const p of parts) length += p.length;
    if (length + IPV4_MIN_HEADER_LEN > IPV4_MAX_DATAGRAM) {
      counters.inc('ipv4.tx.too_big');
      return false;
    }

    // Routing (RFC 1122 3.3.1.1): on-link destinations directly, the rest via the gateway.
    const dst = options.dst;
    let dstMac: MacAddress | undefined;
    let nextHop = dst;
    if (this.isBroadcast(dst)) {
      dstMac = BROADCAST_MAC;
    } else if (isMulticastIpv4(dst)) {
      dstMac = multicastMac(dst);
    } else if (dst === this.address) {
      counters.inc('ipv4.tx.no_loopback');
      return false;
    } else if (!sameSubnet(dst, this.address, this.prefixLength)) {
      if (this.gateway === undefined) {
        counters.inc('ipv4.tx.no_route');
        if (this.log.isLevelEnabled('debug')) this.log.debug({ dst: formatIpv4(dst) }, 'no route');
        return false;
      }
      nextHop = this.gateway;
    }

    const maxData = (options.protocol === IPPROTO_TCP ? this.superFrameMtu : this.mtu) - IPV4_MIN_HEADER_LEN;
    if (length > maxData && options.dontFragment) {
      // RFC 791: a DF datagram that does not fit is dropped (the sender uses PMTUD).
      counters.inc('ipv4.tx.dont_fragment');
      return false;
    }
    const identification = this.nextIdentification;
    this.nextIdentification = (identification + 1) & 0xffff;
    // RFC 791 3.2: every fragment but the last carries a multiple of 8 data bytes.
    const chunk = length > maxData ? maxData & ~7 : length;
    const ttl = options.ttl ?? this.defaultTtl;
    const src = options.src ?? this.address;
    const dontFragment = options.dontFragment ?? false;
    // The header descriptions are this layer's own objects, not new ones per datagram
    // (this runs for every segment TCP sends, so it allocates as little as it can).
    // They are filled in whole for every frame, right before it is written, so a send
    // that runs inside transmit() below cannot leave its values in our next fragment.
    const fields = this.ipFields;
    const ethernet = this.ethernetFields;
    let offset = 0;
    let fragments = 0;
    do {
      const size = Math.min(chunk, length - offset);
      const frame = this.frames.alloc(ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN + size);
      // Without a known MAC the destination stays zero until ARP fills it in (neighbour.ts).
      ethernet.dst = dstMac ?? UNRESOLVED_MAC;
      writeEthernetHeader(frame, 0, ethernet);
      fields.identification = identification;
      fields.ttl = ttl;
      fields.protocol = options.protocol;
      fields.src = src;
      fields.dst = dst;
      fields.dontFragment = dontFragment;
      fields.totalLength = IPV4_MIN_HEADER_LEN + size;
      fields.moreFragments = offset + size < length;
      fields.fragmentOffset = offset;
      writeIpv4Header(frame, ETHERNET_HEADER_LEN, fields);
      copyRange(parts, offset, size, frame, ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN);
      if (dstMac) this.services.transmit(frame);
      else this.arp.neighbours.send(nextHop, frame);
      offset += size;
      fragments++;
    } while (offset < length);

    counters.inc('ipv4.tx.datagrams');
    if (fragments > 1) {
      counters.inc('ipv4.tx.fragmented');
      counters.inc('ipv4.tx.fragments', fragments);
    }
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ dst: formatIpv4(dst), protocol: options.protocol, len: length, fragments }, 'IPv4 out');
    }
    return true;
  }

  sendUnreachable(datagram: IpDatagram, code: number): void {
    this.icmp?.sendError(datagram, ICMP_DEST_UNREACHABLE, code);
  }

  close(): void {
    this.reassembler.clear();
  }

  /**
   * ARP gave up on a next hop: tell the protocols whose datagrams were lost, as if a
   * router had sent "host unreachable" (Linux does the same, and ping prints "From
   * <us> ... Destination Host Unreachable"). RFC 1122 2.4 forbids this only for a
   * missing cache entry, that is before ARP has tried.
   */
  private reportUnresolved(frames: readonly Uint8Array[]): void {
    for (const frame of frames) {
      const parsed = parseIpv4Packet(frame.subarray(ETHERNET_HEADER_LEN), { verifyChecksum: false });
      if (!parsed.ok) continue;
      const h = parsed.value.header;
      // One report per datagram: the fragment at offset 0 carries the transport header.
      if (h.fragmentOffset !== 0 || h.src !== this.address) continue;
      const handler = this.handlers.get(h.protocol);
      if (!handler?.icmpError) continue;
      this.services.counters.inc('ipv4.tx.unreachable_reported');
      handler.icmpError({
        type: ICMP_DEST_UNREACHABLE,
        code: UNREACH_HOST,
        reporter: this.address,
        src: h.src,
        dst: h.dst,
        protocol: h.protocol,
        quoted: parsed.value.payload.subarray(0, 8),
      });
    }
  }

  /** A datagram as far as a stored header and its first data bytes describe it. */
  private datagramFromHeader(header: Uint8Array, data: Uint8Array): IpDatagram {
    return { src: readIpv4(header, 12), dst: readIpv4(header, 16), protocol: header[9]!, ttl: header[8]!, header, payload: data };
  }
}

const UNRESOLVED_MAC: MacAddress = new Uint8Array(6);

/** RFC 1112 6.4: 01:00:5e followed by the low 23 bits of the group address. */
function multicastMac(group: Ipv4Address): MacAddress {
  return new Uint8Array([0x01, 0x00, 0x5e, (group >>> 16) & 0x7f, (group >>> 8) & 0xff, group & 0xff]);
}

/** Copy `size` bytes starting at `offset` of the concatenation of `parts` into `out`. */
function copyRange(parts: readonly Uint8Array[], offset: number, size: number, out: Uint8Array, at: number): void {
  let skip = offset;
  let left = size;
  for (const p of parts) {
    if (left === 0) break;
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    const take = Math.min(p.length - skip, left);
    // A whole part (every part of an unfragmented datagram) needs no view of itself.
    out.set(skip === 0 && take === p.length ? p : p.subarray(skip, skip + take), at);
    at += take;
    left -= take;
    skip = 0;
  }
}
