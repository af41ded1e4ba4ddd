/**
 * Directory listings. LIST output is not standardised (RFC 959 only says it is
 * "a list of files" for humans), so clients recognise the formats servers really
 * use: Unix `ls -l` (vsftpd, ProFTPD, Pure-FTPd, pyftpdlib) and MS-DOS (IIS).
 * MLSD (RFC 3659 7) is the machine-readable listing: `fact=value;...; name`.
 *
 * Parsers never throw: a line they do not understand gives `undefined`.
 */
import { permissionString } from './listing.js';

/** Unlike a server-side EntryInfo (listing.ts), a parsed listing can show a link as a link. */
export type ListEntryType = 'file' | 'dir' | 'link' | 'other';

export interface ListEntry {
  name: string;
  type: ListEntryType;
  /** Size in bytes, when the listing says. */
  size?: number;
  /** Last modification, when the listing says (Unix and DOS listings: server local time read as UTC). */
  modified?: Date;
  /** Target of a symbolic link (`name -> target` in ls -l). */
  target?: string;
  /** `rwxr-xr-x` style permissions (Unix listings). */
  permissions?: string;
  owner?: string;
  group?: string;
  /** MLSD facts, names in lower case (RFC 3659 7.5: fact names are case-insensitive). */
  facts?: Record<string, string>;
  /** The line as received. */
  raw: string;
}

export type ListFormat = 'unix' | 'dos' | 'mlsd';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * `ls -l`: type+mode, links, owner, [group], size, month, day, time-or-year, name.
 * The name is everything after the single space that follows the date, so names with
 * spaces (and leading spaces) survive.
 */
const UNIX_LINE =
  /^([-dlbcps])([-rwxsStTlL]{9})[.+@]?\s+(\d+)\s+(\S+)\s+(?:(\S+)\s+)?(\d+)\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4}) (.+)$/;

/** IIS: `03-17-17  05:37PM                  689 iisstart.htm` or `<DIR>` instead of a size. */
const DOS_LINE = /^(\d{2})-(\d{2})-(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(<DIR>|\d+)\s+(.+)$/;

/** Parse one `ls -l` line; `now` picks the year for dates shown with a time (recent files). */
export function parseUnixLine(line: string, now: Date = new Date()): ListEntry | undefined {
  const m = UNIX_LINE.exec(line);
  if (!m) return undefined;
  const [, kind, permissions, , owner, group, sizeText, monText, dayText, timeOrYear, rest] = m as unknown as string[];
  const month = MONTHS.indexOf(monText!.toLowerCase());
  if (month < 0) return undefined;
  const type: ListEntryType = kind === '-' ? 'file' : kind === 'd' ? 'dir' : kind === 'l' ? 'link' : 'other';
  let name = rest!;
  let target: string | undefined;
  if (type === 'link') {
    const arrow = name.indexOf(' -> ');
    if (arrow >= 0) {
      target = name.slice(arrow + 4);
      name = name.slice(0, arrow);
    }
  }
  const entry: ListEntry = { name, type, size: Number(sizeText), permissions, owner, raw: line };
  if (group !== undefined) entry.group = group;
  if (target !== undefined) entry.target = target;
  const modified = unixDate(month, Number(dayText), timeOrYear!, now);
  if (modified) entry.modified = modified;
  return entry;
}

/**
 * ls shows `Nov 21 11:42` for files from the last six months and `Mar  4  2019`
 * otherwise. Without a year we take the latest such date that is not more than a day
 * ahead of `now` (a day of slack for servers in other time zones).
 */
function unixDate(month: number, day: number, timeOrYear: string, now: Date): Date | undefined {
  if (day < 1 || day > 31) return undefined;
  if (/^\d{4}$/.test(timeOrYear)) return new Date(Date.UTC(Number(timeOrYear), month, day));
  const [h, min] = timeOrYear.split(':').map(Number) as [number, number];
  if (h > 23 || min > 59) return undefined;
  let year = now.getUTCFullYear();
  let d = new Date(Date.UTC(year, month, day, h, min));
  if (d.getTime() > now.getTime() + 24 * 3600_000) {
    year -= 1;
    d = new Date(Date.UTC(year, month, day, h, min));
  }
  return d;
}

/** Parse one MS-DOS / IIS line. Two-digit years below 70 are 20xx. */
export function parseDosLine(line: string): ListEntry | undefined {
  const m = DOS_LINE.exec(line);
  if (!m) return undefined;
  const [, mm, dd, yy, hh, mi, ampm, sizeOrDir, name] = m as unknown as string[];
  let year = Number(yy);
  if (yy!.length === 2) year += year < 70 ? 2000 : 1900;
  let hour = Number(hh);
  if (ampm) {
    const pm = ampm.toLowerCase() === 'pm';
    if (hour === 12) hour = pm ? 12 : 0;
    else if (pm) hour += 12;
  }
  const month = Number(mm) - 1;
  const day = Number(dd);
  if (month < 0 || month > 11 || day < 1 || day > 31 || hour > 23 || Number(mi) > 59) return undefined;
  const entry: ListEntry = {
    name: name!,
    type: sizeOrDir === '<DIR>' ? 'dir' : 'file',
    modified: new Date(Date.UTC(year, month, day, hour, Number(mi))),
    raw: line,
  };
  if (sizeOrDir !== '<DIR>') entry.size = Number(sizeOrDir);
  return entry;
}

/**
 * Parse one MLSD/MLST line (RFC 3659 7.2): `fact=value;fact=value; name`. The name is
 * everything after the first space, so it may contain spaces and semicolons.
 */
export function parseMlsdLine(line: string): ListEntry | undefined {
  const sp = line.indexOf(' ');
  if (sp < 0) return undefined;
  const factText = line.slice(0, sp);
  const name = line.slice(sp + 1);
  if (name === '') return undefined;
  const facts: Record<string, string> = {};
  for (const fact of factText.split(';')) {
    if (fact === '') continue;
    const eq = fact.indexOf('=');
    if (eq <= 0) return undefined;
    facts[fact.slice(0, eq).toLowerCase()] = fact.slice(eq + 1);
  }
  const typeFact = (facts['type'] ?? '').toLowerCase();
  // RFC 3659 7.5.1: file, dir, cdir (this directory), pdir (its parent); OS.unix=slink
  // (Pure-FTPd) and OS.unix=symlink (ProFTPD) are links.
  let type: ListEntryType = 'other';
  if (typeFact === 'file') type = 'file';
  else if (typeFact === 'dir' || typeFact === 'cdir' || typeFact === 'pdir') type = 'dir';
  else if (/^os\.unix=(s|sym)link/.test(typeFact)) type = 'link';
  const entry: ListEntry = { name, type, facts, raw: line };
  const size = facts['size'] ?? facts['sizd'];
  if (size !== undefined && /^\d+$/.test(size)) entry.size = Number(size);
  if (facts['modify'] !== undefined) {
    const modified = parseFtpTime(facts['modify']);
    if (modified) entry.modified = modified;
  }
  const mode = facts['unix.mode'];
  if (mode !== undefined && /^0?[0-7]{3,4}$/.test(mode)) entry.permissions = permissionString(parseInt(mode, 8));
  const owner = facts['unix.ownername'] ?? facts['unix.owner'] ?? facts['unix.uid'];
  if (owner !== undefined) entry.owner = owner;
  const group = facts['unix.groupname'] ?? facts['unix.group'] ?? facts['unix.gid'];
  if (group !== undefined) entry.group = group;
  return entry;
}

/**
 * The time-val of MDTM and MLSD `modify` (RFC 3659 2.3): YYYYMMDDHHMMSS[.sss], in UTC.
 * Returns undefined when malformed. (The server writes it with listing.ts formatTimeVal.)
 */
export function parseFtpTime(text: string): Date | undefined {
  const m = /^\s*(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?\s*$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
}

/** Guess the format of a LIST line, or undefined when it is none we know. */
export function detectListFormat(line: string): ListFormat | undefined {
  if (UNIX_LINE.test(line)) return 'unix';
  if (DOS_LINE.test(line)) return 'dos';
  if (/^([^ =;]+=[^;]*;)+ ./.test(line)) return 'mlsd';
  return undefined;
}

export interface ParseListResult {
  entries: ListEntry[];
  /** Lines that were neither entries nor known noise (`total 12`). */
  unparsed: string[];
}

/** Split a listing into lines; CRLF or LF, trailing blanks dropped. */
export function splitLines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '');
}

/**
 * Parse a whole LIST (or MLSD) listing, trying each line against every format.
 * `.` and `..` are dropped, as are `total N` lines of ls.
 */
export function parseList(text: string, now: Date = new Date()): ParseListResult {
  const entries: ListEntry[] = [];
  const unparsed: string[] = [];
  for (const line of splitLines(text)) {
    if (/^total \d+/i.test(line)) continue;
    const e = parseUnixLine(line, now) ?? parseDosLine(line) ?? parseMlsdLine(line);
    if (!e || (e.facts && !e.facts['type'] && !e.facts['size'] && !e.facts['modify'])) {
      unparsed.push(line);
      continue;
    }
    if (e.name === '.' || e.name === '..') continue;
    entries.push(e);
  }
  return { entries, unparsed };
}

/** Parse an MLSD listing (RFC 3659 7): `cdir` and `pdir` entries are dropped. */
export function parseMlsd(text: string): ParseListResult {
  const entries: ListEntry[] = [];
  const unparsed: string[] = [];
  for (const line of splitLines(text)) {
    const e = parseMlsdLine(line);
    if (!e) {
      unparsed.push(line);
      continue;
    }
    const t = e.facts?.['type']?.toLowerCase();
    if (t === 'cdir' || t === 'pdir') continue;
    entries.push(e);
  }
  return { entries, unparsed };
}
