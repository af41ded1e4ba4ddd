/**
 * Memory for outgoing frames, carved from 256 KiB slabs (about 170 full-size frames
 * each): one small view object per frame instead of a zero-filled allocation each
 * (the slab is zeroed once, when it is made). Frames are never reused: a view keeps
 * its slab alive for as long as anyone (a link, a capture, a retransmission queue)
 * holds it, and the garbage collector frees the slab when the last one is gone. The
 * same idea as Node's Buffer pool, kept to plain Uint8Array.
 */
const SLAB_SIZE = 256 * 1024;

export class FrameAllocator {
  private slab = new ArrayBuffer(0);
  private used = 0;

  alloc(size: number): Uint8Array {
    if (this.used + size > this.slab.byteLength) {
      this.slab = new ArrayBuffer(Math.max(SLAB_SIZE, size));
      this.used = 0;
    }
    const frame = new Uint8Array(this.slab, this.used, size);
    this.used += size;
    return frame;
  }
}
