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
