/**
 * The xferlog format of wu-ftpd, kept by vsftpd and ProFTPD too, so existing log
 * tools read our transfers. One line per transfer:
 *
 *   Sat Nov 21 11:41:03 2026 1 10.0.0.1 1715 /readme.txt a _ o a abc@x ftp 0 * c
 *
 * current-time transfer-seconds remote-host bytes filename type(a/b) action(_)
 * direction(o/i) access(a anonymous / r real) user service auth-method(0) auth-id(*)
 * status(c complete / i incomplete).
 */
import { appendFile } from 'node:fs/promises';

export interface XferRecord {
  seconds: number;
  host: string;
  bytes: number;
  path: string;
  binary: boolean;
  incoming: boolean;
  anonymous: boolean;
  /** Anonymous: the identity given as password; otherwise the user name. */
  user: string;
  complete: boolean;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Sat Nov 21 11:41:03 2026` (ctime style, UTC). */
export function ctimeUtc(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** Fields are separated by spaces, so spaces (and anything odd) in names become '_'. */
function field(s: string): string {
  return s === '' ? '*' : s.replace(/[\s\x00-\x1f]/g, '_');
}

export function formatXferLine(r: XferRecord, now: Date): string {
  return [
    ctimeUtc(now),
    Math.max(1, Math.round(r.seconds)),
    r.host,
    r.bytes,
    field(r.path),
    r.binary ? 'b' : 'a',
    '_',
    r.incoming ? 'i' : 'o',
    r.anonymous ? 'a' : 'r',
    field(r.user),
    'ftp',
    0,
    '*',
    r.complete ? 'c' : 'i',
  ].join(' ');
}

/** Appends lines to a file, in order, without blocking the session. */
export class XferLog {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly now: () => Date,
  ) {}

  record(r: XferRecord): void {
    const line = formatXferLine(r, this.now()) + '\n';
    this.tail = this.tail.then(() => appendFile(this.file, line)).catch(() => {});
  }

  /** Resolves when every recorded line is written (for tests and shutdown). */
  flush(): Promise<void> {
    return this.tail;
  }
}
