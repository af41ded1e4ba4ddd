/**
 * FTP replies (RFC 959 4.2): a three-digit code and text, on one line
 * (`226 Transfer complete.`) or on several lines between `ddd-` and `ddd `:
 *
 *   211-Features:
 *    EPSV
 *    MDTM
 *   211 End
 *
 * This file has both directions: `formatReply` for the server, and an incremental
 * `ReplyParser` for the client, which is fed TCP chunks as they arrive (a reply can
 * be split anywhere, or several can come in one segment) and hands back whole replies.
 * Parsing untrusted bytes never throws: problems come back as typed errors.
 */
import { LineReader } from './line-reader.js';

/** One complete reply. */
export interface FtpReply {
  /** The three-digit code, e.g. 227. */
  code: number;
  /** Every line as received, without the line end. */
  lines: string[];
  /** The message: lines joined with '\n', with the code prefix of the first and last line removed. */
  text: string;
}

/**
 * RFC 959 4.2.1: the first digit says what kind of reply it is. 1yz positive
 * preliminary (another reply follows, e.g. 150 before a transfer), 2yz positive
 * completion, 3yz positive intermediate (send the next command, e.g. 331 after USER),
 * 4yz transient negative (try again later), 5yz permanent negative.
 */
export function replyClass(code: number): number {
  return Math.floor(code / 100);
}

export function isPositive(code: number): boolean {
  return code >= 100 && code < 400;
}

// ---------------------------------------------------------------------------
// Formatting (server side)
// ---------------------------------------------------------------------------

/**
 * Encode a reply with CRLF line ends. `text` may be one string (split on line ends)
 * or an array of lines. One line gives `ddd text`; more give `ddd-first`, the
 * middle lines, and `ddd last`.
 *
 * RFC 959 4.2: a middle line must not look like the end of the reply. We put a space
 * in front of any middle line that starts with a digit, so no continuation line can
 * start with three digits and a space (nor with `ddd-`, which some clients misread).
 */
export function formatReply(code: number, text: string | readonly string[]): string {
  if (!Number.isInteger(code) || code < 100 || code > 699) {
    throw new RangeError(`FTP reply code must be three digits, got ${code}`);
  }
  const lines = (typeof text === 'string' ? [text] : [...text]).flatMap((t) => t.split(/\r\n|\r|\n/));
  if (lines.length === 0) lines.push('');
  if (lines.length === 1) return `${code} ${lines[0]}\r\n`;
  const first = `${code}-${lines[0]}`;
  const middle = lines.slice(1, -1).map((l) => (/^\d/.test(l) ? ` ${l}` : l));
  const last = `${code} ${lines[lines.length - 1]}`;
  return [first, ...middle, last].join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------
// Parsing (client side)
// ---------------------------------------------------------------------------

export type ReplyErrorKind =
  /** A line longer than `maxLineLength` (the rest of it up to the next LF was dropped). */
  | 'line-too-long'
  /** A multi-line reply with more than `maxLines` lines or `maxReplyBytes` bytes. */
  | 'reply-too-long'
  /** A line outside a multi-line reply that does not start with a reply code. */
  | 'no-code';

export interface ReplyError {
  kind: ReplyErrorKind;
  message: string;
  /** The offending line (cut to 200 characters) when there is one. */
  line?: string;
}

export type ReplyEvent = { kind: 'reply'; reply: FtpReply } | { kind: 'error'; error: ReplyError };

export interface ReplyParserOptions {
  /** Longest accepted line in bytes. Default 8 KiB. */
  maxLineLength?: number;
  /** Most lines in one reply. Default 10 000 (a long FEAT or STAT is a few dozen). */
  maxLines?: number;
  /** Most bytes in one reply. Default 1 MiB. */
  maxReplyBytes?: number;
}

/** A line that starts a reply: three digits (first 1-6), then '-', ' ' or end of line. */
const CODE_LINE = /^([1-6]\d\d)([- ]|$)/;

/**
 * Incremental reply parser. `push` takes whatever the control connection delivered
 * and returns every reply (and every problem) it completed, in order. Lines are cut
 * by the LineReader the server uses for commands (bare LF, Telnet IAC, UTF-8).
 *
 * Tolerance, because real servers are odd: a final line that is just the code
 * (`226`, no space) ends a reply; a middle line with the same `ddd-` prefix
 * (ProFTPD style) is fine.
 */
export class ReplyParser {
  private readonly maxLineLength: number;
  private readonly maxLines: number;
  private readonly maxReplyBytes: number;
  private readonly lines: LineReader;

  /** The multi-line reply being collected, if any. */
  private open: { code: number; lines: string[]; bytes: number } | undefined;
  /** True while dropping the rest of an over-long multi-line reply. */
  private skippingCode: number | undefined;

  constructor(options: ReplyParserOptions = {}) {
    this.maxLineLength = options.maxLineLength ?? 8 * 1024;
    this.maxLines = options.maxLines ?? 10_000;
    this.maxReplyBytes = options.maxReplyBytes ?? 1024 * 1024;
    this.lines = new LineReader(this.maxLineLength);
  }

  /** True when a reply has started but is not complete (useful to report a cut connection). */
  get pending(): boolean {
    return this.open !== undefined || this.lines.pending;
  }

  push(chunk: Uint8Array | string): ReplyEvent[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const events: ReplyEvent[] = [];
    for (const event of this.lines.push(buf)) {
      if (event.kind === 'line') this.onLine(event.line, events);
      else events.push({ kind: 'error', error: { kind: 'line-too-long', message: `reply line longer than ${this.maxLineLength} bytes` } });
    }
    return events;
  }

  private onLine(line: string, events: ReplyEvent[]): void {
    const m = CODE_LINE.exec(line);

    if (this.skippingCode !== undefined) {
      // RFC 959 4.2: the reply ends at the line starting with the same code and a space.
      if (m && Number(m[1]) === this.skippingCode && m[2] !== '-') this.skippingCode = undefined;
      return;
    }

    if (this.open) {
      const open = this.open;
      open.lines.push(line);
      open.bytes += Buffer.byteLength(line);
      if (m && Number(m[1]) === open.code && m[2] !== '-') {
        this.open = undefined;
        events.push({ kind: 'reply', reply: makeReply(open.code, open.lines) });
      } else if (open.lines.length > this.maxLines || open.bytes > this.maxReplyBytes) {
        this.open = undefined;
        this.skippingCode = open.code;
        events.push({
          kind: 'error',
          error: { kind: 'reply-too-long', message: `multi-line ${open.code} reply exceeds ${this.maxLines} lines or ${this.maxReplyBytes} bytes` },
        });
      }
      return;
    }

    if (!m) {
      // Blank lines between replies are harmless; anything else is worth reporting.
      if (line.trim() !== '') {
        events.push({ kind: 'error', error: { kind: 'no-code', message: 'reply line without a code', line: line.slice(0, 200) } });
      }
      return;
    }
    const code = Number(m[1]);
    if (m[2] === '-') {
      this.open = { code, lines: [line], bytes: Buffer.byteLength(line) };
      return;
    }
    events.push({ kind: 'reply', reply: makeReply(code, [line]) });
  }
}

function makeReply(code: number, lines: string[]): FtpReply {
  const texts = lines.map((l, i) => {
    if (i === 0 || i === lines.length - 1) return l.slice(4);
    // ProFTPD repeats `ddd-` on middle lines; the prefix is not part of the message.
    return l.startsWith(`${code}-`) ? l.slice(4) : l;
  });
  return { code, lines, text: texts.join('\n') };
}
