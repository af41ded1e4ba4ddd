/**
 * Commands that act on files and directories and answer on the control connection
 * alone (no data connection): CWD/CDUP, MKD, RMD, DELE, RNFR/RNTO, SIZE, MDTM, MLST
 * and STAT with a path. Each resolves its path inside the user's virtual root first
 * (see path.ts) and answers with the RFC 959 / RFC 3659 code for the case.
 *
 * They see the session only through `FileSession`, which keeps them apart from the
 * session's reading, queueing and transfer machinery.
 */
import { lstat, mkdir, rename, rmdir, unlink } from 'node:fs/promises';
import { formatListLine, formatMlsxLine, formatTimeVal, stripListFlags, type MlstFact } from '../common/listing.js';
import { readDirectory, toEntryInfo } from './directory.js';
import type { ResolvedServerOptions } from './options.js';
import { baseName, type ExistingPath, type PathErrorKind, type PathResult, type ResolvedPath, type VirtualRoot } from './path.js';
import { asciiSizeOf } from './transfers.js';

/** What the file commands may see and change of a logged-in session. */
export interface FileSession {
  readonly options: ResolvedServerOptions;
  /** The user's root: `/` for the client. */
  readonly root: VirtualRoot;
  /** The working directory (a virtual path); CWD changes it. */
  cwd: string;
  /** May this user create, change and delete? */
  readonly writable: boolean;
  readonly type: 'A' | 'I';
  readonly mlstFacts: readonly MlstFact[];
  reply(code: number, text: string | readonly string[]): void;
}

/** RFC 959 appendix II: a path in a 257 reply is quoted, inner quotes doubled. */
export function quotePath(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}

/** The standard reply for a path that could not be used. */
export function pathError(s: FileSession, error: PathErrorKind, creating = false): void {
  const counters = s.options.counters;
  switch (error) {
    case 'bad-name':
      counters.inc('ftp.server.path.bad_name');
      // RFC 959 4.2: 553 is "file name not allowed" for commands that create a name.
      if (creating) s.reply(553, 'File name not allowed.');
      else s.reply(501, 'File name not allowed.');
      break;
    case 'outside-root':
      counters.inc('ftp.server.path.outside_root');
      s.reply(550, 'Permission denied.');
      break;
    case 'not-found':
      s.reply(550, 'No such file or directory.');
      break;
  }
}

/** Anonymous users are read-only unless the server says otherwise: 550 for them. */
export function requireWritable(s: FileSession): boolean {
  if (s.writable) return true;
  s.options.counters.inc('ftp.server.denied.read_only');
  s.reply(550, 'Permission denied.');
  return false;
}

/** An existing path relative to the working directory. */
export function existing(s: FileSession, arg: string): Promise<PathResult<ExistingPath>> {
  return s.root.existing(s.cwd, arg);
}

export async function changeDirectory(s: FileSession, arg: string, verb: 'CWD' | 'CDUP'): Promise<void> {
  const r = await existing(s, arg);
  if (!r.ok) return pathError(s, r.error);
  if (!r.value.stats.isDirectory()) return s.reply(550, 'Not a directory.');
  s.cwd = r.value.virtual;
  // RFC 959 4.1.1: CDUP answers like CWD.
  s.reply(250, `${verb} command successful.`);
}

/**
 * The entry that RNFR, DELE or RMD acts on: the user must be allowed to write and the
 * entry must exist (a symlink counts as itself). Otherwise the reply is sent here and
 * the result is undefined.
 */
async function existingEntry(s: FileSession, arg: string): Promise<ResolvedPath | undefined> {
  if (!requireWritable(s)) return undefined;
  const r = await s.root.entry(s.cwd, arg);
  if (!r.ok) return pathError(s, r.error), undefined;
  if (!r.value.exists) return s.reply(550, 'No such file or directory.'), undefined;
  return { virtual: r.value.virtual, real: r.value.real };
}

/** RNFR: check the name; the session keeps the result for the RNTO that must follow. */
export async function renameFrom(s: FileSession, arg: string): Promise<ResolvedPath | undefined> {
  const from = await existingEntry(s, arg);
  if (from) s.reply(350, 'Ready for RNTO.');
  return from;
}

export async function renameTo(s: FileSession, from: ResolvedPath | undefined, arg: string): Promise<void> {
  if (!from) return s.reply(503, 'RNFR required first.');
  const r = await s.root.entry(s.cwd, arg);
  if (!r.ok) return pathError(s, r.error, true);
  try {
    await rename(from.real, r.value.real);
  } catch {
    return s.reply(550, 'Rename failed.');
  }
  s.reply(250, 'Rename successful.');
}

export async function deleteFile(s: FileSession, arg: string): Promise<void> {
  const entry = await existingEntry(s, arg);
  if (!entry) return;
  if ((await lstat(entry.real)).isDirectory()) return s.reply(550, 'Is a directory; use RMD.');
  await unlink(entry.real);
  s.reply(250, 'File deleted.');
}

export async function removeDirectory(s: FileSession, arg: string): Promise<void> {
  const entry = await existingEntry(s, arg);
  if (!entry) return;
  if (!(await lstat(entry.real)).isDirectory()) return s.reply(550, 'Not a directory.');
  try {
    await rmdir(entry.real);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return s.reply(550, code === 'ENOTEMPTY' || code === 'EEXIST' ? 'Directory not empty.' : 'Remove directory failed.');
  }
  s.reply(250, 'Directory removed.');
}

export async function makeDirectory(s: FileSession, arg: string): Promise<void> {
  if (!requireWritable(s)) return;
  const r = await s.root.entry(s.cwd, arg);
  if (!r.ok) return pathError(s, r.error, true);
  if (r.value.exists) return s.reply(550, 'File exists.');
  await mkdir(r.value.real);
  // RFC 959 appendix II: 257 with the new directory's path in quotes.
  s.reply(257, `${quotePath(r.value.virtual)} created.`);
}

/**
 * SIZE in TYPE A means reading the whole file to count its line ends; above this
 * size the server says no (RFC 3659 4 allows a 550 there) rather than let one
 * command keep the disk busy.
 */
export const MAX_ASCII_SIZE_SCAN = 16 * 1024 * 1024;

export async function fileSize(s: FileSession, arg: string): Promise<void> {
  const r = await existing(s, arg);
  if (!r.ok) return pathError(s, r.error);
  const { stats, real } = r.value;
  if (!stats.isFile()) return s.reply(550, 'Not a plain file.');
  if (s.type === 'I') return s.reply(213, String(stats.size));
  if (stats.size > MAX_ASCII_SIZE_SCAN) return s.reply(550, 'SIZE of a large file is not available in ASCII mode; use TYPE I.');
  // RFC 3659 4: the size is what a RETR in the current TYPE would send.
  s.reply(213, String(await asciiSizeOf(real, stats.size)));
}

export async function modificationTime(s: FileSession, arg: string): Promise<void> {
  const r = await existing(s, arg);
  if (!r.ok) return pathError(s, r.error);
  s.reply(213, formatTimeVal(r.value.stats.mtimeMs));
}

export async function machineListOne(s: FileSession, arg: string): Promise<void> {
  const r = await existing(s, arg === '' ? '.' : arg);
  if (!r.ok) return pathError(s, r.error);
  const info = toEntryInfo(baseName(r.value.virtual), r.value.stats);
  // RFC 3659 7.2: the fact line starts with one space and names the full path.
  const line = formatMlsxLine(info, { writable: s.writable }, s.mlstFacts, r.value.virtual);
  s.reply(250, [`Listing ${r.value.virtual}`, ` ${line}`, 'End']);
}

/** RFC 959 4.1.3: STAT with a path is LIST, but over the control connection. */
export async function statusOfPath(s: FileSession, arg: string): Promise<void> {
  const path = stripListFlags(arg);
  const r = await existing(s, path === '' ? '.' : path);
  if (!r.ok) return pathError(s, r.error);
  const { stats, real, virtual } = r.value;
  const entries = stats.isDirectory()
    ? (await readDirectory(s.root, real, s.options.maxListEntries)).entries
    : [toEntryInfo(baseName(virtual), stats)];
  const now = s.options.now();
  s.reply(213, [`Status of ${virtual}:`, ...entries.map((e) => formatListLine(e, now)), 'End of status']);
}
