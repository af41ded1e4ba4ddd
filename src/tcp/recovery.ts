import type { SackScoreboard } from './sack.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from './seq.js';

interface Retransmission {
  seq: number;
  end: number;
  /** SND.MAX when it was sent: data sent later being SACKed means this one was lost. */
  mark: number;
}

/**
 * SACK-based loss recovery in the spirit of RFC 6675: during fast recovery, what
 * may be sent is governed by `pipe` (bytes presumed still in the network) instead
 * of NewReno's window inflation. Holes below the highest SACKed byte are taken as
 * lost and retransmitted in order; a retransmission counts as lost again once data
 * sent after it has been SACKed (the idea of RACK, RFC 8985, without a timer), so
 * a lost retransmission is repaired without waiting for the RTO.
 */
export class SackRecovery {
  private sent: Retransmission[] = [];

  reset(): void {
    this.sent = [];
  }

  /** Forget retransmissions that are now cumulatively acknowledged. */
  advance(sndUna: number): void {
    this.sent = this.sent.filter((r) => seqGt(r.end, sndUna));
  }

  /** Note a retransmission of [seq, seq+len); it replaces older records of those bytes. */
  record(seq: number, len: number, sndMax: number): void {
    const end = seqAdd(seq, len);
    const out: Retransmission[] = [];
    for (const r of this.sent) {
      if (seqLe(r.end, seq) || seqGe(r.seq, end)) {
        out.push(r);
        continue;
      }
      // Keep only the parts of an older record outside the new one.
      if (seqLt(r.seq, seq)) out.push({ seq: r.seq, end: seq, mark: r.mark });
      if (seqGt(r.end, end)) out.push({ seq: end, end: r.end, mark: r.mark });
    }
    out.push({ seq, end, mark: sndMax });
    out.sort((x, y) => seqDiff(x.seq, y.seq));
    this.sent = out;
  }

  /**
   * RFC 6675 pipe: bytes above the highest SACK (never reported, presumed in
   * flight) plus retransmissions not yet presumed lost, less what was SACKed since.
   */
  pipe(sb: SackScoreboard, sndUna: number, sndMax: number): number {
    const highest = sb.highest;
    if (highest === undefined || !seqGt(highest, sndUna)) return seqDiff(sndMax, sndUna);
    let pipe = seqDiff(sndMax, highest);
    for (const r of this.sent) {
      if (seqLt(r.mark, highest)) continue; // presumed lost again
      const from = seqMax(r.seq, sndUna);
      if (!seqLt(from, r.end)) continue;
      pipe += seqDiff(r.end, from) - sb.sackedBetween(from, r.end);
    }
    return pipe;
  }

  /**
   * The next piece to retransmit: the first hole below the highest SACKed byte that
   * was not retransmitted yet, or whose retransmission was overtaken.
   */
  next(sb: SackScoreboard, sndUna: number, maxLen: number): { seq: number; len: number; again: boolean } | undefined {
    const highest = sb.highest;
    if (highest === undefined) return undefined;
    let s = sb.skip(sndUna);
    while (seqLt(s, highest)) {
      const holeEnd = seqMin(sb.nextSacked(s) ?? highest, highest);
      const r = this.sent.find((x) => seqInWindow(s, x.seq, x.end));
      if (!r) {
        const nextSent = this.sent.find((x) => seqGt(x.seq, s));
        let end = holeEnd;
        if (nextSent && seqLt(nextSent.seq, end)) end = nextSent.seq;
        return { seq: s, len: Math.min(maxLen, seqDiff(end, s)), again: false };
      }
      if (seqLt(r.mark, highest)) {
        return { seq: s, len: Math.min(maxLen, seqDiff(seqMin(r.end, holeEnd), s)), again: true };
      }
      s = sb.skip(r.end);
    }
    return undefined;
  }
}
