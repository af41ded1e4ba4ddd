import { formatIpv4, type Ipv4Address } from '../wire/address.js';
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  encodeIcmp,
  isIcmpErrorType,
  parseIcmp,
} from '../wire/icmp.js';
import { isMulticastIpv4, parseIpv4HeaderOnly } from '../wire/ipv4.js';
import type { Ipv4Layer } from './ipv4.js';
import type { Logger } from './log.js';
import { IPPROTO_ICMP, type IcmpError, type IpDatagram, type ProtocolHandler } from './network.js';
import { TokenBucket } from './rate-limit.js';
import type { StackServices } from './services.js';

/** RFC 1812 4.3.2.3: an ICMP error datagram should not exceed 576 bytes. */
const MAX_ERROR_DATAGRAM = 576;

export interface IcmpOptions {
  /** ICMP errors per second we send at most (default 100). */
  errorsPerSecond?: number;
  /** Errors that may go out at once after a quiet period (default 50). */
  errorBurst?: number;
}

/** The ICMP errors this host originates: unreachable (IPv4, UDP) and reassembly time exceeded. */
export type IcmpErrorType = typeof ICMP_DEST_UNREACHABLE | typeof ICMP_TIME_EXCEEDED;

/** Who hears echo replies and errors about echo requests (the ping client). */
export interface EchoListener {
  echoReply(src: Ipv4Address, identifier: number, sequence: number, data: Uint8Array, ttl: number, bytes: number): void;
  echoError(error: IcmpError, identifier: number, sequence: number): void;
}

/**
 * ICMP for one host (RFC 792, RFC 1122 3.2.2): answers echo requests, passes the
 * errors it receives to the protocol whose datagram they quote, and sends the errors
 * IPv4 and the transports ask for, rate-limited and never about errors or broadcasts.
 */
export class IcmpLayer implements ProtocolHandler {
  echoListener: EchoListener | undefined;
  private readonly bucket: TokenBucket;
  private readonly log: Logger;

  constructor(
    private readonly services: StackServices,
    private readonly ip: Ipv4Layer,
    options: IcmpOptions = {},
  ) {
    this.bucket = new TokenBucket(services.clock, options.errorsPerSecond ?? 100, options.errorBurst ?? 50);
    this.log = services.log.child({ layer: 'icmp' });
  }

  receive(d: IpDatagram): void {
    const { counters } = this.services;
    const parsed = parseIcmp(d.payload);
    if (!parsed.ok) {
      counters.inc(`icmp.rx.${parsed.error}`);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ src: formatIpv4(d.src), error: parsed.error }, 'drop ICMP');
      return;
    }
    const m = parsed.value;
    switch (m.kind) {
      case 'echo-request':
        counters.inc('icmp.rx.echo_request');
        // RFC 1122 3.2.2.6: answering broadcast echo requests is optional; we do not.
        if (this.ip.wasBroadcast(d) || d.src === 0) {
          counters.inc('icmp.rx.echo_broadcast_ignored');
          return;
        }
        // RFC 792: same identifier, sequence and data, addresses swapped. RFC 1122
        // 3.2.2.6 says Record Route / Timestamp options SHOULD be echoed back; we send
        // no IP options at all, so the reply goes out with a plain 20-byte header.
        if (this.ip.send({ dst: d.src, protocol: IPPROTO_ICMP, payload: encodeIcmp({ ...m, kind: 'echo-reply' }) })) {
          counters.inc('icmp.tx.echo_reply');
        }
        if (this.log.isLevelEnabled('debug')) this.log.debug({ src: formatIpv4(d.src), seq: m.sequence, len: m.data.length }, 'echo request answered');
        return;
      case 'echo-reply':
        counters.inc('icmp.rx.echo_reply');
        if (this.echoListener) this.echoListener.echoReply(d.src, m.identifier, m.sequence, m.data, d.ttl, d.payload.length);
        else counters.inc('icmp.rx.echo_reply_unexpected');
        return;
      case 'dest-unreachable':
        counters.inc('icmp.rx.dest_unreachable');
        this.deliverError(d, ICMP_DEST_UNREACHABLE, m.code, m.quoted, m.nextHopMtu);
        return;
      case 'time-exceeded':
        counters.inc('icmp.rx.time_exceeded');
        this.deliverError(d, ICMP_TIME_EXCEEDED, m.code, m.quoted);
        return;
      case 'other':
        counters.inc('icmp.rx.other');
        if (this.log.isLevelEnabled('debug')) this.log.debug({ type: m.type, code: m.code }, 'ICMP type not handled');
        return;
    }
  }

  /** An error about an ICMP message we sent: only echo requests (ping) care. */
  icmpError(error: IcmpError): void {
    const q = error.quoted;
    if (q[0] === ICMP_ECHO_REQUEST && this.echoListener) {
      this.echoListener.echoError(error, (q[4]! << 8) | q[5]!, (q[6]! << 8) | q[7]!);
    }
  }

  /** Send an echo request; false if IPv4 could not route it. */
  sendEchoRequest(dst: Ipv4Address, identifier: number, sequence: number, data: Uint8Array, ttl?: number): boolean {
    const payload = encodeIcmp({ kind: 'echo-request', identifier, sequence, data });
    const sent = this.ip.send({ dst, protocol: IPPROTO_ICMP, payload, ...(ttl !== undefined ? { ttl } : {}) });
    if (sent) this.services.counters.inc('icmp.tx.echo_request');
    return sent;
  }

  /**
   * Send an ICMP error about `original` back to its source. RFC 1122 3.2.2: never
   * about an ICMP error, a broadcast or multicast datagram, or a source that is not
   * one host; rate-limited (RFC 1812 4.3.2.8). Returns true if one was sent.
   */
  sendError(original: IpDatagram, type: IcmpErrorType, code: number): boolean {
    const { counters } = this.services;
    if (original.protocol === IPPROTO_ICMP && (original.payload.length === 0 || isIcmpErrorType(original.payload[0]!))) {
      counters.inc('icmp.tx.suppressed');
      return false;
    }
    const src = original.src;
    if (this.ip.wasBroadcast(original) || src === 0 || isMulticastIpv4(src) || this.ip.isBroadcast(src)) {
      counters.inc('icmp.tx.suppressed');
      return false;
    }
    if (!this.bucket.take()) {
      counters.inc('icmp.tx.rate_limited');
      return false;
    }
    // Quote the header and as much data as fits in 576 bytes (RFC 1812 4.3.2.3;
    // RFC 792 asks for at least the first 8 bytes).
    const room = MAX_ERROR_DATAGRAM - 20 - 8 - original.header.length;
    const quoted = new Uint8Array(original.header.length + Math.min(original.payload.length, room));
    quoted.set(original.header, 0);
    quoted.set(original.payload.subarray(0, quoted.length - original.header.length), original.header.length);
    const message =
      type === ICMP_DEST_UNREACHABLE
        ? encodeIcmp({ kind: 'dest-unreachable', code, nextHopMtu: 0, quoted }) // MTU: only for "fragmentation needed", which routers send (RFC 1191)
        : encodeIcmp({ kind: 'time-exceeded', code, quoted });
    const sent = this.ip.send({ dst: src, protocol: IPPROTO_ICMP, payload: message });
    if (sent) {
      counters.inc(type === ICMP_DEST_UNREACHABLE ? 'icmp.tx.dest_unreachable' : 'icmp.tx.time_exceeded');
      if (this.log.isLevelEnabled('debug')) this.log.debug({ dst: formatIpv4(src), type, code }, 'ICMP error sent');
    }
    return sent;
  }

  /** RFC 1122 3.2.2: hand an error to the transport whose datagram it quotes. */
  private deliverError(d: IpDatagram, type: number, code: number, quoted: Uint8Array, nextHopMtu?: number): void {
    const { counters } = this.services;
    const inner = parseIpv4HeaderOnly(quoted);
    // RFC 792: the quote holds the original header and at least 8 bytes of its data.
    if (!inner.ok || inner.value.payload.length < 8) {
      counters.inc('icmp.rx.bad_quote');
      return;
    }
    const h = inner.value.header;
    if (h.src !== this.ip.address) {
      counters.inc('icmp.rx.error_not_ours');
      return;
    }
    const handler = this.ip.handler(h.protocol);
    if (!handler?.icmpError) {
      counters.inc('icmp.rx.error_unhandled');
      return;
    }
    counters.inc('icmp.rx.error_delivered');
    handler.icmpError({ type, code, reporter: d.src, src: h.src, dst: h.dst, protocol: h.protocol, quoted: inner.value.payload, nextHopMtu });
  }
}
