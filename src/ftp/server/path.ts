/**
 * Virtual-root path resolution for the FTP server, without check-then-use races.
 *
 * A client names files with FTP paths: absolute (`/pub/readme.txt`) or relative to
 * its working directory (`../pub`). The server serves one real directory (the
 * "root"); the client sees it as `/` and must never reach anything outside it.
 *
 * Two lines of defence, in this order:
 * 1. Lexical: the FTP path is joined to the working directory and normalised as if
 *    `/` were the top of the world, so `..` at the root stays at the root
 *    (`/../../etc/passwd` is `/etc/passwd` inside the root). This needs no disk.
 * 2. Physical: a symlink inside the root may point anywhere, and somebody may swap a
 *    directory for such a symlink at any moment. So we never check a path and then
 *    use it by name again (a time-of-check to time-of-use race). Instead we OPEN the
 *    path, then ask the kernel where the opened object really is
 *    (`/proc/self/fd/N`), refuse it unless that is the root or below, and from then
 *    on use only the descriptor:
 *      - reads go through the descriptor (or `/proc/self/fd/N`, a "magic link" that
 *        leads to the very object that was opened, whatever happens to its name);
 *      - a name is created, removed or renamed as `/proc/self/fd/D/name`, where D is
 *        the checked directory: that is openat(D, name), one component, and the
 *        calls used there (O_CREAT|O_EXCL, mkdir, unlink, rmdir, rename, link) never
 *        follow a symlink in that last component.
 *    docs/ftp-server-security.md tells the attack this stops.
 *
 * Names with CR, LF or NUL are refused outright: CR/LF would break the reply line
 * that quotes them (RFC 959 4.2 has no escape for them) and NUL ends a C string.
 */
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { posix, sep } from 'node:path';

export type PathErrorKind =
  /** The name contains CR, LF or NUL, or is too long (reply 553 or 501). */
  | 'bad-name'
  /** Nothing by that name, or the directory holding it is missing (reply 550). */
  | 'not-found'
  /** It exists but leads outside the root, through a symlink (reply 550). */
  | 'outside-root'
  /** The operating system says no (EACCES, EPERM): reply 550. */
  | 'denied';

export type PathResult<T> = { ok: true; value: T } | { ok: false; error: PathErrorKind };

/**
 * Linux O_PATH: a descriptor that only names an object (fstat, /proc/self/fd), with
 * no read permission needed. Node does not export it; the number is the kernel's.
 */
const O_PATH = 0o10000000;

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

/** The path that reaches an open descriptor's object itself (a magic link, not re-resolved by name). */
function fdPath(handle: FileHandle): string {
  return `/proc/self/fd/${handle.fd}`;
}

/** What an OS error on a path means for the client; undefined: not a path problem (EMFILE, EIO, ...). */
function pathErrorOf(err: unknown): PathErrorKind | undefined {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'not-found';
    case 'EACCES':
    case 'EPERM':
      return 'denied';
    case 'ELOOP':
      // Too many links, or a symlink where O_NOFOLLOW allowed none.
      return 'outside-root';
    case 'ENAMETOOLONG':
      return 'bad-name';
    default:
      return undefined;
  }
}

/** Run an fs step; a path error becomes a result, anything else is thrown (a local fault: 451). */
async function attempt<T>(step: () => Promise<T>): Promise<PathResult<T>> {
  try {
    return { ok: true, value: await step() };
  } catch (err) {
    const kind = pathErrorOf(err);
    if (kind === undefined) throw err;
    return { ok: false, error: kind };
  }
}

/** An open, checked object inside the root. Close it when done. */
export class OpenedPath {
  constructor(
    /** Normalised absolute FTP path, e.g. `/pub/readme.txt`. */
    readonly virtual: string,
    /** Where the object really is (inside the root), as the kernel reported it. */
    readonly real: string,
    /** fstat() of the opened object (symlinks followed). */
    readonly stats: Stats,
    private readonly handle: FileHandle,
  ) {}

  /** A path that reaches exactly this object, for as long as it is open. */
  get path(): string {
    return fdPath(this.handle);
  }

  /** `/proc/self/fd/D/name`: the entry `name` of this directory (openat semantics). */
  at(name: string): string {
    return `${this.path}/${name}`;
  }

  /** Open the object again for reading (the OS checks read permission now). */
  openForReading(): Promise<FileHandle> {
    return open(this.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => {});
  }
}

/**
 * A name inside a checked directory: the target of STOR, MKD, RNTO, or the entry
 * that DELE, RMD, RNFR act on.
 */
export interface ParentAndName {
  virtual: string;
  dir: OpenedPath;
  name: string;
  /** lstat() of the entry (a symlink is itself), undefined when there is none. */
  entry: Stats | undefined;
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
   * Open a real path (symlinks followed, O_PATH: no permission on the object itself
   * needed) and keep it only if the opened object is inside the root. The caller
   * closes the result.
   */
  async openChecked(virtual: string, realPath: string, directory: boolean): Promise<PathResult<OpenedPath>> {
    const opened = await attempt(() => open(realPath, O_PATH | (directory ? constants.O_DIRECTORY : 0)));
    if (!opened.ok) return opened;
    const handle = opened.value;
    try {
      // Ask the kernel where the object we hold really is; names may have changed
      // since, but this descriptor is what every later step uses.
      const real = await readlink(fdPath(handle));
      if (!this.contains(real)) {
        await handle.close();
        return { ok: false, error: 'outside-root' };
      }
      return { ok: true, value: new OpenedPath(virtual, real, await handle.stat(), handle) };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  /**
   * Open a path that must exist (RETR, CWD, LIST, SIZE, ...). Symlinks are followed,
   * and the object reached must be inside the root. The caller closes the result.
   */
  async existing(cwd: string, arg: string): Promise<PathResult<OpenedPath>> {
    if (hasForbiddenCharacters(arg)) return { ok: false, error: 'bad-name' };
    const virtual = joinVirtual(cwd, arg);
    return this.openChecked(virtual, this.lexicalReal(virtual), false);
  }

  /**
   * The directory holding a name to create, replace or remove, opened and checked,
   * with the name itself. The root itself is never such a name.
   *
   * `followLink`: for STOR/APPE, an existing symlink that stays inside the root is
   * written through (as vsftpd does), so the result is its target's directory and
   * name. Without it (DELE, RMD, RNFR, RNTO, MKD) a symlink is acted on itself.
   * Either way a symlink that leads outside the root, or nowhere, is refused.
   * The caller closes `dir`.
   */
  async parentOf(cwd: string, arg: string, followLink = false): Promise<PathResult<ParentAndName>> {
    if (hasForbiddenCharacters(arg)) return { ok: false, error: 'bad-name' };
    const virtual = joinVirtual(cwd, arg);
    if (virtual === '/') return { ok: false, error: 'bad-name' };
    const r = await this.openChecked(parentOf(virtual), this.lexicalReal(parentOf(virtual)), true);
    if (!r.ok) return r;
    const dir = r.value;
    const name = baseName(virtual);
    const found = await attempt(() => lstat(dir.at(name)));
    if (!found.ok && found.error !== 'not-found') {
      await dir.close();
      return found;
    }
    const entry = found.ok ? found.value : undefined;
    if (!entry?.isSymbolicLink()) return { ok: true, value: { virtual, dir, name, entry } };
    // A link that leads outside the root (or nowhere) is not ours to touch, not even
    // to delete or rename. Open what it leads to and ask the kernel where that is.
    const target = await this.openChecked(virtual, dir.at(name), false);
    if (!target.ok) {
      await dir.close();
      // A dangling link is refused: writing would create a file wherever it points.
      return { ok: false, error: target.error === 'not-found' ? 'outside-root' : target.error };
    }
    const real = target.value.real;
    await target.value.close();
    if (!followLink) return { ok: true, value: { virtual, dir, name, entry } };
    // Write through it: take the target's directory (checked again) and name.
    await dir.close();
    const linked = await this.openChecked(parentOf(virtual), posix.dirname(real), true);
    if (!linked.ok) return linked;
    const linkedName = posix.basename(real);
    const again = await attempt(() => lstat(linked.value.at(linkedName)));
    return { ok: true, value: { virtual, dir: linked.value, name: linkedName, entry: again.ok ? again.value : undefined } };
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
