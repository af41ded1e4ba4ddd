/**
 * TYPE A (RFC 959 3.1.1.1): on the wire, text lines end with CRLF (the NVT-ASCII
 * convention of Telnet); on our Unix disk they end with LF. So RETR and LIST turn
 * every LF into CRLF, and STOR turns every CRLF back into LF. Doing exactly that and
 * nothing more makes the round trip lossless: a file that already had CRLF goes out
 * as CR CR LF and comes back as CR LF.
 *
 * Both converters work on whole chunks with Buffer.indexOf (native search), never a
 * JavaScript loop per byte.
 */
import { Transform, type TransformCallback } from 'node:stream';

const LF = 0x0a;
const CR = 0x0d;
const CRLF = Buffer.from([CR, LF]);

/** Split `chunk` at every `sep` byte sequence and rejoin with `joiner` (both short). */
function replaceAll(chunk: Buffer, sep: number | Buffer, sepLength: number, joiner: Buffer): Buffer {
  let at = chunk.indexOf(sep);
  if (at < 0) return chunk;
  const parts: Buffer[] = [];
  let start = 0;
  while (at >= 0) {
    parts.push(chunk.subarray(start, at), joiner);
    start = at + sepLength;
    at = chunk.indexOf(sep, start);
  }
  parts.push(chunk.subarray(start));
  return Buffer.concat(parts);
}

/** LF -> CRLF, for data the server sends in TYPE A. */
export function lfToCrlf(chunk: Buffer): Buffer {
  return replaceAll(chunk, LF, 1, CRLF);
}

/** How many bytes a file of `size` bytes with `lineFeeds` LFs takes on the wire in TYPE A. */
export function asciiWireSize(size: number, lineFeeds: number): number {
  return size + lineFeeds;
}

/** Count LF bytes in a chunk (native indexOf, not a byte loop). */
export function countLineFeeds(chunk: Buffer): number {
  let n = 0;
  for (let at = chunk.indexOf(LF); at >= 0; at = chunk.indexOf(LF, at + 1)) n++;
  return n;
}

export class LfToCrlf extends Transform {
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    done(null, lfToCrlf(chunk));
  }
}

/**
 * CRLF -> LF, for data the server receives in TYPE A. A CR at the very end of a
 * chunk is held back until the next chunk shows whether an LF follows it.
 */
export class CrlfToLf extends Transform {
  private heldCr = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let data = this.heldCr ? Buffer.concat([Buffer.from([CR]), chunk]) : chunk;
    this.heldCr = data.length > 0 && data[data.length - 1] === CR;
    if (this.heldCr) data = data.subarray(0, data.length - 1);
    done(null, replaceAll(data, CRLF, 2, Buffer.from([LF])));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.heldCr ? Buffer.from([CR]) : undefined);
  }
}
