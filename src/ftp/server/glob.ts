/**
 * NLST/LIST with a pattern (`NLST *.txt`), as vsftpd and pure-ftpd allow, so that
 * `mget *.txt` of BSD ftp and ftplib's nlst('*.txt') find files. RFC 959 leaves the
 * argument's syntax to the server; the common practice is shell-style wildcards in
 * the LAST path component only (`pub/*.txt`, not `*` / `*.txt`), matched against
 * the names of one directory. `*` and `?` do not match a leading dot, as in a shell.
 */
import picomatch from 'picomatch';
import { posix } from 'node:path';

const WILDCARD = /[*?[]/;

export interface GlobArgument {
  /** The directory part, as the client wrote it ('' for the working directory). */
  directory: string;
  /** True for the names the pattern selects. */
  match: (name: string) => boolean;
}

/**
 * Split a listing argument into directory and pattern when its last component has
 * wildcards; undefined for a plain path (or wildcards in a directory component,
 * which we do not expand).
 */
export function parseGlob(arg: string): GlobArgument | undefined {
  const trimmed = arg.replace(/\/+$/, '');
  const last = posix.basename(trimmed);
  if (!WILDCARD.test(last)) return undefined;
  const slash = trimmed.lastIndexOf('/');
  const directory = slash < 0 ? '' : trimmed.slice(0, slash + 1);
  if (WILDCARD.test(directory)) return undefined;
  // Names are matched as they are: no path separators, no brace or extglob tricks.
  const isMatch = picomatch(last, { dot: false, nobrace: true, noextglob: true, noglobstar: true });
  return { directory, match: (name) => isMatch(name) };
}
