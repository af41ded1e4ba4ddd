/**
 * Commands that act on files and directories and answer on the control connection
 * alone (no data connection): CWD/CDUP, MKD, RMD, DELE, RNFR/RNTO, SIZE, MDTM, MLST
 * and STAT with a path. Each opens its path inside the user's virtual root first
 * (see path.ts: open, then check where the opened object is) and acts only through
 * that descriptor; it answers with the RFC 959 / RFC 3659 code for the case, an OS
 * error mapped by errors.ts.
 *
 * They see the session only through `FileSession`, which keeps them apart from the
 * session's reading, queueing and transfer machinery.
 */
import { constants } from 'node:fs';
import { access, mkdir, rename, rmdir, unlink } from 'node:fs/promises';
import { formatListLine, formatMlsxLine, formatTimeVal, stripListFlags, type MlstFact } from '../common/listing.js';
import { readDirectory, toEntryInfo } from './directory.js';
import { replyForOsError } from './errors.js';
import type { ResolvedServerOptions } from './options.js';
import { baseName, type OpenedPath, type ParentAndName, type PathErrorKind, type PathResult, type VirtualRoot } from './path.js';
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
    case 'denied':
      counters.inc('ftp.server.path.denied');
      s.reply(550, 'Permission denied.');
      break;
    case 'not-found':
      s.reply(550, 'No such file or directory.');
      break;
  }
}

/** Answer an OS error of a file operation with the code it deserves (errors.ts). */
export function osError(s: FileSession, err: unknown): void {
  const r = replyForOsError(err);
  s.options.counters.inc(`ftp.server.error.${r.reason}`);
  s.reply(r.code, r.text);
}

/** Anonymous users are read-only unless the server says otherwise: 550 for them. */
export function requireWritable(s: FileSession): boolean {
  if (s.writable) return true;
  s.options.counters.inc('ftp.server.denied.read_only');
  s.reply(550, 'Permission denied.');
  return false;
}

/**
 * Open an existing path relative to the working directory and run `use` with it;
 * the descriptor is closed afterwards. A path that cannot be used is answered here.
 */
export async function withExisting(s: FileSession, arg: string, use: (p: OpenedPath) => Promise<void> | void): Promise<void> {
  const r = await s.root.existing(s.cwd, arg);
  if (!r.ok) return pathError(s, r.error);
  try {
    await use(r.value);
  } finally {
    await r.value.close();
  }
}

/** As withExisting, for a name to create or remove (its directory is what is opened). */
export async function withParent(
  s: FileSession,
  arg: string,
  use: (p: ParentAndName) => Promise<void> | void,
  followLink = false,
): Promise<void> {
  const r: PathResult<ParentAndName> = await s.root.parentOf(s.cwd, arg, followLink);
  if (!r.ok) return pathError(s, r.error, true);
  try {
    await use(r.value);
  } finally {
    await r.value.dir.close();
  }
}

export function changeDirectory(s: FileSession, arg: string, verb: 'CWD' | 'CDUP'): Promise<void> {
  return withExisting(s, arg, async (p) => {
    if (!p.stats.isDirectory()) return s.reply(550, 'Not a directory.');
    // The descriptor was opened with O_PATH, which needs no permission on the
    // directory itself; entering it needs search (x), as chdir() would.
    try {
      await access(p.path, constants.X_OK);
    } catch (err) {
      return osError(s, err);
    }
    s.cwd = p.virtual;
    // RFC 959 4.1.1: CDUP answers like CWD.
    s.reply(250, `${verb} command successful.`);
  });
}

/** Run a file operation; an OS error is answered with its mapped code. */
async function act(s: FileSession, op: () => Promise<unknown>, ok: () => void): Promise<void> {
  try {
    await op();
  } catch (err) {
    return osError(s, err);
  }
  ok();
}

/**
 * RNFR: the user must be allowed to write and the entry must exist (a symlink counts
 * as itself). The session keeps the result, with its directory open, for the RNTO
 * that must follow; it calls `release()` when it forgets it.
 */
export interface RenameSource {
  virtual: string;
  from: ParentAndName;
  release(): Promise<void>;
}

export async function renameFrom(s: FileSession, arg: string): Promise<RenameSource | undefined> {
  if (!requireWritable(s)) return undefined;
  const r = await s.root.parentOf(s.cwd, arg);
  if (!r.ok) return pathError(s, r.error), undefined;
  if (!r.value.entry) {
    await r.value.dir.close();
    return s.reply(550, 'No such file or directory.'), undefined;
  }
  s.reply(350, 'Ready for RNTO.');
  const from = r.value;
  return { virtual: from.virtual, from, release: () => from.dir.close() };
}

export async function renameTo(s: FileSession, source: RenameSource | undefined, arg: string): Promise<void> {
  if (!source) return s.reply(503, 'RNFR required first.');
  try {
    await withParent(s, arg, (to) =>
      // rename(2) between two checked directories: neither name is followed.
      act(
        s,
        () => rename(source.from.dir.at(source.from.name), to.dir.at(to.name)),
        () => s.reply(250, 'Rename successful.'),
      ),
    );
  } finally {
    await source.release();
  }
}

export async function deleteFile(s: FileSession, arg: string): Promise<void> {
  if (!requireWritable(s)) return;
  await withParent(s, arg, ({ dir, name, entry }) => {
    if (!entry) return s.reply(550, 'No such file or directory.');
    if (entry.isDirectory()) return s.reply(550, 'Is a directory; use RMD.');
    return act(s, () => unlink(dir.at(name)), () => s.reply(250, 'File deleted.'));
  });
}

export async function removeDirectory(s: FileSession, arg: string): Promise<void> {
  if (!requireWritable(s)) return;
  await withParent(s, arg, ({ dir, name, entry }) => {
    if (!entry) return s.reply(550, 'No such file or directory.');
    if (!entry.isDirectory()) return s.reply(550, 'Not a directory.');
    return act(s, () => rmdir(dir.at(name)), () => s.reply(250, 'Directory removed.'));
  });
}

export async function makeDirectory(s: FileSession, arg: string): Promise<void> {
  if (!requireWritable(s)) return;
  await withParent(s, arg, ({ virtual, dir, name, entry }) => {
    if (entry) return s.reply(550, 'File exists.');
    // RFC 959 appendix II: 257 with the new directory's path in quotes.
    return act(s, () => mkdir(dir.at(name)), () => s.reply(257, `${quotePath(virtual)} created.`));
  });
}

/**
 * SIZE in TYPE A means reading the whole file to count its line ends; above this
 * size the server says no (RFC 3659 4 allows a 550 there) rather than let one
 * command keep the disk busy.
 */
export const MAX_ASCII_SIZE_SCAN = 16 * 1024 * 1024;

export function fileSize(s: FileSession, arg: string): Promise<void> {
  return withExisting(s, arg, async (p) => {
    const { stats } = p;
    if (!stats.isFile()) return s.reply(550, 'Not a plain file.');
    if (s.type === 'I') return s.reply(213, String(stats.size));
    if (stats.size > MAX_ASCII_SIZE_SCAN) return s.reply(550, 'SIZE of a large file is not available in ASCII mode; use TYPE I.');
    // RFC 3659 4: the size is what a RETR in the current TYPE would send.
    let size: number;
    try {
      size = await asciiSizeOf(p);
    } catch (err) {
      return osError(s, err);
    }
    s.reply(213, String(size));
  });
}

export function modificationTime(s: FileSession, arg: string): Promise<void> {
  return withExisting(s, arg, (p) => s.reply(213, formatTimeVal(p.stats.mtimeMs)));
}

export function machineListOne(s: FileSession, arg: string): Promise<void> {
  return withExisting(s, arg === '' ? '.' : arg, (p) => {
    const info = toEntryInfo(baseName(p.virtual), p.stats);
    // RFC 3659 7.2: the fact line starts with one space and names the full path.
    const line = formatMlsxLine(info, { writable: s.writable }, s.mlstFacts, p.virtual);
    s.reply(250, [`Listing ${p.virtual}`, ` ${line}`, 'End']);
  });
}

/** RFC 959 4.1.3: STAT with a path is LIST, but over the control connection. */
export function statusOfPath(s: FileSession, arg: string): Promise<void> {
  const path = stripListFlags(arg);
  return withExisting(s, path === '' ? '.' : path, async (p) => {
    const entries = p.stats.isDirectory()
      ? (await readDirectory(s.root, p, s.options.maxListEntries)).entries
      : [toEntryInfo(baseName(p.virtual), p.stats)];
    const now = s.options.now();
    s.reply(213, [`Status of ${p.virtual}:`, ...entries.map((e) => formatListLine(e, now)), 'End of status']);
  });
}
