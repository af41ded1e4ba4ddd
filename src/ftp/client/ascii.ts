import { Transform, type TransformCallback } from 'node:stream';

/**
 * TYPE A (RFC 959 3.1.1.1): on the wire every line ends with CRLF, whatever the
 * local convention. These transforms convert between that and Unix LF. They work on
 * whole chunks with indexOf, and remember a CR that ends one chunk in case the LF
 * starts the next.
 */

const CR = 0x0d;
const LF = 0x0a;

/** Network -> local: CRLF becomes LF; a CR not followed by LF is kept. */
export class CrlfToLf extends Transform {
  private heldCr = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let buf = chunk;
    if (this.heldCr) {
      this.heldCr = false;
      if (buf[0] !== LF) this.push(Buffer.from([CR]));
    }
    if (buf.length > 0 && buf[buf.length - 1] === CR) {
      this.heldCr = true;
      buf = buf.subarray(0, buf.length - 1);
    }
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = buf.indexOf(CR); i >= 0; i = buf.indexOf(CR, i + 1)) {
      if (buf[i + 1] === LF) {
        parts.push(buf.subarray(start, i));
        start = i + 1; // keep the LF, drop the CR
      }
    }
    parts.push(buf.subarray(start));
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (out.length > 0) this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.heldCr) this.push(Buffer.from([CR]));
    done();
  }
}

/** Local -> network: a LF not already preceded by CR becomes CRLF. */
export class LfToCrlf extends Transform {
  private lastWasCr = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
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
    parts.push(chunk.subarray(start));
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (out.length > 0) this.push(out);
    done();
  }
}

const CRLF = Buffer.from([CR, LF]);
