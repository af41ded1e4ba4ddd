/**
 * What a capture can tell about one TCP connection, the way Wireshark's "TCP
 * analysis" does it: relative sequence numbers, and for each segment whether it is
 * new data, a retransmission, an out-of-order arrival, a jump over a missing
 * segment, or a duplicate ACK. Everything is judged from the capture point: a
 * segment lost before it reached the capture point is simply never seen.
 */
import { TcpFlags, type TcpHeader } from '../wire/tcp.js';

export type SegmentAnomaly =
  /** These bytes (or this SYN/FIN) were seen before: the sender sent them again. */
  | 'retransmission'
  /** A retransmission of bytes the receiver had already acknowledged: it was not needed. */
  | 'spurious-retransmission'
  /** Never seen before, but bytes after them were: they arrive late. */
  | 'out-of-order'
  /** The segment starts after the highest byte seen: something in between is missing. */
  | 'previous-segment-lost'
  /** A pure ACK repeating the previous ACK while data is outstanding (RFC 5681 2). */
  | 'duplicate-ack'
  /** A pure ACK repeating the previous ACK, sent only to announce a new window. */
  | 'window-update';

export interface SegmentAnalysis {
  /** Sequence number relative to the sender's ISN (the SYN is 0, first data byte 1). */
  seq: number;
  /** Acknowledgment number relative to the peer's ISN (0 when ACK is not set). */
  ack: number;
  /** Sequence space the segment occupies: data bytes, plus one each for SYN and FIN. */
  length: number;
  anomaly?: SegmentAnomaly;
  /** For duplicate ACKs: 1 for the first duplicate, 2 for the second, ... */
  duplicateCount?: number;
  /**
   * For duplicate ACKs: the peer has sent bytes beyond the ACK (a gap at the
   * receiver, RFC 5681's duplicate); false when the receiver answers a copy of
   * bytes it already had.
   */
  outstanding?: boolean;
  /** The segment carries SYN / FIN (for the wording of a retransmission). */
  syn?: boolean;
  fin?: boolean;
  /** The advertised window field (unscaled, as carried). */
  window: number;
  /**
   * The segment acknowledges bytes of the peer that the capture point never saw go
   * past (they were lost before it, or only a later copy was seen): Wireshark's
   * "ACKed unseen segment". Independent of `anomaly`: a data segment can be both.
   */
  ackedUnseen?: boolean;
}

/** One direction of a connection. */
class Flow {
  /** Initial sequence number (or the first seq seen minus one, without a SYN). */
  base: number | undefined;
  /** Highest relative sequence number seen + 1. */
  maxEnd = 0;
  /** Merged, sorted [start, end) ranges of sequence space seen. */
  private seen: [number, number][] = [];
  /** When the highest sequence number last moved (ns). */
  maxEndTime = 0n;
  /**
   * The end of the sender's new (not retransmitted) sequence space: what an ACK may
   * cover without acknowledging something the capture never saw the first time.
   */
  maxSeqToBeAcked = 0;
  /** When this side sent its SYN (ns), to measure the handshake's round trip. */
  synTime: bigint | undefined;
  lastAck: number | undefined;
  lastWindow: number | undefined;
  duplicateAcks = 0;
  /** Relative sequence numbers the peer asked for again with duplicate ACKs. */
  readonly askedFor = new Set<number>();

  rel(seq: number): number {
    return (seq - (this.base ?? 0)) >>> 0;
  }

  /** Whether any byte of [start, end) was seen before. */
  seenAny(start: number, end: number): boolean {
    return this.seen.some(([s, e]) => Math.min(e, end) > Math.max(s, start));
  }

  add(start: number, end: number, timeNs: bigint): void {
    // The common cases first: in-order data extends the last range, a jump past a
    // gap starts a new one. Only late bytes need the general merge below.
    const last = this.seen[this.seen.length - 1];
    if (!last || start > last[1]) {
      this.seen.push([start, end]);
      this.advance(end, timeNs);
      return;
    }
    if (start >= last[0]) {
      last[1] = Math.max(last[1], end);
      this.advance(end, timeNs);
      return;
    }
    const ranges = [...this.seen, [start, end] as [number, number]].sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.seen = merged;
    this.advance(end, timeNs);
  }

  /** Move the highest sequence number seen (a gap stays a gap in `seen`). */
  advance(end: number, timeNs: bigint): void {
    if (end > this.maxEnd) {
      this.maxEnd = end;
      this.maxEndTime = timeNs;
    }
  }
}

/** Tracks both directions of one connection; feed it every segment in capture order. */
export class TcpConnectionAnalysis {
  private readonly flows = new Map<string, Flow>();
  /** Round trip of the three-way handshake (SYN to the ACK of the SYN+ACK), once seen. */
  private handshakeRttNs: bigint | undefined;

  private flow(sender: string): Flow {
    let f = this.flows.get(sender);
    if (!f) this.flows.set(sender, (f = new Flow()));
    return f;
  }

  /** Bytes of sequence space seen from `sender` so far (relative). */
  highestSeq(sender: string): number {
    return this.flows.get(sender)?.maxEnd ?? 0;
  }

  analyze(sender: string, receiver: string, tcp: TcpHeader, payloadLength: number, timeNs = 0n): SegmentAnalysis {
    const own = this.flow(sender);
    const peer = this.flow(receiver);
    const syn = (tcp.flags & TcpFlags.SYN) !== 0;
    const fin = (tcp.flags & TcpFlags.FIN) !== 0;
    const rst = (tcp.flags & TcpFlags.RST) !== 0;
    const hasAck = (tcp.flags & TcpFlags.ACK) !== 0;
    if (own.base === undefined) own.base = syn ? tcp.seq : (tcp.seq - 1) >>> 0;

    const length = payloadLength + (syn ? 1 : 0) + (fin ? 1 : 0);
    const seq = own.rel(tcp.seq);
    const ack = hasAck && peer.base !== undefined ? peer.rel(tcp.ack) : 0;
    const out: SegmentAnalysis = { seq, ack, length, window: tcp.window, syn, fin };
    if (syn && !hasAck) own.synTime ??= timeNs;
    // The handshake's round trip, from the SYN to the ACK that completes it, as Wireshark
    // measures it: seen from either end (or between), it spans one full round trip.
    if (!syn && hasAck && own.synTime !== undefined) this.handshakeRttNs ??= timeNs - own.synTime;

    if (hasAck && peer.base !== undefined && ack > peer.maxSeqToBeAcked && peer.maxSeqToBeAcked > 0 && !rst) out.ackedUnseen = true;
    if (length > 0) {
      const end = seq + length;
      if (seq > own.maxEnd && own.maxEnd > 0) out.anomaly = 'previous-segment-lost';
      else if (seq < own.maxEnd) {
        out.anomaly = own.seenAny(seq, end) ? 'retransmission' : this.lateOrResent(own, seq, end, timeNs);
        // Already acknowledged by the receiver: the copy was not needed.
        if (out.anomaly === 'retransmission' && payloadLength > 0 && own.base !== undefined && peer.lastAck !== undefined && end <= own.rel(peer.lastAck)) {
          out.anomaly = 'spurious-retransmission';
        }
      }
      if (out.anomaly !== 'retransmission' && out.anomaly !== 'spurious-retransmission') own.maxSeqToBeAcked = Math.max(own.maxSeqToBeAcked, end);
      own.add(seq, end, timeNs);
      own.duplicateAcks = 0;
    } else if (seq > own.maxEnd && own.maxEnd > 0 && !rst) {
      // An empty segment whose sequence number jumps: the bytes before it were sent
      // and did not reach the capture point (yet).
      out.anomaly = 'previous-segment-lost';
      own.advance(seq, timeNs);
      own.maxSeqToBeAcked = Math.max(own.maxSeqToBeAcked, seq);
    } else if (hasAck && !rst && !syn && !fin && seq === own.maxEnd && own.lastAck === tcp.ack && own.lastWindow === tcp.window && tcp.window !== 0) {
      // Same ACK again, no data, window unchanged, and sent from the sender's current
      // position (Wireshark's rule; a late copy of an older ACK, e.g. a reordered
      // handshake ACK, is not a duplicate). RFC 5681 2 also asks for outstanding
      // data, see `outstanding`.
      out.anomaly = 'duplicate-ack';
      out.outstanding = ack < peer.maxEnd;
      out.duplicateCount = ++own.duplicateAcks;
      peer.askedFor.add(ack);
    } else if (hasAck && !rst && !syn && !fin && seq === own.maxEnd && own.lastAck === tcp.ack && own.lastWindow !== undefined && own.lastWindow !== tcp.window) {
      // RFC 9293 3.8.6: the receiver tells the sender its window changed.
      out.anomaly = 'window-update';
      own.duplicateAcks = 0;
    } else {
      own.duplicateAcks = 0;
    }
    if (hasAck) {
      own.lastAck = tcp.ack;
      own.lastWindow = tcp.window;
    }
    return out;
  }

  /**
   * Bytes never seen before that fill a gap: sent again, or delivered late? Like
   * Wireshark: a retransmission if the receiver had asked for them with duplicate
   * ACKs (fast retransmit, RFC 5681 3.2), if they end exactly where the sender's
   * later segments began (the sender had sent them before those), or if they come
   * more than a round trip (3 ms before one is known) after the highest sequence
   * number moved; otherwise the network reordered them.
   */
  private lateOrResent(own: Flow, seq: number, end: number, timeNs: bigint): SegmentAnomaly {
    if (own.askedFor.has(seq) || end === own.maxEnd) return 'retransmission';
    const rtt = this.handshakeRttNs ?? 0n;
    const threshold = rtt > 0n ? rtt : 3_000_000n;
    return timeNs - own.maxEndTime < threshold ? 'out-of-order' : 'retransmission';
  }
}
