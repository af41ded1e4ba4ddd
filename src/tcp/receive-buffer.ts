import type { SackBlock } from '../wire/tcp.js';
import { seqAdd, seqDiff, seqGe, seqInWindow, seqLe, seqLt, seqMax } from './seq.js';

interface Piece {
  seq: number;
  data: Uint8Array;
}

/**
 * The out-of-order queue (RFC 9293 3.10.7.4, seventh step: segments beyond RCV.NXT
 * are held for later delivery). Pieces never overlap: a new segment is trimmed
 * against what is already queued, so duplicates and overlaps cost nothing. Memory is
 * bounded: a segment that does not fit is dropped (the sender will retransmit it).
 */
export class ReassemblyQueue {
  private pieces: Piece[] = [];
  private stored = 0;
  /** Sequence numbers of the most recently queued segments, newest first (SACK order). */
  private recent: number[] = [];

  constructor(readonly limitBytes: number) {}

  /** Bytes held out of order. */
  get bytes(): number {
    return this.stored;
  }

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  /**
   * Queue data that starts after RCV.NXT. Returns the number of new bytes stored
   * (0 for a pure duplicate), or -1 if the memory bound refused it.
   */
  insert(seq: number, data: Uint8Array): number {
    const end = seqAdd(seq, data.length);
    const fresh: Piece[] = [];
    let cur = seq;
    for (const p of this.pieces) {
      const pEnd = seqAdd(p.seq, p.data.length);
      if (seqLe(pEnd, cur)) continue;
      if (seqGe(p.seq, end)) break;
      if (seqLt(cur, p.seq)) fresh.push({ seq: cur, data: data.subarray(seqDiff(cur, seq), seqDiff(p.seq, seq)) });
      cur = seqMax(cur, pEnd);
      if (seqGe(cur, end)) break;
    }
    if (seqLt(cur, end)) fresh.push({ seq: cur, data: data.subarray(seqDiff(cur, seq)) });
    let added = 0;
    for (const f of fresh) added += f.data.length;
    if (added === 0) return 0;
    if (this.stored + added > this.limitBytes) return -1;
    for (const f of fresh) this.place(f);
    this.stored += added;
    this.recent = [seq, ...this.recent.filter((r) => r !== seq)].slice(0, 8);
    return added;
  }

  /** Remove and return the pieces that are now in order at `rcvNxt` (trimmed). */
  take(rcvNxt: number): { chunks: Uint8Array[]; next: number } {
    const chunks: Uint8Array[] = [];
    let next = rcvNxt;
    while (this.pieces.length > 0 && seqLe(this.pieces[0]!.seq, next)) {
      const p = this.pieces.shift()!;
      this.stored -= p.data.length;
      const pEnd = seqAdd(p.seq, p.data.length);
      if (seqLe(pEnd, next)) continue;
      chunks.push(p.data.subarray(seqDiff(next, p.seq)));
      next = pEnd;
    }
    return { chunks, next };
  }

  /**
   * SACK blocks (RFC 2018 4): contiguous queued ranges, the one holding the most
   * recently received segment first, then those of the next most recent segments
   * (so a block is repeated in several ACKs and survives ACK loss), at most `max`.
   */
  sackBlocks(max: number): SackBlock[] {
    const blocks: SackBlock[] = [];
    for (const p of this.pieces) {
      const pEnd = seqAdd(p.seq, p.data.length);
      const last = blocks[blocks.length - 1];
      if (last && last.right === p.seq) last.right = pEnd;
      else blocks.push({ left: p.seq, right: pEnd });
    }
    const ordered: SackBlock[] = [];
    for (const seq of this.recent) {
      const b = blocks.find((x) => seqInWindow(seq, x.left, x.right));
      if (b && !ordered.includes(b)) ordered.push(b);
    }
    for (const b of blocks) if (!ordered.includes(b)) ordered.push(b);
    return ordered.slice(0, max);
  }

  /** How many blocks sackBlocks(max) would return, without building them. */
  blockCount(max: number): number {
    let n = 0;
    let end: number | undefined;
    for (const p of this.pieces) {
      if (p.seq !== end && ++n === max) return n;
      end = seqAdd(p.seq, p.data.length);
    }
    return n;
  }

  clear(): void {
    this.recent = [];
    this.pieces = [];
    this.stored = 0;
  }

  private place(piece: Piece): void {
    let lo = 0;
    let hi = this.pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLt(this.pieces[mid]!.seq, piece.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.pieces.splice(lo, 0, piece);
  }
}
