/**
 * Reading commands from the control connection (RFC 959 4.1, 5.3).
 *
 * A command is `VERB[ SP argument] CRLF`, the verb case-insensitive. Bytes arrive in
 * arbitrary pieces, so the reader keeps the unfinished line; it keeps at most
 * `maxLineLength` bytes of it: a longer line is answered with 500 and skipped up to
 * its LF, so a client cannot make the server buffer without bound.
 *
 * Telnet commands (RFC 854) are removed: clients send IAC IP / IAC DM before ABOR
 * (RFC 959 4.1.3) and a TCP that ignores the urgent pointer delivers them inline.
 * A bare LF ends a line too (some clients forget the CR). Text is UTF-8 (RFC 2640).
 */
import { stripTelnet } from '../common/reply.js';

const LF = 0x0a;
const CR = 0x0d;
const IAC = 0xff;

export type CommandLineEvent = { kind: 'line'; line: string } | { kind: 'too-long' };

export class CommandLineReader {
  private partial: Buffer[] = [];
  private partialLength = 0;
  private discarding = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(private readonly maxLineLength = 512) {}

  /** Feed bytes from the control connection; returns the lines (and overflows) completed. */
  push(chunk: Buffer): CommandLineEvent[] {
    const events: CommandLineEvent[] = [];
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

export interface ParsedCommand {
  /** Upper-cased verb, e.g. `RETR`. */
  verb: string;
  /** Everything after the first space, unchanged (file names may have spaces). */
  arg: string;
}

/** Split a command line into verb and argument. Leading Telnet leftovers are gone already. */
export function parseCommand(line: string): ParsedCommand {
  const trimmed = line.replace(/^\s+/, '');
  const space = trimmed.indexOf(' ');
  if (space < 0) return { verb: trimmed.toUpperCase(), arg: '' };
  return { verb: trimmed.slice(0, space).toUpperCase(), arg: trimmed.slice(space + 1) };
}
