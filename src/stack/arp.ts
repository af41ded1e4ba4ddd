import { BROADCAST_MAC, formatIpv4, formatMac, macEquals, type Ipv4Address, type MacAddress } from '../wire/address.js';
import { ARP_PACKET_LEN, ARP_REPLY, ARP_REQUEST, parseArp, writeArp, type ArpPacket } from '../wire/arp.js';
import { ETHERNET_HEADER_LEN, ETHERTYPE_ARP, writeEthernetHeader } from '../wire/ethernet.js';
import type { Logger } from './log.js';
import { NeighbourCache, type NeighbourOptions } from './neighbour.js';
import type { StackServices } from './services.js';

const ZERO_MAC: MacAddress = new Uint8Array(6);

/**
 * ARP for one interface (RFC 826): answers requests for our address, feeds the
 * neighbour cache from what it hears, asks for next hops on behalf of IPv4 and
 * announces the host with a gratuitous ARP when it starts.
 */
export class ArpLayer {
  readonly neighbours: NeighbourCache;
  private readonly log: Logger;

  constructor(
    private readonly services: StackServices,
    options: NeighbourOptions = {},
  ) {
    this.log = services.log.child({ layer: 'arp' });
    this.neighbours = new NeighbourCache(services, (ip, mac) => this.sendRequest(ip, mac), options);
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
    if (p.senderIp === address) {
      // Someone else claims our address (or our own announcement looped back).
      if (!macEquals(p.senderMac, this.services.mac)) {
        counters.inc('arp.rx.address_conflict');
        this.log.warn({ ip: formatIpv4(address), mac: formatMac(p.senderMac) }, 'another host uses our IPv4 address');
      }
      return;
    }
    const forUs = p.targetIp === address;
    // RFC 826 "merge": refresh what we know about the sender; learn it if it talks to
    // us. A sender address of 0.0.0.0 is an RFC 5227 probe and teaches nothing.
    if (p.senderIp !== 0) this.neighbours.update(p.senderIp, p.senderMac, forUs);
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
