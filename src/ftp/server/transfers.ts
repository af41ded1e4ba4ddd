/**
 * Moving data over one data connection: RETR and listings out, STOR/APPE/STOU in.
 *
 * Stream mode (RFC 959 3.4.1): the data is sent as it is and the end of the file is
 * the end of the connection. So the sender closes the data connection: we call
 * end() right after the last write, which lets our TCP put the FIN on the last data
 * segment, and answer 226 only once the connection is closed, i.e. the data arrived.
 *
 * Uploads never appear half-written under their real name: the data goes to a
 * temporary file in the same directory (same file system, so the final rename is
 * atomic) and is renamed over the target only after the whole file arrived. A
 * failed, aborted or cut upload removes the temporary file and leaves any previous
 * version untouched.
 */
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, link, rename, stat, truncate, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Clock, Timer } from '../../stack/clock.js';
import type { Random } from '../../stack/random.js';
import type { TcpSocketLike } from '../../tcp/api.js';
import { CrlfToLf, LfToCrlf, countLineFeeds } from '../common/ascii.js';
import { DataConnectionError, waitForClose, type DataEndpoint } from './data.js';

export type TransferOutcome = 'ok' | 'no-connection' | 'aborted' | 'data-error' | 'disk-full' | 'local-error';
export type AbortReason = 'ABOR' | 'control-closed' | 'stalled';

export interface TransferResult {
  outcome: TransferOutcome;
  reason?: AbortReason | string;
  bytes: number;
  ms: number;
  note?: string;
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

  /** Bytes moved so far on the data connection. */
  get bytes(): number {
    return this.socket ? this.socket.bytesWritten + this.socket.bytesRead : 0;
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
      return done('ok');
    } catch (err) {
      if (this.abortReason) return done('aborted', this.abortReason);
      if (this.localError) {
        const code = (this.localError as NodeJS.ErrnoException).code;
        return done(code === 'ENOSPC' || code === 'EDQUOT' ? 'disk-full' : 'local-error', code ?? this.localError.message);
      }
      return done('data-error', (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    } finally {
      this.stallTimer?.cancel();
      this.endpoint.close();
      if (!socket.destroyed && (this.abortReason || this.localError)) socket.destroy();
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

/** Write `source` (through `transforms`) to the data connection, end it, and wait until it is closed. */
async function sendStream(source: Readable, transforms: Transform[], socket: TcpSocketLike, t: Transfer): Promise<void> {
  source.on('error', (err) => t.markLocal(err));
  // The client sends nothing on a download, but its FIN must be read for the
  // connection to close: discard whatever comes in.
  socket.resume();
  // pipeline() calls socket.end() after the last chunk: the FIN follows the data at once.
  await pipeline([source, ...transforms, socket]);
  await waitForClose(socket, t.clock, t.timeoutMs);
}

/** RETR: the file from `offset` (REST), LF -> CRLF in TYPE A. */
export async function sendFile(real: string, offset: number, ascii: boolean, socket: TcpSocketLike, t: Transfer): Promise<void> {
  // Read up to the size we know: the stream then ends right after its last chunk,
  // without one more read to find EOF, so socket.end() follows the last write in the
  // same tick and TCP puts the FIN on the last data segment (FTP DATA+FIN in the seed).
  const { size } = await stat(real);
  const source = size > offset ? createReadStream(real, { start: offset, end: size - 1, highWaterMark: 64 * 1024 }) : Readable.from([]);
  return sendStream(source, ascii ? [new LfToCrlf()] : [], socket, t);
}

/** LIST, NLST, MLSD: a prepared listing. */
export function sendBuffer(body: Buffer, socket: TcpSocketLike, t: Transfer): Promise<void> {
  return sendStream(Readable.from([body]), [], socket, t);
}

export interface ReceiveOptions {
  /** The real target path (already checked to be inside the root). */
  real: string;
  /** Existing content to keep before the new data: APPE keeps all, REST n keeps n bytes. */
  keep: number | 'all';
  exists: boolean;
  ascii: boolean;
  /** STOU: never replace an existing file. */
  exclusive: boolean;
  random: Random;
}

/** STOR, APPE, STOU: receive into a temporary file, then move it into place. */
export async function receiveFile(o: ReceiveOptions, socket: TcpSocketLike, t: Transfer): Promise<void> {
  const hex = Buffer.from(o.random.bytes(8)).toString('hex');
  const temp = join(dirname(o.real), `.tapstack-${hex}.part`);
  const local = async <T>(step: Promise<T>): Promise<T> => {
    try {
      return await step;
    } catch (err) {
      t.markLocal(err as Error);
      throw err;
    }
  };
  try {
    let mode: number | undefined;
    if (o.exists) mode = (await local(stat(o.real))).mode & 0o7777;
    if (o.keep === 'all' || o.keep > 0) {
      await local(copyFile(o.real, temp, constants.COPYFILE_EXCL));
      if (o.keep !== 'all') await local(truncate(temp, o.keep));
    }
    const out = createWriteStream(temp, { flags: o.keep === 0 ? 'wx' : 'a', mode: 0o644 });
    out.on('error', (err) => t.markLocal(err));
    await pipeline([socket, ...(o.ascii ? [new CrlfToLf()] : []), out]);
    // The data connection ended normally; the control connection may still have died.
    if (t.aborted) throw new Error(`upload aborted (${t.aborted})`);
    // Our side of the data connection is done too.
    socket.end();
    if (mode !== undefined) await local(chmod(temp, mode));
    if (o.exclusive) {
      // link() fails if the name was taken meanwhile: STOU never replaces a file.
      await local(link(temp, o.real));
      await unlink(temp);
    } else {
      await local(rename(temp, o.real));
    }
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/** SIZE in TYPE A: the file's size plus one CR for every LF. */
export async function asciiSizeOf(real: string, size: number): Promise<number> {
  let lineFeeds = 0;
  for await (const chunk of createReadStream(real, { highWaterMark: 256 * 1024 })) lineFeeds += countLineFeeds(chunk as Buffer);
  return size + lineFeeds;
}
