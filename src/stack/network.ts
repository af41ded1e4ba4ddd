import type { Ipv4Address } from '../wire/address.js';
import type { Clock } from './clock.js';
import type { Counters } from './counters.js';
import type { Logger } from './log.js';
import type { Random } from './random.js';

/**
 * The contract between the IPv4 layer of a host (stack/) and the transport
 * protocols above it (udp/, tcp/). Transports register a handler for their IP
 * protocol number and send datagrams through `NetworkLayer.send`; they never see
 * Ethernet, ARP or fragments.
 */

/** An IPv4 datagram as delivered to a transport protocol (already reassembled). */
export interface IpDatagram {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  ttl: number;
  /** The transport header and data: a view into the received frame. */
  payload: Uint8Array;
  /** The raw IPv4 header as received (needed to quote it in an ICMP error). */
  header: Uint8Array;
  /**
   * The link verified the transport checksum of this (unfragmented) datagram, as a
   * NIC with receive checksum offload does (Link.checksumOffload): the transport
   * need not sum it again.
   */
  checksumVerified?: boolean;
}

/**
 * An ICMP error (destination unreachable, time exceeded, ...) about a datagram that
 * this host sent: RFC 1122 3.2.2 says it must be passed to the transport protocol.
 */
export interface IcmpError {
  type: number;
  code: number;
  /** Who sent the ICMP error (a router or the destination host). */
  reporter: Ipv4Address;
  /** Source, destination and protocol of our original datagram. */
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  /** What the error quoted of the original transport header (at least 8 bytes). */
  quoted: Uint8Array;
  /** "Fragmentation needed" (type 3 code 4): the MTU of the next hop, 0 if the router did not say (RFC 1191 4). */
  nextHopMtu?: number;
}

export interface ProtocolHandler {
  receive(datagram: IpDatagram): void;
  icmpError?(error: IcmpError): void;
}

export interface IpSendOptions {
  dst: Ipv4Address;
  protocol: number;
  /** The transport header and data; several parts are sent as one datagram. */
  payload: Uint8Array | readonly Uint8Array[];
  /** Source address; defaults to the interface address. */
  src?: Ipv4Address;
  ttl?: number;
  /** Set the DF bit (RFC 791); the datagram is dropped, not fragmented, if too big. */
  dontFragment?: boolean;
}

export interface NetworkLayer {
  readonly address: Ipv4Address;
  readonly prefixLength: number;
  /** Largest datagram the link carries without fragmenting (e.g. 1500). */
  readonly mtu: number;
  /**
   * The link fills in the TCP checksum of every unfragmented datagram it sends
   * (transmit checksum offload, Link.checksumOffload), so TCP may leave it zero in
   * datagrams that will not be fragmented (those sent with DF). Absent: no offload.
   */
  readonly tcpChecksumOffload?: boolean;
  /** Deliver datagrams of this IP protocol number to `handler`. */
  register(protocol: number, handler: ProtocolHandler): void;
  /** Route and send one datagram (fragmenting it if needed). Returns false if dropped. */
  send(options: IpSendOptions): boolean;
  /**
   * Answer a received datagram with ICMP destination unreachable (RFC 792; code 3 =
   * port unreachable for UDP). Rate-limited by the host (RFC 1812 4.3.2.8); never sent
   * for broadcasts or in reply to ICMP errors (RFC 1122 3.2.2).
   */
  sendUnreachable(datagram: IpDatagram, code: number): void;
}

/**
 * What a transport protocol gets from its host: the network layer and the shared
 * services. Output is batched: frames produced while a received batch is handled
 * (and during `flush` callbacks) go to the link in one `sendBatch` at the end.
 */
export interface HostContext {
  readonly ip: NetworkLayer;
  readonly clock: Clock;
  readonly random: Random;
  readonly counters: Counters;
  readonly log: Logger;
  /**
   * Register a callback that runs at the end of every received batch and of every
   * requested flush: the place to send coalesced ACKs and queued segments.
   */
  onFlush(callback: () => void): void;
  /** Ask for a flush soon (a microtask later); many requests make one flush. */
  requestFlush(): void;
}

// IP protocol numbers, for the transports that register with the network layer.
export { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
