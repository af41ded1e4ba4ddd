import { TcpFlags, type TcpHeader, type TcpOptions } from '../wire/tcp.js';
import type { TcpConnection } from './connection.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from './seq.js';

const EMPTY = new Uint8Array(0);

/**
 * The send side of one connection (gVisor's snd.go): cutting the send buffer into
 * segments within the peer's window and cwnd (Nagle, sender SWS avoidance), the
 * options every segment carries, and what an arriving ACK does to the send
 * sequence space. Loss repair and its timers are in retransmit.ts.
 */
export class Sender {
  /** Sequence number of sendBuffer byte 0. */
  bufSeq = 0;
  /** End of the last small segment sent (Minshall's Nagle). */
  private sndSml = 0;
  /** Where the most recent segment of new data started (what a tail loss probe resends). */
  lastSegmentSeq = 0;
  /** When SND.UNA last moved (or data became outstanding): the user timeout counts from here. */
  progressAt = 0;
  /** Karn: timing one segment when timestamps are off. */
  rttSeq: number | undefined;
  private rttStart = 0;

  constructor(private readonly conn: TcpConnection) {}

  /** RFC 9293 3.3.1: the first data byte follows the SYN. */
  init(iss: number): void {
    this.bufSeq = seqAdd(iss, 1);
  }

  /**
   * Send whatever is due: a SYN, data the windows allow (Nagle and sender SWS
   * avoidance applied), a FIN riding on the last data segment, or a bare ACK.
   * Called at flush time, so one batch of arrivals gets one ACK.
   */
  output(): void {
    const conn = this.conn;
    const rtx = conn.rtx;
    const st = conn.state;
    if (st === 'CLOSED') return;
    if (st === 'SYN-SENT' || st === 'SYN-RECEIVED') {
      if (conn.sndNxt === conn.iss) {
        const flags = st === 'SYN-SENT' ? TcpFlags.SYN : TcpFlags.SYN | TcpFlags.ACK;
        this.transmit(conn.iss, flags, conn.synOptions(), EMPTY);
        conn.sndNxt = seqAdd(conn.iss, 1);
        conn.sndMax = seqMax(conn.sndMax, conn.sndNxt);
        rtx.timer.ensure(conn.rto.rto);
      }
      return;
    }
    if (st === 'TIME-WAIT') {
      if (conn.ackNow) this.sendAck();
      return;
    }
    let sent = false;
    /** Data or a FIN went out in the loop below: the retransmission timer is armed once after it. */
    let armTimer = false;
    const mss = this.maxPayload(true);
    // RFC 6675 5 (C): in SACK recovery, send while cwnd - pipe allows one segment,
    // lost holes first, then new data.
    const sackRecovery = conn.sackOk && conn.cc.inRecovery;
    let pipe = 0;
    if (sackRecovery) {
      pipe = rtx.recovery.pipe(rtx.scoreboard, conn.sndUna, conn.sndMax);
      // (The round limit only guards against pathological fragmentation.)
      for (let round = 0; round < 256 && conn.cc.cwnd - pipe >= mss; round++) {
        const next = rtx.recovery.next(rtx.scoreboard, conn.sndUna, mss);
        if (!next) break;
        const len = rtx.retransmitHole(next.seq, next.len);
        if (len === 0) break;
        if (next.again) conn.env.counters.inc('tcp.retransmit.lost_retransmit');
        rtx.recovery.record(next.seq, len, conn.sndMax);
        pipe += len;
        sent = true;
      }
    }
    for (;;) {
      if (seqLt(conn.sndNxt, conn.sndMax)) {
        const skipped = rtx.scoreboard.skip(conn.sndNxt);
        if (skipped !== conn.sndNxt) conn.sndNxt = seqLt(skipped, conn.sndMax) ? skipped : conn.sndMax;
      }
      const offset = seqDiff(conn.sndNxt, this.bufSeq);
      const unsent = conn.sendBuffer.length - offset; // may be -1 after the FIN
      const inFlight = seqDiff(conn.sndNxt, conn.sndUna);
      const cwndLeft = sackRecovery ? conn.cc.cwnd - pipe : conn.cc.cwnd - inFlight;
      const usable = Math.min(conn.sndWnd - inFlight, cwndLeft);
      const retransmitting = seqLt(conn.sndNxt, conn.sndMax);
      // Offload (TcpConfig.segmentsPerSend): new data may leave as one super-segment of
      // several MSS that the link cuts into segments by our MTU, so only while the
      // peer takes our full MSS; retransmissions stay single segments.
      const most = retransmitting || conn.sndMss < conn.ourMss ? mss : mss * conn.env.config.segmentsPerSend;
      let len = Math.max(0, Math.min(most, unsent, usable));
      if (retransmitting) {
        const nextSacked = rtx.scoreboard.nextSacked(conn.sndNxt);
        if (nextSacked !== undefined) len = Math.min(len, Math.max(0, seqDiff(nextSacked, conn.sndNxt)));
      }
      // The FIN rides on the segment that carries the last byte (or goes alone).
      const fin = conn.finQueued && unsent >= 0 && len === unsent;
      if (len === 0 && !fin) break;
      if (!retransmitting && !fin && len < mss) {
        if (len < unsent) {
          // Sender SWS avoidance (RFC 1122 4.2.3.4): a window-limited runt waits
          // unless it is at least half the largest window the peer offered.
          if (len < conn.maxSndWnd / 2 && inFlight > 0) break;
        } else if (conn.nagle && inFlight > 0 && seqGt(this.sndSml, conn.sndUna)) {
          // Nagle (RFC 9293 3.7.4), in Minshall's variant as Linux: hold a small
          // segment while an earlier small segment is still unacknowledged.
          break;
        }
      }
      const data = conn.sendBuffer.read(offset, len);
      if (retransmitting) {
        conn.env.counters.inc('tcp.retransmit.segments');
        conn.env.counters.inc('tcp.retransmit.bytes', len);
      } else if (len > 0 && !conn.tsOk && this.rttSeq === undefined && rtx.retries === 0) {
        this.rttSeq = seqAdd(conn.sndNxt, len);
        this.rttStart = conn.env.clock.now();
      }
      if (conn.sndUna === conn.sndMax) this.progressAt = conn.env.clock.now();
      if (!retransmitting) this.lastSegmentSeq = conn.sndNxt;
      this.sendData(conn.sndNxt, data, fin);
      sent = true;
      pipe += len;
      if (len < mss) this.sndSml = seqAdd(conn.sndNxt, len);
      conn.sndNxt = seqAdd(conn.sndNxt, len + (fin ? 1 : 0));
      if (seqGt(conn.sndNxt, conn.sndMax)) conn.sndMax = conn.sndNxt;
      armTimer = true;
      if (fin) break;
    }
    // Once for the whole burst, not per segment: no time passes inside this loop, so
    // the deadline is the same, and reading the clock per segment showed in profiles.
    if (armTimer) rtx.arm(false);
    // Zero window with data waiting and nothing in flight: the retransmission timer
    // doubles as the persist timer (RFC 9293 3.8.6.1).
    if (conn.sndWnd === 0 && conn.sendBuffer.length > seqDiff(conn.sndNxt, this.bufSeq) && conn.sndUna === conn.sndMax) {
      rtx.timer.ensure(conn.rto.rto);
    }
    if (conn.ackNow && !sent) this.sendAck();
  }

  sendData(seq: number, data: Uint8Array, fin: boolean): void {
    const conn = this.conn;
    let flags = TcpFlags.ACK;
    if (data.length > 0 && seqDiff(seqAdd(seq, data.length), this.bufSeq) === conn.sendBuffer.length) flags |= TcpFlags.PSH;
    if (fin) flags |= TcpFlags.FIN;
    this.transmit(seq, flags, this.dataOptions(), data);
  }

  /**
   * A zero-length segment at SND.UNA - 1, a sequence number the peer has already
   * acknowledged, so it must answer with an ACK that carries its current window
   * (RFC 1122 4.2.3.6): the keepalive, and the zero-window probe (retransmit.ts).
   */
  sendProbe(): void {
    this.transmit(seqAdd(this.conn.sndUna, -1), TcpFlags.ACK, this.dataOptions(), EMPTY);
  }

  sendAck(): void {
    // SND.MAX, not SND.NXT: while we go back to retransmit, SND.NXT points at old
    // sequence numbers, and a bare ACK carrying one would be unacceptable to the peer
    // (RFC 9293 3.10.7.4 first check) and dropped with its acknowledgment.
    this.transmit(this.conn.sndMax, TcpFlags.ACK, this.dataOptions(), EMPTY);
  }

  dataOptions(): TcpOptions | undefined {
    const conn = this.conn;
    let o: TcpOptions | undefined;
    if (conn.tsOk) o = { timestamp: { value: conn.tsNow(), echo: conn.tsRecent } };
    if (conn.sackOk && conn.rcv.hasSackBlocks) {
      o ??= {};
      o.sack = conn.rcv.sackBlocks(conn.tsOk ? 3 : 4);
    }
    return o;
  }

  /** Every segment of a synchronized connection carries our ACK and window. */
  transmit(seq: number, flags: number, options: TcpOptions | undefined, payload: Uint8Array): void {
    const conn = this.conn;
    let window = 0;
    let ack = 0;
    if (flags & TcpFlags.ACK) {
      ack = conn.rcvNxt;
      window = conn.rcv.advertiseWindow(flags & TcpFlags.SYN ? 0 : conn.rcvWscale);
      conn.lastAckSent = ack;
      conn.ackNow = false;
      conn.rcv.onAckSent();
    }
    if (flags & TcpFlags.SYN && !(flags & TcpFlags.ACK)) window = Math.min(0xffff, conn.env.config.receiveBufferBytes);
    conn.env.counters.inc('tcp.tx.segments');
    conn.env.transmit(
      conn,
      { srcPort: conn.tuple.localPort, dstPort: conn.tuple.remotePort, seq, ack, flags, window, options },
      payload,
    );
  }

  /** A segment outside the normal flow: RST or bare control, with our current numbers. */
  sendControl(seq: number, ack: number, flags: number): void {
    const conn = this.conn;
    conn.env.counters.inc('tcp.tx.segments');
    if (flags & TcpFlags.RST) conn.env.counters.inc('tcp.tx.rst');
    conn.env.transmit(
      conn,
      { srcPort: conn.tuple.localPort, dstPort: conn.tuple.remotePort, seq, ack: flags & TcpFlags.ACK ? conn.rcvNxt : ack, flags, window: 0 },
      EMPTY,
    );
  }

  /**
   * RFC 9293 3.10.7.4 fifth step, for the send side: note what the peer SACKed, take
   * the window from the newest segment, then either new data was acknowledged or this
   * may be a duplicate ACK.
   */
  onAck(h: TcpHeader, dataLen: number): void {
    const conn = this.conn;
    const ack = h.ack;
    let newlySacked = false;
    if (conn.sackOk && h.options.sack) {
      const scoreboard = conn.rtx.scoreboard;
      const before = scoreboard.sackedBetween(conn.sndUna, conn.sndMax);
      scoreboard.update(h.options.sack, conn.sndUna, conn.sndMax);
      newlySacked = scoreboard.sackedBetween(conn.sndUna, conn.sndMax) > before;
    }
    const oldWnd = conn.sndWnd;
    // RFC 9293 3.10.7.4: update the send window from the newest segment only.
    if (seqLt(conn.sndWl1, h.seq) || (conn.sndWl1 === h.seq && seqLe(conn.sndWl2, ack))) {
      conn.sndWnd = h.window << conn.sndWscale;
      conn.sndWl1 = h.seq;
      conn.sndWl2 = ack;
      if (conn.sndWnd > conn.maxSndWnd) conn.maxSndWnd = conn.sndWnd;
      if (conn.sndWnd > oldWnd) conn.env.requestOutput(conn);
    }

    // The peer answers our zero-window probes: it is alive, so the probes do not
    // count towards giving up (as Linux resets icsk_probes_out on every ACK).
    if (conn.sndWnd === 0 && conn.rtx.retries > 0) conn.rtx.retries = 0;

    if (seqGt(ack, conn.sndUna)) {
      this.ackReceived(ack, h);
    } else if (
      ack === conn.sndUna &&
      conn.sndMax !== conn.sndUna &&
      // RFC 5681 2 "duplicate acknowledgment"; with SACK (RFC 6675 2) any ACK that
      // reports new SACKed data counts, even if it carries data or a new window.
      // Answers to zero-window probes are not duplicate ACKs.
      (newlySacked || (dataLen === 0 && !(h.flags & (TcpFlags.SYN | TcpFlags.FIN)) && conn.sndWnd === oldWnd && conn.sndWnd > 0))
    ) {
      conn.rtx.onDuplicateAck();
    }
  }

  /** New data acknowledged: free the buffer, sample the RTT, grow cwnd. */
  ackReceived(ack: number, h: TcpHeader): void {
    const conn = this.conn;
    const acked = seqDiff(ack, conn.sndUna);
    const flightBefore = seqDiff(conn.sndMax, conn.sndUna);
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.bufSeq)), conn.sendBuffer.length);
    if (dataAcked > 0) {
      conn.sendBuffer.consume(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
    }
    conn.sndUna = ack;
    if (seqLt(conn.sndNxt, ack)) conn.sndNxt = ack;

    // RTT: from the echoed timestamp (RFC 7323 4.1), or the timed segment (Karn).
    const ts = h.options.timestamp;
    if (conn.tsOk && ts && ts.echo !== 0) {
      conn.rto.sample(seqDiff(conn.tsNow(), ts.echo));
    } else if (this.rttSeq !== undefined && seqGe(ack, this.rttSeq)) {
      conn.rto.sample(conn.env.clock.now() - this.rttStart);
      this.rttSeq = undefined;
    }
    this.progressAt = conn.env.clock.now();
    conn.rtx.onNewAck(acked, dataAcked, flightBefore, ts?.echo);
    if (dataAcked > 0) {
      conn.user?.onSendSpace();
      conn.env.requestOutput(conn);
    }
  }

  /** Data bytes per segment: the MSS less the options every segment carries. */
  maxPayload(withSack: boolean): number {
    const conn = this.conn;
    let n = conn.sndMss - (conn.tsOk ? 12 : 0);
    if (withSack && conn.sackOk && conn.rcv.hasSackBlocks) n -= 4 + 8 * conn.rcv.sackBlockCount(conn.tsOk ? 3 : 4);
    return Math.max(1, n);
  }

  /** Written, not yet sent. */
  get unsent(): number {
    const conn = this.conn;
    return Math.max(0, conn.sendBuffer.length - Math.max(0, seqDiff(conn.sndMax, this.bufSeq)));
  }

  private get finSeq(): number {
    return seqAdd(this.bufSeq, this.conn.sendBuffer.length);
  }

  /** Our FIN went out (it takes the sequence number after the last data byte). */
  get finSent(): boolean {
    return this.conn.finQueued && seqLt(this.finSeq, this.conn.sndMax);
  }

  get finAcked(): boolean {
    return this.conn.finQueued && seqGt(this.conn.sndUna, this.finSeq);
  }
}
