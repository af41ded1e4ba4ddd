import type { SackBlock } from '../wire/tcp.js';
import type { TcpConnection } from './connection.js';
import { ReassemblyQueue } from './receive-buffer.js';
import { seqAdd, seqDiff, seqGt, seqLt } from './seq.js';
import { DeadlineTimer } from './timer.js';

/**
 * The receive side of one connection (gVisor's rcv.go): data that passed the
 * acceptability test goes in order to the user or into the reassembly queue;
 * RCV.NXT moves, the window we advertise follows the free buffer, and an ACK is
 * either due now or on the delayed-ACK timer. The in-order FIN is recognised here
 * and handed to the state machine (`TcpConnection.finReceived`).
 */
export class Receiver {
  /** Right edge of the window we last advertised (never moves left: RFC 9293 3.8.6, SHLD-14). */
  rcvAdvRight = 0;
  readonly reassembly: ReassemblyQueue;
  /** Sequence number of a FIN that arrived out of order. */
  private rcvFinSeq: number | undefined;
  private eofDelivered = false;
  /** Full segments received since our last ACK (RFC 1122 4.2.3.2: ACK every second one). */
  private segsSinceAck = 0;
  private readonly delackTimer: DeadlineTimer;
  /** Data (and the end of it) that arrived before a socket was attached. */
  private readonly pendingData: Uint8Array[] = [];
  private pendingEof = false;
  /**
   * Quick-ACK at connection start, as Linux (TCP_MAX_QUICKACKS): the first data
   * segments are acknowledged at once instead of after the delayed-ACK time, so the
   * peer's slow start is not held back by our delayed ACKs while its window is small.
   */
  private quickAcks: number;
  /** A duplicate that arrived, to report once as a D-SACK block (RFC 2883). */
  private dsack: SackBlock | undefined;

  constructor(private readonly conn: TcpConnection) {
    this.reassembly = new ReassemblyQueue(conn.env.config.outOfOrderLimitBytes);
    this.quickAcks = conn.env.config.quickAcks;
    this.delackTimer = new DeadlineTimer(conn.env.clock, () => this.onDelayedAckTimer());
  }

  /** The peer's SYN fixed RCV.NXT: the window we advertised starts there. */
  init(rcvNxt: number): void {
    this.rcvAdvRight = rcvNxt;
  }

  /** A socket was attached: hand over what arrived before it existed. */
  handOver(): void {
    const user = this.conn.user!;
    for (const d of this.pendingData.splice(0)) user.onData(d);
    if (this.pendingEof) user.onEof();
  }

  /** RCV.WND: what is left of the window we last advertised. */
  get rcvWnd(): number {
    return Math.max(0, seqDiff(this.rcvAdvRight, this.conn.rcvNxt));
  }

  /** Our ACKs carry SACK blocks: data is queued out of order, or a duplicate is to be reported. */
  get hasSackBlocks(): boolean {
    return !this.reassembly.empty || this.dsack !== undefined;
  }

  /** RFC 2883 4: a D-SACK block goes first, then the usual SACK blocks (RFC 2018 4). */
  sackBlocks(max: number): SackBlock[] {
    if (!this.dsack) return this.reassembly.sackBlocks(max);
    return [this.dsack, ...this.reassembly.sackBlocks(max - 1)];
  }

  /** How many blocks sackBlocks(max) gives (the sender sizes segments by it). */
  sackBlockCount(max: number): number {
    return this.dsack ? 1 + this.reassembly.blockCount(max - 1) : this.reassembly.blockCount(max);
  }

  /**
   * RFC 2883: data we already had arrived again, [seq, end). The next ACK (sent at
   * once) reports it in a D-SACK block, so the sender can tell a spurious
   * retransmission from a loss. Only with SACK negotiated (RFC 2883 4).
   */
  noteDuplicate(seq: number, end: number): void {
    const conn = this.conn;
    if (!conn.sackOk || !seqLt(seq, end)) return;
    this.dsack = { left: seq, right: end };
    conn.env.counters.inc('tcp.tx.dsack');
    conn.ackAtOnce();
  }

  /** An ACK (with our window) is going out now: the delayed ACK is no longer owed, the D-SACK was said. */
  onAckSent(): void {
    this.segsSinceAck = 0;
    this.delackTimer.stop();
    this.dsack = undefined;
  }

  /** The application read data: open the window again if it had shrunk (RFC 1122 4.2.3.3). */
  windowUpdateDue(): boolean {
    const conn = this.conn;
    const advertised = seqDiff(this.rcvAdvRight, conn.rcvNxt);
    const free = Math.min(this.freeReceiveSpace(), 0xffff << conn.rcvWscale);
    return free - advertised >= this.swsThreshold && (advertised < conn.ourMss || free >= 2 * advertised);
  }

  /** RFC 9293 3.10.7.4 seventh step: the segment text (already found acceptable). */
  receiveData(seq: number, payload: Uint8Array): void {
    const conn = this.conn;
    const c = conn.env.counters;
    // Trim what we already have (left) and what is beyond the window (right).
    if (seqLt(seq, conn.rcvNxt)) {
      const skip = seqDiff(conn.rcvNxt, seq);
      c.inc('tcp.rx.duplicate_bytes', Math.min(skip, payload.length));
      this.noteDuplicate(seq, seqAdd(seq, Math.min(skip, payload.length)));
      payload = payload.subarray(skip);
      seq = conn.rcvNxt;
    }
    const room = seqDiff(this.rcvAdvRight, seq);
    if (payload.length > room) {
      c.inc('tcp.rx.drop.beyond_window_bytes', payload.length - Math.max(0, room));
      payload = payload.subarray(0, Math.max(0, room));
    }
    if (payload.length === 0) return;

    if (seq !== conn.rcvNxt) {
      // Out of order: queue it and ACK at once (a duplicate ACK with SACK, RFC 5681 4.2).
      const added = this.reassembly.insert(seq, payload);
      if (added < 0) c.inc('tcp.rx.drop.ooo_queue_full');
      else c.inc('tcp.rx.out_of_order_bytes', added);
      if (added === 0) this.noteDuplicate(seq, seqAdd(seq, payload.length)); // all of it was queued already
      c.inc('tcp.rx.out_of_order_segments');
      conn.ackAtOnce();
      return;
    }
    this.deliver(payload);
    if (!this.reassembly.empty) {
      const { chunks, next } = this.reassembly.take(conn.rcvNxt);
      if (chunks.length > 0) {
        // Filling a hole: ACK immediately (RFC 5681 4.2).
        conn.ackNow = true;
        for (const ch of chunks) this.deliver(ch);
        conn.rcvNxt = next;
      }
    }
    if (this.rcvFinSeq !== undefined && this.rcvFinSeq === conn.rcvNxt) this.receiveFin();

    // RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK at least every second full-sized segment,
    // otherwise within the delayed-ACK timeout.
    this.segsSinceAck++;
    if (this.quickAcks > 0) {
      this.quickAcks--;
      conn.env.counters.inc('tcp.tx.quick_ack');
      conn.ackNow = true;
    }
    if (this.segsSinceAck >= 2 || !this.reassembly.empty) conn.ackNow = true;
    else this.delackTimer.ensure(conn.env.config.delayedAckMs);
    conn.env.requestOutput(conn);
  }

  /** RFC 9293 3.10.7.4 eighth step: a FIN at `finSeq` (in order now, or remembered for later). */
  finArrives(finSeq: number): void {
    const conn = this.conn;
    if (finSeq === conn.rcvNxt) {
      this.receiveFin();
    } else if (seqGt(finSeq, conn.rcvNxt)) {
      // Beyond a hole: kept for later, and like any out-of-order segment answered at
      // once with a duplicate ACK (RFC 5681 4.2) that tells the sender about the hole.
      this.rcvFinSeq = finSeq;
      conn.env.counters.inc('tcp.rx.fin_out_of_order');
      conn.ackAtOnce();
    }
  }

  /** The FIN is next in sequence: it takes one sequence number, and the state machine moves. */
  receiveFin(): void {
    if (this.eofDelivered) return;
    const conn = this.conn;
    this.eofDelivered = true;
    this.rcvFinSeq = undefined;
    conn.rcvNxt = seqAdd(conn.rcvNxt, 1);
    conn.env.counters.inc('tcp.rx.fin');
    conn.ackAtOnce();
    conn.finReceived();
    if (conn.user) conn.user.onEof();
    else this.pendingEof = true;
  }

  private deliver(data: Uint8Array): void {
    const conn = this.conn;
    conn.rcvNxt = seqAdd(conn.rcvNxt, data.length);
    if (conn.user) conn.user.onData(data);
    else this.pendingData.push(data);
  }

  /** Receiver SWS avoidance (RFC 1122 4.2.3.3): open the window in steps of at least min(buffer/2, MSS). */
  private get swsThreshold(): number {
    return Math.min(this.conn.env.config.receiveBufferBytes / 2, this.conn.ourMss);
  }

  private freeReceiveSpace(): number {
    const user = this.conn.user;
    const backlog = user ? user.readableBacklog : this.pendingData.reduce((n, d) => n + d.length, 0);
    return Math.max(0, this.conn.env.config.receiveBufferBytes - backlog);
  }

  /**
   * The window field: free buffer space, moved right only in steps of at least
   * min(buffer/2, MSS) (receiver SWS avoidance, RFC 1122 4.2.3.3), never shrunk.
   */
  advertiseWindow(shift: number): number {
    const conn = this.conn;
    const free = this.freeReceiveSpace();
    const current = this.rcvWnd;
    let wnd = free - current >= this.swsThreshold ? free : current;
    // The shift is at most 14 (RFC 7323 2.3), so these stay below 2^31: plain integer
    // shifts, not the floating-point power (which showed in profiles; this runs per segment).
    wnd = Math.min(wnd, 0xffff << shift);
    const field = Math.floor(wnd / (1 << shift));
    const right = seqAdd(conn.rcvNxt, field << shift);
    if (seqGt(right, this.rcvAdvRight)) this.rcvAdvRight = right;
    if (field === 0) conn.env.counters.inc('tcp.tx.zero_window');
    return field;
  }

  private onDelayedAckTimer(): void {
    const conn = this.conn;
    if (conn.state === 'CLOSED') return;
    conn.env.counters.inc('tcp.tx.delayed_ack');
    conn.ackAtOnce();
  }

  /** CLOSED: no ACK is owed and nothing out of order is kept. */
  stop(): void {
    this.delackTimer.stop();
    this.reassembly.clear();
    this.dsack = undefined;
  }
}
