import type { EventEmitter } from 'node:events';
import { expect } from 'vitest';
import { VirtualClock } from '../../src/stack/clock.js';
import { Counters } from '../../src/stack/counters.js';
import { silentLogger } from '../../src/stack/log.js';
import type { HostContext, IpDatagram, IpSendOptions, NetworkLayer, ProtocolHandler } from '../../src/stack/network.js';
import { SeededRandom } from '../../src/stack/random.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { encodeTcp, parseTcp, TcpFlags, type TcpHeader, type TcpOptions } from '../../src/wire/tcp.js';
import { Tcp, type TcpOptions as TcpConfigOptions } from '../../src/tcp/index.js';
import type { TcpSocket } from '../../src/tcp/socket.js';

/**
 * One Tcp on a fake network layer: tests play the peer by hand, segment by segment.
 * We are 10.0.0.2, the peer is 10.0.0.1. Output is collected (parsed) instead of
 * sent; flushes run on a microtask as on a real host, and `settle()` lets streams
 * and flushes finish.
 */
export const US = parseIpv4('10.0.0.2')!;
export const PEER = parseIpv4('10.0.0.1')!;
/** The peer's initial sequence number in passiveOpen(). */
export const PEER_ISS = 1000;

export interface Sent {
  header: TcpHeader;
  payload: Buffer;
  /** "SYN,ACK"-style flags, for readable assertions. */
  flags: string;
}

export interface PeerSegment {
  srcPort?: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOptions;
  payload?: Uint8Array | string;
}

export class TcpHarness {
  readonly clock = new VirtualClock(1_000_000);
  readonly counters = new Counters();
  readonly tcp: Tcp;
  private handler: ProtocolHandler | null = null;
  private readonly flushCallbacks: (() => void)[] = [];
  private flushScheduled = false;
  private outbox: Sent[] = [];

  constructor(options: TcpConfigOptions = {}, readonly mtu = 1500) {
    const ip: NetworkLayer = {
      address: US,
      prefixLength: 24,
      mtu,
      register: (_p, h) => {
        this.handler = h;
      },
      send: (o: IpSendOptions) => {
        const parts = Array.isArray(o.payload) ? (o.payload as Uint8Array[]) : [o.payload as Uint8Array];
        const bytes = Buffer.concat(parts);
        const r = parseTcp(bytes, { src: o.src ?? US, dst: o.dst });
        if (!r.ok) throw new Error(`we sent a bad segment: ${r.error}`);
        this.outbox.push({ header: r.value.header, payload: Buffer.from(r.value.payload), flags: flagText(r.value.header.flags) });
        return true;
      },
      sendUnreachable: () => {},
    };
    const ctx: HostContext = {
      ip,
      clock: this.clock,
      random: new SeededRandom(42),
      counters: this.counters,
      log: silentLogger,
      onFlush: (cb) => this.flushCallbacks.push(cb),
      requestFlush: () => {
        if (this.flushScheduled) return;
        this.flushScheduled = true;
        queueMicrotask(() => this.flush());
      },
    };
    this.tcp = new Tcp(ctx, options);
  }

  flush(): void {
    this.flushScheduled = false;
    for (const cb of this.flushCallbacks) cb();
  }

  /** Deliver one segment from the peer (as one batch), then flush as a host does. */
  inject(s: PeerSegment): void {
    const payload = typeof s.payload === 'string' ? Buffer.from(s.payload) : (s.payload ?? new Uint8Array(0));
    const header = encodeTcp(
      {
        srcPort: s.srcPort ?? 40000,
        dstPort: s.dstPort,
        seq: s.seq >>> 0,
        ack: (s.ack ?? 0) >>> 0,
        flags: s.flags,
        window: s.window ?? 65535,
        options: s.options,
      },
      payload,
      { src: PEER, dst: US },
    );
    const bytes = Buffer.concat([header, payload]);
    const dg: IpDatagram = { src: PEER, dst: US, protocol: 6, ttl: 64, payload: bytes, header: new Uint8Array(20) };
    this.handler!.receive(dg);
    this.flush();
  }

  /** Let stream callbacks and microtask flushes run. */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  }

  /** Advance virtual time (firing timers), then settle. */
  async advance(ms: number): Promise<void> {
    await this.clock.advanceAsync(ms);
    await this.settle();
  }

  /**
   * The peer (10.0.0.1:40000, ISS PEER_ISS) opens a connection to our port 21 with a SYN
   * carrying `synOptions`, and ACKs our SYN,ACK. Returns the accepted socket, our ISS
   * and the SYN,ACK.
   */
  async passiveOpen(opts: { synOptions?: TcpOptions; allowHalfOpen?: boolean } = {}): Promise<{ socket: TcpSocket; iss: number; synAck: Sent }> {
    const accepted: TcpSocket[] = [];
    this.tcp.listen({ port: 21, allowHalfOpen: opts.allowHalfOpen }, (s) => accepted.push(s as TcpSocket));
    this.inject({ dstPort: 21, seq: PEER_ISS, flags: TcpFlags.SYN, options: opts.synOptions });
    const synAck = this.one();
    const iss = synAck.header.seq;
    this.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: TcpFlags.ACK });
    await this.settle();
    expect(accepted).toHaveLength(1);
    return { socket: accepted[0]!, iss, synAck };
  }

  /** Segments we sent since the last call. */
  take(): Sent[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** Exactly one segment was sent: return it. */
  one(): Sent {
    const out = this.take();
    if (out.length !== 1) throw new Error(`expected one segment, got ${out.length}: ${out.map((s) => s.flags).join(' | ')}`);
    return out[0]!;
  }
}

export function flagText(flags: number): string {
  const names: string[] = [];
  if (flags & TcpFlags.SYN) names.push('SYN');
  if (flags & TcpFlags.FIN) names.push('FIN');
  if (flags & TcpFlags.RST) names.push('RST');
  if (flags & TcpFlags.PSH) names.push('PSH');
  if (flags & TcpFlags.ACK) names.push('ACK');
  return names.join(',');
}

/** The codes of the 'error' events `socket` emits from now on (the array fills as they come). */
export function errorCodes(socket: EventEmitter): string[] {
  const codes: string[] = [];
  socket.on('error', (e: Error & { code?: string }) => codes.push(e.code!));
  return codes;
}

export const { SYN, ACK, FIN, RST, PSH } = TcpFlags;
