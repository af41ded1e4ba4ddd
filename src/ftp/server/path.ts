/**
 * Virtual-root path resolution for the FTP server.
 *
 * A client names files with FTP paths: absolute (`/pub/readme.txt`) or relative to
 * its working directory (`../pub`). The server serves one real directory (the
 * "root"); the client sees it as `/` and must never reach anything outside it.
 *
 * Two lines of defence, in this order:
 * 1. Lexical: the FTP path is joined to the working directory and normalised as if
 *    `/` were the top of the world, so `..` at the root stays at the root
 *    (`/../../etc/passwd` is `/etc/passwd` inside the root). This needs no disk.
 * 2. Physical: a symlink inside the root may point anywhere. Before touching a path
 *    we ask the kernel where it really leads (`realpath`) and refuse it unless that
 *    is the root or below it.
 *
 * Names with CR, LF or NUL are refused outright: CR/LF would break the reply line
 * that quotes them (RFC 959 4.2 has no escape for them) and NUL ends a C string.
 */
import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { posix, sep } from 'node:path';

export type PathErrorKind =
  /** The name contains CR, LF or NUL (reply 553 or 501). */
  | 'bad-name'
  /** Nothing by that name, or the directory holding it is missing (reply 550). */
  | 'not-found'
  /** It exists but leads outside the root, through a symlink (reply 550). */
  | 'outside-root';

export type PathResult<T> = { ok: true; value: T } | { ok: false; error: PathErrorKind };

/** A path that was checked: where the client sees it and where it is on disk. */
export interface ResolvedPath {
  /** Normalised absolute FTP path, e.g. `/pub/readme.txt`. */
  virtual: string;
  /** The real path on disk, inside the root. */
  real: string;
}

export interface ExistingPath extends ResolvedPath {
  /** Result of stat() (symlinks followed) on the real path. */
  stats: Stats;
}

/** CR, LF and NUL have no place in a file name sent over the control connection. */
export function hasForbiddenCharacters(name: string): boolean {
  return /[\r\n\0]/.test(name);
}

/**
 * Join `arg` to the working directory `cwd` and normalise, treating `/` as the top:
 * `..` never climbs above it. Both results start with `/` and have no `.`/`..` parts
 * and no trailing slash (except `/` itself).
 */
export function joinVirtual(cwd: string, arg: string): string {
  const start = arg.startsWith('/') ? [] : splitParts(cwd);
  const parts = [...start];
  for (const part of arg.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      // At the root, '..' is the root itself (as in a chroot).
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return '/' + parts.join('/');
}

function splitParts(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
}

/** The last component of a virtual path (`/` for the root). */
export function baseName(virtual: string): string {
  return virtual === '/' ? '/' : posix.basename(virtual);
}

/** The directory holding a virtual path (the root for the root). */
export function parentOf(virtual: string): string {
  return posix.dirname(virtual);
}

/**
 * One served tree. Create it with `VirtualRoot.open(dir)`, which resolves the real
 * directory once (so a root given through a symlink works, and comparisons are exact).
 */
export class VirtualRoot {
  private constructor(readonly realRoot: string) {}

  static async open(dir: string): Promise<VirtualRoot> {
    const real = await realpath(dir);
    const st = await stat(real);
    if (!st.isDirectory()) throw new Error(`not a directory: ${dir}`);
    return new VirtualRoot(real);
  }

  /** True when a real (already resolved) path is the root or below it. */
  contains(realPath: string): boolean {
    return realPath === this.realRoot || realPath.startsWith(this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep);
  }

  /** The lexical real path of a normalised virtual path (no disk access, no symlink check). */
  lexicalReal(virtual: string): string {
    return virtual === '/' ? this.realRoot : this.realRoot + virtual;
  }

  /**
   * Resolve a path that must exist (RETR, CWD, LIST, SIZE, ...). Symlinks are
   * followed, and the result must stay inside the root.
   */
  async existing(cwd: string, arg: string): Promise<PathResult<ExistingPath>> {
    if (hasForbiddenCharacters(arg)) return { ok: false, error: 'bad-name' };
    const virtual = joinVirtual(cwd, arg);
    let real: string;
    try {
      real = await realpath(this.lexicalReal(virtual));
    } catch {
      // A dangling symlink also ends up here: it leads nowhere we can serve.
      return { ok: false, error: 'not-found' };
    }
    if (!this.contains(real)) return { ok: false, error: 'outside-root' };
    try {
      return { ok: true, value: { virtual, real, stats: await stat(real) } };
    } catch {
      return { ok: false, error: 'not-found' };
    }
  }

  /**
   * Resolve a name to create or replace (STOR, MKD, RNTO) or to remove (DELE, RMD,
   * RNFR): the directory holding it must exist inside the root. The entry itself may
   * be missing; if it is a symlink, it must not lead outside the root (writing
   * through it would write outside), and a dangling symlink is refused for the same
   * reason. The root itself is never a valid entry.
   */
  async entry(cwd: string, arg: string): Promise<PathResult<ResolvedPath & { exists: boolean }>> {
    if (hasForbiddenCharacters(arg)) return { ok: false, error: 'bad-name' };
    const virtual = joinVirtual(cwd, arg);
    if (virtual === '/') return { ok: false, error: 'bad-name' };
    let parentReal: string;
    try {
      parentReal = await realpath(this.lexicalReal(parentOf(virtual)));
    } catch {
      return { ok: false, error: 'not-found' };
    }
    if (!this.contains(parentReal)) return { ok: false, error: 'outside-root' };
    const real = posix.join(parentReal, baseName(virtual));
    let link: Stats;
    try {
      link = await lstat(real);
    } catch {
      return { ok: true, value: { virtual, real, exists: false } };
    }
    if (link.isSymbolicLink()) {
      let target: string;
      try {
        target = await realpath(real);
      } catch {
        return { ok: false, error: 'outside-root' };
      }
      if (!this.contains(target)) return { ok: false, error: 'outside-root' };
    }
    return { ok: true, value: { virtual, real, exists: true } };
  }

  /**
   * Map a real path (inside the root) back to the virtual path a client sees, e.g. to
   * report where a symlinked directory led. Undefined if it is outside.
   */
  toVirtual(realPath: string): string | undefined {
    if (!this.contains(realPath)) return undefined;
    const rest = realPath.slice(this.realRoot.length);
    return rest === '' ? '/' : rest.startsWith('/') ? rest : '/' + rest;
  }
}
