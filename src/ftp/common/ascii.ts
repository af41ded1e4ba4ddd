/**
 * TYPE A (RFC 959 3.1.1.1): on the wire, text lines end with CRLF (the NVT-ASCII
 * convention of Telnet); on our Unix disk they end with LF. The sender turns every LF
 * into CRLF, the receiver turns every CRLF back into LF. Doing exactly that and nothing
 * more makes the round trip lossless: a file that already had CRLF goes out as
 * CR CR LF and comes back as CR LF. (The client can instead leave an existing CRLF
 * alone: see LfToCrlf's `keepCrlf`.)
 *
 * Both directions are used by both sides: the server sends with LfToCrlf (RETR, LIST)
 * and receives with CrlfToLf (STOR), the client the other way round. They work on
 * whole chunks with Buffer.indexOf (native search), never a JavaScript loop per byte.
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

/** Every LF -> CRLF. */
export function lfToCrlf(chunk: Buffer): Buffer {
  return replaceAll(chunk, LF, 1, CRLF);
}

/** Count LF bytes in a chunk (native indexOf, not a byte loop). */
export function countLineFeeds(chunk: Buffer): number {
  let n = 0;
  for (let at = chunk.indexOf(LF); at >= 0; at = chunk.indexOf(LF, at + 1)) n++;
  return n;
}

/**
 * LF -> CRLF, for data we send in TYPE A. With `keepCrlf`, an LF that already follows
 * a CR (also one that ended the previous chunk) is left as it is, so a local file
 * with CRLF line ends is not sent as CR CR LF; the round trip is then no longer
 * lossless for such a file.
 */
export class LfToCrlf extends Transform {
  private readonly keepCrlf: boolean;
  private lastWasCr = false;

  constructor(options: { keepCrlf?: boolean } = {}) {
    super();
    this.keepCrlf = options.keepCrlf ?? false;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.keepCrlf) {
      done(null, lfToCrlf(chunk));
      return;
    }
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      const prevIsCr = i > 0 ? chunk[i - 1] === CR : this.lastWasCr;
      if (!prevIsCr) {
        parts.push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      }
    }
    if (chunk.length > 0) this.lastWasCr = chunk[chunk.length - 1] === CR;
    if (start === 0) {
      done(null, chunk);
      return;
    }
    parts.push(chunk.subarray(start));
    done(null, Buffer.concat(parts));
  }
}

/**
 * CRLF -> LF, for data we receive in TYPE A; a CR not followed by LF is kept. A CR at
 * the very end of a chunk is held back until the next chunk shows whether an LF
 * follows it.
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
