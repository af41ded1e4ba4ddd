/**
 * One direction of a connection's byte stream, put back in sequence order, the way
 * the receiving TCP reads it (RFC 9293 3.10.7.4: data is delivered in order, and a
 * segment that arrives ahead of a gap waits for it). The diagram reads FTP commands
 * and replies through this, so after a loss or a reordering each line is read once,
 * in the order its sender wrote it, and each reply is matched with the command it
 * answers by position in the streams rather than by when a copy crossed the capture.
 */

export interface Accepted<T> {
  /** Bytes of this segment that were read before (a copy sent again). */
  old: Uint8Array;
  /** Bytes of this segment read now, in order. */
  fresh: Uint8Array;
  /** Segments that waited behind a gap this one filled, in order, with what they belong to. */
  released: { bytes: Uint8Array; owner: T }[];
  /** This segment is ahead of a gap: it waits (and is in `released` of a later call). */
  waiting: boolean;
}

/** Segments waiting behind a gap at most; a capture that never fills its gaps cannot grow this without end. */
const MAX_WAITING = 256;
const EMPTY = new Uint8Array(0);

export class InOrderStream<T> {
  /** Relative sequence number of the next byte to read (set by the first segment). */
  private next: number | undefined;
  private readonly ahead = new Map<number, { bytes: Uint8Array; owner: T }>();

  accept(seq: number, bytes: Uint8Array, owner: T): Accepted<T> {
    this.next ??= seq;
    const end = seq + bytes.length;
    if (end <= this.next) return { old: bytes, fresh: EMPTY, released: [], waiting: false };
    if (seq > this.next) {
      if (this.ahead.size >= MAX_WAITING) this.ahead.delete(this.ahead.keys().next().value!);
      this.ahead.set(seq, { bytes, owner });
      return { old: EMPTY, fresh: EMPTY, released: [], waiting: true };
    }
    const skip = this.next - seq;
    const out: Accepted<T> = { old: bytes.subarray(0, skip), fresh: bytes.subarray(skip), released: [], waiting: false };
    this.next = end;
    // Whatever waited and now follows on: release it, in sequence order.
    for (;;) {
      let found: number | undefined;
      for (const [s, chunk] of this.ahead) {
        if (s + chunk.bytes.length <= this.next) this.ahead.delete(s); // wholly read already
        else if (s <= this.next && (found === undefined || s < found)) found = s;
      }
      if (found === undefined) break;
      const chunk = this.ahead.get(found)!;
      this.ahead.delete(found);
      out.released.push({ bytes: chunk.bytes.subarray(this.next - found), owner: chunk.owner });
      this.next = found + chunk.bytes.length;
    }
    return out;
  }
}
