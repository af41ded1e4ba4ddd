/**
 * Moving data over one data connection: RETR and listings out, STOR/APPE/STOU in.
 *
 * Stream mode (RFC 959 3.4.1): the data is sent as it is and the end of the file is
 * the end of the connection. So the sender closes the data connection: we call
 * end() right after the last write, which lets our TCP put the FIN on the last data
 * segment, and answer 226 once the peer has acknowledged the data and our FIN (see
 * waitForDelivery), without waiting for the client to close its side.
 *
 * Files are opened before the 150 reply (the session does it, see path.ts), so what
 * moves here is always an open descriptor; uploads are in upload.ts.
 */
import { createReadStream } from 'node:fs';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Clock, Timer } from '../../stack/clock.js';
import type { TcpSocketLike } from '../../tcp/api.js';
import { LfToCrlf, countLineFeeds } from '../common/ascii.js';
import { DataConnectionError, waitForClose, waitForDelivery, type DataEndpoint } from './data.js';
import { READ_CHUNK_BYTES, sendFileRange } from './file-source.js';
import type { OpenedPath } from './path.js';

export type TransferOutcome = 'ok' | 'no-connection' | 'aborted' | 'data-error' | 'local-error';
export type AbortReason = 'ABOR' | 'control-closed' | 'stalled';

export interface TransferResult {
  outcome: TransferOutcome;
  reason?: AbortReason | string;
  bytes: number;
  ms: number;
  /** For 'local-error': the file system's error, which decides the reply (errors.ts). */
  error?: Error;
}

/** One transfer in progress: its data connection, progress, and how to abort it. */
export class Transfer {
  private socket: TcpSocketLike | undefined;
  private abortReason: AbortReason | undefined;
  private localError: Error | undefined;
  private stallTimer: Timer | undefined;
  private readonly started: number;

  constructor(
    readonly verb: string,
    readonly path: string,
    private readonly endpoint: DataEndpoint,
    readonly clock: Clock,
    readonly timeoutMs: number,
    /** Bytes expected, when known (RETR in TYPE I), for STAT. */
    readonly expected?: number,
  ) {
    this.started = clock.now();
  }

  get aborted(): AbortReason | undefined {
    return this.abortReason;
  }

  /**
   * Bytes moved so far on the data connection: received, or sent AND acknowledged by
   * the peer (not merely queued in our send buffer), so STAT and the result of an
   * ABOR tell what really arrived.
   */
  get bytes(): number {
    const s = this.socket;
    return s ? (s.bytesAcked ?? s.bytesWritten) + s.bytesRead : 0;
  }

  progressText(): string {
    const of = this.expected !== undefined ? ` of ${this.expected}` : '';
    return `Status: ${this.verb} ${this.path}, ${this.bytes}${of} bytes transferred.`;
  }

  /** Stop the transfer: cancel the connection attempt or close the data connection. */
  abort(reason: AbortReason): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.endpoint.close();
    this.socket?.destroy();
  }

  /** Remember a failure on our side (file system), as opposed to the network's. */
  markLocal(err: Error): void {
    this.localError ??= err;
  }

  async run(work: (socket: TcpSocketLike, t: Transfer) => Promise<void>): Promise<TransferResult> {
    const done = (outcome: TransferOutcome, reason?: string): TransferResult => ({
      outcome,
      reason,
      bytes: this.bytes,
      ms: this.clock.now() - this.started,
    });
    let socket: TcpSocketLike;
    try {
      socket = await this.endpoint.open(this.timeoutMs);
    } catch (err) {
      if (this.abortReason) return done('aborted', this.abortReason);
      return done('no-connection', err instanceof DataConnectionError ? err.reason : (err as Error).message);
    }
    this.socket = socket;
    // Errors surface through pipeline(); this only keeps a late one from being unhandled.
    socket.on('error', () => {});
    if (this.abortReason) {
      socket.destroy();
      return done('aborted', this.abortReason);
    }
    this.watchForStall();
    try {
      await work(socket, this);
      // An ABOR that came before the peer acknowledged the end is an aborted
      // transfer, even if all the data had been queued (RFC 959 4.1.3).
      if (this.abortReason) return done('aborted', this.abortReason);
      return done('ok');
    } catch (err) {
      if (this.abortReason) return done('aborted', this.abortReason);
      if (this.localError) return { ...done('local-error', (this.localError as NodeJS.ErrnoException).code ?? this.localError.message), error: this.localError };
      return done('data-error', (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    } finally {
      this.stallTimer?.cancel();
      this.endpoint.close();
      if (!socket.destroyed && (this.abortReason || this.localError)) socket.destroy();
      // A client that keeps its end open after 226 gets `timeoutMs` to close it.
      else if (!socket.closed) void waitForClose(socket, this.clock, this.timeoutMs);
    }
  }

  /** Abort a transfer that moves no byte for `timeoutMs` (a vanished client). */
  private watchForStall(): void {
    let last = -1;
    const check = (): void => {
      if (this.bytes === last) {
        this.abort('stalled');
        return;
      }
      last = this.bytes;
      this.stallTimer = this.clock.setTimer(this.timeoutMs, check).unref();
    };
    check();
  }
}

/** Write `source` (through `transforms`) to the data connection, end it, and wait until it arrived. */
async function sendStream(source: Readable, transforms: Transform[], socket: TcpSocketLike, t: Transfer): Promise<void> {
  source.on('error', (err) => t.markLocal(err));
  // The client sends nothing on a download, but its FIN must be read for the
  // connection to close: discard whatever comes in.
  socket.resume();
  // pipeline() calls socket.end() after the last chunk: the FIN follows the data at once.
  await pipeline([source, ...transforms, socket]);
  if (!(await waitForDelivery(socket, t.clock, t.timeoutMs))) throw new Error('data connection closed before the peer acknowledged the end');
}

/**
 * RETR: a checked file from `offset` (REST) to `size`, LF -> CRLF in TYPE A. `path`
 * is the file's /proc/self/fd link (path.ts), so this is the very file that was
 * checked, opened again for reading.
 */
export async function sendFile(path: string, offset: number, size: number, ascii: boolean, socket: TcpSocketLike, t: Transfer): Promise<void> {
  if (ascii) {
    // Read up to the size we know: the stream then ends right after its last chunk,
    // without one more read to find EOF, so socket.end() follows the last write in
    // the same tick and TCP puts the FIN on the last data segment. (A path stream,
    // whose reads complete as callbacks: see file-source.ts.)
    const source = size > offset ? createReadStream(path, { start: offset, end: size - 1, highWaterMark: READ_CHUNK_BYTES }) : Readable.from([]);
    return sendStream(source, [new LfToCrlf()], socket, t);
  }
  // TYPE I: chunks straight from the file to the socket (file-source.ts).
  socket.resume(); // the client's FIN must be read for the connection to close
  await sendFileRange(path, offset, size, socket, (err) => t.markLocal(err));
  if (!(await waitForDelivery(socket, t.clock, t.timeoutMs))) throw new Error('data connection closed before the peer acknowledged the end');
}

/** LIST, NLST, MLSD: a prepared listing. */
export function sendBuffer(body: Buffer, socket: TcpSocketLike, t: Transfer): Promise<void> {
  return sendStream(Readable.from([body]), [], socket, t);
}

/** SIZE in TYPE A: the file's size plus one CR for every LF. */
export async function asciiSizeOf(p: OpenedPath): Promise<number> {
  const file = await p.openForReading();
  try {
    let lineFeeds = 0;
    for await (const chunk of file.createReadStream({ highWaterMark: 256 * 1024 })) lineFeeds += countLineFeeds(chunk as Buffer);
    return p.stats.size + lineFeeds;
  } finally {
    await file.close();
  }
}
