/**
 * Received data into a file, in big writes, with the flush to disk started early.
 *
 * A data connection delivers many small chunks (a TCP segment carries at most an MSS,
 * 1448 bytes with timestamps). Handing each one to the file system costs a trip to
 * libuv's thread pool, and even a writev of thousands of them costs the binding a
 * little for every buffer. So small chunks are copied into a batch buffer of
 * BATCH_BYTES and the file gets one write per batch; a chunk that is big already is
 * written as it is, without a copy. One write is under way at a time, in file order;
 * what arrives meanwhile waits in memory, and beyond MAX_PENDING_BYTES the source is
 * paused, which lets our TCP window close: the client slows down to the disk's pace.
 *
 * Durability (upload.ts): before an upload gets its real name, every byte must be on
 * disk (fsync). Flushing 256 MB at the very end makes the client wait for the disk
 * (about 0.1 s here) after its last byte. So every SYNC_EVERY_BYTES written, a
 * background fdatasync() is started: the disk works while more data arrives, and
 * the final fsync() in sync() finds little left to do. Those early syncs only move
 * work earlier; the guarantee comes from the final fsync after the last write,
 * which always happens. An error of an early sync is kept and fails the upload:
 * Linux reports a writeback error to each file descriptor only once, so the final
 * fsync() alone might not see it again.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** One file write per this many bytes of small chunks (and the size of each batch buffer). */
const BATCH_BYTES = 1024 * 1024;
/**
 * A chunk this big (or bigger) is written as it arrived, not copied into a batch (a
 * receive batch of many segments, say). Smaller ones are copied: with --offload a
 * TCP super-frame's payload (under 64 KiB) too, which measured no slower than
 * handing each to the writev (a 16 KiB threshold was not faster).
 */
const DIRECT_BYTES = 64 * 1024;
/** Received but not yet written: beyond this the source is paused, until half of it is written. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Start a background fdatasync() after this many bytes were written since the last one. */
const SYNC_EVERY_BYTES = 16 * 1024 * 1024;

/** What the sink needs of a file: a FileHandle, or a stand-in in tests. */
export type SinkFile = Pick<FileHandle, 'writev' | 'datasync' | 'sync'>;

export class FileSink {
  /** The batch buffer small chunks are copied into: [start, used) is not yet sealed. */
  private batch: Buffer | undefined;
  private start = 0;
  private used = 0;
  /** Sealed data, in file order, waiting for the next write. */
  private ready: Buffer[] = [];
  private readyBytes = 0;
  private writing = false;
  /** The source ended: write whatever is left, however little. */
  private ending = false;
  private failure: Error | undefined;
  /** The source while receive() runs, and whether it is paused by us. */
  private source: Readable | undefined;
  private paused = false;
  /** Waiting for every byte to be written (or a failure). */
  private idle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private syncError: Error | undefined;
  /** Bytes written into the file so far. */
  written = 0;

  constructor(
    private readonly file: SinkFile,
    /** Where the first byte goes in the file. */
    private position: number,
    /** Told about a failed write (a local error such as ENOSPC, as opposed to the network's). */
    private readonly onWriteError: (err: Error) => void = () => {},
  ) {}

  /**
   * Write everything `source` delivers until it ends, then every byte is in the file
   * (not yet necessarily on disk: see sync()). Rejects if the source fails (the
   * connection was reset or destroyed) or a write fails; then `source` is destroyed
   * and no write is under way any more when this settles.
   */
  async receive(source: Readable): Promise<void> {
    const onData = (chunk: Buffer): void => {
      this.add(chunk);
      if (this.pendingBytes >= MAX_PENDING_BYTES && !this.paused) {
        this.paused = true;
        source.pause();
      }
      this.kick();
    };
    this.source = source;
    source.on('data', onData);
    try {
      // Only the readable side: the FIN (or an error) of the peer.
      await finished(source, { writable: false });
      if (this.failure) throw this.failure;
    } catch (err) {
      this.failure ??= err as Error;
      if (!source.destroyed) source.destroy();
      await this.whenIdle().catch(() => {});
      throw err;
    } finally {
      source.off('data', onData);
      this.source = undefined;
    }
    this.ending = true;
    this.seal();
    this.kick();
    await this.whenIdle();
  }

  /**
   * Everything written is on disk: waits for a background sync, fails if one failed,
   * then fsync() (data and metadata) from this point.
   */
  async sync(): Promise<void> {
    await this.syncing;
    if (this.syncError) throw this.syncError;
    await this.file.sync();
  }

  private get pendingBytes(): number {
    return this.readyBytes + (this.used - this.start);
  }

  private add(chunk: Buffer): void {
    if (chunk.length >= DIRECT_BYTES) {
      // Big enough for a write of its own: no copy. Whatever is in the batch goes first.
      this.seal();
      this.ready.push(chunk);
      this.readyBytes += chunk.length;
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.batch || this.used === this.batch.length) {
        this.seal();
        // A fresh buffer each time: filling written ones again (a free list of 4)
        // measured slower with --offload (1.1 -> 0.8 GB/s), no faster without.
        this.batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
        this.start = 0;
        this.used = 0;
      }
      const n = chunk.copy(this.batch, this.used, offset);
      this.used += n;
      offset += n;
    }
    if (this.used === this.batch!.length) this.seal();
  }

  /** Move the unsealed part of the batch to `ready` (a view: the batch buffer is never written into there again). */
  private seal(): void {
    if (!this.batch || this.used === this.start) return;
    this.ready.push(this.batch.subarray(this.start, this.used));
    this.readyBytes += this.used - this.start;
    this.start = this.used;
  }

  /** Start the next write if none is under way and there is enough to write. */
  private kick(): void {
    if (this.writing || this.failure) return;
    if (this.readyBytes === 0 || (this.readyBytes < BATCH_BYTES && !this.ending)) {
      if (this.ending && this.readyBytes === 0) this.settle();
      return;
    }
    const buffers = this.ready;
    this.ready = [];
    this.readyBytes = 0;
    this.writing = true;
    writeAll(this.file, buffers, this.position).then(
      (n) => {
        this.writing = false;
        this.position += n;
        this.written += n;
        this.unsynced += n;
        // The source failed while this write was under way: receive() waits for it.
        if (this.failure) return this.settle();
        this.maybeStartSync();
        if (this.paused && this.pendingBytes < MAX_PENDING_BYTES / 2) {
          this.paused = false;
          this.source?.resume();
        }
        this.kick();
      },
      (err: Error) => {
        this.writing = false;
        this.failure ??= err;
        this.onWriteError(err);
        // Stop receiving: receive() then fails with this error.
        this.source?.destroy(err);
        this.settle();
      },
    );
  }

  private maybeStartSync(): void {
    if (this.syncing || this.unsynced < SYNC_EVERY_BYTES) return;
    this.unsynced = 0;
    this.syncing = this.file.datasync().then(
      () => {
        this.syncing = undefined;
      },
      (err: Error) => {
        this.syncing = undefined;
        this.syncError ??= err;
      },
    );
  }

  /** Tell whenIdle() once no write is under way and nothing is left (or a write failed). */
  private settle(): void {
    if (this.writing || !this.idle) return;
    const { resolve, reject } = this.idle;
    if (this.failure) {
      this.idle = undefined;
      reject(this.failure);
    } else if (this.ending && this.readyBytes === 0) {
      this.idle = undefined;
      resolve();
    }
  }

  /**
   * Resolves when nothing is being written and nothing is left to write (after the
   * end), rejects once no write is under way after a failure.
   */
  private whenIdle(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.idle = { resolve, reject };
      this.settle();
    });
  }
}

/** writev until every byte is written (a short write is retried for the rest, which then fails with the real error, e.g. ENOSPC); returns the byte count. */
async function writeAll(file: SinkFile, buffers: Buffer[], position: number): Promise<number> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let done = 0;
  while (done < total) {
    const { bytesWritten } = await file.writev(buffers, position + done);
    if (bytesWritten === 0) throw new Error('the file system wrote nothing');
    done += bytesWritten;
    if (done < total) buffers = skipBytes(buffers, bytesWritten);
  }
  return total;
}

/** `buffers` without their first `n` bytes (views, no copy). */
function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const b of buffers) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    rest.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return rest;
}
