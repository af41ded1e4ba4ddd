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
import { osError, pathError, requireWritable, withExisting, withParent, type FileSession } from './file-commands.js';
import { parseGlob } from './glob.js';
import type { SessionUser } from './login.js';
import type { ResolvedServerOptions } from './options.js';
import { baseName } from './path.js';
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

  private get files(): FileSession {
    return this.s.files;
  }

  private get params(): TransferParameters {
    return this.s.params;
  }

  private get opts(): ResolvedServerOptions {
    return this.s.files.options;
  }

  private reply(code: number, text: string | readonly string[]): void {
    this.files.reply(code, text);
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
    const endpoint = this.params.takeData()!;
    const o = this.opts;
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
      { transfer: verb, path, bytes: result.bytes, ms: Math.round(result.ms), result: result.outcome, reason: result.reason, type: this.params.type },
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
        binary: this.params.type === 'I',
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
    if (this.params.hasData) return true;
    this.params.takeData(); // says 425
    return false;
  }

  async retr(arg: string): Promise<void> {
    const offset = this.params.takeRest();
    if (!this.needData()) return;
    await withExisting(this.files, arg, async (p) => {
      const { stats } = p;
      if (!stats.isFile()) return this.reply(550, 'Not a plain file.');
      if (offset > stats.size) return this.reply(554, 'Restart offset beyond the end of the file.');
      // Open it for reading once now: a file the OS does not let us read is 550
      // before any 150 (the transfer opens the same checked file again).
      try {
        await (await p.openForReading()).close();
      } catch (err) {
        return osError(this.files, err);
      }
      const ascii = this.params.type === 'A';
      const text150 = `Opening ${this.params.modeName} mode data connection for ${arg}(${stats.size} bytes).`;
      await this.runTransfer('RETR', p.virtual, text150, (socket, t) => sendFile(p.path, offset, stats.size, ascii, socket, t), {
        size: ascii ? undefined : stats.size - offset,
      });
    });
  }

  async store(arg: string, verb: 'STOR' | 'STOU' | 'APPE'): Promise<void> {
    const offset = this.params.takeRest();
    if (!requireWritable(this.files)) return;
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
      this.files,
      name,
      async (target) => {
        const { entry, virtual } = target;
        if (entry && !entry.isFile()) return this.reply(550, 'Not a plain file.');
        if (offset > (entry?.size ?? 0)) return this.reply(554, 'Restart offset beyond the end of the file.');
        // Where the existing content is kept: APPE keeps it all, REST n keeps n bytes.
        const keep = verb === 'APPE' ? 'all' : offset;
        let upload: Upload;
        try {
          upload = await Upload.prepare({ target, keep, ascii: this.params.type === 'A', exclusive: verb === 'STOU', random: this.opts.random });
        } catch (err) {
          return osError(this.files, err);
        }
        const text150 = verb === 'STOU' ? `FILE: ${baseName(virtual)}` : `Opening ${this.params.modeName} mode data connection for ${arg}.`;
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
      const r = await this.files.root.parentOf(this.files.cwd, candidate);
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
    let exact = await this.files.root.existing(this.files.cwd, arg === '' ? '.' : arg);
    const globbing = glob !== undefined && !exact.ok && exact.error === 'not-found';
    if (globbing) exact = await this.files.root.existing(this.files.cwd, glob.directory === '' ? '.' : glob.directory);
    if (!exact.ok) {
      // RFC 959 5.4 lists 450 (file unavailable) for LIST and NLST; RFC 3659 uses 550.
      if (exact.error === 'not-found' && verb !== 'MLSD') return this.reply(450, 'No such file or directory.');
      return pathError(this.files, exact.error);
    }
    const p = exact.value;
    try {
      const { stats, virtual } = p;
      if ((verb === 'MLSD' || globbing) && !stats.isDirectory()) return this.reply(verb === 'MLSD' ? 501 : 450, 'Not a directory.');
      const limit = this.opts.maxListEntries;
      let entries: EntryInfo[];
      let truncated = false;
      if (stats.isDirectory()) {
        try {
          ({ entries, truncated } = await readDirectory(this.files.root, p, limit, globbing ? glob.match : undefined));
        } catch (err) {
          return osError(this.files, err);
        }
        if (globbing && entries.length === 0) return this.reply(450, 'No files found.');
      } else {
        entries = [toEntryInfo(baseName(virtual), stats)];
      }
      const lines = this.listingLines(verb, arg, globbing ? glob.directory : undefined, stats.isDirectory(), entries);
      if (truncated) this.opts.counters.inc('ftp.server.listing_truncated');
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
    const now = this.opts.now();
    if (verb === 'LIST') return entries.map((e) => formatListLine(e, now));
    if (verb === 'MLSD') return entries.map((e) => formatMlsxLine(e, { writable: this.s.user.writable }, this.params.mlstFacts));
    if (globDir !== undefined) return entries.map((e) => globDir + e.name);
    if (!isDirectory) return [arg];
    if (arg === '' || arg === '.') return entries.map((e) => e.name);
    return entries.map((e) => posix.join(arg, e.name));
  }
}
