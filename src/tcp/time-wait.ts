import type { Timer } from '../stack/clock.js';
import { TcpFlags, type TcpHeader, type TcpHeaderFields, type TcpOptions } from '../wire/tcp.js';
import { segmentAcceptable } from './acceptability.js';
import type { TcpConnection } from './connection.js';
import type { ConnectionEnvironment, FourTuple } from './environment.js';
import { ChallengeAckLimiter, inWindowRstOrSyn } from './challenge-ack.js';
import { nextTsRecent, pawsRejects, tsval } from './paws.js';
import { seqGt } from './seq.js';

/** What a TIME-WAIT record needs from its Tcp besides a connection's environment. */
export interface TimeWaitEnvironment extends Pick<ConnectionEnvironment, 'clock' | 'counters' | 'config' | 'allowChallengeAck'> {
  transmit(tuple: FourTuple, fields: TcpHeaderFields): void;
  /** The record is over (expired, taken over, or the host closed): forget it. */
  release(tw: TimeWait): void;
}

/**
 * A connection in TIME-WAIT (RFC 9293 3.10.7.4, 3.4.2), kept as a small record the
 * way Linux keeps an inet_timewait_sock instead of the full socket: the numbers
 * needed to answer what may still arrive (a retransmitted FIN, a stray segment, a
 * RST, a new SYN) and one timer for 2 MSL. The full TcpConnection is dropped when
 * TIME-WAIT starts, which is what returns its buffers and timers (about 6 KB per
 * connection) at once instead of after 60 s. Its socket, if the application still
 * holds it, keeps reporting TIME-WAIT and then CLOSED (a weak reference: the record
 * does not keep the connection alive).
 */
export class TimeWait {
  readonly state = 'TIME-WAIT' as const;
  private readonly sndNxt: number;
  private readonly rcvNxt: number;
  /** What is left of the window we advertised, and its field in our ACKs. */
  private readonly rcvWnd: number;
  private readonly windowField: number;
  private readonly tsOk: boolean;
  private tsRecent: number;
  private readonly tsOffset: number;
  private readonly lastAckSent: number;
  private readonly challenges: ChallengeAckLimiter;
  private timer: Timer | undefined;
  private readonly owner: WeakRef<TcpConnection>;
  private ended = false;

  constructor(
    private readonly env: TimeWaitEnvironment,
    conn: TcpConnection,
  ) {
    this.tuple = conn.tuple;
    this.sndNxt = conn.sndMax;
    this.rcvNxt = conn.rcvNxt;
    this.rcvWnd = conn.rcv.rcvWnd;
    this.windowField = Math.min(0xffff, Math.floor(this.rcvWnd / 2 ** conn.rcvWscale));
    this.tsOk = conn.tsOk;
    this.tsRecent = conn.tsRecent;
    this.tsOffset = conn.tsOffset;
    // The ACK of the peer's FIN acknowledges RCV.NXT (it may still be on its way out).
    this.lastAckSent = conn.rcvNxt;
    this.challenges = new ChallengeAckLimiter(env);
    this.owner = new WeakRef(conn);
    this.restart();
  }

  readonly tuple: FourTuple;

  /** RFC 9293 3.10.7.4 for TIME-WAIT (the same answers TcpConnection gave in that state). */
  segmentArrives(h: TcpHeader, payload: Uint8Array): void {
    const c = this.env.counters;
    const syn = (h.flags & TcpFlags.SYN) !== 0;
    const rst = (h.flags & TcpFlags.RST) !== 0;
    const fin = (h.flags & TcpFlags.FIN) !== 0;
    // RFC 7323 5.3: PAWS.
    const ts = h.options.timestamp;
    if (pawsRejects(this.tsOk, ts, rst, this.tsRecent)) {
      c.inc('tcp.rx.drop.paws');
      this.sendAck();
      return;
    }
    const segLen = payload.length + (syn ? 1 : 0) + (fin ? 1 : 0);
    if (!segmentAcceptable(h.seq, segLen, this.rcvNxt, this.rcvWnd) && !(this.rcvWnd === 0 && h.seq === this.rcvNxt && !rst)) {
      c.inc('tcp.rx.drop.unacceptable');
      // A retransmitted FIN (our ACK of it was lost) is answered and restarts 2 MSL.
      if (fin) this.restart();
      if (!rst) this.sendAck();
      return;
    }
    this.tsRecent = nextTsRecent(this.tsOk, ts, h.seq, this.lastAckSent, this.tsRecent);
    const rstOrSyn = inWindowRstOrSyn(h, this.rcvNxt);
    if (rstOrSyn === 'reset') {
      // RFC 1337: no TIME-WAIT assassination.
      c.inc('tcp.rx.rst');
      c.inc('tcp.rx.drop.rst_time_wait');
      return;
    }
    if (rstOrSyn !== undefined) {
      this.challengeAck(rstOrSyn);
      return;
    }
    if (!(h.flags & TcpFlags.ACK)) {
      c.inc('tcp.rx.drop.no_ack');
      return;
    }
    if (seqGt(h.ack, this.sndNxt)) {
      c.inc('tcp.rx.drop.ack_unsent');
      this.sendAck();
      return;
    }
    if (fin) {
      this.sendAck();
      this.restart();
    }
  }

  /** The connection this record replaced, if anything still holds it (for Tcp.findConnection). */
  get connection(): TcpConnection | undefined {
    return this.owner.deref();
  }

  /** True when a new SYN may take over the pair (RFC 6191 2): a newer timestamp, or without timestamps a higher sequence number (Linux takes either). */
  acceptsNewSyn(h: TcpHeader): boolean {
    const ts = h.options.timestamp;
    if (this.tsOk && ts) return seqGt(ts.value, this.tsRecent);
    return seqGt(h.seq, this.rcvNxt);
  }

  /** End TIME-WAIT now (a new connection takes the pair, or the host closes). */
  endTimeWait(): void {
    this.end();
  }

  shutdown(): void {
    this.end();
  }

  private restart(): void {
    this.timer?.cancel();
    this.timer = this.env.clock
      .setTimer(this.env.config.timeWaitMs, () => {
        this.env.counters.inc('tcp.time_wait.expired');
        this.end();
      })
      .unref();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.env.counters.inc('tcp.state.closed');
    this.owner.deref()?.timeWaitOver();
    this.env.release(this);
  }

  private sendAck(): void {
    const options: TcpOptions | undefined = this.tsOk
      ? { timestamp: { value: tsval(this.env.clock.now(), this.tsOffset), echo: this.tsRecent } }
      : undefined;
    this.env.counters.inc('tcp.tx.segments');
    this.env.transmit(this.tuple, {
      srcPort: this.tuple.localPort,
      dstPort: this.tuple.remotePort,
      seq: this.sndNxt,
      ack: this.rcvNxt,
      flags: TcpFlags.ACK,
      window: this.windowField,
      options,
    });
  }

  private challengeAck(reason: string): void {
    if (this.challenges.allow(reason)) this.sendAck();
  }
}
