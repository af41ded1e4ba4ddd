/**
 * Splitting a control connection's byte stream into lines, for both directions:
 * the server reads commands (RFC 959 4.1) and the client reads replies (RFC 959 4.2)
 * with the same rules.
 *
 * Bytes arrive in arbitrary pieces, so the reader keeps the unfinished line, but at
 * most `maxLineLength` bytes of it: a longer line is reported once and skipped up to
 * its LF, so a peer cannot make us buffer without bound.
 *
 * A bare LF ends a line too (some peers forget the CR). Telnet commands (RFC 854) are
 * removed: clients send IAC IP / IAC DM before ABOR (RFC 959 4.1.3), some servers
 * answer with them, and a TCP that ignores the urgent pointer delivers them inline.
 * Text is UTF-8 (RFC 2640), invalid bytes replaced, never an exception.
 */

const LF = 0x0a;
const CR = 0x0d;
const IAC = 0xff;

export type LineEvent = { kind: 'line'; line: string } | { kind: 'too-long' };

export class LineReader {
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** True while dropping the rest of an over-long line. */
  private discarding = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(private readonly maxLineLength: number) {}

  /** True when part of a line has arrived but not its end. */
  get pending(): boolean {
    return this.partialLength > 0;
  }

  /** Feed bytes from the connection; returns the lines (and overflows) completed, in order. */
  push(chunk: Buffer): LineEvent[] {
    const events: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf < 0 ? chunk.length : lf;
      const piece = chunk.subarray(start, end);
      if (this.discarding) {
        if (lf >= 0) this.discarding = false;
      } else if (this.partialLength + piece.length > this.maxLineLength) {
        events.push({ kind: 'too-long' });
        this.partial = [];
        this.partialLength = 0;
        this.discarding = lf < 0;
      } else if (lf < 0) {
        // Copy: the caller's buffer may be reused by the stream.
        this.partial.push(Buffer.from(piece));
        this.partialLength += piece.length;
      } else {
        const raw = this.partialLength === 0 ? piece : Buffer.concat([...this.partial, piece]);
        this.partial = [];
        this.partialLength = 0;
        events.push({ kind: 'line', line: this.decode(raw) });
      }
      if (lf < 0) break;
      start = lf + 1;
    }
    return events;
  }

  private decode(raw: Buffer): string {
    let bytes = raw;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.includes(IAC)) bytes = stripTelnet(bytes);
    return this.decoder.decode(bytes);
  }
}

/**
 * Remove Telnet commands (RFC 854): IAC IAC is a literal 0xff, IAC WILL/WONT/DO/DONT
 * take one option byte, other IAC commands (IP, DM, ...) are two bytes.
 */
function stripTelnet(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== IAC) {
      out[n++] = b;
      continue;
    }
    const cmd = bytes[i + 1];
    if (cmd === IAC) {
      out[n++] = IAC;
      i += 1;
    } else if (cmd !== undefined && cmd >= 251 && cmd <= 254) {
      i += 2; // WILL, WONT, DO, DONT + option
    } else {
      i += 1;
    }
  }
  return out.subarray(0, n);
}
