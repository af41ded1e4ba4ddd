/**
 * A file onto a data connection (RETR in TYPE I), read ahead of the network.
 *
 * The file is read in chunks of READ_CHUNK_BYTES through libuv's thread pool; while
 * one chunk waits in the socket for room in our TCP send buffer, the next ones are
 * being read (up to READ_AHEAD chunks), so TCP never waits for the disk. Each chunk
 * goes to socket.write() as it is, without a stream in between, and after the last
 * one end() follows in the same tick: the FIN can ride on the last data segment.
 *
 * Reads complete as callbacks (fs.read, not a FileHandle's promises): the last write
 * and end() then come before our TCP's output, which runs as a microtask after the
 * current callback; with a promise read they would come after it and the data would
 * leave without the FIN.
 *
 * Read buffers are used again, but only once the peer has acknowledged every byte
 * of the chunk they held (socket.bytesAcked): TCP may keep a reference to written
 * data until then, to send it again. A socket that cannot tell (net.Socket in tests)
 * gets a fresh buffer for every chunk. Reusing saves allocating, faulting in and
 * freeing a megabyte per megabyte sent, which shows as garbage-collector time.
 * Since no buffer changes before it is acknowledged, our TCP is told it need not copy
 * what it is given (TcpSocket.setZeroCopy): the copy was a tenth of a RETR's time.
 */
import { close, open, read } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { TcpSocketLike } from '../../tcp/api.js';

/** One read per this many bytes: few trips to the thread pool per MB. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** Chunks read but not yet handed to the socket, at most. */
const READ_AHEAD = 2;
/** Read buffers kept for reuse. */
const SPARE_BUFFERS = 4;

interface Spare {
  buffer: Buffer;
  /** The buffer's last byte is byte number `end` of the connection (counting from 1). */
  end: number;
}

/**
 * Send bytes [offset, size) of the file at `path` on `socket`, then end() it.
 * Resolves once everything was handed to TCP and the FIN queued (the caller then
 * waits for the peer's acknowledgement); rejects on a socket failure, or on a read
 * failure, which is given to `onReadError` first (a local error, not the network's)
 * and destroys the socket.
 */
export function sendFileRange(path: string, offset: number, size: number, socket: TcpSocketLike, onReadError: (err: Error) => void): Promise<void> {
  // The writable side's end ('finish') or its failure: a reset, a destroy (ABOR).
  const writableDone = finished(socket, { readable: false });
  return new Promise<void>((resolve, reject) => {
    let fd = -1;
    let position = offset;
    let reading = false;
    let eof = size <= offset;
    let failed = false;
    /** Read, not yet written. */
    const ready: Buffer[] = [];
    /** Waiting for 'drain' after a write that filled the socket. */
    let blocked = false;
    /** Bytes handed to socket.write() so far. */
    let queued = 0;
    const spares: Spare[] = [];
    let ended = false;
    // Buffers change only once acknowledged (takeBuffer), the promise zero-copy asks for.
    if (socket.bytesAcked !== undefined) socket.setZeroCopy?.(true);

    /** Close the file, but not under a read still in the thread pool (its number could be reused meanwhile). */
    const closeFile = (): void => {
      if (fd < 0 || reading) return;
      close(fd, () => {});
      fd = -1;
    };
    const fail = (err: Error, local: boolean): void => {
      if (failed) return;
      failed = true;
      if (local) {
        onReadError(err);
        socket.destroy(err);
      }
      closeFile();
      reject(err);
    };
    writableDone.then(
      () => {
        closeFile();
        if (!failed) resolve();
      },
      (err: Error) => fail(err, false),
    );

    const takeBuffer = (): Buffer => {
      const acked = socket.bytesAcked;
      const spare = spares[0];
      if (spare && acked !== undefined && acked >= spare.end) {
        spares.shift();
        return spare.buffer;
      }
      return Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
    };

    const readMore = (): void => {
      if (reading || eof || failed || fd < 0 || ready.length >= READ_AHEAD) return;
      reading = true;
      const buffer = takeBuffer();
      const length = Math.min(buffer.length, size - position);
      read(fd, buffer, 0, length, position, (err, n) => {
        reading = false;
        if (failed) return closeFile();
        if (err) return fail(err, true);
        if (n === 0 && position < size) {
          // The file shrank since its size was taken (another process truncated it):
          // the client was promised `size` bytes, so ending now would report a short
          // file as a success. A local error instead (451), and the data connection
          // is reset so the client cannot mistake what it got for the whole file.
          return fail(new Error(`the file shrank during the transfer: ${position - offset} of ${size - offset} bytes read`), true);
        }
        position += n;
        if (position >= size) eof = true;
        if (n > 0) ready.push(n === buffer.length ? buffer : buffer.subarray(0, n));
        writeReady();
        readMore();
      });
    };

    const writeReady = (): void => {
      while (!blocked && !failed && ready.length > 0) {
        const chunk = ready.shift()!;
        queued += chunk.length;
        const room = socket.write(chunk);
        if (chunk.length === READ_CHUNK_BYTES && spares.length < SPARE_BUFFERS) spares.push({ buffer: chunk, end: queued });
        if (!room) {
          blocked = true;
          socket.once('drain', onDrain);
        }
      }
      // The last chunk is in: the FIN right behind it, in this same tick.
      if (eof && !reading && ready.length === 0 && !ended && !failed) {
        ended = true;
        socket.end();
      }
    };

    const onDrain = (): void => {
      blocked = false;
      writeReady();
      readMore();
    };

    if (eof) {
      writeReady();
      return;
    }
    open(path, 'r', (err, opened) => {
      if (err) return fail(err, true);
      if (failed) {
        close(opened, () => {});
        return;
      }
      fd = opened;
      readMore();
    });
  });
}
