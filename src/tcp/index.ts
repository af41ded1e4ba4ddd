import type { HostContext, IcmpError, IpDatagram, ProtocolHandler } from '../stack/network.js';
import { IPPROTO_TCP } from '../stack/network.js';
import { formatIpv4, parseIpv4 } from '../wire/address.js';
import { ICMP_DEST_UNREACHABLE, UNREACH_FRAG_NEEDED } from '../wire/icmp.js';
import { encodeTcp, parseTcp, TcpFlags, type TcpHeader, type TcpHeaderFields, type TcpOptions as TcpOptionFields } from '../wire/tcp.js';
import {
  NetError,
  type TcpApi,
  type TcpConnectOptions,
  type TcpListenOptions,
  type TcpServerLike,
  type TcpSocketLike,
} from './api.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from './config.js';
import { TcpConnection } from './connection.js';
import type { ConnectionEnvironment, FourTuple } from './environment.js';
import { IsnGenerator } from './isn.js';
import { Listener } from './listener.js';
import { DEFAULT_MSS, MAX_WINDOW_SHIFT, ourMssFor, ourWindowShift } from './negotiate.js';
import { MIN_PATH_MTU, PathMtuCache, plateauBelow } from './path-mtu.js';
import { tsval } from './paws.js';
import { seqAdd } from './seq.js';
import { cookieOptions, cookieTsval, SynCookies } from './syncookie.js';
import { TcpServer } from './server.js';
import { TcpSocket } from './socket.js';
import { TimeWait, type TimeWaitEnvironment } from './time-wait.js';

export { TcpSocket } from './socket.js';
export { TcpServer } from './server.js';
export type { TcpConfig } from './config.js';
export type { TcpInfo } from './environment.js';
export type { TcpState } from './state.js';

export type TcpOptions = Partial<TcpConfig>;

const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;

/**
 * The TCP of one host: demultiplexes arriving segments by four-tuple to their
 * connection (or a listener, or answers with RST), hands out ports, and sends each
 * connection's pending output at the host's flush, after the whole batch of
 * arrivals was processed.
 */
export class Tcp implements TcpApi, ProtocolHandler {
  readonly config: TcpConfig;
  /** Every pair we know: a connection, or the TimeWait record that replaced it. */
  private readonly connections = new Map<string, TcpConnection | TimeWait>();
  private readonly listeners = new Map<number, Listener>();
  private readonly dirty = new Set<TcpConnection>();
  /**
   * The connection the last segment went to. Segments come in runs for one
   * connection (a bulk transfer fills whole batches), so most arrivals find theirs
   * here by comparing three numbers, without building the map's key.
   */
  private lastConn: TcpConnection | null = null;
  private readonly isn: IsnGenerator;
  private readonly cookies: SynCookies;
  private readonly pathMtus: PathMtuCache;
  private readonly env: ConnectionEnvironment;
  private readonly timeWaitEnv: TimeWaitEnvironment;
  private challengeWindowStart = Number.NEGATIVE_INFINITY;
  private challengeBudget = 0;

  constructor(
    private readonly ctx: HostContext,
    options: TcpOptions = {},
  ) {
    this.config = { ...DEFAULT_TCP_CONFIG, ...options };
    this.isn = new IsnGenerator(ctx.clock, ctx.random);
    this.cookies = new SynCookies(ctx.clock, ctx.random);
    this.pathMtus = new PathMtuCache(ctx.clock);
    const log = ctx.log.child({ layer: 'tcp' });
    this.env = {
      clock: ctx.clock,
      counters: ctx.counters,
      log,
      config: this.config,
      transmit: (conn, fields, payload) => this.transmit(conn.tuple.localAddr, conn.tuple.remoteAddr, fields, payload),
      requestOutput: (conn) => {
        this.dirty.add(conn);
        ctx.requestFlush();
      },
      release: (conn) => this.release(conn),
      enterTimeWait: (conn) => this.enterTimeWait(conn),
      allowChallengeAck: () => this.allowChallengeAck(),
    };
    this.timeWaitEnv = {
      clock: ctx.clock,
      counters: ctx.counters,
      config: this.config,
      allowChallengeAck: () => this.allowChallengeAck(),
      transmit: (tuple, fields) => this.transmit(tuple.localAddr, tuple.remoteAddr, fields, new Uint8Array(0)),
      release: (tw) => this.release(tw),
    };
    ctx.ip.register(IPPROTO_TCP, this);
    ctx.onFlush(() => this.flush());
  }

  /** Connections currently known (any state but CLOSED), for tests and `--stats`. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Look up a connection (tests and teaching tools). */
  findConnection(localPort: number, remoteAddr: string, remotePort: number): TcpConnection | undefined {
    const addr = parseIpv4(remoteAddr);
    const conn = addr === null ? undefined : this.connections.get(key(addr, remotePort, localPort));
    // In TIME-WAIT: the connection object, as long as someone (its socket, a tracer) still holds it.
    return conn instanceof TimeWait ? conn.connection : conn;
  }

  // ------------------------------------------------------------------ API

  listen(options: TcpListenOptions, onConnection?: (socket: TcpSocketLike) => void): TcpServerLike {
    let port = options.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new NetError('ERR_SOCKET_BAD_PORT', `port must be 0-65535, got ${port}`);
    }
    if (port === 0) {
      // As net: port 0 picks a free ephemeral port; server.address().port tells which.
      port = this.freeListenPort();
      if (port === 0) throw new NetError('EADDRINUSE', 'no free ephemeral port to listen on');
    }
    if (this.listeners.has(port)) throw new NetError('EADDRINUSE', `port ${port} is already listening`);
    const backlog = Math.max(1, options.backlog ?? 511);
    let server: TcpServer;
    const listener = new Listener(port, backlog, this.ctx.counters, (conn) => {
      const socket = new TcpSocket(conn, this.ctx.clock, { allowHalfOpen: options.allowHalfOpen, connected: true });
      server.emit('connection', socket);
    });
    this.listeners.set(port, listener);
    server = new TcpServer(this.ctx.ip.address, port, () => {
      listener.close();
      this.listeners.delete(port);
    });
    if (onConnection) server.on('connection', onConnection);
    return server;
  }

  connect(options: TcpConnectOptions, onConnect?: () => void): TcpSocketLike {
    const remoteAddr = parseIpv4(options.host);
    const localAddr = this.ctx.ip.address;
    let error: NetError | undefined;
    let localPort = options.localPort ?? 0;
    if (remoteAddr === null) error = new NetError('EINVAL', `not an IPv4 address: ${options.host}`);
    else if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      error = new NetError('ERR_SOCKET_BAD_PORT', `port must be 1-65535, got ${options.port}`);
    } else if (options.localPort !== undefined) {
      const existing = this.connections.get(key(remoteAddr, options.port, localPort));
      if (existing instanceof TimeWait) {
        // Reuse the pair as Linux does with timestamps: the new ISN is above the old one.
        this.ctx.counters.inc('tcp.time_wait.reused');
        existing.endTimeWait();
      } else if (existing) {
        error = new NetError('EADDRINUSE', `${formatIpv4(localAddr)}:${localPort} -> ${options.host}:${options.port} is in use`);
      }
    } else {
      localPort = this.ephemeralPort(remoteAddr, options.port);
      if (localPort === 0) error = new NetError('EADDRNOTAVAIL', 'no free ephemeral port');
    }
    const tuple = { localAddr, localPort, remoteAddr: remoteAddr ?? 0, remotePort: options.port };
    const conn = this.newConnection(tuple);
    const socket = new TcpSocket(conn, this.ctx.clock, { allowHalfOpen: options.allowHalfOpen });
    if (onConnect) socket.once('connect', onConnect);
    if (error) {
      const err = error;
      process.nextTick(() => socket.onError(err));
      return socket;
    }
    this.connections.set(key(tuple.remoteAddr, tuple.remotePort, tuple.localPort), conn);
    this.ctx.counters.inc('tcp.active_open');
    conn.openActive(this.isn.next(localAddr, localPort, tuple.remoteAddr, tuple.remotePort), options.timeout);
    return socket;
  }

  /**
   * Shut TCP down with its host: listeners stop, open connections are aborted (RST,
   * as the kernel does for sockets of a process that exits), TIME-WAIT is dropped.
   */
  async close(): Promise<void> {
    for (const port of [...this.listeners.keys()]) {
      this.listeners.get(port)!.close();
      this.listeners.delete(port);
    }
    // shutdown() ends in CLOSED, and reaching CLOSED releases the connection.
    for (const conn of [...this.connections.values()]) conn.shutdown();
    this.flush();
  }

  // ------------------------------------------------------------------ input

  receive(dg: IpDatagram): void {
    const c = this.ctx.counters;
    c.inc('tcp.rx.segments');
    // The checksum is verified here unless the link already did (RFC 9293 3.1).
    const parsed = parseTcp(dg.payload, dg.checksumVerified ? undefined : { src: dg.src, dst: dg.dst });
    if (!parsed.ok) {
      c.inc(`tcp.rx.${parsed.error}`);
      c.inc('tcp.rx.drop.malformed');
      return;
    }
    const { header: h, payload } = parsed.value;
    if (h.flags & TcpFlags.URG) {
      // RFC 6093 6: no urgent mode. The data stays inline (as Linux with SO_OOBINLINE)
      // and the pointer is ignored; the application sees the bytes in order.
      c.inc('tcp.rx.urgent');
    }
    if (h.options.malformed) {
      // RFC 9293 3.1 (MUST-7): kept, with the options read before the problem (as Linux).
      c.inc('tcp.rx.options_malformed');
      c.inc(`tcp.rx.${h.options.malformed}`);
    }
    if (dg.dst !== this.ctx.ip.address) {
      c.inc('tcp.rx.drop.not_for_us');
      return;
    }
    let conn = this.lookup(dg.src, h.srcPort, h.dstPort);
    if (conn instanceof TimeWait && h.flags & TcpFlags.SYN && !(h.flags & TcpFlags.ACK) && this.listeners.has(h.dstPort)) {
      if (conn.acceptsNewSyn(h)) {
        c.inc('tcp.time_wait.reused');
        conn.endTimeWait();
        conn = undefined;
      }
    }
    if (conn) {
      conn.segmentArrives(h, payload);
      return;
    }
    const listener = this.listeners.get(h.dstPort);
    if (listener) {
      this.listenArrives(listener, dg, h, payload);
      return;
    }
    c.inc('tcp.rx.drop.no_socket');
    this.resetFor(dg, h, payload.length);
  }

  /** The connection or TIME-WAIT record of a four-tuple (our address is the only one). */
  private lookup(remoteAddr: number, remotePort: number, localPort: number): TcpConnection | TimeWait | undefined {
    const last = this.lastConn;
    if (last !== null && last.tuple.remotePort === remotePort && last.tuple.localPort === localPort && last.tuple.remoteAddr === remoteAddr) {
      return last;
    }
    const conn = this.connections.get(key(remoteAddr, remotePort, localPort));
    if (conn instanceof TcpConnection) this.lastConn = conn;
    return conn;
  }

  icmpError(error: IcmpError): void {
    const c = this.ctx.counters;
    c.inc(`tcp.rx.icmp_error.${error.type}_${error.code}`);
    // The quote holds our header: source port, destination port, sequence number.
    if (error.type !== ICMP_DEST_UNREACHABLE || error.quoted.length < 8) return;
    const q = error.quoted;
    const srcPort = (q[0]! << 8) | q[1]!;
    const dstPort = (q[2]! << 8) | q[3]!;
    const seq = ((q[4]! << 24) | (q[5]! << 16) | (q[6]! << 8) | q[7]!) >>> 0;
    const conn = this.connections.get(key(error.dst, dstPort, srcPort));
    if (!(conn instanceof TcpConnection)) return; // nothing of ours is outstanding in TIME-WAIT
    if (error.code === UNREACH_FRAG_NEEDED) {
      this.fragmentationNeeded(conn, seq, error.nextHopMtu ?? 0);
      return;
    }
    conn.icmpUnreachable(error.code, seq);
  }

  /**
   * ICMP "fragmentation needed and DF set" (RFC 1191): remember the lower path MTU
   * for the destination (new connections start from it) and let the connection cut
   * its segments to fit. Only when the quote names a segment we have outstanding
   * (RFC 5927 4.1): otherwise anyone could shrink our segments.
   */
  private fragmentationNeeded(conn: TcpConnection, seq: number, nextHopMtu: number): void {
    const c = this.ctx.counters;
    c.inc('tcp.rx.icmp.frag_needed');
    if (!conn.quotesOutstanding(seq)) {
      c.inc('tcp.rx.icmp.bad_seq');
      return;
    }
    // RFC 1191 5: a router that does not fill in the MTU (RFC 792) gets the next plateau below our segments.
    const reported = nextHopMtu >= 68 ? nextHopMtu : plateauBelow(conn.sndMss + 40);
    if (reported < MIN_PATH_MTU) c.inc('tcp.pmtu.below_minimum');
    const path = this.pathMtus.lower(conn.tuple.remoteAddr, reported);
    conn.lowerPathMtu(path.mtu);
  }

  /** RFC 9293 3.10.7.2: SEGMENT ARRIVES in LISTEN. */
  private listenArrives(listener: Listener, dg: IpDatagram, h: TcpHeader, payload: Uint8Array): void {
    const c = this.ctx.counters;
    if (h.flags & TcpFlags.RST) return;
    if (h.flags & TcpFlags.ACK) {
      if (!(h.flags & TcpFlags.SYN) && listener.cookiesRecent(this.ctx.clock.now()) && this.acceptCookie(listener, dg, h, payload)) return;
      c.inc('tcp.rx.drop.ack_to_listener');
      this.sendReset(dg.dst, dg.src, h.dstPort, h.srcPort, h.ack, 0, false);
      return;
    }
    if (!(h.flags & TcpFlags.SYN)) {
      c.inc('tcp.rx.drop.listen_no_syn');
      return;
    }
    if (h.flags & TcpFlags.FIN) {
      // SYN and FIN together make no sense (a scanner's probe); Linux drops it silently.
      c.inc('tcp.rx.drop.syn_fin');
      return;
    }
    if (listener.acceptQueueFull) {
      // As Linux: with the accept queue full, a new connection could not be handed
      // over either, so the SYN is dropped and the peer retries later.
      c.inc('tcp.rx.drop.accept_queue_full');
      return;
    }
    const tuple = { localAddr: dg.dst, localPort: h.dstPort, remoteAddr: dg.src, remotePort: h.srcPort };
    if (listener.synQueueFull) {
      // RFC 4987 3.4/3.6: a half-open entry whose SYN,ACK was never answered (it had
      // to be retransmitted) makes room; while the queue is young (a flood in
      // progress), the SYN is answered with a cookie and no state at all.
      const oldest = listener.oldestHalfOpen!;
      if (this.config.synCookies && !oldest.synAckUnanswered) {
        this.sendCookie(listener, tuple, h);
        return;
      }
      c.inc('tcp.listen.syn_queue_evicted');
      oldest.evict();
    }
    c.inc('tcp.passive_open');
    const conn = this.newConnection(tuple);
    this.connections.set(key(dg.src, h.srcPort, h.dstPort), conn);
    listener.add(conn);
    conn.openPassive(this.isn.next(tuple.localAddr, tuple.localPort, tuple.remoteAddr, tuple.remotePort), h);
  }

  /**
   * RFC 4987 3.6: a SYN,ACK that keeps no state. Its ISN is the cookie; with
   * timestamps, its TSval carries window scale and SACK (see syncookie.ts).
   * Without timestamps only the MSS survives, as on Linux.
   */
  private sendCookie(listener: Listener, tuple: FourTuple, syn: TcpHeader): void {
    const c = this.ctx.counters;
    const cfg = this.config;
    const peer = syn.options;
    const ourMss = ourMssFor(this.ctx.ip.mtu);
    const iss = this.cookies.encode(tuple, syn.seq, Math.min(peer.mss ?? DEFAULT_MSS, ourMss));
    const options: TcpOptionFields = { mss: ourMss };
    if (cfg.timestamps && peer.timestamp) {
      const windowScale = cfg.windowScaling && peer.windowScale !== undefined ? Math.min(peer.windowScale, MAX_WINDOW_SHIFT) : undefined;
      const sackPermitted = cfg.sack && peer.sackPermitted === true;
      const tsNow = tsval(this.ctx.clock.now(), this.cookies.tsOffset(tuple));
      if (sackPermitted) options.sackPermitted = true;
      options.timestamp = { value: cookieTsval(tsNow, { windowScale, sackPermitted }), echo: peer.timestamp.value };
      if (windowScale !== undefined) options.windowScale = ourWindowShift(cfg.receiveBufferBytes);
    }
    c.inc('tcp.syncookie.sent');
    c.inc('tcp.tx.segments');
    listener.cookieSent(this.ctx.clock.now());
    const fields = {
      srcPort: tuple.localPort,
      dstPort: tuple.remotePort,
      seq: iss,
      ack: seqAdd(syn.seq, 1),
      flags: TcpFlags.SYN | TcpFlags.ACK,
      window: Math.min(0xffff, cfg.receiveBufferBytes),
      options,
    };
    this.transmit(tuple.localAddr, tuple.remoteAddr, fields, new Uint8Array(0));
  }

  /**
   * An ACK to a listening port that may complete a cookie handshake: if the cookie
   * in SEG.ACK - 1 is ours and recent, rebuild the SYN from it and continue as
   * SYN-RECEIVED would. Returns false (a forged or stale ACK) to let the caller reset.
   */
  private acceptCookie(listener: Listener, dg: IpDatagram, h: TcpHeader, payload: Uint8Array): boolean {
    const c = this.ctx.counters;
    const tuple = { localAddr: dg.dst, localPort: h.dstPort, remoteAddr: dg.src, remotePort: h.srcPort };
    const mss = this.cookies.decode(tuple, h.seq, h.ack);
    if (mss === undefined) {
      c.inc('tcp.syncookie.bad');
      return false;
    }
    if (listener.acceptQueueFull) {
      // As Linux: no room to hand the connection over, so the ACK is dropped without a
      // word; the peer's next segment (a retransmission) carries the same cookie.
      c.inc('tcp.listen.accept_queue_full');
      return true;
    }
    c.inc('tcp.syncookie.ok');
    const ts = this.config.timestamps ? h.options.timestamp : undefined;
    const synOptions: TcpOptionFields = { mss };
    if (ts) {
      const o = cookieOptions(ts.echo);
      synOptions.timestamp = { value: ts.value, echo: 0 };
      if (o.windowScale !== undefined) synOptions.windowScale = o.windowScale;
      if (o.sackPermitted) synOptions.sackPermitted = true;
    }
    const syn: TcpHeader = { ...h, seq: seqAdd(h.seq, -1), ack: 0, flags: TcpFlags.SYN, options: synOptions };
    const conn = this.newConnection(tuple, this.cookies.tsOffset(tuple));
    this.connections.set(key(dg.src, h.srcPort, h.dstPort), conn);
    listener.add(conn);
    conn.openFromCookie(seqAdd(h.ack, -1), syn);
    conn.segmentArrives(h, payload);
    // The ACK did not complete the handshake after all (e.g. out of window): no state stays.
    if (conn.state === 'SYN-RECEIVED') conn.evict();
    return true;
  }

  /** RFC 9293 3.10.7.1: a segment for no connection gets a RST (unless it is one). */
  private resetFor(dg: IpDatagram, h: TcpHeader, dataLen: number): void {
    if (h.flags & TcpFlags.RST) return;
    this.ctx.counters.inc('tcp.tx.rst_closed_port');
    if (h.flags & TcpFlags.ACK) {
      this.sendReset(dg.dst, dg.src, h.dstPort, h.srcPort, h.ack, 0, false);
    } else {
      const len = dataLen + (h.flags & TcpFlags.SYN ? 1 : 0) + (h.flags & TcpFlags.FIN ? 1 : 0);
      this.sendReset(dg.dst, dg.src, h.dstPort, h.srcPort, 0, seqAdd(h.seq, len), true);
    }
  }

  private sendReset(src: number, dst: number, srcPort: number, dstPort: number, seq: number, ack: number, withAck: boolean): void {
    this.ctx.counters.inc('tcp.tx.rst');
    this.ctx.counters.inc('tcp.tx.segments');
    const flags = TcpFlags.RST | (withAck ? TcpFlags.ACK : 0);
    this.transmit(src, dst, { srcPort, dstPort, seq, ack, flags, window: 0 }, new Uint8Array(0));
  }

  // ------------------------------------------------------------------ output

  private transmit(src: number, dst: number, fields: TcpHeaderFields, payload: Uint8Array): void {
    // DF as Linux sets it on TCP: our segments never exceed the MTU (MSS = MTU - 40),
    // and a router that must fragment tells us instead (RFC 1191). Not towards a path
    // whose MTU was reported below the minimum (see path-mtu.ts): routers fragment there.
    const dontFragment = !this.pathMtus.get(dst)?.locked;
    // A DF datagram leaves in one frame, so a link with checksum offload can finish its
    // checksum; it could not finish fragments (the checksum covers the whole datagram).
    const header = encodeTcp(fields, payload, dontFragment && this.ctx.ip.tcpChecksumOffload ? null : { src, dst });
    this.ctx.ip.send({ dst, src, protocol: IPPROTO_TCP, payload: payload.length > 0 ? [header, payload] : header, dontFragment });
  }

  private flush(): void {
    for (let round = 0; round < 4 && this.dirty.size > 0; round++) {
      const conns = [...this.dirty];
      this.dirty.clear();
      for (const conn of conns) conn.output();
    }
  }

  // ------------------------------------------------------------------ bookkeeping

  private newConnection(tuple: TcpConnection['tuple'], tsOffset = this.ctx.random.uint32()): TcpConnection {
    const conn = new TcpConnection(this.env, tuple, this.ctx.ip.mtu, tsOffset);
    conn.pathMtu = this.pathMtus.get(tuple.remoteAddr)?.mtu;
    return conn;
  }

  private release(conn: TcpConnection | TimeWait): void {
    const k = key(conn.tuple.remoteAddr, conn.tuple.remotePort, conn.tuple.localPort);
    if (this.connections.get(k) === conn) this.connections.delete(k);
    if (conn instanceof TcpConnection) this.dirty.delete(conn);
    if (this.lastConn === conn) this.lastConn = null;
  }

  /**
   * A connection entered TIME-WAIT: a small record answers for the pair from now on
   * (time-wait.ts). The connection may still have its last ACK to send at this
   * flush; it stays in `dirty` for that.
   */
  private enterTimeWait(conn: TcpConnection): void {
    const k = key(conn.tuple.remoteAddr, conn.tuple.remotePort, conn.tuple.localPort);
    if (this.connections.get(k) === conn) this.connections.set(k, new TimeWait(this.timeWaitEnv, conn));
    if (this.lastConn === conn) this.lastConn = null;
  }

  /** A local port for a connection to remoteAddr:remotePort: free for that pair, not listening. */
  private ephemeralPort(remoteAddr: number, remotePort: number): number {
    return this.scanEphemeral((port) => !this.connections.has(key(remoteAddr, remotePort, port)));
  }

  /** A port for listen({ port: 0 }): no listener and no connection uses it. */
  private freeListenPort(): number {
    const used = new Set<number>();
    for (const conn of this.connections.values()) used.add(conn.tuple.localPort);
    return this.scanEphemeral((port) => !used.has(port));
  }

  /** The first ephemeral port, from a random start, that no listener holds and `free` accepts; 0 if none. */
  private scanEphemeral(free: (port: number) => boolean): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = this.ctx.random.int(0, span - 1);
    for (let i = 0; i < span; i++) {
      const port = EPHEMERAL_LOW + ((start + i) % span);
      if (!this.listeners.has(port) && free(port)) return port;
    }
    return 0;
  }

  /** RFC 5961 7: the stack-wide budget of challenge ACKs, drawn anew each second (see TcpConfig). */
  private allowChallengeAck(): boolean {
    const now = this.ctx.clock.now();
    if (now - this.challengeWindowStart >= 1000) {
      const limit = this.config.challengeAckPerSecond;
      this.challengeWindowStart = now;
      this.challengeBudget = Math.floor(limit / 2) + this.ctx.random.int(0, Math.max(0, limit - 1));
    }
    if (this.challengeBudget <= 0) return false;
    this.challengeBudget--;
    return true;
  }
}

function key(remoteAddr: number, remotePort: number, localPort: number): string {
  return `${remoteAddr}:${remotePort}:${localPort}`;
}
