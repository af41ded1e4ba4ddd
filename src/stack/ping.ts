import { Buffer } from 'node:buffer';
import { formatIpv4, type Ipv4Address } from '../wire/address.js';
import { ICMP_DEST_UNREACHABLE, ICMP_TIME_EXCEEDED } from '../wire/icmp.js';
import type { Timer } from './clock.js';
import type { EchoListener, IcmpLayer } from './icmp.js';
import type { IcmpError } from './network.js';
import type { StackServices } from './services.js';

export interface PingOptions {
  /** How long to wait for the reply (default 1000 ms). */
  timeoutMs?: number;
  /** Bytes of data after the 8-byte ICMP header (default 56, as iputils). */
  size?: number;
  /** Sequence number; by default the next one of this host (1, 2, ...). */
  seq?: number;
  ttl?: number;
}

export interface PingReply {
  /** Round-trip time on the host's clock. */
  rttMs: number;
  /** TTL of the reply datagram. */
  ttl: number;
  /** Size of the ICMP echo reply (header + data), what iputils prints as "bytes". */
  bytes: number;
  seq: number;
  from: Ipv4Address;
}

export type PingErrorCode = 'ETIMEDOUT' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'ETIMEEXCEEDED' | 'EINVAL' | 'EBUSY' | 'ECLOSED';

export class PingError extends Error {
  constructor(
    readonly code: PingErrorCode,
    message: string,
    /** The ICMP error that ended the ping, if one did. */
    readonly icmp?: IcmpError,
  ) {
    super(message);
    this.name = 'PingError';
  }
}

interface Outstanding {
  dst: Ipv4Address;
  data: Uint8Array;
  sentAt: number;
  timer: Timer;
  resolve(reply: PingReply): void;
  reject(error: PingError): void;
}

/**
 * The ping client: one echo request per call, matched to its reply by identifier and
 * sequence number (RFC 792). The identifier is random per host, like the ICMP "port"
 * a Linux ping socket gets.
 */
export class Pinger implements EchoListener {
  readonly identifier: number;
  private nextSeq = 1;
  private readonly outstanding = new Map<number, Outstanding>();

  constructor(
    private readonly services: StackServices,
    private readonly icmp: IcmpLayer,
  ) {
    this.identifier = services.random.int(0, 0xffff);
    icmp.echoListener = this;
  }

  ping(dst: Ipv4Address, options: PingOptions = {}): Promise<PingReply> {
    const size = options.size ?? 56;
    const seq = (options.seq ?? this.nextSeq) & 0xffff;
    this.nextSeq = (seq + 1) & 0xffff;
    if (!Number.isInteger(size) || size < 0 || size > 65507) {
      return Promise.reject(new PingError('EINVAL', `invalid ping size ${size}`));
    }
    if (this.outstanding.has(seq)) return Promise.reject(new PingError('EBUSY', `icmp_seq ${seq} is still waiting`));
    // iputils fills the data with an incrementing pattern; so do we.
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i + 8) & 0xff;
    return new Promise<PingReply>((resolve, reject) => {
      const timer = this.services.clock.setTimer(options.timeoutMs ?? 1000, () => {
        this.outstanding.delete(seq);
        this.services.counters.inc('ping.timeout');
        reject(new PingError('ETIMEDOUT', `no reply from ${formatIpv4(dst)} for icmp_seq=${seq}`));
      });
      this.outstanding.set(seq, { dst, data, sentAt: this.services.clock.now(), timer, resolve, reject });
      if (!this.icmp.sendEchoRequest(dst, this.identifier, seq, data, options.ttl)) {
        timer.cancel();
        this.outstanding.delete(seq);
        reject(new PingError('ENETUNREACH', `cannot send to ${formatIpv4(dst)}: no route or datagram too big`));
      }
    });
  }

  echoReply(src: Ipv4Address, identifier: number, sequence: number, data: Uint8Array, ttl: number, bytes: number): void {
    const { counters } = this.services;
    const o = this.outstanding.get(sequence);
    if (identifier !== this.identifier || !o || o.dst !== src) {
      counters.inc('ping.rx.unmatched');
      return;
    }
    if (Buffer.compare(o.data, data) !== 0) {
      counters.inc('ping.rx.bad_data');
      return;
    }
    this.outstanding.delete(sequence);
    o.timer.cancel();
    counters.inc('ping.rx.reply');
    o.resolve({ rttMs: this.services.clock.now() - o.sentAt, ttl, bytes, seq: sequence, from: src });
  }

  echoError(error: IcmpError, identifier: number, sequence: number): void {
    const o = this.outstanding.get(sequence);
    if (identifier !== this.identifier || !o || o.dst !== error.dst) return;
    this.outstanding.delete(sequence);
    o.timer.cancel();
    const from = formatIpv4(error.reporter);
    if (error.type === ICMP_DEST_UNREACHABLE) {
      const what = error.code === 0 ? 'Net' : error.code === 1 ? 'Host' : error.code === 2 ? 'Protocol' : error.code === 3 ? 'Port' : `(code ${error.code})`;
      o.reject(new PingError(error.code === 0 ? 'ENETUNREACH' : 'EHOSTUNREACH', `From ${from} icmp_seq=${sequence} Destination ${what} Unreachable`, error));
    } else if (error.type === ICMP_TIME_EXCEEDED) {
      o.reject(new PingError('ETIMEEXCEEDED', `From ${from} icmp_seq=${sequence} Time to live exceeded`, error));
    } else {
      o.reject(new PingError('EHOSTUNREACH', `From ${from} icmp_seq=${sequence} ICMP type ${error.type} code ${error.code}`, error));
    }
  }

  /** Fail every outstanding ping (host shutdown). */
  close(): void {
    for (const [seq, o] of this.outstanding) {
      o.timer.cancel();
      o.reject(new PingError('ECLOSED', `host closed while waiting for icmp_seq=${seq}`));
    }
    this.outstanding.clear();
  }
}
