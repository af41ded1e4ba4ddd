/**
 * STOR, APPE, STOU: uploads that never appear half-written under their real name.
 *
 * 1. prepare (before the 150 reply, so a read-only directory or a missing permission
 *    is answered 550 at once and no data connection is opened): create a temporary
 *    file next to the target, in the same checked directory (path.ts), with O_EXCL
 *    (never through a symlink). APPE and REST n copy the part of the old file they
 *    keep into it first.
 * 2. receive: the data connection is written into the temporary file.
 * 3. commit, only after the data connection ended cleanly AND the control connection
 *    is still there (the session checks that: a client killed mid-upload closes both,
 *    and its data FIN alone must not pass for the end of the file): fsync, then
 *    rename over the target (atomic on one file system; STOU links instead, which
 *    fails rather than replace a file that appeared meanwhile).
 * 4. Otherwise discard: the temporary file is removed; any earlier version was never
 *    touched.
 */
import { constants } from 'node:fs';
import { link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import type { Random } from '../../stack/random.js';
import type { TcpSocketLike } from '../../tcp/api.js';
import { CrlfToLf } from '../common/ascii.js';
import { FileSink } from './file-sink.js';
import type { ParentAndName } from './path.js';
import type { Transfer } from './transfers.js';

export interface UploadOptions {
  /** The target: its checked directory and name (path.ts). */
  target: ParentAndName;
  /** Existing content to keep before the new data: APPE keeps all, REST n keeps n bytes. */
  keep: number | 'all';
  ascii: boolean;
  /** STOU: never replace an existing file. */
  exclusive: boolean;
  random: Random;
}

export class Upload {
  private done = false;
  /** Writes the received data (made by receive()). */
  private sink: FileSink | undefined;

  private constructor(
    private readonly o: UploadOptions,
    private readonly tempName: string,
    private readonly file: FileHandle,
    /** Where the new data starts in the temporary file. */
    private readonly start: number,
  ) {}

  /** Create the temporary file (and copy what is kept). OS errors are thrown for the caller to answer. */
  static async prepare(o: UploadOptions): Promise<Upload> {
    const { dir, name, entry } = o.target;
    const tempName = `.tapstack-${Buffer.from(o.random.bytes(8)).toString('hex')}.part`;
    // O_EXCL: a fresh file, never an existing one and never through a symlink.
    const file = await open(dir.at(tempName), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      let start = 0;
      if (entry && (o.keep === 'all' || o.keep > 0)) start = await copyKept(dir.at(name), file, o.keep);
      // The new version keeps the permissions of the old one.
      if (entry) await file.chmod(entry.mode & 0o7777);
      return new Upload(o, tempName, file, start);
    } catch (err) {
      await file.close().catch(() => {});
      await unlink(dir.at(tempName)).catch(() => {});
      throw err;
    }
  }

  /** Write the data connection into the temporary file until the client ends it. */
  async receive(socket: TcpSocketLike, t: Transfer): Promise<void> {
    // TYPE A: CRLF -> LF on the way (pipeline() passes a failure of either stream to the other).
    const source = this.o.ascii ? pipeline(socket, new CrlfToLf(), () => {}) : socket;
    this.sink = new FileSink(this.file, this.start, (err) => t.markLocal(err));
    await this.sink.receive(source);
    // Our side of the data connection is done too.
    socket.end();
  }

  /**
   * Put the file in place, if `stillWanted()` says so once the data is on disk (the
   * session asks whether its control connection is still there); otherwise throws.
   */
  async commit(stillWanted: () => boolean): Promise<void> {
    const { dir, name } = this.o.target;
    // On disk before it gets the real name: a crash then leaves the old or the new file.
    if (this.sink) await this.sink.sync();
    else await this.file.sync();
    await this.file.close();
    this.done = true;
    const temp = dir.at(this.tempName);
    try {
      if (!stillWanted()) throw new Error('the control connection closed during the upload');
      if (this.o.exclusive) {
        // link() fails if the name was taken meanwhile: STOU never replaces a file.
        await link(temp, dir.at(name));
      } else {
        await rename(temp, dir.at(name));
      }
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  /** Throw the upload away (harmless after commit). */
  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.file.close().catch(() => {});
    await unlink(this.o.target.dir.at(this.tempName)).catch(() => {});
  }
}

/** Copy the first `keep` bytes (or all) of the old file; returns how many. The old file is opened without following a symlink. */
async function copyKept(path: string, into: FileHandle, keep: number | 'all'): Promise<number> {
  const old = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const size = (await old.stat()).size;
    const n = keep === 'all' ? size : Math.min(keep, size);
    const buffer = Buffer.alloc(Math.min(n, 1024 * 1024));
    let done = 0;
    while (done < n) {
      const { bytesRead } = await old.read(buffer, 0, Math.min(buffer.length, n - done), done);
      if (bytesRead === 0) break; // shrank meanwhile
      await into.write(buffer, 0, bytesRead, done);
      done += bytesRead;
    }
    return done;
  } finally {
    await old.close();
  }
}
