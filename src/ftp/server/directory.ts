/**
 * Reading a directory for LIST, NLST, MLSD and STAT, inside the virtual root.
 *
 * Entries are stat()ed with symlinks followed, so a link shows as what it leads to.
 * A symlink that leads outside the root, or nowhere, is left out: the listing must
 * not reveal anything beyond the root. Our own upload temporaries are left out too.
 */
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { entryTypeOf, type EntryInfo } from '../common/listing.js';
import type { VirtualRoot } from './path.js';

/** Name pattern of an upload in progress (see transfers.ts). */
export const TEMP_NAME = /^\.tapstack-[0-9a-f]+\.part$/;

export function toEntryInfo(name: string, st: import('node:fs').Stats): EntryInfo {
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

/** The entries of a real directory (already checked to be inside `root`), sorted by name. */
export async function readDirectory(root: VirtualRoot, realDir: string, limit: number): Promise<DirectoryListing> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(realDir, { withFileTypes: true });
  } catch {
    return { entries: [], truncated: false };
  }
  const names = dirents.filter((d) => !TEMP_NAME.test(d.name) && !/[\r\n]/.test(d.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let truncated = false;
  const entries: EntryInfo[] = [];
  for (const d of names) {
    if (entries.length === limit) {
      truncated = true;
      break;
    }
    const full = posix.join(realDir, d.name);
    try {
      if (d.isSymbolicLink()) {
        // Only links that stay inside the root are shown.
        if (!root.contains(await realpath(full))) continue;
      }
      entries.push(toEntryInfo(d.name, await stat(full)));
    } catch {
      // Vanished meanwhile, or a dangling link: leave it out.
    }
  }
  return { entries, truncated };
}
