/**
 * DNS over TCP (RFC 1035 4.2.2, RFC 7766 8): each message is preceded by its length
 * as two bytes. TCP is a byte stream, so a message may arrive in pieces or several
 * at once; this collects chunks and hands out whole messages.
 */
export class DnsTcpDeframer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Add received bytes; returns the messages they completed (views, not copies). */
  push(chunk: Uint8Array): Uint8Array[] {
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.buffered < 2) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.chunks = [all];
      const length = (all[0]! << 8) | all[1]!;
      if (this.buffered < 2 + length) break;
      out.push(all.subarray(2, 2 + length));
      const rest = all.subarray(2 + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return out;
  }

  /** Bytes of an incomplete message still waiting. */
  get pending(): number {
    return this.buffered;
  }
}
