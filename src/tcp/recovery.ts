import type { SackScoreboard } from './sack.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js';

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

  record(seq: number, len: number, sndMax: number): void {
    const end = seqAdd(seq, len);
    this.sent = this.sent.filter((r) => !(seqGe(r.seq, seq) && seqLe(r.end, end)));
    let i = this.sent.length;
    while (i > 0 && seqGt(this.sent[i - 1]!.seq, seq)) i--;
    this.sent.splice(i, 0, { seq, end, mark: sndMax });
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
      const r = this.sent.find((x) => seqLe(x.seq, s) && seqLt(s, x.end));
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
