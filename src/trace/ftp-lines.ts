/**
 * The FTP control connection as the diagram sees it: each TCP segment carries some
 * lines of text (RFC 959 4.1.1 commands from the client, 4.2 replies from the
 * server). Lines may be split over segments and multi-line replies may span many
 * segments (vsftpd sends each FEAT line in its own write), so each direction keeps
 * its unfinished line and the code of an open multi-line reply.
 */

export interface FtpCommandLine {
  kind: 'command';
  /** Upper-cased verb: USER, PORT, RETR... */
  verb: string;
  /** Everything after the verb and one space. */
  arg: string;
}

export interface FtpReplyLine {
  kind: 'reply';
  code: number;
  /** The text after `ddd ` or `ddd-`, or the whole line for a continuation line. */
  text: string;
  /** `ddd-` opens a multi-line reply. */
  opensMultiline: boolean;
  /** A line inside a multi-line reply (not the first, not the last). */
  continuation: boolean;
  /** The line ends the reply (a single-line reply, or the `ddd ` line of a multi-line one). */
  final: boolean;
}

export type FtpLine = FtpCommandLine | FtpReplyLine;

/** Per-direction line splitter. */
export class FtpLineReader {
  private partial = '';
  /** The code of an open multi-line reply (RFC 959 4.2: ends with a line `ddd `). */
  private multiline: number | null = null;

  constructor(private readonly side: 'client' | 'server') {}

  /** Feed one segment's payload; returns the lines it completed and any unfinished text. */
  push(payload: Uint8Array): { lines: FtpLine[]; unfinished: string } {
    // Control connections are 7-bit NVT-ASCII text (RFC 959 4.1.1); latin1 keeps every byte.
    const text = this.partial + Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1');
    const raw = text.split('\n');
    this.partial = raw.pop() ?? '';
    if (this.partial.length > 4096) this.partial = this.partial.slice(-4096); // bound a hostile stream
    const lines = raw.map((l) => this.parse(l.replace(/\r$/, '')));
    return { lines, unfinished: this.partial };
  }

  /** Parse one segment's lines without touching the state (for retransmissions). */
  peek(payload: Uint8Array): FtpLine[] {
    const copy = new FtpLineReader(this.side);
    copy.multiline = this.multiline;
    const { lines, unfinished } = copy.push(payload);
    return unfinished ? [...lines, copy.parse(unfinished)] : lines;
  }

  private parse(line: string): FtpLine {
    if (this.side === 'client') {
      const space = line.indexOf(' ');
      const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
      return { kind: 'command', verb, arg: space < 0 ? '' : line.slice(space + 1) };
    }
    const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
    if (this.multiline !== null) {
      const ends = m !== null && Number(m[1]) === this.multiline && m[2] === ' ';
      const code = this.multiline;
      if (ends) {
        this.multiline = null;
        return { kind: 'reply', code, text: m![3]!, opensMultiline: false, continuation: false, final: true };
      }
      return { kind: 'reply', code, text: line.trim(), opensMultiline: false, continuation: true, final: false };
    }
    if (!m) return { kind: 'reply', code: 0, text: line, opensMultiline: false, continuation: false, final: false };
    const code = Number(m[1]);
    if (m[2] === '-') {
      this.multiline = code;
      return { kind: 'reply', code, text: m[3]!, opensMultiline: true, continuation: false, final: false };
    }
    return { kind: 'reply', code, text: m[3]!, opensMultiline: false, continuation: false, final: true };
  }
}
