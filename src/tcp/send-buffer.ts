/**
 * Bytes the application wrote that are not yet acknowledged. Byte 0 is the oldest
 * unacknowledged byte (sequence number SND.UNA, once the SYN is acked). Chunks are
 * kept as written; reads return views when a range lies in one chunk.
 */
export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** Offset of the first live byte inside chunks[0]. */
  private head = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.total += data.length;
  }

  /** Drop `n` acknowledged bytes from the front. */
  consume(n: number): void {
    n = Math.min(n, this.total);
    this.total -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const left = first.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** `len` bytes starting at `offset`: a view if they lie in one chunk, else a copy. */
  read(offset: number, len: number): Uint8Array {
    len = Math.min(len, this.total - offset);
    if (len <= 0) return new Uint8Array(0);
    let pos = offset + this.head;
    let i = 0;
    while (pos >= this.chunks[i]!.length) {
      pos -= this.chunks[i]!.length;
      i++;
    }
    const c = this.chunks[i]!;
    if (pos + len <= c.length) return c.subarray(pos, pos + len);
    const out = new Uint8Array(len);
    let filled = 0;
    while (filled < len) {
      const chunk = this.chunks[i++]!;
      const take = Math.min(chunk.length - pos, len - filled);
      out.set(chunk.subarray(pos, pos + take), filled);
      filled += take;
      pos = 0;
    }
    return out;
  }
}
