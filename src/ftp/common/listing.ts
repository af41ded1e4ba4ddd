/**
 * Directory listings in the two shapes FTP clients read.
 *
 * LIST (RFC 959 4.1.3) has no defined format; every client parses the output of
 * Unix `ls -l`, so that is what we write, one entry a line:
 *
 *   -rw-r--r--    1 ftp      ftp          1715 Nov 21 10:00 readme.txt
 *   drwxr-xr-x    2 ftp      ftp          4096 Mar 02  2025 pub
 *
 * The date has the time of day for entries from the last six months and the year
 * (after two spaces) for older or future ones, as `ls` does; curl, lftp, wget and
 * Python's ftplib-based parsers all expect exactly that. Owner and group are always
 * `ftp`: real user names on the server are none of the client's business.
 *
 * MLSD/MLST (RFC 3659 7) are machine-readable: `fact=value;...; name`. The name
 * follows the single space after the last `;`.
 */
export type EntryType = 'file' | 'dir' | 'other';

/** What a listing needs to know about one directory entry (a subset of fs.Stats). */
export interface EntryInfo {
  name: string;
  type: EntryType;
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  /** Unix mode bits (only the permission bits are used). */
  mode: number;
  nlink: number;
  dev: number;
  ino: number;
}

export function entryTypeOf(stats: { isFile(): boolean; isDirectory(): boolean }): EntryType {
  return stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : 'other';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Six months as `ls` counts them: half of a 365.2425-day year. */
const SIX_MONTHS_MS = (365.2425 / 2) * 24 * 60 * 60 * 1000;

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `rwxr-xr-x` from the low nine mode bits. */
export function permissionString(mode: number): string {
  const chars = 'rwxrwxrwx';
  let out = '';
  for (let bit = 8; bit >= 0; bit--) out += mode & (1 << bit) ? chars[8 - bit] : '-';
  return out;
}

/**
 * The date column of `ls -l`, in UTC: `Nov 21 10:00` within six months of `now`,
 * `Nov 21  2024` otherwise (also for dates in the future, as `ls` does).
 */
export function formatListDate(mtimeMs: number, now: Date): string {
  const d = new Date(mtimeMs);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const head = `${MONTHS[d.getUTCMonth()]} ${day}`;
  const age = now.getTime() - mtimeMs;
  if (age >= 0 && age < SIX_MONTHS_MS) return `${head} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
  return `${head}  ${d.getUTCFullYear()}`;
}

/** One `ls -l` line, without the line end. */
export function formatListLine(entry: EntryInfo, now: Date): string {
  const kind = entry.type === 'dir' ? 'd' : '-';
  const links = String(entry.nlink).padStart(4, ' ');
  const size = String(entry.size).padStart(12, ' ');
  return `${kind}${permissionString(entry.mode)} ${links} ftp      ftp      ${size} ${formatListDate(entry.mtimeMs, now)} ${entry.name}`;
}

/**
 * RFC 3659 2.3: time-val is `YYYYMMDDHHMMSS` in UTC (used by MDTM and the modify
 * fact). Fractions are allowed but optional; we leave them out.
 */
export function formatTimeVal(ms: number): string {
  const d = new Date(ms);
  return (
    String(d.getUTCFullYear()).padStart(4, '0') +
    two(d.getUTCMonth() + 1) +
    two(d.getUTCDate()) +
    two(d.getUTCHours()) +
    two(d.getUTCMinutes()) +
    two(d.getUTCSeconds())
  );
}

/** What the logged-in user may do with an entry: decides the perm fact. */
export interface EntryAccess {
  writable: boolean;
}

/**
 * RFC 3659 7.5.5 perm fact. Files: r (RETR), and with write access a (APPE),
 * w (STOR), d (DELE), f (RNFR). Directories: e (CWD), l (LIST), and with write
 * access c (STOR inside), m (MKD inside), p (remove entries), d (RMD), f (RNFR).
 */
export function permFact(type: EntryType, access: EntryAccess): string {
  if (type === 'dir') return access.writable ? 'cdeflmp' : 'el';
  if (type === 'file') return access.writable ? 'adfrw' : 'r';
  return '';
}

/** The facts we support, in the order FEAT advertises them (RFC 3659 7.8). */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/**
 * One MLSD line or the fact part of an MLST reply: `type=file;size=1715;modify=
 * 20261121100000;perm=r;unique=803g2a1; readme.txt`. `facts` selects which facts
 * appear (OPTS MLST); `type` may be given as cdir/pdir for the listed directory and
 * its parent (RFC 3659 7.5.1).
 */
export function formatMlsxLine(
  entry: EntryInfo,
  access: EntryAccess,
  facts: readonly MlstFact[] = MLST_FACTS,
  name: string = entry.name,
): string {
  let out = '';
  for (const fact of facts) {
    switch (fact) {
      case 'type':
        out += `type=${entry.type === 'other' ? 'OS.unix=other' : entry.type};`;
        break;
      case 'size':
        // RFC 3659 7.5.7: the size fact is for files; directories may omit it.
        if (entry.type === 'file') out += `size=${entry.size};`;
        break;
      case 'modify':
        out += `modify=${formatTimeVal(entry.mtimeMs)};`;
        break;
      case 'perm':
        out += `perm=${permFact(entry.type, access)};`;
        break;
      case 'unique':
        // RFC 3659 7.5.2: any string that names the object uniquely on this server.
        out += `unique=${entry.dev.toString(16)}g${entry.ino.toString(16)};`;
        break;
    }
  }
  return `${out} ${name}`;
}

/**
 * LIST and NLST arguments may start with `ls` flags (`-a`, `-l`, `-la`), which many
 * clients send out of habit. We always list everything in long form, so the flags
 * are dropped; what remains is the path (empty = working directory).
 */
export function stripListFlags(arg: string): string {
  let rest = arg.trim();
  while (/^-[A-Za-z]+(\s|$)/.test(rest)) rest = rest.replace(/^-[A-Za-z]+\s*/, '');
  return rest;
}

/**
 * Parse `OPTS MLST type;size;` (RFC 3659 7.9): the facts the client wants, in our
 * order, unknown ones ignored. An empty list is allowed (only names are sent).
 */
export function parseMlstOpts(arg: string): MlstFact[] {
  const wanted = new Set(
    arg
      .split(';')
      .map((f) => f.trim().toLowerCase())
      .filter((f) => f !== ''),
  );
  return MLST_FACTS.filter((f) => wanted.has(f));
}

/** The FEAT line for MLST: facts we support, `*` marking those currently selected. */
export function mlstFeatLine(selected: readonly MlstFact[]): string {
  return 'MLST ' + MLST_FACTS.map((f) => `${f}${selected.includes(f) ? '*' : ''};`).join('');
}
