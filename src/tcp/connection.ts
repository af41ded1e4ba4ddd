import type { Clock } from '../stack/clock.js';
import type { Counters } from '../stack/counters.js';
import type { Logger } from '../stack/log.js';
import { formatIpv4 } from '../wire/address.js';
import { TcpFlags, type TcpHeader, type TcpHeaderFields, type TcpOptions } from '../wire/tcp.js';
import { NetError } from './api.js';
import { NewReno } from './congestion.js';
import { segmentAcceptable } from './acceptability.js';
import { DEFAULT_MSS, MAX_WINDOW_SHIFT, negotiateOptions } from './negotiate.js';
import { ReassemblyQueue } from './receive-buffer.js';
import { SackRecovery } from './recovery.js';
import { RtoEstimator } from './rto.js';
import { SackScoreboard } from './sack.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax } from './seq.js';
import { canReceiveData, isSynchronized, type TcpState } from './state.js';
import { DeadlineTimer } from './timer.js';

/** Tunables of one TCP instance; defaults follow Linux where the RFCs leave a choice. */
export interface TcpConfig {
  /** Receive buffer: the most we advertise (bytes). */
  receiveBufferBytes: number;
  /** Send buffer: writes beyond it wait for ACKs (backpressure). */
  sendBufferBytes: number;
  /** Out-of-order queue bound (bytes). */
  outOfOrderLimitBytes: number;
  /** TIME-WAIT lasts 2*MSL (RFC 9293 3.4.2); Linux holds it 60 s. */
  timeWaitMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  initialRtoMs: number;
  /** SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries = 6). */
  synRetries: number;
  /** Data retransmissions before ETIMEDOUT (Linux tcp_retries2 = 15). */
  maxRetries: number;
  /** Delayed ACK timeout (RFC 1122 4.2.3.2: < 0.5 s; Linux 40 ms). */
  delayedAckMs: number;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
  /** RFC 5961 7: challenge ACKs allowed per second (whole stack). */
  challengeAckPerSecond: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  /**
   * User timeout (RFC 9293 3.10.8, RFC 5482): fail with ETIMEDOUT when sent data
   * stays unacknowledged this long, whatever the retry count. 0 disables it.
   */
  userTimeoutMs: number;
  /** Tail loss probes (RFC 8985 7): resend the last segment after ~2 RTT instead of waiting for the RTO. */
  tailLossProbe: boolean;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  receiveBufferBytes: 1 << 20,
  sendBufferBytes: 1 << 20,
  outOfOrderLimitBytes: 1 << 20,
  timeWaitMs: 60_000,
  minRtoMs: 200,
  maxRtoMs: 120_000,
  initialRtoMs: 1000,
  synRetries: 6,
  maxRetries: 15,
  delayedAckMs: 40,
  windowScaling: true,
  timestamps: true,
  sack: true,
  challengeAckPerSecond: 100,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  userTimeoutMs: 0,
  tailLossProbe: true,
};

/** What a connection needs from the TCP instance that owns it. */
export interface ConnectionEnvironment {
  readonly clock: Clock;
  readonly counters: Counters;
  readonly log: Logger;
  readonly config: TcpConfig;
  /** Encode and send one segment now (the host batches it with the rest). */
  transmit(conn: TcpConnection, fields: TcpHeaderFields, payload: Uint8Array): void;
  /** Ask for `conn.output()` at the next flush. */
  requestOutput(conn: TcpConnection): void;
  /** The connection reached CLOSED: forget it. */
  release(conn: TcpConnection): void;
  /** RFC 5961 7: may we send one more challenge ACK now? */
  allowChallengeAck(): boolean;
}

/** The application side of a connection (the socket). */
export interface ConnectionUser {
  onEstablished(): void;
  onData(data: Uint8Array): void;
  /** The peer's FIN arrived in order: no more data. */
  onEof(): void;
  /** Acknowledged data left the send buffer. */
  onSendSpace(): void;
  /** The connection failed (reset, refused, timed out); it is CLOSED now. */
  onError(err: NetError): void;
  /** The host shut down under the connection: close quietly (no 'error'). */
  onShutdown(): void;
  /** Bytes delivered but not yet read by the application (shrinks our window). */
  readonly readableBacklog: number;
}

/** Who a passive connection reports to until it is accepted. */
export interface ConnectionListener {
  onEstablished(conn: TcpConnection): void;
  onAborted(conn: TcpConnection): void;
}

/** What TcpConnection.info() reports (sizes in bytes, times in ms). */
export interface TcpInfo {
  state: TcpState;
  /** Segment size towards the peer (its MSS, at most ours), and the MSS we announced. */
  mss: number;
  advmss: number;
  /** [peer's shift, our shift] when window scaling is on. */
  wscale: [number, number] | undefined;
  sack: boolean;
  timestamps: boolean;
  rtt: number | undefined;
  rttvar: number | undefined;
  rto: number;
  cwnd: number;
  ssthresh: number | undefined;
  inRecovery: boolean;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  rcvNxt: number;
  rcvWnd: number;
  /** Sent, not yet acknowledged; written, not yet sent; held out of order. */
  unacked: number;
  unsent: number;
  outOfOrderBytes: number;
}

export interface FourTuple {
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
}


/**
 * One connection: the transmission control block and the event processing of
 * RFC 9293 3.10 (OPEN, SEND, RECEIVE, CLOSE, ABORT, SEGMENT ARRIVES, timeouts).
 *
 * Input handlers only update state and note what must be said ("ACK now", "data
 * to send"); `output()` runs at the flush after a batch and turns that into
 * segments, so ten arriving segments produce one coalesced ACK (the smoltcp
 * dispatch model). Retransmissions triggered by ACKs go out immediately.
 */
export class TcpConnection {
  /** Never LISTEN: a listening port is a Listener (listener.ts), not a connection. */
  state: TcpState = 'CLOSED';
  user: ConnectionUser | null = null;
  listener: ConnectionListener | null = null;

  // --- Send sequence space (RFC 9293 3.3.1) ---
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent + 1 (SND.NXT can move back for retransmission). */
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer ever offered (sender SWS avoidance, RFC 1122 4.2.3.4). */
  maxSndWnd = 0;
  /** Sequence number of sendBuffer byte 0. */
  private bufSeq = 0;
  readonly sendBuffer = new SendBuffer();
  /** The application called end(): a FIN follows the last byte. */
  finQueued = false;

  // --- Receive sequence space ---
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we last advertised (never moves left, RFC 9293 3.8.6.2.2). */
  private rcvAdvRight = 0;
  private readonly reassembly: ReassemblyQueue;
  /** Sequence number of a FIN that arrived out of order. */
  private rcvFinSeq: number | undefined;
  private eofDelivered = false;

  // --- Negotiated options ---
  /** Largest segment (data + options) the peer accepts. */
  sndMss = DEFAULT_MSS;
  /** The MSS we announce (from our MTU). */
  readonly ourMss: number;
  sndWscale = 0;
  rcvWscale = 0;
  tsOk = false;
  sackOk = false;
  /** Both SYNs carried a window scale option (RFC 7323 2.2). */
  wsOk = false;
  private tsRecent = 0;
  private tsOffset: number;
  private lastAckSent = 0;

  // --- Timers, RTT, congestion ---
  readonly rto: RtoEstimator;
  readonly cc: NewReno;
  private readonly scoreboard = new SackScoreboard();
  private readonly recovery = new SackRecovery();
  private readonly rtxTimer: DeadlineTimer;
  private readonly delackTimer: DeadlineTimer;
  private readonly timeWaitTimer: DeadlineTimer;
  private readonly keepAliveTimer: DeadlineTimer;
  private connectTimer: DeadlineTimer | undefined;
  /** Consecutive expiries of the retransmission timer. */
  private retries = 0;
  /** The retransmission timer is set for a tail loss probe, not the RTO. */
  private probeArmed = false;
  /** A tail loss probe was sent and not yet answered by new acknowledgments. */
  private probeOut = false;
  /** Where the most recent segment of new data started (what a tail loss probe resends). */
  private lastSegmentSeq = 0;
  /** When SND.UNA last moved (or data became outstanding): the user timeout counts from here. */
  private progressAt = 0;
  private dupAcks = 0;
  /**
   * How many segments out of order the path has shown (Linux's tp->reordering): a
   * hole is taken for a loss only when more than this many segments arrived beyond it.
   */
  private reordering = 3;
  /**
   * Eifel detection (RFC 3522) of a spurious fast retransmission: the TSval our
   * retransmission carried, and the window to restore if the ACK shows that the
   * original segment got there first.
   */
  private undo: { tsval: number; seq: number; cwnd: number; ssthresh: number; distance: number } | undefined;
  /** Next hole to retransmit in fast recovery. */
  private rexmitHigh = 0;
  /** Karn: timing one segment when timestamps are off. */
  private rttSeq: number | undefined;
  private rttStart = 0;

  // --- Pending output ---
  private ackNow = false;
  private segsSinceAck = 0;
  /** Persist: send one byte even though the window is closed. */
  private forceProbe = false;
  nagle = true;
  /** End of the last small segment sent (Minshall's Nagle). */
  private sndSml = 0;
  keepAlive = false;
  private keepAliveDelayMs = 7_200_000;
  private keepAliveSent = 0;

  private readonly pendingData: Uint8Array[] = [];
  private pendingEof = false;
  private readonly log: Logger;

  constructor(
    private readonly env: ConnectionEnvironment,
    readonly tuple: FourTuple,
    mtu: number,
    tsOffset: number,
  ) {
    const c = env.config;
    this.ourMss = Math.max(DEFAULT_MSS, mtu - 40);
    this.rto = new RtoEstimator({ minMs: c.minRtoMs, maxMs: c.maxRtoMs, initialMs: c.initialRtoMs });
    this.cc = new NewReno(DEFAULT_MSS);
    this.reassembly = new ReassemblyQueue(c.outOfOrderLimitBytes);
    this.rtxTimer = new DeadlineTimer(env.clock, () => this.onRetransmitTimer());
    this.delackTimer = new DeadlineTimer(env.clock, () => this.onDelayedAckTimer());
    this.timeWaitTimer = new DeadlineTimer(env.clock, () => this.onTimeWaitTimer());
    this.keepAliveTimer = new DeadlineTimer(env.clock, () => this.onKeepAliveTimer());
    this.tsOffset = tsOffset >>> 0;
    this.log = env.log.child({
      conn: `${formatIpv4(tuple.localAddr)}:${tuple.localPort}-${formatIpv4(tuple.remoteAddr)}:${tuple.remotePort}`,
    });
    // Window scale we would offer: the smallest shift that covers the buffer.
    let ws = 0;
    while (ws < MAX_WINDOW_SHIFT && 0xffff * 2 ** ws < c.receiveBufferBytes) ws++;
    this.rcvWscale = c.windowScaling ? ws : 0;
  }

  // ===================================================================== user calls

  /** RFC 9293 3.3.1: SND.UNA = SND.NXT = ISS; the first data byte follows the SYN. */
  private initSendSequence(iss: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.bufSeq = seqAdd(iss, 1);
    // RFC 6582 3.2: "recover" starts at the initial send sequence number.
    this.cc.recover = iss;
  }

  /** RFC 9293 3.10.1 OPEN, active: send a SYN. */
  openActive(iss: number, timeoutMs?: number): void {
    this.initSendSequence(iss);
    this.setState('SYN-SENT');
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.connectTimer = new DeadlineTimer(this.env.clock, () => {
        if (this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED') this.fail('ETIMEDOUT', 'connect timed out');
      });
      this.connectTimer.start(timeoutMs);
    }
    this.env.requestOutput(this);
  }

  /** RFC 9293 3.10.7.2: a SYN reached a listening port; answer with SYN,ACK. */
  openPassive(iss: number, syn: TcpHeader): void {
    this.initSendSequence(iss);
    this.adoptPeerSyn(syn, iss);
    this.setState('SYN-RECEIVED');
    this.env.requestOutput(this);
  }

  /**
   * The peer's SYN synchronizes the receive sequence space (RFC 9293 3.10.7.2 and
   * 3.10.7.3: IRS = SEG.SEQ, RCV.NXT = SEG.SEQ + 1), settles the options and gives
   * the first send window.
   */
  private adoptPeerSyn(syn: TcpHeader, wl2: number): void {
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcvAdvRight = this.rcvNxt;
    this.negotiate(syn);
    this.sndWnd = syn.window; // RFC 7323 2.2: the window in a SYN is never scaled
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = syn.seq;
    this.sndWl2 = wl2;
  }

  /** Attach the socket; data that arrived before it existed is handed over now. */
  attachUser(user: ConnectionUser): void {
    this.user = user;
    for (const d of this.pendingData.splice(0)) user.onData(d);
    if (this.pendingEof) user.onEof();
  }

  /** The socket went away gracefully; the connection finishes on its own. */
  detachUser(): void {
    this.user = null;
  }

  /** RFC 9293 3.10.2 SEND. */
  send(data: Uint8Array): void {
    this.sendBuffer.push(data);
    this.env.requestOutput(this);
  }

  /** Room left in the send buffer. */
  get sendSpace(): number {
    return this.env.config.sendBufferBytes - this.sendBuffer.length;
  }

  /** RFC 9293 3.10.4 CLOSE: queue a FIN after the data already sent. */
  close(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    if (this.state === 'ESTABLISHED') this.setState('FIN-WAIT-1');
    else if (this.state === 'CLOSE-WAIT') this.setState('LAST-ACK');
    // SYN-SENT / SYN-RECEIVED: the FIN is sent once established (see establish()).
    this.env.requestOutput(this);
  }

  /** RFC 9293 3.10.5 ABORT: send a reset (when synchronized) and forget everything. */
  abort(): void {
    if (this.state === 'CLOSED') return;
    if (this.state === 'TIME-WAIT') {
      this.user = null; // TIME-WAIT runs its course; there is nothing left to reset
      return;
    }
    if (this.state !== 'SYN-SENT') {
      this.env.counters.inc('tcp.tx.rst_abort');
      this.sendControl(this.sndMax, 0, TcpFlags.RST | TcpFlags.ACK);
    }
    this.user = null;
    this.enterClosed();
  }

  /** The host is closing: abort (RST when synchronized), or just end TIME-WAIT. */
  shutdown(): void {
    const user = this.user;
    if (this.state === 'TIME-WAIT') {
      this.endTimeWait();
      return;
    }
    this.abort();
    user?.onShutdown();
  }

  /**
   * End TIME-WAIT now: the host is closing, or a new connection takes over the same
   * pair (as Linux allows when the new ISN or timestamps are above the old ones). Its
   * timer stops with it, so the old connection leaves no trace behind.
   */
  endTimeWait(): void {
    if (this.state !== 'TIME-WAIT') return;
    this.user = null;
    this.enterClosed();
  }

  /** The application read data: open the window again if it had shrunk (RFC 1122 4.2.3.3). */
  onAppRead(): void {
    if (!isSynchronized(this.state) && this.state !== 'SYN-RECEIVED') return;
    const advertised = seqDiff(this.rcvAdvRight, this.rcvNxt);
    const free = Math.min(this.freeReceiveSpace(), 0xffff * 2 ** this.rcvWscale);
    if (free - advertised >= this.swsThreshold && (advertised < this.ourMss || free >= 2 * advertised)) {
      this.env.counters.inc('tcp.tx.window_update');
      this.ackNow = true;
      this.env.requestOutput(this);
    }
  }

  setKeepAlive(enable: boolean, initialDelayMs: number): void {
    this.keepAlive = enable;
    if (initialDelayMs > 0) this.keepAliveDelayMs = initialDelayMs;
    if (enable && isSynchronized(this.state)) this.keepAliveTimer.start(this.keepAliveDelayMs);
    if (!enable) this.keepAliveTimer.stop();
  }

  // ===================================================================== arrivals

  /** RFC 9293 3.10.7: SEGMENT ARRIVES for a connection that is not LISTEN/CLOSED. */
  segmentArrives(h: TcpHeader, payload: Uint8Array): void {
    const c = this.env.counters;
    if (this.state === 'SYN-SENT') {
      this.synSentArrives(h, payload);
      return;
    }
    if (this.state === 'CLOSED') return;
    if (this.keepAlive) {
      this.keepAliveSent = 0;
      this.keepAliveTimer.start(this.keepAliveDelayMs);
    }
    const syn = (h.flags & TcpFlags.SYN) !== 0;
    const rst = (h.flags & TcpFlags.RST) !== 0;
    const fin = (h.flags & TcpFlags.FIN) !== 0;

    // The peer's SYN again, in SYN-RECEIVED.
    if (this.state === 'SYN-RECEIVED' && syn && !rst && h.seq === this.irs) {
      if (!(h.flags & TcpFlags.ACK)) {
        // A retransmitted SYN: our SYN,ACK was lost; send it again.
        c.inc('tcp.rx.syn_retransmit');
        this.sndNxt = this.iss;
        this.env.requestOutput(this);
        return;
      }
      if (!this.listener) {
        // Simultaneous open (RFC 9293 figure 7, line 6): the peer's SYN,ACK repeats its
        // SYN; take it as the ACK of ours (its SYN was already counted in RCV.NXT).
        this.segmentArrives({ ...h, seq: seqAdd(h.seq, 1), flags: h.flags & ~TcpFlags.SYN }, payload);
        return;
      }
    }

    // RFC 7323 5.3: PAWS, reject old duplicates by their timestamp.
    const ts = h.options.timestamp;
    if (this.tsOk && ts && !rst && this.tsRecent !== 0 && seqLt(ts.value, this.tsRecent)) {
      c.inc('tcp.rx.drop.paws');
      this.ackNow = true;
      this.env.requestOutput(this);
      return;
    }

    // First: sequence number check (RFC 9293 3.10.7.4).
    const segLen = payload.length + (syn ? 1 : 0) + (fin ? 1 : 0);
    const rcvWnd = this.rcvWnd;
    if (!segmentAcceptable(h.seq, segLen, this.rcvNxt, rcvWnd)) {
      if (!(rcvWnd === 0 && h.seq === this.rcvNxt && !rst)) {
        c.inc('tcp.rx.drop.unacceptable');
        if (this.state === 'TIME-WAIT' && fin) this.timeWaitTimer.start(this.env.config.timeWaitMs);
        if (!rst) {
          // RFC 9293 3.10.7.4: answer an unacceptable segment with an ACK.
          this.ackNow = true;
          this.env.requestOutput(this);
        }
        return;
      }
      // Zero window: keep the ACK, RST and window of the segment but not its data.
      c.inc('tcp.rx.drop.zero_window_data');
      payload = payload.subarray(0, 0);
      this.ackNow = true;
      this.env.requestOutput(this);
    }

    // RFC 7323 4.3: remember the timestamp to echo.
    if (this.tsOk && ts && seqLe(h.seq, this.lastAckSent) && seqGe(ts.value, this.tsRecent)) this.tsRecent = ts.value;

    // Second: RST (RFC 9293 3.10.7.4 with RFC 5961 3.2).
    if (rst) {
      if (h.seq !== this.rcvNxt) {
        this.challengeAck('rst_in_window');
        return;
      }
      c.inc('tcp.rx.rst');
      this.onReset();
      return;
    }

    // Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK.
    if (syn) {
      this.challengeAck('syn_in_window');
      return;
    }

    // Fifth: the ACK field.
    if (!(h.flags & TcpFlags.ACK)) {
      c.inc('tcp.rx.drop.no_ack');
      return;
    }
    if (this.state === 'SYN-RECEIVED') {
      if (seqLt(this.sndUna, h.ack) && seqLe(h.ack, this.sndMax)) {
        this.sndWnd = h.window << this.sndWscale;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.sndWl1 = h.seq;
        this.sndWl2 = h.ack;
        this.establish();
      } else {
        c.inc('tcp.tx.rst_bad_ack');
        this.sendControl(h.ack, 0, TcpFlags.RST);
        return;
      }
    }
    if (!this.processAck(h, payload.length)) return;
    const after = this.state as TcpState; // processAck may have moved the state
    if (after === 'CLOSED' || after === 'TIME-WAIT') {
      if (after === 'TIME-WAIT' && fin) {
        // RFC 9293 3.10.7.4: a retransmitted FIN in TIME-WAIT is acked and restarts 2 MSL.
        this.ackNow = true;
        this.timeWaitTimer.start(this.env.config.timeWaitMs);
        this.env.requestOutput(this);
      }
      return;
    }

    // Seventh: the segment text.
    if (payload.length > 0) {
      if (canReceiveData(this.state)) this.receiveData(h.seq, payload);
      else c.inc('tcp.rx.drop.data_after_fin');
    }

    // Eighth: FIN.
    if (fin) {
      const finSeq = seqAdd(h.seq, payload.length);
      if (finSeq === this.rcvNxt) this.receiveFin();
      else if (seqGt(finSeq, this.rcvNxt)) this.rcvFinSeq = finSeq;
    }
  }

  /** RFC 9293 3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
  private synSentArrives(h: TcpHeader, payload: Uint8Array): void {
    const c = this.env.counters;
    const hasAck = (h.flags & TcpFlags.ACK) !== 0;
    if (hasAck && (seqLe(h.ack, this.iss) || seqGt(h.ack, this.sndMax))) {
      c.inc('tcp.rx.drop.bad_ack_syn_sent');
      if (!(h.flags & TcpFlags.RST)) this.sendControl(h.ack, 0, TcpFlags.RST);
      return;
    }
    if (h.flags & TcpFlags.RST) {
      if (hasAck) {
        c.inc('tcp.rx.rst_refused');
        this.fail('ECONNREFUSED', `connection refused by ${formatIpv4(this.tuple.remoteAddr)}:${this.tuple.remotePort}`);
      }
      return;
    }
    if (!(h.flags & TcpFlags.SYN)) return;
    this.adoptPeerSyn(h, h.ack);
    if (hasAck) {
      this.ackReceived(h.ack, h);
      this.ackNow = true;
      this.establish();
      if (payload.length > 0) this.receiveData(seqAdd(h.seq, 1), payload);
      if (h.flags & TcpFlags.FIN && seqAdd(h.seq, 1 + payload.length) === this.rcvNxt) this.receiveFin();
    } else {
      // Simultaneous open (RFC 9293 3.5 figure 7): answer SYN,ACK from SYN-RECEIVED.
      c.inc('tcp.simultaneous_open');
      this.setState('SYN-RECEIVED');
      this.sndNxt = this.iss;
    }
    this.env.requestOutput(this);
  }

  /** Fifth step for synchronized states; returns false when the segment must be dropped. */
  private processAck(h: TcpHeader, dataLen: number): boolean {
    const c = this.env.counters;
    const ack = h.ack;
    if (seqGt(ack, this.sndMax)) {
      // RFC 9293 3.10.7.4: an ACK for something not yet sent: ACK and drop.
      c.inc('tcp.rx.drop.ack_unsent');
      this.ackNow = true;
      this.env.requestOutput(this);
      return false;
    }
    // RFC 5961 5.2: an ACK far below SND.UNA is suspicious.
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      this.challengeAck('old_ack');
      return false;
    }
    let newlySacked = false;
    if (this.sackOk && h.options.sack) {
      const before = this.scoreboard.sackedBetween(this.sndUna, this.sndMax);
      this.scoreboard.update(h.options.sack, this.sndUna, this.sndMax);
      newlySacked = this.scoreboard.sackedBetween(this.sndUna, this.sndMax) > before;
    }

    const oldWnd = this.sndWnd;
    // RFC 9293 3.10.7.4: update the send window from the newest segment only.
    if (seqLt(this.sndWl1, h.seq) || (this.sndWl1 === h.seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = h.window << this.sndWscale;
      this.sndWl1 = h.seq;
      this.sndWl2 = ack;
      if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
      if (this.sndWnd > oldWnd) this.env.requestOutput(this);
    }

    // The peer answers our zero-window probes: it is alive, so the probes do not
    // count towards giving up (as Linux resets icsk_probes_out on every ACK).
    if (this.sndWnd === 0 && this.retries > 0) this.retries = 0;

    if (seqGt(ack, this.sndUna)) {
      this.ackReceived(ack, h);
    } else if (
      ack === this.sndUna &&
      this.sndMax !== this.sndUna &&
      // RFC 5681 2 "duplicate acknowledgment"; with SACK (RFC 6675 2) any ACK that
      // reports new SACKed data counts, even if it carries data or a new window.
      // Answers to zero-window probes are not duplicate ACKs.
      (newlySacked || (dataLen === 0 && !(h.flags & (TcpFlags.SYN | TcpFlags.FIN)) && this.sndWnd === oldWnd && this.sndWnd > 0))
    ) {
      this.onDuplicateAck();
    }

    // State changes when our FIN is acknowledged (RFC 9293 3.10.7.4).
    if (this.finQueued && this.finAcked()) {
      switch (this.state) {
        case 'FIN-WAIT-1':
          this.setState('FIN-WAIT-2');
          if (!this.user) this.timeWaitTimer.start(this.env.config.timeWaitMs); // orphan FIN-WAIT-2 timeout
          break;
        case 'CLOSING':
          this.enterTimeWait();
          break;
        case 'LAST-ACK':
          this.enterClosed();
          return false;
        default:
          break;
      }
    }
    return true;
  }

  /** New data acknowledged: free the buffer, sample the RTT, grow cwnd. */
  private ackReceived(ack: number, h: TcpHeader): void {
    const c = this.env.counters;
    const acked = seqDiff(ack, this.sndUna);
    const flightBefore = seqDiff(this.sndMax, this.sndUna);
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.bufSeq)), this.sendBuffer.length);
    if (dataAcked > 0) {
      this.sendBuffer.consume(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.scoreboard.advance(ack);

    // RTT: from the echoed timestamp (RFC 7323 4.1), or the timed segment (Karn).
    const ts = h.options.timestamp;
    if (this.tsOk && ts && ts.echo !== 0) {
      this.rto.sample(seqDiff(this.tsNow(), ts.echo));
    } else if (this.rttSeq !== undefined && seqGe(ack, this.rttSeq)) {
      this.rto.sample(this.env.clock.now() - this.rttStart);
      this.rttSeq = undefined;
    }
    this.retries = 0;
    this.progressAt = this.env.clock.now();

    if (this.undo && seqGt(ack, this.undo.seq)) this.checkSpuriousRetransmit(ack, ts?.echo);

    if (this.cc.inRecovery) {
      if (seqGe(ack, this.cc.recover)) {
        this.cc.onFullAck(seqDiff(this.sndMax, this.sndUna));
        this.log.debug({ cwnd: this.cc.cwnd, ssthresh: this.cc.ssthresh }, 'fast recovery done');
        this.dupAcks = 0;
      } else {
        // RFC 6582 3.2 step 5: partial ACK, retransmit the next unacknowledged segment.
        c.inc('tcp.rx.partial_ack');
        if (this.sackOk) {
          // RFC 6675: pipe decides in output(); no window deflation.
          this.recovery.advance(this.sndUna);
        } else {
          this.cc.onPartialAck(acked);
          if (seqGe(this.sndUna, this.rexmitHigh)) this.retransmitHole(this.sndUna);
        }
      }
    } else {
      this.dupAcks = 0;
      if (dataAcked > 0) this.cc.onAck(Math.min(dataAcked, flightBefore)); // the SYN and FIN do not grow cwnd
      this.maybeEnterSackRecovery();
    }

    this.probeOut = false;
    if (this.sndUna === this.sndMax) {
      this.rtxTimer.stop();
      this.probeArmed = false;
      this.forceProbe = false;
    } else {
      this.armRetransmitTimer(true); // RFC 6298 5.3 (or a tail loss probe)
    }
    if (dataAcked > 0) {
      this.user?.onSendSpace();
      this.env.requestOutput(this);
    }
  }

  private onDuplicateAck(): void {
    const c = this.env.counters;
    c.inc('tcp.rx.dup_ack');
    this.dupAcks++;
    if (this.cc.inRecovery) {
      if (!this.sackOk) this.cc.onDupAckInRecovery();
      this.env.requestOutput(this);
      return;
    }
    // RFC 6582 4.1: only start a new recovery once the previous one is passed.
    if (this.dupAcks === this.dupThresh() && seqGe(this.sndUna, this.cc.recover)) this.enterRecovery();
    else this.maybeEnterSackRecovery();
  }

  /**
   * Duplicate ACKs that signal a loss: 3 (RFC 5681), fewer when so little is in
   * flight that three could never come back (early retransmit, RFC 5827).
   */
  private dupThresh(): number {
    const segments = Math.ceil(seqDiff(this.sndMax, this.sndUna) / this.cc.mss);
    return Math.max(1, Math.min(this.reordering, segments - 1));
  }

  /**
   * RFC 6675 5 (IsLost(SND.UNA)): with SACK, recovery also starts when three
   * segments' worth of data above SND.UNA was SACKed, even if duplicate ACKs were lost.
   */
  private maybeEnterSackRecovery(): void {
    if (!this.sackOk || this.cc.inRecovery || this.scoreboard.isEmpty || !seqGe(this.sndUna, this.cc.recover)) return;
    // RFC 6675 4 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above it.
    if (this.scoreboard.sackedBetween(this.sndUna, this.sndMax) > (this.dupThresh() - 1) * this.cc.mss) this.enterRecovery();
  }

  private enterRecovery(): void {
    this.env.counters.inc('tcp.retransmit.fast');
    if (this.tsOk) {
      const highest = this.scoreboard.highest;
      this.undo = {
        tsval: this.tsNow(),
        seq: this.sndUna,
        cwnd: this.cc.cwnd,
        ssthresh: this.cc.ssthresh,
        distance: Math.ceil(Math.max(0, highest === undefined ? 0 : seqDiff(highest, this.sndUna)) / this.cc.mss),
      };
    }
    this.cc.enterRecovery(seqDiff(this.sndMax, this.sndUna), this.sndMax, this.sackOk);
    this.log.debug({ cwnd: this.cc.cwnd, ssthresh: this.cc.ssthresh }, 'fast retransmit, enter recovery');
    this.rexmitHigh = this.sndUna;
    this.rttSeq = undefined;
    this.recovery.reset();
    this.probeArmed = false;
    this.rtxTimer.start(this.rto.rto);
    // RFC 5681 3.2 step 3 / RFC 6675 5 (4.2): the first unacknowledged segment goes now.
    const len = this.retransmitHole(this.sndUna);
    if (this.sackOk && len > 0) this.recovery.record(this.sndUna, len, this.sndMax);
    this.env.requestOutput(this);
  }

  /**
   * RFC 3522 (Eifel): the first ACK for the fast-retransmitted segment echoes the
   * TSval of the segment that filled the hole. If that is older than the
   * retransmission, the original arrived after all: it was reordering, not loss. Undo
   * the window reduction and tolerate that much reordering from now on (RFC 4015 in
   * spirit; Linux does the same with tp->reordering).
   */
  private checkSpuriousRetransmit(ack: number, echo: number | undefined): void {
    const undo = this.undo!;
    this.undo = undefined;
    if (echo === undefined || echo === 0 || !seqLt(echo, undo.tsval) || !this.cc.inRecovery) return;
    this.env.counters.inc('tcp.retransmit.spurious');
    this.cc.inRecovery = false;
    this.cc.recover = ack;
    this.cc.ssthresh = undo.ssthresh;
    this.cc.cwnd = Math.max(this.cc.cwnd, undo.cwnd);
    this.recovery.reset();
    this.dupAcks = 0;
    this.reordering = Math.min(Math.max(this.reordering, undo.distance + 1), 64);
    this.log.debug({ cwnd: this.cc.cwnd, reordering: this.reordering }, 'spurious fast retransmit undone');
  }

  /** Send one segment starting at `seq` without moving SND.NXT; returns its length. */
  private retransmitHole(seq: number, maxLen = Number.MAX_SAFE_INTEGER): number {
    seq = this.scoreboard.skip(seq);
    if (seqGe(seq, this.sndMax)) return 0;
    const c = this.env.counters;
    const offset = seqDiff(seq, this.bufSeq);
    const dataLeft = this.sendBuffer.length - offset;
    let limit = Math.min(maxLen, this.maxPayload(true));
    const nextSacked = this.scoreboard.nextSacked(seq);
    if (nextSacked !== undefined) limit = Math.min(limit, Math.max(1, seqDiff(nextSacked, seq)));
    const len = Math.max(0, Math.min(limit, dataLeft, seqDiff(this.sndMax, seq)));
    const fin = this.finSent && offset + len === this.sendBuffer.length;
    if (len === 0 && !fin) return 0;
    c.inc('tcp.retransmit.segments');
    c.inc('tcp.retransmit.bytes', len);
    this.sendData(seq, this.sendBuffer.read(offset, len), fin);
    this.rexmitHigh = seqMax(this.rexmitHigh, seqAdd(seq, len + (fin ? 1 : 0)));
    this.rtxTimer.ensure(this.rto.rto);
    return len + (fin ? 1 : 0);
  }

  private receiveData(seq: number, payload: Uint8Array): void {
    const c = this.env.counters;
    // Trim what we already have (left) and what is beyond the window (right).
    if (seqLt(seq, this.rcvNxt)) {
      const skip = seqDiff(this.rcvNxt, seq);
      c.inc('tcp.rx.duplicate_bytes', Math.min(skip, payload.length));
      payload = payload.subarray(skip);
      seq = this.rcvNxt;
    }
    const room = seqDiff(this.rcvAdvRight, seq);
    if (payload.length > room) {
      c.inc('tcp.rx.drop.beyond_window_bytes', payload.length - Math.max(0, room));
      payload = payload.subarray(0, Math.max(0, room));
    }
    if (payload.length === 0) return;

    if (seq !== this.rcvNxt) {
      // Out of order: queue it and ACK at once (a duplicate ACK with SACK, RFC 5681 4.2).
      const added = this.reassembly.insert(seq, payload);
      if (added < 0) c.inc('tcp.rx.drop.ooo_queue_full');
      else c.inc('tcp.rx.out_of_order_bytes', added);
      c.inc('tcp.rx.out_of_order_segments');
      this.ackNow = true;
      this.env.requestOutput(this);
      return;
    }
    this.deliver(payload);
    if (!this.reassembly.empty) {
      const { chunks, next } = this.reassembly.take(this.rcvNxt);
      if (chunks.length > 0) {
        // Filling a hole: ACK immediately (RFC 5681 4.2).
        this.ackNow = true;
        for (const ch of chunks) this.deliver(ch);
        this.rcvNxt = next;
      }
    }
    if (this.rcvFinSeq !== undefined && this.rcvFinSeq === this.rcvNxt) this.receiveFin();

    // RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK at least every second full-sized segment,
    // otherwise within the delayed-ACK timeout.
    this.segsSinceAck++;
    if (this.segsSinceAck >= 2 || !this.reassembly.empty) this.ackNow = true;
    else this.delackTimer.ensure(this.env.config.delayedAckMs);
    this.env.requestOutput(this);
  }

  private deliver(data: Uint8Array): void {
    this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    if (this.user) this.user.onData(data);
    else this.pendingData.push(data);
  }

  private receiveFin(): void {
    if (this.eofDelivered) return;
    this.eofDelivered = true;
    this.rcvFinSeq = undefined;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.env.counters.inc('tcp.rx.fin');
    this.ackNow = true;
    this.env.requestOutput(this);
    switch (this.state) {
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        this.setState('CLOSE-WAIT');
        break;
      case 'FIN-WAIT-1':
        if (this.finAcked()) this.enterTimeWait();
        else this.setState('CLOSING');
        break;
      case 'FIN-WAIT-2':
        this.enterTimeWait();
        break;
      default:
        break;
    }
    if (this.user) this.user.onEof();
    else this.pendingEof = true;
  }

  private onReset(): void {
    switch (this.state) {
      case 'SYN-RECEIVED':
        if (this.listener) {
          // RFC 9293 3.10.7.4: a passive open returns to LISTEN (the listener keeps going).
          this.listener.onAborted(this);
          this.enterClosed();
          return;
        }
        this.fail('ECONNREFUSED', 'connection refused');
        return;
      case 'ESTABLISHED':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSE-WAIT':
        this.fail('ECONNRESET', 'connection reset by peer');
        return;
      case 'TIME-WAIT':
        // RFC 1337: ignore RSTs in TIME-WAIT (no assassination).
        this.env.counters.inc('tcp.rx.drop.rst_time_wait');
        return;
      default:
        this.enterClosed();
    }
  }

  private challengeAck(reason: string): void {
    const c = this.env.counters;
    c.inc(`tcp.rx.challenge.${reason}`);
    if (!this.env.allowChallengeAck()) {
      c.inc('tcp.tx.challenge_ack_suppressed');
      return;
    }
    c.inc('tcp.tx.challenge_ack');
    this.sendAck();
  }

  // ===================================================================== options

  /** Adopt what the peer's SYN (or SYN,ACK) agreed to (see negotiate.ts). */
  private negotiate(syn: TcpHeader): void {
    const n = negotiateOptions(syn.options, this.ourMss, this.env.config);
    this.sndMss = n.sndMss;
    this.wsOk = n.wsOk;
    this.sndWscale = n.sndWscale;
    if (!n.wsOk) this.rcvWscale = 0; // RFC 7323 2.2: scaling is both ways or not at all
    this.sackOk = n.sackOk;
    this.tsOk = n.tsOk;
    if (this.tsOk) this.tsRecent = syn.options.timestamp!.value;
    // The congestion window counts data bytes: the MSS less the per-segment options.
    this.cc.setMss(this.maxPayload(false));
  }

  private synOptions(): TcpOptions {
    const cfg = this.env.config;
    const o: TcpOptions = { mss: this.ourMss };
    const offerAll = this.state === 'SYN-SENT';
    if (cfg.sack && (offerAll || this.sackOk)) o.sackPermitted = true;
    if (cfg.timestamps && (offerAll || this.tsOk)) o.timestamp = { value: this.tsNow(), echo: offerAll ? 0 : this.tsRecent };
    if (cfg.windowScaling && (offerAll || this.wsOk)) o.windowScale = this.rcvWscale;
    return o;
  }

  private tsNow(): number {
    return (Math.floor(this.env.clock.now()) + this.tsOffset) >>> 0;
  }

  /** Data bytes per segment: the MSS less the options every segment carries. */
  private maxPayload(withSack: boolean): number {
    let n = this.sndMss - (this.tsOk ? 12 : 0);
    if (withSack && this.sackOk && !this.reassembly.empty) n -= 4 + 8 * this.reassembly.blockCount(this.tsOk ? 3 : 4);
    return Math.max(1, n);
  }

  private get finSeq(): number {
    return seqAdd(this.bufSeq, this.sendBuffer.length);
  }

  /** Our FIN went out (it takes the sequence number after the last data byte). */
  private get finSent(): boolean {
    return this.finQueued && seqLt(this.finSeq, this.sndMax);
  }

  private finAcked(): boolean {
    return this.finQueued && seqGt(this.sndUna, this.finSeq);
  }

  // ===================================================================== output

  /**
   * Send whatever is due: a SYN, data the windows allow (Nagle and sender SWS
   * avoidance applied), a FIN riding on the last data segment, or a bare ACK.
   * Called at flush time, so one batch of arrivals gets one ACK.
   */
  output(): void {
    const st = this.state;
    if (st === 'CLOSED') return;
    if (st === 'SYN-SENT' || st === 'SYN-RECEIVED') {
      if (this.sndNxt === this.iss) {
        const flags = st === 'SYN-SENT' ? TcpFlags.SYN : TcpFlags.SYN | TcpFlags.ACK;
        this.transmit(this.iss, flags, this.synOptions(), EMPTY);
        this.sndNxt = seqAdd(this.iss, 1);
        this.sndMax = seqMax(this.sndMax, this.sndNxt);
        this.rtxTimer.ensure(this.rto.rto);
      }
      return;
    }
    if (st === 'TIME-WAIT') {
      if (this.ackNow) this.sendAck();
      return;
    }
    let sent = false;
    const mss = this.maxPayload(true);
    // RFC 6675 5 (C): in SACK recovery, send while cwnd - pipe allows one segment,
    // lost holes first, then new data.
    const sackRecovery = this.sackOk && this.cc.inRecovery;
    let pipe = 0;
    if (sackRecovery) {
      pipe = this.recovery.pipe(this.scoreboard, this.sndUna, this.sndMax);
      // (The round limit only guards against pathological fragmentation.)
      for (let round = 0; round < 256 && this.cc.cwnd - pipe >= mss; round++) {
        const next = this.recovery.next(this.scoreboard, this.sndUna, mss);
        if (!next) break;
        const len = this.retransmitHole(next.seq, next.len);
        if (len === 0) break;
        if (next.again) this.env.counters.inc('tcp.retransmit.lost_retransmit');
        this.recovery.record(next.seq, len, this.sndMax);
        pipe += len;
        sent = true;
      }
    }
    for (;;) {
      if (seqLt(this.sndNxt, this.sndMax)) {
        const skipped = this.scoreboard.skip(this.sndNxt);
        if (skipped !== this.sndNxt) this.sndNxt = seqLt(skipped, this.sndMax) ? skipped : this.sndMax;
      }
      const offset = seqDiff(this.sndNxt, this.bufSeq);
      const unsent = this.sendBuffer.length - offset; // may be -1 after the FIN
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const cwndLeft = sackRecovery ? this.cc.cwnd - pipe : this.cc.cwnd - inFlight;
      let usable = Math.min(this.sndWnd - inFlight, cwndLeft);
      if (this.forceProbe && usable < 1 && unsent > 0) usable = 1;
      let len = Math.max(0, Math.min(mss, unsent, usable));
      const retransmitting = seqLt(this.sndNxt, this.sndMax);
      if (retransmitting) {
        const nextSacked = this.scoreboard.nextSacked(this.sndNxt);
        if (nextSacked !== undefined) len = Math.min(len, Math.max(0, seqDiff(nextSacked, this.sndNxt)));
      }
      // The FIN rides on the segment that carries the last byte (or goes alone).
      const fin = this.finQueued && unsent >= 0 && len === unsent;
      if (len === 0 && !fin) break;
      if (!retransmitting && !fin && len < mss && !this.forceProbe) {
        if (len < unsent) {
          // Sender SWS avoidance (RFC 1122 4.2.3.4): a window-limited runt waits
          // unless it is at least half the largest window the peer offered.
          if (len < this.maxSndWnd / 2 && inFlight > 0) break;
        } else if (this.nagle && inFlight > 0 && seqGt(this.sndSml, this.sndUna)) {
          // Nagle (RFC 9293 3.7.4), in Minshall's variant as Linux: hold a small
          // segment while an earlier small segment is still unacknowledged.
          break;
        }
      }
      this.forceProbe = false;
      const data = this.sendBuffer.read(offset, len);
      if (retransmitting) {
        this.env.counters.inc('tcp.retransmit.segments');
        this.env.counters.inc('tcp.retransmit.bytes', len);
      } else if (len > 0 && !this.tsOk && this.rttSeq === undefined && this.retries === 0) {
        this.rttSeq = seqAdd(this.sndNxt, len);
        this.rttStart = this.env.clock.now();
      }
      if (this.sndUna === this.sndMax) this.progressAt = this.env.clock.now();
      if (!retransmitting) this.lastSegmentSeq = this.sndNxt;
      this.sendData(this.sndNxt, data, fin);
      sent = true;
      pipe += len;
      if (len < mss) this.sndSml = seqAdd(this.sndNxt, len);
      this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      this.armRetransmitTimer(false);
      if (fin) break;
    }
    // Zero window with data waiting and nothing in flight: the retransmission timer
    // doubles as the persist timer (RFC 9293 3.8.6.1).
    if (this.sndWnd === 0 && this.sendBuffer.length > seqDiff(this.sndNxt, this.bufSeq) && this.sndUna === this.sndMax) {
      this.rtxTimer.ensure(this.rto.rto);
    }
    if (this.ackNow && !sent) this.sendAck();
  }

  private sendData(seq: number, data: Uint8Array, fin: boolean): void {
    let flags = TcpFlags.ACK;
    if (data.length > 0 && seqDiff(seqAdd(seq, data.length), this.bufSeq) === this.sendBuffer.length) flags |= TcpFlags.PSH;
    if (fin) flags |= TcpFlags.FIN;
    this.transmit(seq, flags, this.dataOptions(), data);
  }

  private sendAck(): void {
    // SND.MAX, not SND.NXT: while we go back to retransmit, SND.NXT points at old
    // sequence numbers, and a bare ACK carrying one would be unacceptable to the peer
    // (RFC 9293 3.10.7.4 first check) and dropped with its acknowledgment.
    this.transmit(this.sndMax, TcpFlags.ACK, this.dataOptions(), EMPTY);
  }

  private dataOptions(): TcpOptions | undefined {
    let o: TcpOptions | undefined;
    if (this.tsOk) o = { timestamp: { value: this.tsNow(), echo: this.tsRecent } };
    if (this.sackOk && !this.reassembly.empty) {
      o ??= {};
      o.sack = this.reassembly.sackBlocks(this.tsOk ? 3 : 4);
    }
    return o;
  }

  /** Every segment of a synchronized connection carries our ACK and window. */
  private transmit(seq: number, flags: number, options: TcpOptions | undefined, payload: Uint8Array): void {
    let window = 0;
    let ack = 0;
    if (flags & TcpFlags.ACK) {
      ack = this.rcvNxt;
      window = this.advertiseWindow(flags & TcpFlags.SYN ? 0 : this.rcvWscale);
      this.lastAckSent = ack;
      this.ackNow = false;
      this.segsSinceAck = 0;
      this.delackTimer.stop();
    }
    if (flags & TcpFlags.SYN && !(flags & TcpFlags.ACK)) window = Math.min(0xffff, this.env.config.receiveBufferBytes);
    this.env.counters.inc('tcp.tx.segments');
    this.env.transmit(
      this,
      { srcPort: this.tuple.localPort, dstPort: this.tuple.remotePort, seq, ack, flags, window, options },
      payload,
    );
  }

  /** RCV.WND: what is left of the window we last advertised. */
  private get rcvWnd(): number {
    return Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
  }

  /** Receiver SWS avoidance (RFC 1122 4.2.3.3): open the window in steps of at least min(buffer/2, MSS). */
  private get swsThreshold(): number {
    return Math.min(this.env.config.receiveBufferBytes / 2, this.ourMss);
  }

  private freeReceiveSpace(): number {
    const backlog = this.user ? this.user.readableBacklog : this.pendingData.reduce((n, d) => n + d.length, 0);
    return Math.max(0, this.env.config.receiveBufferBytes - backlog);
  }

  /**
   * The window field: free buffer space, moved right only in steps of at least
   * min(buffer/2, MSS) (receiver SWS avoidance, RFC 1122 4.2.3.3), never shrunk.
   */
  private advertiseWindow(shift: number): number {
    const free = this.freeReceiveSpace();
    const current = this.rcvWnd;
    let wnd = free - current >= this.swsThreshold ? free : current;
    wnd = Math.min(wnd, 0xffff * 2 ** shift);
    const field = Math.floor(wnd / 2 ** shift);
    const right = seqAdd(this.rcvNxt, field * 2 ** shift);
    if (seqGt(right, this.rcvAdvRight)) this.rcvAdvRight = right;
    if (field === 0) this.env.counters.inc('tcp.tx.zero_window');
    return field;
  }

  /** A segment outside the normal flow: RST or bare control, with our current numbers. */
  private sendControl(seq: number, ack: number, flags: number): void {
    this.env.counters.inc('tcp.tx.segments');
    if (flags & TcpFlags.RST) this.env.counters.inc('tcp.tx.rst');
    this.env.transmit(
      this,
      { srcPort: this.tuple.localPort, dstPort: this.tuple.remotePort, seq, ack: flags & TcpFlags.ACK ? this.rcvNxt : ack, flags, window: 0 },
      EMPTY,
    );
  }

  // ===================================================================== timers

  private onRetransmitTimer(): void {
    const c = this.env.counters;
    const st = this.state;
    if (st === 'CLOSED' || st === 'TIME-WAIT') return;
    // Not synchronized here means SYN-SENT or SYN-RECEIVED: our SYN is outstanding.
    const synchronized = isSynchronized(st);
    if (this.sndUna === this.sndMax && !(this.sndWnd === 0 && this.sendBuffer.length > 0)) return;

    if (this.sndWnd === 0 && synchronized && this.sendBuffer.length > 0 && seqDiff(this.sndMax, this.sndUna) <= 1) {
      // Persist timer: probe the closed window with one byte (RFC 9293 3.8.6.1).
      c.inc('tcp.tx.window_probe');
      this.retries++;
      if (this.retries > this.env.config.maxRetries) {
        this.fail('ETIMEDOUT', 'peer window stayed closed');
        return;
      }
      this.rto.backoff();
      this.sndNxt = this.sndUna;
      this.forceProbe = true;
      this.env.requestOutput(this);
      return;
    }

    const userTimeout = this.env.config.userTimeoutMs;
    if (userTimeout > 0 && synchronized && this.env.clock.now() - this.progressAt >= userTimeout) {
      c.inc('tcp.timeout.user_timeout');
      this.fail('ETIMEDOUT', `data unacknowledged for ${userTimeout} ms (user timeout)`);
      return;
    }
    if (this.probeArmed) {
      this.sendTailLossProbe();
      return;
    }
    this.retries++;
    const limit = synchronized ? this.env.config.maxRetries : this.env.config.synRetries;
    if (this.retries > limit) {
      c.inc('tcp.timeout.retries_exhausted');
      this.fail('ETIMEDOUT', `no answer after ${limit} retransmissions`);
      return;
    }
    c.inc(synchronized ? 'tcp.retransmit.rto' : 'tcp.retransmit.syn');
    const flight = seqDiff(this.sndMax, this.sndUna);
    if (synchronized) {
      this.cc.onRto(flight, this.sndMax);
      // A second timeout in a row: the peer may have dropped what it SACKed (RFC 2018 8).
      if (this.rto.backoffs >= 1) this.scoreboard.clear();
    }
    this.rto.backoff();
    this.log.debug({ rto: this.rto.rto, cwnd: this.cc.cwnd, ssthresh: this.cc.ssthresh, retries: this.retries }, 'retransmission timeout');
    this.rttSeq = undefined; // Karn's rule
    this.dupAcks = 0;
    this.probeOut = false;
    this.undo = undefined;
    this.sndNxt = this.sndUna; // go back N (= ISS while our SYN is unacknowledged)
    this.rexmitHigh = this.sndUna;
    this.recovery.reset();
    this.rtxTimer.start(this.rto.rto);
    this.env.requestOutput(this);
  }

  /**
   * Arm the retransmission timer: for a tail loss probe when one is allowed (RFC 8985
   * 7.2: about two RTTs, plus the peer's delayed-ACK time when one segment is out),
   * else for the RTO. `restart` moves a running timer; otherwise a running one stays.
   */
  private armRetransmitTimer(restart: boolean): void {
    const pto = this.probeTimeout();
    if (pto !== undefined) {
      // RFC 8985 7.2: the PTO is rescheduled whenever new data goes out.
      this.probeArmed = true;
      this.rtxTimer.start(pto);
      return;
    }
    if (restart || !this.rtxTimer.running || this.probeArmed) {
      this.probeArmed = false;
      this.rtxTimer.start(this.rto.rto);
    }
  }

  private probeTimeout(): number | undefined {
    const srtt = this.rto.srtt;
    if (
      !this.env.config.tailLossProbe ||
      srtt === undefined ||
      this.probeOut ||
      this.retries > 0 ||
      this.cc.inRecovery ||
      this.sndWnd === 0 ||
      !isSynchronized(this.state)
    ) {
      return undefined;
    }
    let pto = 2 * srtt;
    if (seqDiff(this.sndMax, this.sndUna) <= this.cc.mss) pto += 200; // the peer may delay its ACK
    return Math.min(Math.max(pto, 10), this.rto.rto);
  }

  /** RFC 8985 7.3: resend the last segment so that its ACK (with SACK) reveals a tail loss. */
  private sendTailLossProbe(): void {
    this.probeArmed = false;
    this.probeOut = true;
    this.rttSeq = undefined;
    const back = this.maxPayload(true) + (this.finSent ? 1 : 0);
    let seq = seqMax(this.sndUna, seqAdd(this.sndMax, -back));
    // The most recently sent segment, where we know its start.
    if (seqInWindow(this.lastSegmentSeq, this.sndUna, this.sndMax)) seq = this.lastSegmentSeq;
    if (this.retransmitHole(seq) > 0) this.env.counters.inc('tcp.retransmit.tlp');
    this.rtxTimer.start(this.rto.rto);
  }

  private onDelayedAckTimer(): void {
    if (this.state === 'CLOSED') return;
    this.env.counters.inc('tcp.tx.delayed_ack');
    this.ackNow = true;
    this.env.requestOutput(this);
  }

  private onTimeWaitTimer(): void {
    if (this.state === 'TIME-WAIT' || this.state === 'FIN-WAIT-2') {
      this.env.counters.inc(this.state === 'TIME-WAIT' ? 'tcp.time_wait.expired' : 'tcp.fin_wait_2.timeout');
      this.enterClosed();
    }
  }

  private onKeepAliveTimer(): void {
    if (!this.keepAlive || !isSynchronized(this.state) || this.state === 'TIME-WAIT') return;
    if (this.keepAliveSent >= this.env.config.keepAliveProbes) {
      this.fail('ETIMEDOUT', 'keepalive: peer stopped answering');
      return;
    }
    // RFC 1122 4.2.3.6: a probe carries no data and a sequence number the peer already
    // acknowledged, so it must answer with an ACK. The RFC says SND.NXT-1; like Linux we
    // send SND.UNA-1, the same when nothing is in flight and still old when something is.
    this.env.counters.inc('tcp.tx.keepalive');
    this.keepAliveSent++;
    this.transmit(seqAdd(this.sndUna, -1), TcpFlags.ACK, this.dataOptions(), EMPTY);
    this.keepAliveTimer.start(this.env.config.keepAliveIntervalMs);
  }

  // ===================================================================== states

  private establish(): void {
    this.setState('ESTABLISHED');
    this.connectTimer?.stop();
    this.rtxTimer.stop();
    this.retries = 0;
    if (this.sndUna !== this.sndMax) this.rtxTimer.start(this.rto.rto);
    if (this.keepAlive) this.keepAliveTimer.start(this.keepAliveDelayMs);
    if (this.finQueued) this.setState('FIN-WAIT-1');
    if (this.listener) {
      const l = this.listener;
      this.listener = null;
      l.onEstablished(this);
    } else {
      this.user?.onEstablished();
    }
    this.env.requestOutput(this);
  }

  private enterTimeWait(): void {
    this.setState('TIME-WAIT');
    this.rtxTimer.stop();
    this.keepAliveTimer.stop();
    this.timeWaitTimer.start(this.env.config.timeWaitMs);
  }

  private enterClosed(): void {
    if (this.state === 'CLOSED') return;
    this.setState('CLOSED');
    this.rtxTimer.stop();
    this.delackTimer.stop();
    this.timeWaitTimer.stop();
    this.keepAliveTimer.stop();
    this.connectTimer?.stop();
    this.reassembly.clear();
    this.env.release(this);
  }

  /** Fail the connection: tell the user, and forget it. */
  private fail(code: string, message: string): void {
    this.env.counters.inc(`tcp.error.${code.toLowerCase()}`);
    const user = this.user;
    const listener = this.listener;
    this.user = null;
    this.enterClosed();
    if (listener) listener.onAborted(this);
    user?.onError(new NetError(code, message));
  }

  private setState(next: TcpState): void {
    if (next === this.state) return;
    this.log.debug({ from: this.state, to: next }, 'state');
    this.env.counters.inc(`tcp.state.${next.toLowerCase()}`);
    this.state = next;
  }

  /**
   * An ICMP destination unreachable about one of our segments (RFC 1122 4.2.3.9,
   * RFC 5927): while connecting, port or protocol unreachable is ECONNREFUSED and
   * host or network unreachable EHOSTUNREACH / ENETUNREACH (as Linux); on a
   * synchronized connection they are soft errors, only counted. The quoted
   * sequence number must be one we have outstanding, so a blind attacker cannot
   * reset the connection.
   */
  icmpUnreachable(code: number, quotedSeq: number): void {
    if (!seqInWindow(quotedSeq, this.sndUna, this.sndMax) && quotedSeq !== this.iss) {
      this.env.counters.inc('tcp.rx.icmp.bad_seq');
      return;
    }
    if (this.state === 'SYN-SENT' && (code === 2 || code === 3)) {
      this.env.counters.inc('tcp.rx.icmp.refused');
      this.fail('ECONNREFUSED', `connection refused (ICMP ${code === 3 ? 'port' : 'protocol'} unreachable)`);
      return;
    }
    // While connecting, network or host unreachable (also what our own IP layer reports
    // when ARP gets no answer) ends the attempt at once, as on Linux ("No route to host"),
    // instead of retrying the SYN for two minutes.
    if (this.state === 'SYN-SENT' && (code === 0 || code === 1)) {
      this.env.counters.inc('tcp.rx.icmp.unreachable');
      this.fail(code === 0 ? 'ENETUNREACH' : 'EHOSTUNREACH', `${code === 0 ? 'network' : 'host'} unreachable`);
      return;
    }
    this.env.counters.inc('tcp.rx.icmp.soft_error');
  }

  /** True when a new SYN may take over this TIME-WAIT pair (as Linux allows). */
  acceptsNewSyn(h: TcpHeader): boolean {
    if (this.state !== 'TIME-WAIT') return false;
    const ts = h.options.timestamp;
    if (this.tsOk && ts) return seqGt(ts.value, this.tsRecent);
    return seqGt(h.seq, this.rcvNxt);
  }

  /** A snapshot in the spirit of `ss -ti` / TCP_INFO, for teaching and --stats. */
  info(): TcpInfo {
    return {
      state: this.state,
      mss: this.sndMss,
      advmss: this.ourMss,
      wscale: this.wsOk ? [this.sndWscale, this.rcvWscale] : undefined,
      sack: this.sackOk,
      timestamps: this.tsOk,
      rtt: this.rto.srtt,
      rttvar: this.rto.srtt === undefined ? undefined : this.rto.rttvar,
      rto: this.rto.rto,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh >= Number.MAX_SAFE_INTEGER ? undefined : this.cc.ssthresh,
      inRecovery: this.cc.inRecovery,
      sndUna: this.sndUna,
      sndNxt: this.sndNxt,
      sndWnd: this.sndWnd,
      rcvNxt: this.rcvNxt,
      rcvWnd: this.rcvWnd,
      unacked: seqDiff(this.sndMax, this.sndUna),
      unsent: Math.max(0, this.sendBuffer.length - Math.max(0, seqDiff(this.sndMax, this.bufSeq))),
      outOfOrderBytes: this.reassembly.bytes,
    };
  }
}

const EMPTY = new Uint8Array(0);
