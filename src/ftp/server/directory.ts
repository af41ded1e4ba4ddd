/**
 * Reading a directory for LIST, NLST, MLSD and STAT, inside the virtual root.
 *
 * The directory is read through its checked descriptor (path.ts), never by name
 * again. Entries are shown as what they lead to: a symlink is opened and kept only
 * if the object it reaches is inside the root, so a listing reveals nothing beyond
 * the root (not even the size of a file out there). Our own upload temporaries are
 * left out too.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { entryTypeOf, type EntryInfo } from '../common/listing.js';
import type { OpenedPath, VirtualRoot } from './path.js';

/** Name pattern of an upload in progress (see upload.ts). */
export const TEMP_NAME = /^\.tapstack-[0-9a-f]+\.part$/;

export function toEntryInfo(name: string, st: Stats): EntryInfo {
  return {
    name,
    type: entryTypeOf(st),
    size: st.size,
    mtimeMs: st.mtimeMs,
    mode: st.mode,
    nlink: st.nlink,
    dev: st.dev,
    ino: st.ino,
  };
}

export interface DirectoryListing {
  entries: EntryInfo[];
  /** True when more entries existed than `limit`. */
  truncated: boolean;
}

/**
 * The entries of an opened directory, sorted by name, at most `limit` of them.
 * `match` keeps only some names (a glob pattern, see glob.ts).
 */
export async function readDirectory(root: VirtualRoot, dir: OpenedPath, limit: number, match?: (name: string) => boolean): Promise<DirectoryListing> {
  // An unreadable directory throws (EACCES: 550), it is not an empty one.
  const names = (await readdir(dir.path)).filter((n) => !TEMP_NAME.test(n) && !/[\r\n]/.test(n) && (!match || match(n))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let truncated = false;
  const entries: EntryInfo[] = [];
  for (const name of names) {
    if (entries.length === limit) {
      truncated = true;
      break;
    }
    const st = await entryStats(root, dir, name);
    if (st) entries.push(toEntryInfo(name, st));
  }
  return { entries, truncated };
}

/** What a directory entry shows: itself, or for a symlink what it leads to if inside the root. */
async function entryStats(root: VirtualRoot, dir: OpenedPath, name: string): Promise<Stats | undefined> {
  try {
    const st = await lstat(dir.at(name));
    if (!st.isSymbolicLink()) return st;
    const target = await root.openChecked(name, dir.at(name), false);
    if (!target.ok) return undefined; // dangling, or leads outside: leave it out
    await target.value.close();
    return target.value.stats;
  } catch {
    return undefined; // vanished meanwhile
  }
}
