import type { Logger } from '../stack/log.js';
import { formatIpv4 } from '../wire/address.js';
import { UNREACH_HOST, UNREACH_NET, UNREACH_PORT, UNREACH_PROTOCOL } from '../wire/icmp.js';
import { TcpFlags, type TcpHeader, type TcpOptions } from '../wire/tcp.js';
import { NetError } from './api.js';
import { segmentAcceptable } from './acceptability.js';
import { ChallengeAckLimiter, inWindowRstOrSyn } from './challenge-ack.js';
import { nextTsRecent, pawsRejects, tsval } from './paws.js';
import { NewReno } from './congestion.js';
import type { ConnectionEnvironment, ConnectionListener, ConnectionUser, FourTuple, TcpInfo } from './environment.js';
import { DEFAULT_MSS, negotiateOptions, ourMssFor, ourWindowShift } from './negotiate.js';
import { Receiver } from './receiver.js';
import { Retransmitter } from './retransmit.js';
import { RtoEstimator } from './rto.js';
import { Sender } from './sender.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqDiff, seqGt, seqInWindow, seqLe, seqLt, seqMin } from './seq.js';
import { canReceiveData, isSynchronized, type TcpState } from './state.js';
import { DeadlineTimer } from './timer.js';

export { DEFAULT_TCP_CONFIG, type TcpConfig } from './config.js';
export type { ConnectionEnvironment, ConnectionListener, ConnectionUser, FourTuple, TcpInfo } from './environment.js';

/**
 * One connection: the transmission control block and the event processing of
 * RFC 9293 3.10 (OPEN, SEND, RECEIVE, CLOSE, ABORT, SEGMENT ARRIVES, timeouts),
 * as a state machine. The work of each side is done by its part:
 *   - `rcv` (receiver.ts): accepted data into the receive buffer, RCV.NXT, the
 *     advertised window, delayed ACKs, the in-order FIN;
 *   - `snd` (sender.ts): segmentation and output, what an ACK does to SND.UNA/SND.WND;
 *   - `rtx` (retransmit.ts): RTO, tail loss probe and persist timers, fast recovery, undo.
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
  readonly sendBuffer = new SendBuffer();
  /** The application called end(): a FIN follows the last byte. */
  finQueued = false;

  // --- Receive sequence space ---
  irs = 0;
  rcvNxt = 0;

  // --- Negotiated options ---
  /** Largest segment (data + options) the peer accepts. */
  sndMss = DEFAULT_MSS;
  /** The MSS we announce (from our MTU). */
  readonly ourMss: number;
  /** The path MTU towards the peer when ICMP taught us one below our MTU (RFC 1191). */
  pathMtu: number | undefined;
  sndWscale = 0;
  rcvWscale = 0;
  tsOk = false;
  sackOk = false;
  /** Both SYNs carried a window scale option (RFC 7323 2.2). */
  wsOk = false;
  /** TS.Recent (RFC 7323 4.3): the peer's timestamp we echo. */
  tsRecent = 0;
  readonly tsOffset: number;
  /** RCV.NXT in the last ACK we sent (Last.ACK.sent of RFC 7323 4.3). */
  lastAckSent = 0;

  // --- The parts, timers, RTT, congestion ---
  readonly rcv: Receiver;
  readonly snd: Sender;
  readonly rtx: Retransmitter;
  readonly rto: RtoEstimator;
  readonly cc: NewReno;
  private readonly finWait2Timer: DeadlineTimer;
  private readonly keepAliveTimer: DeadlineTimer;
  private connectTimer: DeadlineTimer | undefined;

  // --- Pending output ---
  /** An ACK must go out at the next flush (with data if there is some). */
  ackNow = false;
  nagle = true;
  keepAlive = false;
  private keepAliveDelayMs = 7_200_000;
  private keepAliveSent = 0;
  private readonly challenges: ChallengeAckLimiter;

  readonly log: Logger;

  constructor(
    readonly env: ConnectionEnvironment,
    readonly tuple: FourTuple,
    mtu: number,
    tsOffset: number,
  ) {
    const c = env.config;
    this.ourMss = ourMssFor(mtu);
    this.rto = new RtoEstimator({ minMs: c.minRtoMs, maxMs: c.maxRtoMs, initialMs: c.initialRtoMs });
    this.cc = new NewReno(DEFAULT_MSS);
    this.rcv = new Receiver(this);
    this.snd = new Sender(this);
    this.rtx = new Retransmitter(this);
    this.challenges = new ChallengeAckLimiter(env);
    this.finWait2Timer = new DeadlineTimer(env.clock, () => this.onFinWait2Timer());
    this.keepAliveTimer = new DeadlineTimer(env.clock, () => this.onKeepAliveTimer());
    this.tsOffset = tsOffset >>> 0;
    this.log = env.log.child({
      conn: `${formatIpv4(tuple.localAddr)}:${tuple.localPort}-${formatIpv4(tuple.remoteAddr)}:${tuple.remotePort}`,
    });
    this.rcvWscale = c.windowScaling ? ourWindowShift(c.receiveBufferBytes) : 0;
  }

  // ===================================================================== user calls

  /** RFC 9293 3.3.1: SND.UNA = SND.NXT = ISS; the first data byte follows the SYN. */
  private initSendSequence(iss: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.snd.init(iss);
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
   * RFC 4987 3.6: the ACK of a SYN,ACK we sent statelessly (a SYN cookie, checked
   * by the caller). `syn` is the peer's SYN as rebuilt from the cookie; the
   * connection continues as if it had been in SYN-RECEIVED all along, having sent
   * its SYN,ACK (ISS = the cookie) with the window that the cookie SYN,ACK carried.
   * The caller then hands it the ACK.
   */
  openFromCookie(iss: number, syn: TcpHeader): void {
    this.initSendSequence(iss);
    this.adoptPeerSyn(syn, iss);
    this.setState('SYN-RECEIVED');
    this.sndNxt = seqAdd(iss, 1);
    this.sndMax = this.sndNxt;
    this.rcv.advertiseWindow(0);
    this.lastAckSent = this.rcvNxt;
  }

  /** A half-open connection leaves the SYN queue without a word (its peer is most likely spoofed). */
  evict(): void {
    if (this.state !== 'SYN-RECEIVED') return;
    const listener = this.listener;
    this.listener = null;
    listener?.onAborted(this);
    this.enterClosed();
  }

  /** SYN-RECEIVED and our SYN,ACK already had to be retransmitted: nobody answered it in time. */
  get synAckUnanswered(): boolean {
    return this.state === 'SYN-RECEIVED' && this.rtx.retries > 0;
  }

  /**
   * The peer's SYN synchronizes the receive sequence space (RFC 9293 3.10.7.2 and
   * 3.10.7.3: IRS = SEG.SEQ, RCV.NXT = SEG.SEQ + 1), settles the options and gives
   * the first send window.
   */
  private adoptPeerSyn(syn: TcpHeader, wl2: number): void {
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcv.init(this.rcvNxt);
    this.negotiate(syn);
    this.sndWnd = syn.window; // RFC 7323 2.2: the window in a SYN is never scaled
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = syn.seq;
    this.sndWl2 = wl2;
  }

  /** Attach the socket; data that arrived before it existed is handed over now. */
  attachUser(user: ConnectionUser): void {
    this.user = user;
    this.rcv.handOver();
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
      this.snd.sendControl(this.sndMax, 0, TcpFlags.RST | TcpFlags.ACK);
    }
    this.user = null;
    this.enterClosed();
  }

  /**
   * The host is closing: abort (RST when synchronized). A connection in TIME-WAIT is
   * no longer in the table (its TimeWait record is, and ends itself).
   */
  shutdown(): void {
    const user = this.user;
    this.abort();
    user?.onShutdown();
  }

  /** The application read data: open the window again if it had shrunk (RFC 1122 4.2.3.3). */
  onAppRead(): void {
    if ((!isSynchronized(this.state) && this.state !== 'SYN-RECEIVED') || this.state === 'TIME-WAIT') return;
    if (this.rcv.windowUpdateDue()) {
      this.env.counters.inc('tcp.tx.window_update');
      this.ackAtOnce();
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
    if (pawsRejects(this.tsOk, ts, rst, this.tsRecent)) {
      c.inc('tcp.rx.drop.paws');
      this.ackAtOnce();
      return;
    }

    // First: sequence number check (RFC 9293 3.10.7.4).
    const segLen = payload.length + (syn ? 1 : 0) + (fin ? 1 : 0);
    const rcvWnd = this.rcv.rcvWnd;
    if (!segmentAcceptable(h.seq, segLen, this.rcvNxt, rcvWnd)) {
      if (!(rcvWnd === 0 && h.seq === this.rcvNxt && !rst)) {
        c.inc('tcp.rx.drop.unacceptable');
        // Old data again (our ACK was lost, or the peer retransmitted too early): D-SACK it (RFC 2883).
        if (payload.length > 0 && !rst && seqLt(h.seq, this.rcvNxt)) {
          this.rcv.noteDuplicate(h.seq, seqMin(seqAdd(h.seq, payload.length), this.rcvNxt));
        }
        if (!rst) {
          // RFC 9293 3.10.7.4: answer an unacceptable segment with an ACK.
          this.ackAtOnce();
        }
        return;
      }
      // Zero window: keep the ACK, RST and window of the segment but not its data.
      c.inc('tcp.rx.drop.zero_window_data');
      payload = payload.subarray(0, 0);
      this.ackAtOnce();
    }

    // RFC 7323 4.3: remember the timestamp to echo.
    this.tsRecent = nextTsRecent(this.tsOk, ts, h.seq, this.lastAckSent, this.tsRecent);

    // Second: RST, and fourth: SYN in a synchronized state (RFC 9293 3.10.7.4 with RFC 5961 3.2, 4.2).
    const rstOrSyn = inWindowRstOrSyn(h, this.rcvNxt);
    if (rstOrSyn === 'reset') {
      c.inc('tcp.rx.rst');
      this.onReset();
      return;
    }
    if (rstOrSyn !== undefined) {
      this.challengeAck(rstOrSyn);
      return;
    }

    // Fifth: the ACK field.
    if (!(h.flags & TcpFlags.ACK)) {
      c.inc('tcp.rx.drop.no_ack');
      return;
    }
    if (this.state === 'SYN-RECEIVED') {
      if (seqLt(this.sndUna, h.ack) && seqLe(h.ack, this.sndMax)) {
        if (this.listener?.acceptQueueFull) {
          // As Linux (tcp_abort_on_overflow = 0): the handshake cannot complete now, so
          // the ACK is dropped and we stay in SYN-RECEIVED; our SYN,ACK retransmission
          // or the peer's next segment tries again once the application accepted.
          c.inc('tcp.listen.accept_queue_full');
          return;
        }
        this.sndWnd = h.window << this.sndWscale;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.sndWl1 = h.seq;
        this.sndWl2 = h.ack;
        this.establish();
      } else {
        c.inc('tcp.tx.rst_bad_ack');
        this.snd.sendControl(h.ack, 0, TcpFlags.RST);
        return;
      }
    }
    if (!this.processAck(h, payload.length)) return;
    const after = this.state as TcpState; // processAck may have moved the state
    if (after === 'CLOSED' || after === 'TIME-WAIT') {
      if (after === 'TIME-WAIT' && fin) {
        // RFC 9293 3.10.7.4: a retransmitted FIN in TIME-WAIT is acked (the TimeWait
        // record, just started, runs the 2 MSL).
        this.ackAtOnce();
      }
      return;
    }

    // Seventh: the segment text.
    if (payload.length > 0) {
      if (canReceiveData(this.state)) this.rcv.receiveData(h.seq, payload);
      else c.inc('tcp.rx.drop.data_after_fin');
    }

    // Eighth: FIN.
    if (fin) {
      this.rcv.finArrives(seqAdd(h.seq, payload.length));
    }
  }

  /** RFC 9293 3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
  private synSentArrives(h: TcpHeader, payload: Uint8Array): void {
    const c = this.env.counters;
    const hasAck = (h.flags & TcpFlags.ACK) !== 0;
    if (hasAck && (seqLe(h.ack, this.iss) || seqGt(h.ack, this.sndMax))) {
      c.inc('tcp.rx.drop.bad_ack_syn_sent');
      if (!(h.flags & TcpFlags.RST)) this.snd.sendControl(h.ack, 0, TcpFlags.RST);
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
      this.snd.ackReceived(h.ack, h);
      this.ackNow = true;
      this.establish();
      if (payload.length > 0) this.rcv.receiveData(seqAdd(h.seq, 1), payload);
      if (h.flags & TcpFlags.FIN && seqAdd(h.seq, 1 + payload.length) === this.rcvNxt) this.rcv.receiveFin();
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
      this.ackAtOnce();
      return false;
    }
    // RFC 5961 5.2: an ACK far below SND.UNA is suspicious.
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      this.challengeAck('old_ack');
      return false;
    }
    this.snd.onAck(h, dataLen);

    // State changes when our FIN is acknowledged (RFC 9293 3.10.7.4).
    if (this.snd.finAcked) {
      switch (this.state) {
        case 'FIN-WAIT-1':
          this.user?.onFinAcked();
          this.setState('FIN-WAIT-2');
          if (!this.user) this.finWait2Timer.start(this.env.config.timeWaitMs); // orphan FIN-WAIT-2 timeout
          break;
        case 'CLOSING':
          this.user?.onFinAcked();
          this.enterTimeWait();
          break;
        case 'LAST-ACK':
          this.user?.onFinAcked();
          this.enterClosed();
          return false;
        default:
          break;
      }
    }
    return true;
  }

  /**
   * RFC 9293 3.10.7.4 eighth step: the peer's FIN is next in sequence (the receiver
   * consumed it); the state moves towards CLOSE-WAIT or TIME-WAIT.
   */
  finReceived(): void {
    switch (this.state) {
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        this.setState('CLOSE-WAIT');
        break;
      case 'FIN-WAIT-1':
        if (this.snd.finAcked) this.enterTimeWait();
        else this.setState('CLOSING');
        break;
      case 'FIN-WAIT-2':
        this.enterTimeWait();
        break;
      default:
        break;
    }
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
      default:
        this.enterClosed();
    }
  }

  /**
   * RFC 5961 3.2/4.2/5.2: answer a suspicious RST, SYN or old ACK with an ACK of our
   * own, which a real peer answers with an exact RST (or ignores); rate-limited
   * (RFC 5961 7, see challenge-ack.ts).
   */
  private challengeAck(reason: string): void {
    if (this.challenges.allow(reason)) this.snd.sendAck();
  }

  // ===================================================================== options

  /** Adopt what the peer's SYN (or SYN,ACK) agreed to (see negotiate.ts). */
  private negotiate(syn: TcpHeader): void {
    const n = negotiateOptions(syn.options, this.ourMss, this.env.config);
    this.sndMss = this.pathMtu === undefined ? n.sndMss : Math.min(n.sndMss, this.pathMtu - 40);
    this.wsOk = n.wsOk;
    this.sndWscale = n.sndWscale;
    if (!n.wsOk) this.rcvWscale = 0; // RFC 7323 2.2: scaling is both ways or not at all
    this.sackOk = n.sackOk;
    this.tsOk = n.tsOk;
    if (this.tsOk) this.tsRecent = syn.options.timestamp!.value;
    // The congestion window counts data bytes: the MSS less the per-segment options.
    this.cc.setMss(this.snd.maxPayload(false));
  }

  /** The options of our SYN (all we support) or SYN,ACK (what the peer offered too). */
  synOptions(): TcpOptions {
    const cfg = this.env.config;
    const o: TcpOptions = { mss: this.ourMss };
    const offerAll = this.state === 'SYN-SENT';
    if (cfg.sack && (offerAll || this.sackOk)) o.sackPermitted = true;
    if (cfg.timestamps && (offerAll || this.tsOk)) o.timestamp = { value: this.tsNow(), echo: offerAll ? 0 : this.tsRecent };
    if (cfg.windowScaling && (offerAll || this.wsOk)) o.windowScale = this.rcvWscale;
    return o;
  }

  /** An ACK is due now: it goes out at this flush (with any data that may go too). */
  ackAtOnce(): void {
    this.ackNow = true;
    this.env.requestOutput(this);
  }

  /** Our TSval now (see paws.ts). */
  tsNow(): number {
    return tsval(this.env.clock.now(), this.tsOffset);
  }

  /** Send what is due (see Sender.output); the host calls this at its flush. */
  output(): void {
    this.snd.output();
  }

  // ===================================================================== timers

  /** An orphaned FIN-WAIT-2 (the socket is gone) waits no longer than TIME-WAIT would. */
  private onFinWait2Timer(): void {
    if (this.state === 'FIN-WAIT-2') {
      this.env.counters.inc('tcp.fin_wait_2.timeout');
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
    this.snd.sendProbe();
    this.keepAliveTimer.start(this.env.config.keepAliveIntervalMs);
  }

  // ===================================================================== states

  private establish(): void {
    this.setState('ESTABLISHED');
    this.connectTimer?.stop();
    this.rtx.stop();
    this.rtx.retries = 0;
    if (this.sndUna !== this.sndMax) this.rtx.timer.start(this.rto.rto);
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

  /**
   * TIME-WAIT (RFC 9293 3.4.2): the Tcp replaces this connection with a small
   * TimeWait record that answers for the pair for 2 MSL (time-wait.ts); this object
   * stops its timers and only lives on for a socket that still holds it.
   */
  private enterTimeWait(): void {
    this.setState('TIME-WAIT');
    this.rtx.stop();
    this.keepAliveTimer.stop();
    this.finWait2Timer.stop();
    this.connectTimer?.stop();
    this.env.enterTimeWait(this);
  }

  /** The TimeWait record that took over ended (expired, taken over, host closed): CLOSED. */
  timeWaitOver(): void {
    if (this.state !== 'TIME-WAIT') return;
    this.log.debug({ from: this.state, to: 'CLOSED' }, 'state');
    this.state = 'CLOSED'; // counted by the record (it may outlive this object)
    this.user = null;
    this.rcv.stop();
  }

  private enterClosed(): void {
    if (this.state === 'CLOSED') return;
    this.setState('CLOSED');
    this.rtx.stop();
    this.rcv.stop();
    this.finWait2Timer.stop();
    this.keepAliveTimer.stop();
    this.connectTimer?.stop();
    this.env.release(this);
  }

  /** Fail the connection: tell the user, and forget it. */
  fail(code: string, message: string): void {
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
    if (this.state === 'SYN-SENT' && (code === UNREACH_PROTOCOL || code === UNREACH_PORT)) {
      this.env.counters.inc('tcp.rx.icmp.refused');
      this.fail('ECONNREFUSED', `connection refused (ICMP ${code === UNREACH_PORT ? 'port' : 'protocol'} unreachable)`);
      return;
    }
    // While connecting, network or host unreachable (also what our own IP layer reports
    // when ARP gets no answer) ends the attempt at once, as on Linux ("No route to host"),
    // instead of retrying the SYN for two minutes.
    if (this.state === 'SYN-SENT' && (code === UNREACH_NET || code === UNREACH_HOST)) {
      this.env.counters.inc('tcp.rx.icmp.unreachable');
      this.fail(code === UNREACH_NET ? 'ENETUNREACH' : 'EHOSTUNREACH', `${code === UNREACH_NET ? 'network' : 'host'} unreachable`);
      return;
    }
    this.env.counters.inc('tcp.rx.icmp.soft_error');
  }

  /**
   * RFC 5927 4.1 (and 5.2): an ICMP error must quote a sequence number we have
   * outstanding, SND.UNA <= SEG.SEQ < SND.NXT (SND.MAX here, as we may have gone
   * back), or it is not about a segment of ours and is ignored.
   */
  quotesOutstanding(quotedSeq: number): boolean {
    return isSynchronized(this.state) && seqInWindow(quotedSeq, this.sndUna, this.sndMax);
  }

  /**
   * RFC 1191 6.4 / RFC 9293 3.7.3: a router dropped one of our segments for being
   * larger than the next hop's MTU. The effective MSS drops to fit it (MTU less the
   * 40 bytes of IPv4 and TCP headers), and what was in flight is resent at once in
   * segments of the new size. This is not congestion: cwnd and ssthresh stay (as
   * Linux's tcp_simple_retransmit). Reports that would not lower the MSS are ignored.
   */
  lowerPathMtu(mtu: number): void {
    const c = this.env.counters;
    const mss = mtu - 40;
    if (mss >= this.sndMss) {
      c.inc('tcp.pmtu.not_lower');
      return;
    }
    this.log.debug({ mtu, mss, was: this.sndMss }, 'path MTU lowered');
    c.inc('tcp.pmtu.lowered');
    this.pathMtu = mtu;
    this.sndMss = mss;
    this.cc.mss = this.snd.maxPayload(false);
    this.rtx.resendForPathMtu();
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
      rcvWnd: this.rcv.rcvWnd,
      unacked: seqDiff(this.sndMax, this.sndUna),
      unsent: this.snd.unsent,
      outOfOrderBytes: this.rcv.reassembly.bytes,
    };
  }
}
