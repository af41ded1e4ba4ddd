import type { TcpConnection } from './connection.js';
import { SackRecovery } from './recovery.js';
import { SackScoreboard } from './sack.js';
import { seqAdd, seqDiff, seqGe, seqInWindow, seqLt, seqMax } from './seq.js';
import { isSynchronized } from './state.js';
import { DeadlineTimer } from './timer.js';

/**
 * Loss and its repair on the send side: the retransmission timer (RFC 6298), which
 * also serves as the tail loss probe timer (RFC 8985 7) and the persist timer (RFC
 * 9293 3.8.6.1); duplicate ACKs and fast recovery (RFC 5681, NewReno RFC 6582, SACK
 * RFC 6675); and the undo of a spurious fast retransmission (Eifel, RFC 3522).
 */
export class Retransmitter {
  readonly scoreboard = new SackScoreboard();
  readonly recovery = new SackRecovery();
  readonly timer: DeadlineTimer;
  /** Consecutive expiries of the retransmission timer. */
  retries = 0;
  /** The retransmission timer is set for a tail loss probe, not the RTO. */
  probeArmed = false;
  /** A tail loss probe was sent and not yet answered by new acknowledgments. */
  probeOut = false;
  dupAcks = 0;
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
  undo: { tsval: number; seq: number; cwnd: number; ssthresh: number; distance: number } | undefined;
  /** Next hole to retransmit in fast recovery. */
  rexmitHigh = 0;

  constructor(private readonly conn: TcpConnection) {
    this.timer = new DeadlineTimer(conn.env.clock, () => this.onTimer());
  }

  private onTimer(): void {
    const conn = this.conn;
    const snd = conn.snd;
    const c = conn.env.counters;
    const st = conn.state;
    if (st === 'CLOSED' || st === 'TIME-WAIT') return;
    // Not synchronized here means SYN-SENT or SYN-RECEIVED: our SYN is outstanding.
    const synchronized = isSynchronized(st);
    if (conn.sndUna === conn.sndMax && !(conn.sndWnd === 0 && conn.sendBuffer.length > 0)) return;

    if (conn.sndWnd === 0 && synchronized && conn.sendBuffer.length > 0 && conn.sndUna === conn.sndMax) {
      this.sendWindowProbe();
      return;
    }

    const userTimeout = conn.env.config.userTimeoutMs;
    if (userTimeout > 0 && synchronized && conn.env.clock.now() - snd.progressAt >= userTimeout) {
      c.inc('tcp.timeout.user_timeout');
      conn.fail('ETIMEDOUT', `data unacknowledged for ${userTimeout} ms (user timeout)`);
      return;
    }
    if (this.probeArmed) {
      this.sendTailLossProbe();
      return;
    }
    this.retries++;
    const limit = synchronized ? conn.env.config.maxRetries : conn.env.config.synRetries;
    if (this.retries > limit) {
      c.inc('tcp.timeout.retries_exhausted');
      conn.fail('ETIMEDOUT', `no answer after ${limit} retransmissions`);
      return;
    }
    c.inc(synchronized ? 'tcp.retransmit.rto' : 'tcp.retransmit.syn');
    const flight = seqDiff(conn.sndMax, conn.sndUna);
    if (synchronized) {
      conn.cc.onRto(flight, conn.sndMax);
      // A second timeout in a row: the peer may have dropped what it SACKed (RFC 2018 8).
      if (conn.rto.backoffs >= 1) this.scoreboard.clear();
    }
    conn.rto.backoff();
    conn.log.debug({ rto: conn.rto.rto, cwnd: conn.cc.cwnd, ssthresh: conn.cc.ssthresh, retries: this.retries }, 'retransmission timeout');
    snd.rttSeq = undefined; // Karn's rule
    this.dupAcks = 0;
    this.probeOut = false;
    this.undo = undefined;
    conn.sndNxt = conn.sndUna; // go back N (= ISS while our SYN is unacknowledged)
    this.rexmitHigh = conn.sndUna;
    this.recovery.reset();
    this.timer.start(conn.rto.rto);
    conn.env.requestOutput(conn);
  }

  /**
   * Persist timer (RFC 9293 3.8.6.1): the peer's window is zero and data waits.
   * Shaped as Linux's tcp_xmit_probe_skb: a zero-length segment at SND.UNA - 1, old
   * enough that the peer must answer it with an ACK that carries its current window
   * (as a keepalive, RFC 1122 4.2.3.6). RFC 9293 3.8.6.1 describes a probe with one
   * octet of new data instead; we follow Linux because a byte sent into a closed
   * window counts as in flight, and Nagle then held the rest of a small write until
   * that byte was acknowledged, seconds after the window reopened (issue 12). With a
   * zero-length probe nothing is in flight, so data goes out on the ACK that opens the
   * window. The probes back off like the RTO; a peer that keeps answering them is
   * never given up on (Sender.onAck resets the count).
   */
  private sendWindowProbe(): void {
    const conn = this.conn;
    conn.env.counters.inc('tcp.tx.window_probe');
    this.retries++;
    if (this.retries > conn.env.config.maxRetries) {
      conn.fail('ETIMEDOUT', 'peer window stayed closed');
      return;
    }
    conn.rto.backoff();
    conn.snd.sendProbe();
    this.timer.start(conn.rto.rto);
  }

  /**
   * Arm the retransmission timer: for a tail loss probe when one is allowed (RFC 8985
   * 7.2: about two RTTs, plus the peer's delayed-ACK time when one segment is out),
   * else for the RTO. `restart` moves a running timer; otherwise a running one stays.
   */
  arm(restart: boolean): void {
    const pto = this.probeTimeout();
    if (pto !== undefined) {
      // RFC 8985 7.2: the PTO is rescheduled whenever new data goes out.
      this.probeArmed = true;
      this.timer.start(pto);
      return;
    }
    if (restart || !this.timer.running || this.probeArmed) {
      this.probeArmed = false;
      this.timer.start(this.conn.rto.rto);
    }
  }

  private probeTimeout(): number | undefined {
    const conn = this.conn;
    const srtt = conn.rto.srtt;
    if (
      !conn.env.config.tailLossProbe ||
      srtt === undefined ||
      this.probeOut ||
      this.retries > 0 ||
      conn.cc.inRecovery ||
      conn.sndWnd === 0 ||
      !isSynchronized(conn.state)
    ) {
      return undefined;
    }
    let pto = 2 * srtt;
    if (seqDiff(conn.sndMax, conn.sndUna) <= conn.cc.mss) pto += 200; // the peer may delay its ACK
    return Math.min(Math.max(pto, 10), conn.rto.rto);
  }

  /** RFC 8985 7.3: resend the last segment so that its ACK (with SACK) reveals a tail loss. */
  private sendTailLossProbe(): void {
    const conn = this.conn;
    this.probeArmed = false;
    this.probeOut = true;
    conn.snd.rttSeq = undefined;
    const back = conn.snd.maxPayload(true) + (conn.snd.finSent ? 1 : 0);
    let seq = seqMax(conn.sndUna, seqAdd(conn.sndMax, -back));
    // The most recently sent segment, where we know its start.
    if (seqInWindow(conn.snd.lastSegmentSeq, conn.sndUna, conn.sndMax)) seq = conn.snd.lastSegmentSeq;
    if (this.retransmitHole(seq) > 0) conn.env.counters.inc('tcp.retransmit.tlp');
    this.timer.start(conn.rto.rto);
  }

  /** New data was acknowledged (SND.UNA moved by `acked`): the recovery side of it. */
  onNewAck(acked: number, dataAcked: number, flightBefore: number, echo: number | undefined): void {
    const conn = this.conn;
    const c = conn.env.counters;
    this.scoreboard.advance(conn.sndUna);
    this.retries = 0;
    if (this.undo && seqLt(this.undo.seq, conn.sndUna)) this.checkSpuriousRetransmit(conn.sndUna, echo);

    if (conn.cc.inRecovery) {
      if (seqGe(conn.sndUna, conn.cc.recover)) {
        conn.cc.onFullAck(seqDiff(conn.sndMax, conn.sndUna));
        conn.log.debug({ cwnd: conn.cc.cwnd, ssthresh: conn.cc.ssthresh }, 'fast recovery done');
        this.dupAcks = 0;
      } else {
        // RFC 6582 3.2 step 5: partial ACK, retransmit the next unacknowledged segment.
        c.inc('tcp.rx.partial_ack');
        if (conn.sackOk) {
          // RFC 6675: pipe decides in output(); no window deflation.
          this.recovery.advance(conn.sndUna);
        } else {
          conn.cc.onPartialAck(acked);
          if (seqGe(conn.sndUna, this.rexmitHigh)) this.retransmitHole(conn.sndUna);
        }
      }
    } else {
      this.dupAcks = 0;
      if (dataAcked > 0) conn.cc.onAck(Math.min(dataAcked, flightBefore)); // the SYN and FIN do not grow cwnd
      this.maybeEnterSackRecovery();
    }

    this.probeOut = false;
    if (conn.sndUna === conn.sndMax) {
      this.timer.stop();
      this.probeArmed = false;
    } else {
      this.arm(true); // RFC 6298 5.3 (or a tail loss probe)
    }
  }

  onDuplicateAck(): void {
    const conn = this.conn;
    conn.env.counters.inc('tcp.rx.dup_ack');
    this.dupAcks++;
    if (conn.cc.inRecovery) {
      if (!conn.sackOk) conn.cc.onDupAckInRecovery();
      conn.env.requestOutput(conn);
      return;
    }
    // RFC 6582 4.1: only start a new recovery once the previous one is passed.
    if (this.dupAcks === this.dupThresh() && seqGe(conn.sndUna, conn.cc.recover)) this.enterRecovery();
    else this.maybeEnterSackRecovery();
  }

  /**
   * Duplicate ACKs that signal a loss: 3 (RFC 5681), fewer when so little is in
   * flight that three could never come back (early retransmit, RFC 5827).
   */
  private dupThresh(): number {
    const conn = this.conn;
    const segments = Math.ceil(seqDiff(conn.sndMax, conn.sndUna) / conn.cc.mss);
    return Math.max(1, Math.min(this.reordering, segments - 1));
  }

  /**
   * RFC 6675 5 (IsLost(SND.UNA)): with SACK, recovery also starts when three
   * segments' worth of data above SND.UNA was SACKed, even if duplicate ACKs were lost.
   */
  private maybeEnterSackRecovery(): void {
    const conn = this.conn;
    if (!conn.sackOk || conn.cc.inRecovery || this.scoreboard.isEmpty || !seqGe(conn.sndUna, conn.cc.recover)) return;
    // RFC 6675 4 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above it.
    if (this.scoreboard.sackedBetween(conn.sndUna, conn.sndMax) > (this.dupThresh() - 1) * conn.cc.mss) this.enterRecovery();
  }

  private enterRecovery(): void {
    const conn = this.conn;
    conn.env.counters.inc('tcp.retransmit.fast');
    if (conn.tsOk) {
      const highest = this.scoreboard.highest;
      this.undo = {
        tsval: conn.tsNow(),
        seq: conn.sndUna,
        cwnd: conn.cc.cwnd,
        ssthresh: conn.cc.ssthresh,
        distance: Math.ceil(Math.max(0, highest === undefined ? 0 : seqDiff(highest, conn.sndUna)) / conn.cc.mss),
      };
    }
    conn.cc.enterRecovery(seqDiff(conn.sndMax, conn.sndUna), conn.sndMax, conn.sackOk);
    conn.log.debug({ cwnd: conn.cc.cwnd, ssthresh: conn.cc.ssthresh }, 'fast retransmit, enter recovery');
    this.rexmitHigh = conn.sndUna;
    conn.snd.rttSeq = undefined;
    this.recovery.reset();
    this.probeArmed = false;
    this.timer.start(conn.rto.rto);
    // RFC 5681 3.2 step 3 / RFC 6675 5 (4.2): the first unacknowledged segment goes now.
    const len = this.retransmitHole(conn.sndUna);
    if (conn.sackOk && len > 0) this.recovery.record(conn.sndUna, len, conn.sndMax);
    conn.env.requestOutput(conn);
  }

  /**
   * RFC 3522 (Eifel): the first ACK for the fast-retransmitted segment echoes the
   * TSval of the segment that filled the hole. If that is older than the
   * retransmission, the original arrived after all: it was reordering, not loss. Undo
   * the window reduction and tolerate that much reordering from now on (RFC 4015 in
   * spirit; Linux does the same with tp->reordering).
   */
  private checkSpuriousRetransmit(ack: number, echo: number | undefined): void {
    const conn = this.conn;
    const undo = this.undo!;
    this.undo = undefined;
    if (echo === undefined || echo === 0 || !seqLt(echo, undo.tsval) || !conn.cc.inRecovery) return;
    conn.env.counters.inc('tcp.retransmit.spurious');
    conn.cc.inRecovery = false;
    conn.cc.recover = ack;
    conn.cc.ssthresh = undo.ssthresh;
    conn.cc.cwnd = Math.max(conn.cc.cwnd, undo.cwnd);
    this.recovery.reset();
    this.dupAcks = 0;
    this.reordering = Math.min(Math.max(this.reordering, undo.distance + 1), 64);
    conn.log.debug({ cwnd: conn.cc.cwnd, reordering: this.reordering }, 'spurious fast retransmit undone');
  }

  /** Send one segment starting at `seq` without moving SND.NXT; returns its length. */
  retransmitHole(seq: number, maxLen = Number.MAX_SAFE_INTEGER): number {
    const conn = this.conn;
    const snd = conn.snd;
    seq = this.scoreboard.skip(seq);
    if (seqGe(seq, conn.sndMax)) return 0;
    const c = conn.env.counters;
    const offset = seqDiff(seq, snd.bufSeq);
    const dataLeft = conn.sendBuffer.length - offset;
    let limit = Math.min(maxLen, snd.maxPayload(true));
    const nextSacked = this.scoreboard.nextSacked(seq);
    if (nextSacked !== undefined) limit = Math.min(limit, Math.max(1, seqDiff(nextSacked, seq)));
    const len = Math.max(0, Math.min(limit, dataLeft, seqDiff(conn.sndMax, seq)));
    const fin = snd.finSent && offset + len === conn.sendBuffer.length;
    if (len === 0 && !fin) return 0;
    c.inc('tcp.retransmit.segments');
    c.inc('tcp.retransmit.bytes', len);
    snd.sendData(seq, conn.sendBuffer.read(offset, len), fin);
    this.rexmitHigh = seqMax(this.rexmitHigh, seqAdd(seq, len + (fin ? 1 : 0)));
    this.timer.ensure(conn.rto.rto);
    return len + (fin ? 1 : 0);
  }

  /**
   * The path MTU dropped (RFC 1191): everything in flight was cut for the old size
   * and the router drops it, so go back to SND.UNA and resend it all now in
   * segments of the new size (output() does the cutting). No window reduction: the
   * loss was not congestion (Linux's tcp_simple_retransmit does the same).
   */
  resendForPathMtu(): void {
    const conn = this.conn;
    conn.env.counters.inc('tcp.retransmit.pmtu');
    conn.snd.rttSeq = undefined; // Karn: the resent bytes cannot be timed
    this.probeArmed = false;
    this.probeOut = false;
    this.undo = undefined;
    conn.sndNxt = conn.sndUna;
    this.rexmitHigh = conn.sndUna;
    this.recovery.reset();
    this.timer.start(conn.rto.rto);
    conn.env.requestOutput(conn);
  }

  /** CLOSED or TIME-WAIT: nothing more will be retransmitted. */
  stop(): void {
    this.timer.stop();
  }
}
