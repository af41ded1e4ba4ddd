import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { FtpUsageError } from './errors.js';

/**
 * Where a downloaded file may be written. A name chosen by the server (from NLST in
 * mget, or a remote path) must never take us outside the target directory: we keep
 * only its last component, refuse `.`/`..`/empty names and NUL, and check the result
 * still lies directly inside `dir`.
 */
export function safeLocalPath(dir: string, remoteName: string): string {
  const base = remoteName.split(/[/\\]/).filter((p) => p !== '').pop() ?? '';
  if (base === '' || base === '.' || base === '..' || base.includes('\0')) {
    throw new FtpUsageError(`refusing to write a file named ${JSON.stringify(remoteName)}`);
  }
  // Control characters in a name are legal on Linux but confuse terminals: replace them.
  const clean = base.replace(/[\x00-\x1f\x7f]/g, '_');
  const root = path.resolve(dir);
  const full = path.join(root, clean);
  if (path.dirname(full) !== root) throw new FtpUsageError(`refusing to write outside ${root}: ${JSON.stringify(remoteName)}`);
  return full;
}

/** The temporary name a download is written under until it is complete. */
export function partialPath(finalPath: string): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.part`);
}

/** The size of a regular file, or undefined when there is none. */
export async function fileSize(p: string): Promise<number | undefined> {
  try {
    const st = await fsp.stat(p);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where get() writes: `local` when it names a file, inside it when it is a directory,
 * else the remote name's last component in the current directory.
 */
export async function chooseLocalPath(remote: string, local: string | undefined): Promise<string> {
  if (local === undefined) return safeLocalPath(process.cwd(), remote);
  let isDirectory = false;
  try {
    isDirectory = (await fsp.stat(local)).isDirectory();
  } catch {
    // not there yet: a file name chosen by the user
  }
  return isDirectory ? safeLocalPath(local, remote) : path.resolve(local);
}
