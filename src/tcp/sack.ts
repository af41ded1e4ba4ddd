import type { SackBlock } from '../wire/tcp.js';
import { seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from './seq.js';

/**
 * The sender's SACK scoreboard (RFC 2018, RFC 6675 in spirit): the ranges above
 * SND.UNA that the peer reported as received. Retransmissions skip them.
 */
export class SackScoreboard {
  /** Sorted, disjoint, all above SND.UNA. */
  private ranges: SackBlock[] = [];

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** Merge the peer's blocks; ignore those outside (SND.UNA, SND.MAX]. */
  update(blocks: readonly SackBlock[], sndUna: number, sndMax: number): void {
    for (const b of blocks) {
      if (!seqLt(b.left, b.right) || seqLe(b.right, sndUna) || seqGt(b.right, sndMax)) continue;
      this.add({ left: seqMax(b.left, sndUna), right: b.right });
    }
  }

  /** Forget everything below the new SND.UNA. */
  advance(sndUna: number): void {
    while (this.ranges.length > 0 && seqLe(this.ranges[0]!.right, sndUna)) this.ranges.shift();
    const first = this.ranges[0];
    if (first && seqLt(first.left, sndUna)) first.left = sndUna;
  }

  /** If `seq` lies in a SACKed range, the end of that range; else `seq`. */
  skip(seq: number): number {
    for (const r of this.ranges) {
      if (seqInWindow(seq, r.left, r.right)) return r.right;
      if (seqGt(r.left, seq)) break;
    }
    return seq;
  }

  /** Bytes SACKed in [from, to). */
  sackedBetween(from: number, to: number): number {
    let n = 0;
    for (const r of this.ranges) {
      const l = seqMax(r.left, from);
      const h = seqMin(r.right, to);
      if (seqLt(l, h)) n += (h - l) >>> 0;
    }
    return n;
  }

  /** The first SACKed sequence number at or after `seq`, or undefined. */
  nextSacked(seq: number): number | undefined {
    for (const r of this.ranges) if (seqGt(r.right, seq)) return seqMax(r.left, seq);
    return undefined;
  }

  /** The highest SACKed sequence number (exclusive), or undefined. */
  get highest(): number | undefined {
    return this.ranges[this.ranges.length - 1]?.right;
  }

  clear(): void {
    this.ranges = [];
  }

  private add(b: SackBlock): void {
    const out: SackBlock[] = [];
    let cur = { ...b };
    let placed = false;
    for (const r of this.ranges) {
      if (seqLt(r.right, cur.left)) out.push(r);
      else if (seqGt(r.left, cur.right)) {
        if (!placed) {
          out.push(cur);
          placed = true;
        }
        out.push(r);
      } else cur = { left: seqMin(r.left, cur.left), right: seqMax(r.right, cur.right) };
    }
    if (!placed) out.push(cur);
    this.ranges = out;
  }
}
