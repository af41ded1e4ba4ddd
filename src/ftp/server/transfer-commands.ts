/**
 * The commands that move data over a data connection (RFC 959 4.1.3): RETR, STOR,
 * APPE, STOU, LIST, NLST, MLSD. Each opens and checks its file or directory first
 * (path.ts), so a refusal is a plain 5yz before any 150 and no data connection is
 * made; then 150, the transfer (transfers.ts, upload.ts), and the result reply.
 */
import { posix } from 'node:path';
import type { Logger } from '../../stack/log.js';
import type { TcpSocketLike } from '../../tcp/api.js';
import { formatListLine, formatMlsxLine, stripListFlags, type EntryInfo } from '../common/listing.js';
import { readDirectory, toEntryInfo } from './directory.js';
import { replyForOsError } from './errors.js';
import { osError, pathError, requireWritable, withParent, type FileSession } from './file-commands.js';
import { parseGlob } from './glob.js';
import type { SessionUser } from './login.js';
import { baseName, type OpenedPath, type PathResult } from './path.js';
import type { TransferParameters } from './transfer-params.js';
import { Transfer, sendBuffer, sendFile, type TransferResult } from './transfers.js';
import { Upload } from './upload.js';
import type { XferLog } from './xferlog.js';

/** What the transfer commands need of a logged-in session. */
export interface TransferSession {
  readonly files: FileSession;
  readonly params: TransferParameters;
  readonly peer: string;
  readonly log: Logger;
  readonly xferlog: XferLog | undefined;
  readonly user: SessionUser;
  /** The control connection is closed or half-closed: an upload must not be committed. */
  readonly controlGone: boolean;
  /** A transfer starts: ABOR, STAT and QUIT now go to it. */
  begin(t: Transfer): void;
  /** Its result reply was sent. */
  end(): void;
}

export class TransferCommands {
  constructor(private readonly s: TransferSession) {}

  private reply(code: number, text: string | readonly string[]): void {
    this.s.files.reply(code, text);
  }

  /**
   * Run one transfer over the data connection set up by PORT/PASV/...: 150, open,
   * move the data with `work`, then the result reply. The file was opened and
   * checked before this is called, so 150 is only said when we can deliver.
   */
  private async runTransfer(
    verb: string,
    path: string,
    text150: string,
    work: (socket: TcpSocketLike, t: Transfer) => Promise<void>,
    options: { size?: number; done?: string } = {},
  ): Promise<TransferResult> {
    const endpoint = this.s.params.takeData()!;
    const o = this.s.files.options;
    const t = new Transfer(verb, path, endpoint, o.clock, o.dataTimeoutMs, options.size);
    this.s.begin(t);
    this.reply(150, text150);
    const result = await t.run(work);
    o.counters.inc(`ftp.server.transfer.${result.outcome}`);
    switch (result.outcome) {
      case 'ok':
        this.reply(226, options.done ?? 'Transfer complete.');
        // RFC 959 4.1.3: an ABOR that came as the transfer was completing still gets
        // its own 226, so the client always sees two replies after ABOR.
        if (t.aborted === 'ABOR') this.reply(226, 'ABOR command successful.');
        break;
      case 'no-connection':
        this.reply(425, "Can't open data connection.");
        break;
      case 'aborted':
        this.reply(426, 'Connection closed; transfer aborted.');
        if (result.reason === 'ABOR') this.reply(226, 'ABOR command successful.');
        break;
      case 'data-error':
        this.reply(426, 'Connection closed; transfer aborted.');
        break;
      case 'local-error': {
        const r = replyForOsError(result.error);
        o.counters.inc(`ftp.server.error.${r.reason}`);
        this.reply(r.code, r.text);
        break;
      }
    }
    this.s.log.info(
      { transfer: verb, path, bytes: result.bytes, ms: Math.round(result.ms), result: result.outcome, reason: result.reason, type: this.s.params.type },
      'transfer',
    );
    // xferlog records file transfers, not listings (as wu-ftpd and vsftpd do).
    const who = this.s.user;
    if (verb !== 'LIST' && verb !== 'NLST' && verb !== 'MLSD') {
      this.s.xferlog?.record({
        seconds: result.ms / 1000,
        host: this.s.peer,
        bytes: result.bytes,
        path,
        binary: this.s.params.type === 'I',
        incoming: verb === 'STOR' || verb === 'STOU' || verb === 'APPE',
        anonymous: who.anonymous,
        // RFC 1635: an anonymous user's password is their identity, worth logging.
        user: who.anonymous ? (who.identity ?? '') : who.name,
        complete: result.outcome === 'ok',
      });
    }
    this.s.end();
    return result;
  }

  /** 425 unless PORT/PASV/... came first (the endpoint stays until a transfer uses it). */
  private needData(): boolean {
    if (this.s.params.hasData) return true;
    this.s.params.takeData(); // says 425
    return false;
  }

  /** Open an existing path and run `use`; a refusal is answered here, the descriptor closed after. */
  private async withOpened(arg: string, use: (p: OpenedPath) => Promise<void>, notFound = 550): Promise<void> {
    const r: PathResult<OpenedPath> = await this.s.files.root.existing(this.s.files.cwd, arg);
    if (!r.ok) {
      if (r.error === 'not-found' && notFound !== 550) return this.reply(notFound, 'No such file or directory.');
      return pathError(this.s.files, r.error);
    }
    try {
      await use(r.value);
    } finally {
      await r.value.close();
    }
  }

  async retr(arg: string): Promise<void> {
    const offset = this.s.params.takeRest();
    if (!this.needData()) return;
    await this.withOpened(arg, async (p) => {
      const { stats } = p;
      if (!stats.isFile()) return this.reply(550, 'Not a plain file.');
      if (offset > stats.size) return this.reply(554, 'Restart offset beyond the end of the file.');
      // Opened for reading now: a file the OS does not let us read is 550 before any 150.
      let file;
      try {
        file = await p.openForReading();
      } catch (err) {
        return osError(this.s.files, err);
      }
      try {
        const ascii = this.s.params.type === 'A';
        const text150 = `Opening ${this.s.params.modeName} mode data connection for ${arg}(${stats.size} bytes).`;
        await this.runTransfer('RETR', p.virtual, text150, (socket, t) => sendFile(file, offset, stats.size, ascii, socket, t), {
          size: ascii ? undefined : stats.size - offset,
        });
      } finally {
        await file.close();
      }
    });
  }

  async store(arg: string, verb: 'STOR' | 'STOU' | 'APPE'): Promise<void> {
    const offset = this.s.params.takeRest();
    if (!requireWritable(this.s.files)) return;
    if (!this.needData()) return;
    let name = arg;
    if (verb === 'STOU') {
      const unique = await this.uniqueName(arg.trim() === '' ? 'file' : arg);
      if (!unique) return this.reply(553, 'Could not find a unique file name.');
      name = unique;
    }
    // STOR/APPE write through a symlink that stays inside the root (as vsftpd does).
    const followLink = verb !== 'STOU';
    await withParent(
      this.s.files,
      name,
      async (target) => {
        const { entry, virtual } = target;
        if (entry && !entry.isFile()) return this.reply(550, 'Not a plain file.');
        if (offset > (entry?.size ?? 0)) return this.reply(554, 'Restart offset beyond the end of the file.');
        // Where the existing content is kept: APPE keeps it all, REST n keeps n bytes.
        const keep = verb === 'APPE' ? 'all' : offset;
        let upload: Upload;
        try {
          upload = await Upload.prepare({ target, keep, ascii: this.s.params.type === 'A', exclusive: verb === 'STOU', random: this.s.files.options.random });
        } catch (err) {
          return osError(this.s.files, err);
        }
        const text150 = verb === 'STOU' ? `FILE: ${baseName(virtual)}` : `Opening ${this.s.params.modeName} mode data connection for ${arg}.`;
        try {
          await this.runTransfer(verb, virtual, text150, async (socket, t) => {
            await upload.receive(socket, t);
            try {
              // Only a client still on the control connection meant the data to end
              // here: one killed mid-upload closed both connections.
              await upload.commit(() => !this.s.controlGone);
            } catch (err) {
              if (this.s.controlGone) t.abort('control-closed');
              else t.markLocal(err as Error);
              throw err;
            }
          });
        } finally {
          await upload.discard();
        }
      },
      followLink,
    );
  }

  /** STOU: the name itself if free, else name.1, name.2, ... */
  private async uniqueName(base: string): Promise<string | undefined> {
    for (let i = 0; i < 100; i++) {
      const candidate = i === 0 ? base : `${base}.${i}`;
      const r = await this.s.files.root.parentOf(this.s.files.cwd, candidate);
      if (!r.ok) return i === 0 ? candidate : undefined; // let the caller report the path error
      await r.value.dir.close();
      if (!r.value.entry) return candidate;
    }
    return undefined;
  }

  async list(rawArg: string, verb: 'LIST' | 'NLST' | 'MLSD'): Promise<void> {
    if (!this.needData()) return;
    const arg = verb === 'MLSD' ? rawArg : stripListFlags(rawArg);
    // A name that exists as written wins over a pattern (a file may be called 'a[1]').
    const glob = verb === 'MLSD' ? undefined : parseGlob(arg);
    let exact = await this.s.files.root.existing(this.s.files.cwd, arg === '' ? '.' : arg);
    const globbing = glob !== undefined && !exact.ok && exact.error === 'not-found';
    if (globbing) exact = await this.s.files.root.existing(this.s.files.cwd, glob.directory === '' ? '.' : glob.directory);
    if (!exact.ok) {
      // RFC 959 5.4 lists 450 (file unavailable) for LIST and NLST; RFC 3659 uses 550.
      if (exact.error === 'not-found' && verb !== 'MLSD') return this.reply(450, 'No such file or directory.');
      return pathError(this.s.files, exact.error);
    }
    const p = exact.value;
    try {
      const { stats, virtual } = p;
      if ((verb === 'MLSD' || globbing) && !stats.isDirectory()) return this.reply(verb === 'MLSD' ? 501 : 450, 'Not a directory.');
      const limit = this.s.files.options.maxListEntries;
      let entries: EntryInfo[];
      let truncated = false;
      if (stats.isDirectory()) {
        try {
          ({ entries, truncated } = await readDirectory(this.s.files.root, p, limit, globbing ? glob.match : undefined));
        } catch (err) {
          return osError(this.s.files, err);
        }
        if (globbing && entries.length === 0) return this.reply(450, 'No files found.');
      } else {
        entries = [toEntryInfo(baseName(virtual), stats)];
      }
      const lines = this.listingLines(verb, arg, globbing ? glob.directory : undefined, stats.isDirectory(), entries);
      if (truncated) this.s.files.options.counters.inc('ftp.server.listing_truncated');
      const body = Buffer.from(lines.map((l) => l + '\r\n').join(''), 'utf8');
      // The cap is said in the 226 line, so a client (and its user) knows the list is cut.
      const done = truncated ? `Transfer complete; listing stopped at ${limit} entries (the server's limit).` : undefined;
      // Listings are text with CRLF line ends already, in either TYPE.
      const result = await this.runTransfer(verb, virtual, 'Opening ASCII mode data connection for /bin/ls.', (socket, t) => sendBuffer(body, socket, t), { done });
      if (truncated && result.outcome === 'ok') this.s.log.warn({ path: virtual, limit }, 'listing truncated');
    } finally {
      await p.close();
    }
  }

  /** The lines of a listing: `ls -l` (LIST), facts (MLSD) or names (NLST, relative as the argument was). */
  private listingLines(verb: 'LIST' | 'NLST' | 'MLSD', arg: string, globDir: string | undefined, isDirectory: boolean, entries: EntryInfo[]): string[] {
    const now = this.s.files.options.now();
    if (verb === 'LIST') return entries.map((e) => formatListLine(e, now));
    if (verb === 'MLSD') return entries.map((e) => formatMlsxLine(e, { writable: this.s.user.writable }, this.s.params.mlstFacts));
    if (globDir !== undefined) return entries.map((e) => globDir + e.name);
    if (!isDirectory) return [arg];
    if (arg === '' || arg === '.') return entries.map((e) => e.name);
    return entries.map((e) => posix.join(arg, e.name));
  }
}
