import { BROADCAST_MAC, formatIpv4, formatMac, isNoHostIpv4, macEquals, prefixMask, sameSubnet, type Ipv4Address, type MacAddress } from '../wire/address.js';
import { ARP_PACKET_LEN, ARP_REPLY, ARP_REQUEST, parseArp, writeArp, type ArpPacket } from '../wire/arp.js';
import { ETHERNET_HEADER_LEN, ETHERTYPE_ARP, isMulticastMac, writeEthernetHeader } from '../wire/ethernet.js';
import type { Logger } from './log.js';
import { NeighbourCache, type NeighbourOptions } from './neighbour.js';
import { LogThrottle } from './rate-limit.js';
import type { StackServices } from './services.js';

const ZERO_MAC: MacAddress = new Uint8Array(6);

/** At most one "another host uses our address" line per this interval. */
const CONFLICT_LOG_INTERVAL_MS = 10_000;

/**
 * ARP for one interface (RFC 826): answers requests for our address, feeds the
 * neighbour cache from what it hears, asks for next hops on behalf of IPv4 and
 * announces the host with a gratuitous ARP when it starts.
 *
 * Only a sane sender teaches us anything or gets an answer: a unicast MAC that is not
 * ours, and an address of our own subnet that a host can have (see senderIpProblem).
 * RFC 826 trusts every packet and RFC 1122 2.3.2 adds no check; Linux's arp_process()
 * answers a request only when the route back to its sender is valid (no martian
 * source: multicast, broadcast, loopback, 0/8), and no host can own a group MAC.
 * Each drop has a counter.
 */
export class ArpLayer {
  readonly neighbours: NeighbourCache;
  private readonly log: Logger;
  private readonly conflictLog: LogThrottle;
  private lastConflictMac = '';

  constructor(
    private readonly services: StackServices,
    options: NeighbourOptions = {},
  ) {
    this.log = services.log.child({ layer: 'arp' });
    this.neighbours = new NeighbourCache(services, (ip, mac) => this.sendRequest(ip, mac), options);
    this.conflictLog = new LogThrottle(services.clock, CONFLICT_LOG_INTERVAL_MS, (repeats) => {
      const fields = { ip: formatIpv4(services.address), mac: this.lastConflictMac };
      if (repeats === 0) this.log.warn(fields, 'another host uses our IPv4 address');
      else this.log.warn({ ...fields, count: repeats }, `another host used our IPv4 address ${repeats} more times in ${CONFLICT_LOG_INTERVAL_MS / 1000} s`);
    });
  }

  /** Handle an ARP packet (the Ethernet payload; `ethSrc` is the frame's source MAC). */
  receive(payload: Uint8Array, ethSrc: MacAddress): void {
    const { counters, address } = this.services;
    const parsed = parseArp(payload);
    if (!parsed.ok) {
      counters.inc(`arp.rx.${parsed.error}`);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ error: parsed.error }, 'drop ARP');
      return;
    }
    const p = parsed.value;
    // ARP carries no checksum. A sender MAC that differs from the frame's source is
    // damage or spoofing, and believing it would send our traffic to nobody; hosts and
    // proxy-ARP routers put their own MAC in both places.
    if (!macEquals(p.senderMac, ethSrc)) {
      counters.inc('arp.rx.sender_mismatch');
      if (this.log.isLevelEnabled('debug')) {
        this.log.debug({ senderMac: formatMac(p.senderMac), ethSrc: formatMac(ethSrc) }, 'drop ARP: sender MAC differs from frame source');
      }
      return;
    }
    counters.inc(p.operation === ARP_REQUEST ? 'arp.rx.request' : 'arp.rx.reply');
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug(
        { op: p.operation === ARP_REQUEST ? 'request' : 'reply', sender: formatIpv4(p.senderIp), senderMac: formatMac(p.senderMac), target: formatIpv4(p.targetIp) },
        'ARP in',
      );
    }
    const { senderMac, senderIp } = p;
    // A broadcast, multicast (IEEE 802 group bit) or zero sender hardware address is no
    // station; learning it would send our unicast traffic to everyone or nobody.
    if (isMulticastMac(senderMac) || macEquals(senderMac, ZERO_MAC)) {
      counters.inc('arp.rx.bad_sender_mac');
      return;
    }
    if (macEquals(senderMac, this.services.mac)) {
      // Our own announcement come back (a looping bridge), or someone wearing our MAC.
      counters.inc(senderIp === address ? 'arp.rx.own_packet' : 'arp.rx.own_mac');
      return;
    }
    if (senderIp === address) {
      // Someone else claims our address (RFC 5227 2.4 conflict). Counted each time,
      // logged once per interval: a peer must not be able to flood our log.
      counters.inc('arp.rx.address_conflict');
      this.lastConflictMac = formatMac(senderMac);
      this.conflictLog.note();
      return;
    }
    const forUs = p.targetIp === address;
    if (senderIp === 0) {
      // RFC 5227 2.1.1 probe ("is this address free?"): it teaches nothing, and the
      // owner of the probed address answers it, as Linux does.
      counters.inc('arp.rx.probe');
      if (forUs && p.operation === ARP_REQUEST) this.sendReply(p);
      return;
    }
    const problem = this.senderIpProblem(senderIp);
    if (problem !== null) {
      counters.inc(`arp.rx.${problem}`);
      return;
    }
    // RFC 826 "merge": refresh what we know about the sender; learn it (STALE) if it
    // asks for us. A reply to our own MAC is an answer and may confirm the entry.
    this.neighbours.update(senderIp, senderMac, {
      forUs,
      reply: p.operation === ARP_REPLY && macEquals(p.targetMac, this.services.mac),
    });
    if (!forUs) {
      counters.inc('arp.rx.not_for_us');
      return;
    }
    if (p.operation === ARP_REQUEST) this.sendReply(p);
  }

  /** Ask who has `ip`: broadcast, or unicast to `mac` when refreshing an entry. */
  sendRequest(ip: Ipv4Address, mac?: MacAddress): void {
    this.services.counters.inc('arp.tx.request');
    if (this.log.isLevelEnabled('debug')) this.log.debug({ ip: formatIpv4(ip), unicast: mac !== undefined }, 'ARP request');
    this.transmit(mac ?? BROADCAST_MAC, {
      operation: ARP_REQUEST,
      senderMac: this.services.mac,
      senderIp: this.services.address,
      targetMac: ZERO_MAC,
      targetIp: ip,
    });
  }

  /**
   * Gratuitous ARP (RFC 5227 2.3 "announcement"): a request for our own address, so
   * that neighbours holding an old mapping update it.
   */
  announce(): void {
    this.services.counters.inc('arp.tx.gratuitous');
    this.transmit(BROADCAST_MAC, {
      operation: ARP_REQUEST,
      senderMac: this.services.mac,
      senderIp: this.services.address,
      targetMac: ZERO_MAC,
      targetIp: this.services.address,
    });
  }

  /** Stop the conflict log's timer (host shutdown). */
  close(): void {
    this.conflictLog.cancel();
    this.neighbours.clear();
  }

  /**
   * Why `ip` cannot be a neighbour on our link, or null. Limited broadcast, multicast
   * and the reserved class E (RFC 1122 3.2.1.3, RFC 5771), loopback and "this network"
   * (0/8, RFC 1122 3.2.1.3): no host has them. Off our subnet: a host we would reach
   * through the gateway, never directly on this link (Linux answers only senders it
   * has a route back to). Our subnet's own network and broadcast addresses (except in
   * /31 and /32, RFC 3021).
   */
  private senderIpProblem(ip: Ipv4Address): string | null {
    if (isNoHostIpv4(ip)) return 'bad_sender_ip';
    const { address, prefixLength } = this.services;
    if (!sameSubnet(ip, address, prefixLength)) return 'sender_off_subnet';
    if (prefixLength <= 30) {
      const host = (ip & ~prefixMask(prefixLength)) >>> 0;
      if (host === 0 || host === (~prefixMask(prefixLength) >>> 0)) return 'bad_sender_ip';
    }
    return null;
  }

  private sendReply(request: ArpPacket): void {
    this.services.counters.inc('arp.tx.reply');
    this.transmit(request.senderMac, {
      operation: ARP_REPLY,
      senderMac: this.services.mac,
      senderIp: this.services.address,
      targetMac: request.senderMac,
      targetIp: request.senderIp,
    });
  }

  private transmit(dst: MacAddress, packet: ArpPacket): void {
    const frame = new Uint8Array(ETHERNET_HEADER_LEN + ARP_PACKET_LEN);
    writeEthernetHeader(frame, 0, { dst, src: this.services.mac, etherType: ETHERTYPE_ARP });
    writeArp(frame, ETHERNET_HEADER_LEN, packet);
    this.services.transmit(frame);
  }
}
