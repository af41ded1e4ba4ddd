import { EventEmitter } from 'node:events';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RealClock, type Clock } from '../../stack/clock.js';
import { Counters } from '../../stack/counters.js';
import type { TcpApi, TcpSocketLike } from '../../tcp/api.js';
import { encodeEprtArgument, encodeHostPort, parseEpsvReply, parsePasvReply } from '../common/hostport.js';
import { parseFtpTime, parseList, parseMlsd, splitLines, type ListEntry } from '../common/list-parse.js';
import { replyClass, type FtpReply } from '../common/reply.js';
import { CrlfToLf, LfToCrlf } from '../common/ascii.js';
import { ControlConnection } from './control.js';
import { connectPassive, listenActive, meter, waitConnected, withTimeout, type DataConnection, type DataContext } from './data-connection.js';
import { FtpConnectionError, FtpReplyError, FtpSizeMismatchError, FtpUsageError } from './errors.js';
import { announcedSize, checkDownload, checkUpload } from './integrity.js';
import { throttle } from './throttle.js';
import { chooseLocalPath, fileSize, partialPath } from './local-path.js';
import type { DataMode, DownloadOptions, FtpClientOptions, GetOptions, GetResult, PutOptions, PutResult, TransferOptions, TransferType } from './options.js';

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * An FTP client (RFC 959, with RFC 2428 EPRT/EPSV and RFC 3659 SIZE/MDTM/REST/MLSD)
 * on any TcpApi. Methods return promises and run one at a time in call order.
 *
 * Events: 'connect' ({ host, address, port }, before the greeting), 'command' (line
 * as sent, PASS masked; what BSD ftp prints as `---> ...` in verbose mode), 'reply'
 * (FtpReply, in the order replies are acted on), 'data' ({ mode, local, remote } when a
 * data connection is up), 'close' (an Error unless the session ended with QUIT).
 */
export class FtpClient extends EventEmitter {
  mode: DataMode;
  type: TransferType;
  trustPasvAddress: boolean;
  useEprt: boolean;
  useEpsv: boolean;

  private readonly tcp: TcpApi;
  private readonly clock: Clock;
  private readonly lookup: ((name: string) => Promise<string>) | undefined;
  private readonly activePortBase: number;
  private readonly activePortCount: number;
  private readonly connectTimeout: number;
  private readonly replyTimeout: number;
  private readonly dataTimeout: number;

  /** `ftp.client.*`: commands, replies by class, data connections, timeouts, bytes. */
  readonly counters: Counters;
  private readonly dataContext: DataContext;
  private control: ControlConnection | undefined;
  /** The data socket of the transfer in progress, for abort(). */
  private activeData: TcpSocketLike | undefined;
  private serverType: TransferType = 'A';
  private nextPortIndex = 0;
  private epsvRefused = false;
  private eprtRefused = false;
  private featureCache: Map<string, string> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: FtpClientOptions) {
    super();
    this.tcp = options.tcp;
    this.clock = options.clock ?? new RealClock();
    this.lookup = options.lookup;
    this.mode = options.mode ?? 'passive';
    this.type = options.type ?? 'I';
    this.activePortBase = options.activePortBase ?? 5001;
    this.activePortCount = options.activePortCount ?? 1000;
    this.useEprt = options.useEprt ?? false;
    this.useEpsv = options.useEpsv ?? true;
    this.trustPasvAddress = options.trustPasvAddress ?? false;
    this.connectTimeout = options.connectTimeout ?? 15_000;
    this.replyTimeout = options.replyTimeout ?? 30_000;
    this.dataTimeout = options.dataTimeout ?? 30_000;
    this.counters = options.counters ?? new Counters();
    this.dataContext = {
      tcp: this.tcp,
      clock: this.clock,
      counters: this.counters,
      connectTimeout: this.connectTimeout,
      dataTimeout: this.dataTimeout,
      announce: (info) => this.emit('data', info),
    };
  }

  /** True while a control connection is open. */
  get connected(): boolean {
    return this.control !== undefined && !this.control.closed;
  }

  /** The server's address and port, once connected. */
  get remote(): { address: string; port: number } | undefined {
    const s = this.control?.socket;
    return s?.remoteAddress ? { address: s.remoteAddress, port: s.remotePort ?? 0 } : undefined;
  }

  // -------------------------------------------------------------------------
  // Session
  // -------------------------------------------------------------------------

  /** Open the control connection to `host` (a name or dotted quad) and read the greeting. */
  connect(host: string, port = 21): Promise<FtpReply> {
    return this.serial(async () => {
      if (this.control) this.control.destroy();
      const address = IPV4.test(host) ? host : await this.resolve(host);
      const socket = this.tcp.connect({ host: address, port, timeout: this.connectTimeout });
      const control = new ControlConnection(socket, this.clock, this.counters);
      control.on('command', (line: string) => this.emit('command', line));
      control.on('close', (err?: Error) => this.emit('close', err));
      this.control = control;
      this.serverType = 'A';
      this.epsvRefused = false;
      this.eprtRefused = false;
      this.featureCache = undefined;
      await waitConnected(socket, this.clock, this.connectTimeout, `${address}:${port}`);
      this.emit('connect', { host, address, port });
      // RFC 959 5.4: 120 (ready in n minutes) may come before 220.
      let greeting = await this.read(control, this.replyTimeout);
      while (greeting.code < 200) greeting = await this.read(control, this.replyTimeout);
      if (greeting.code >= 400) {
        control.destroy();
        throw new FtpReplyError('connect', greeting);
      }
      return greeting;
    });
  }

  /**
   * USER, then PASS if asked (331), then ACCT if asked (332) (RFC 959 4.1.1).
   * Default: anonymous with an e-mail-style password.
   */
  login(user = 'anonymous', password = 'anonymous@', account?: string): Promise<FtpReply> {
    return this.serial(async () => {
      let reply = await this.command(`USER ${user}`);
      if (reply.code === 331) reply = await this.command(`PASS ${password}`, 'PASS XXXX');
      if (reply.code === 332) {
        if (account === undefined) throw new FtpReplyError('PASS', reply);
        reply = await this.command(`ACCT ${account}`);
      }
      if (reply.code >= 300) throw new FtpReplyError('login', reply);
      return reply;
    });
  }

  /** QUIT, then close. Never throws for a connection that is already gone. */
  quit(): Promise<FtpReply | undefined> {
    return this.serial(async () => {
      const control = this.control;
      if (!control) return undefined;
      let reply: FtpReply | undefined;
      try {
        control.send('QUIT');
        reply = await this.read(control, this.replyTimeout);
      } catch {
        reply = undefined;
      }
      this.control = undefined;
      await control.closeGracefully(this.replyTimeout);
      return reply;
    });
  }

  /**
   * Stop the transfer in progress (Ctrl-C in the shell). RFC 959 4.1.3 would send
   * ABOR after a Telnet IP and Synch (urgent data); servers that don't read commands
   * during a transfer (vsftpd by default) never see it in time, so we reset the data
   * connection instead: the server answers 426 and the session goes on. The
   * transfer's promise rejects with ECONNABORTED. False when nothing was running.
   */
  abort(): boolean {
    const socket = this.activeData;
    if (!socket || socket.destroyed) return false;
    this.counters.inc('ftp.client.transfer.aborted');
    socket.destroy(new FtpConnectionError('ECONNABORTED', 'transfer aborted'));
    return true;
  }

  /**
   * What the server said before it closed the connection on its own (e.g. "421
   * Timeout." after its idle time), once; empty while connected. The shell shows it
   * before "Not connected.".
   */
  takeFarewell(): FtpReply[] {
    const control = this.control;
    if (!control?.closed) return [];
    this.control = undefined;
    return control.takeUnread();
  }

  /** Drop the connection without QUIT. */
  close(): void {
    this.control?.destroy();
    this.control = undefined;
  }

  // -------------------------------------------------------------------------
  // Simple commands
  // -------------------------------------------------------------------------

  /** FEAT (RFC 2389): feature name (upper case) -> parameters. Cached per connection. */
  features(): Promise<Map<string, string>> {
    return this.serial(async () => {
      if (this.featureCache) return this.featureCache;
      const out = new Map<string, string>();
      try {
        const reply = await this.command('FEAT');
        // RFC 2389 3.2: feature lines start with a space, between the first and last line.
        for (const line of reply.lines.slice(1, -1)) {
          const t = line.trim();
          if (!line.startsWith(' ') || t === '') continue;
          const sp = t.indexOf(' ');
          out.set((sp < 0 ? t : t.slice(0, sp)).toUpperCase(), sp < 0 ? '' : t.slice(sp + 1));
        }
      } catch (err) {
        if (!(err instanceof FtpReplyError)) throw err; // 500/502: no FEAT, no features
      }
      this.featureCache = out;
      return out;
    });
  }

  /** PWD: the quoted directory name of a 257 reply (RFC 959 Appendix II, "" is a literal quote). */
  pwd(): Promise<string> {
    return this.serial(async () => {
      const reply = await this.command('PWD');
      return parseQuotedPath(reply.text) ?? reply.text;
    });
  }

  cwd(dir: string): Promise<FtpReply> {
    return this.serial(() => this.command(`CWD ${dir}`));
  }

  cdup(): Promise<FtpReply> {
    return this.serial(() => this.command('CDUP'));
  }

  /** MKD; returns the created directory as the server names it (257) or `dir`. */
  mkdir(dir: string): Promise<string> {
    return this.serial(async () => {
      const reply = await this.command(`MKD ${dir}`);
      return parseQuotedPath(reply.text) ?? dir;
    });
  }

  rmdir(dir: string): Promise<FtpReply> {
    return this.serial(() => this.command(`RMD ${dir}`));
  }

  delete(file: string): Promise<FtpReply> {
    return this.serial(() => this.command(`DELE ${file}`));
  }

  /** RNFR (expects 350) then RNTO. */
  rename(from: string, to: string): Promise<FtpReply> {
    return this.serial(async () => {
      const first = await this.command(`RNFR ${from}`);
      if (first.code !== 350) throw new FtpReplyError(`RNFR ${from}`, first);
      return this.command(`RNTO ${to}`);
    });
  }

  /** SIZE (RFC 3659 4): bytes in the current type (servers differ for TYPE A; we send TYPE I). */
  size(file: string): Promise<number> {
    return this.serial(async () => {
      await this.setType('I');
      const reply = await this.command(`SIZE ${file}`);
      const n = Number(reply.text.trim());
      if (reply.code !== 213 || !Number.isSafeInteger(n) || n < 0) throw new FtpReplyError(`SIZE ${file}`, reply);
      return n;
    });
  }

  /** MDTM (RFC 3659 3): modification time, UTC. */
  mdtm(file: string): Promise<Date> {
    return this.serial(async () => {
      const reply = await this.command(`MDTM ${file}`);
      const d = parseFtpTime(reply.text);
      if (reply.code !== 213 || !d) throw new FtpReplyError(`MDTM ${file}`, reply);
      return d;
    });
  }

  /** SYST (RFC 959 4.1.3): the server's operating system, e.g. "215 UNIX Type: L8". */
  system(): Promise<FtpReply> {
    return this.serial(() => this.command('SYST'));
  }

  site(args: string): Promise<FtpReply> {
    return this.serial(() => this.command(`SITE ${args}`));
  }

  /**
   * Send any command line and return the final reply, whatever its code (the shell's
   * `quote`). Only a lost connection throws.
   */
  raw(line: string): Promise<FtpReply> {
    return this.serial(async () => {
      const control = this.requireControl();
      this.dropUnread(control);
      control.send(line, /^pass /i.test(line) ? 'PASS XXXX' : line);
      let reply = await this.read(control, this.replyTimeout);
      while (reply.code < 200) reply = await this.read(control, this.replyTimeout);
      if (/^type /i.test(line) && reply.code < 300) {
        const t = line.slice(5).trim().toUpperCase();
        if (t === 'A' || t === 'I') this.serverType = t;
      }
      return reply;
    });
  }

  // -------------------------------------------------------------------------
  // Listings
  // -------------------------------------------------------------------------

  /** LIST, as text (the server's own format). */
  listRaw(dir?: string): Promise<string> {
    return this.serial(() => this.receiveText(dir ? `LIST ${dir}` : 'LIST'));
  }

  /** LIST, parsed (Unix ls -l, MS-DOS or MLSD-looking lines); lines we can't read are skipped. */
  async list(dir?: string, now?: Date): Promise<ListEntry[]> {
    return parseList(await this.listRaw(dir), now).entries;
  }

  /**
   * A listing (LIST, NLST or MLSD) streamed into `destination` as it arrives, bytes as
   * sent (lines end in CRLF); the stream is not ended. Returns the byte count.
   */
  listTo(destination: Writable, dir?: string, command: 'LIST' | 'NLST' | 'MLSD' = 'LIST'): Promise<number> {
    return this.serial(() => this.receiveListing(dir ? `${command} ${dir}` : command, destination, false));
  }

  /** NLST: bare names, one per line. */
  nlst(dir?: string): Promise<string[]> {
    return this.serial(async () => splitLines(await this.receiveText(dir ? `NLST ${dir}` : 'NLST')));
  }

  /** MLSD (RFC 3659 7): machine-readable listing. */
  mlsd(dir?: string): Promise<ListEntry[]> {
    return this.serial(async () => parseMlsd(await this.receiveText(dir ? `MLSD ${dir}` : 'MLSD')).entries);
  }

  // -------------------------------------------------------------------------
  // Transfers
  // -------------------------------------------------------------------------

  /**
   * RETR into a stream. Returns the bytes received on the wire. Fails with
   * FtpSizeMismatchError when they do not match the file's size (integrity.ts).
   */
  download(remote: string, destination: Writable, options: DownloadOptions = {}): Promise<number> {
    return this.serial(() => this.retrieve(remote, destination, options));
  }

  /** STOR (or APPE) from a stream. Returns the bytes sent. */
  upload(source: Readable, remote: string, options: TransferOptions & { append?: boolean } = {}): Promise<number> {
    return this.serial(() => this.store(source, remote, options.append ? 'APPE' : 'STOR', options, 0));
  }

  /**
   * Download `remote` to a local file. `local` may be a file path or an existing
   * directory (default: the current directory); when we pick the name from the remote
   * path, only its last component is used and it can't leave that directory. The file
   * is written as `.name.part` and renamed when complete; a failed download leaves the
   * `.part` file for `resume`.
   */
  async get(remote: string, local?: string, options: GetOptions = {}): Promise<GetResult> {
    const target = await chooseLocalPath(remote, local);
    const part = partialPath(target);
    let offset = 0;
    if (options.resume) {
      offset = (await fileSize(part)) ?? -1;
      if (offset < 0) {
        // BSD reget: continue the file that already has the final name.
        const existing = await fileSize(target);
        offset = existing ?? 0;
        if (existing !== undefined) await fsp.rename(target, part);
      }
    }
    const out = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
    let bytes: number;
    try {
      bytes = await this.download(remote, out, { ...options, offset });
    } catch (err) {
      if (!out.closed) await new Promise<void>((resolve) => out.destroy().once('close', () => resolve()));
      // A transfer that never delivered a byte (550 No such file) leaves nothing behind.
      if (offset === 0 && (await fileSize(part)) === 0) await fsp.unlink(part).catch(() => undefined);
      else if (err instanceof FtpSizeMismatchError) err.keptPath = part;
      throw err;
    }
    await fsp.rename(part, target);
    return { path: target, bytes, offset };
  }

  /**
   * Upload a local file; `remote` defaults to its base name. In TYPE I the result is
   * checked: afterwards SIZE must give the local file's size (plus what an append
   * added to), else this fails with FtpSizeMismatchError.
   */
  put(local: string, remote = path.basename(local), options: PutOptions = {}): Promise<PutResult> {
    return this.serial(async () => {
      const type = options.type ?? this.type;
      const localSize = (await fsp.stat(local)).size;
      // What the server holds before: where a resumed upload continues, and what an
      // append adds to (for the check afterwards; not needed for STOR).
      let before = 0;
      if (options.resume || (options.append && type === 'I')) before = await this.remoteSizeOrZero(remote);
      const offset = options.resume ? before : 0;
      const source = createReadStream(local, { start: offset });
      const verb = options.append || offset > 0 ? 'APPE' : options.unique ? 'STOU' : 'STOR';
      const bytes = await this.store(source, remote, verb, options, offset, localSize);
      if (type !== 'I' || verb === 'STOU') return { bytes, verifiedSize: undefined };
      const remoteSize = await this.sizeIfAnswered(remote);
      if (remoteSize === undefined) return { bytes, verifiedSize: undefined };
      const expected = options.resume ? localSize : before + localSize;
      this.verify(() => checkUpload(remote, expected, remoteSize));
      return { bytes, verifiedSize: remoteSize };
    });
  }

  // -------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------

  /** Run `fn` after everything called before it: one command sequence at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private requireControl(): ControlConnection {
    if (!this.control || this.control.closed) throw new FtpConnectionError('ENOTCONN', 'not connected');
    return this.control;
  }

  private async resolve(name: string): Promise<string> {
    if (!this.lookup) throw new FtpUsageError(`cannot resolve ${name}: no resolver given (use an IPv4 address)`);
    const address = await this.lookup(name);
    if (!IPV4.test(address)) throw new FtpUsageError(`resolver gave no IPv4 address for ${name}`);
    return address;
  }

  /** A 421 that arrived unasked means the server is closing; anything else is noise. */
  private dropUnread(control: ControlConnection): void {
    for (const r of control.takeUnread()) {
      if (r.code === 421) {
        this.actOn(r); // shown in verbose mode, as any reply
        control.destroy(new FtpConnectionError('ECONNRESET', `server closed the session: ${r.code} ${r.text}`));
        throw new FtpReplyError('(unsolicited)', r);
      }
    }
  }

  /** Send a command and return its final reply; 4yz and 5yz throw FtpReplyError. */
  private async command(line: string, display = line): Promise<FtpReply> {
    const control = this.requireControl();
    this.dropUnread(control);
    control.send(line, display);
    let reply = await this.read(control, this.replyTimeout);
    while (reply.code < 200) reply = await this.read(control, this.replyTimeout);
    if (reply.code >= 400) throw new FtpReplyError(display, reply);
    return reply;
  }

  /**
   * The next reply (or `pending`, one already asked for), announced with 'reply' as it
   * is taken, so a verbose transcript shows replies in the order they are acted on.
   * A reply that does not come within `timeoutMs` drops the control connection.
   */
  private async read(control: ControlConnection, timeoutMs: number, pending?: Promise<FtpReply>): Promise<FtpReply> {
    const reply = pending
      ? await withTimeout(this.clock, pending, timeoutMs, () => {
          const err = new FtpConnectionError('ETIMEDOUT', `no reply within ${timeoutMs} ms`);
          control.destroy(err);
          return err;
        })
      : await control.nextReply(timeoutMs);
    return this.actOn(reply);
  }

  /** Count a reply and announce it ('reply') as it is acted on. */
  private actOn(reply: FtpReply): FtpReply {
    this.counters.inc(`ftp.client.rx.reply.${replyClass(reply.code)}xx`);
    this.emit('reply', reply);
    return reply;
  }

  private async setType(type: TransferType): Promise<void> {
    if (this.serverType === type) return;
    await this.command(`TYPE ${type}`);
    this.serverType = type;
  }

  private async remoteSizeOrZero(remote: string): Promise<number> {
    return (await this.sizeIfAnswered(remote)) ?? 0; // 550: not there yet
  }

  /**
   * SIZE in TYPE I (RFC 3659 4: the size depends on the type; in TYPE I it is the
   * file's), or undefined when the server refuses (550 no such file or not readable,
   * 500/502 no SIZE at all). Leaves the server in TYPE I.
   */
  private async sizeIfAnswered(remote: string): Promise<number | undefined> {
    await this.setType('I');
    try {
      const reply = await this.command(`SIZE ${remote}`);
      const n = Number(reply.text.trim());
      return reply.code === 213 && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
    } catch (err) {
      if (err instanceof FtpReplyError && err.code >= 500) return undefined;
      throw err;
    }
  }

  /** The next local port for active mode: base, base+1, ... wrapping after `activePortCount`. */
  private takeActivePort(): number {
    const port = this.activePortBase + (this.nextPortIndex % this.activePortCount);
    this.nextPortIndex++;
    return port;
  }

  /**
   * Prepare a data connection. Passive: EPSV (or PASV) and connect now. Active: listen
   * on our next data port and announce it with PORT (or EPRT). Either way the socket
   * is awaited later, with `ready()`, after the transfer command has been sent.
   */
  private async openData(): Promise<DataConnection> {
    const control = this.requireControl();
    const peer = control.socket.remoteAddress ?? '';
    if (this.mode === 'passive') {
      let host = peer;
      let port: number | undefined;
      if (this.useEpsv && !this.epsvRefused) {
        try {
          const reply = await this.command('EPSV');
          const p = parseEpsvReply(reply.text);
          if (!p.ok) throw new FtpConnectionError('EPROTO', `${p.error}: ${reply.text}`);
          port = p.value;
        } catch (err) {
          if (!(err instanceof FtpReplyError) || err.code < 500) throw err;
          this.epsvRefused = true; // RFC 2428 3: 500/501/502/522: use PASV instead.
          this.counters.inc('ftp.client.epsv_refused');
        }
      }
      if (port === undefined) {
        const reply = await this.command('PASV');
        const p = parsePasvReply(reply.text);
        if (!p.ok) throw new FtpConnectionError('EPROTO', `${p.error}: ${reply.text}`);
        port = p.value.port;
        if (this.trustPasvAddress) host = p.value.address;
      }
      return connectPassive(this.dataContext, host, port);
    }

    // Active mode: RFC 959 3.2, the server connects (from its port 20) to the port we give.
    const local = control.socket.localAddress;
    if (!local) throw new FtpConnectionError('ENOTCONN', 'control connection has no local address');
    const { port, data } = listenActive(this.dataContext, peer, () => this.takeActivePort(), this.activePortCount);
    try {
      await this.announcePort({ address: local, port });
    } catch (err) {
      data.cancel();
      throw err;
    }
    return data;
  }

  private async announcePort(hp: { address: string; port: number }): Promise<void> {
    if (this.useEprt && !this.eprtRefused) {
      try {
        await this.command(`EPRT ${encodeEprtArgument(hp)}`);
        return;
      } catch (err) {
        if (!(err instanceof FtpReplyError) || err.code < 500) throw err;
        this.eprtRefused = true; // RFC 2428 2: fall back to PORT.
        this.counters.inc('ftp.client.eprt_refused');
      }
    }
    await this.command(`PORT ${encodeHostPort(hp)}`);
  }

  /**
   * One transfer: data connection, optional REST, the command, its 1yz, the bytes
   * (moved by `io`), and the final 2yz. Whatever fails (a negative reply, the data
   * connection, a timeout) rejects; the control connection stays in step.
   */
  private async transfer(
    commandLine: string,
    type: TransferType,
    offset: number,
    io: (socket: TcpSocketLike, announced: number | undefined) => Promise<void>,
  ): Promise<FtpReply> {
    try {
      const last = await this.transferSteps(commandLine, type, offset, io);
      this.counters.inc('ftp.client.transfer.ok');
      return last;
    } catch (err) {
      this.counters.inc('ftp.client.transfer.failed');
      throw err;
    }
  }

  private async transferSteps(
    commandLine: string,
    type: TransferType,
    offset: number,
    io: (socket: TcpSocketLike, announced: number | undefined) => Promise<void>,
  ): Promise<FtpReply> {
    const control = this.requireControl();
    await this.setType(type);
    const data = await this.openData();
    try {
      if (offset > 0) {
        const rest = await this.command(`REST ${offset}`);
        if (rest.code !== 350) throw new FtpReplyError(`REST ${offset}`, rest);
      }
      // Passive: we connect before sending the command, so a refused connection never
      // leaves the server waiting for us (and us for its reply).
      const early = data.connectsFirst ? await data.ready() : undefined;
      this.dropUnread(control);
      control.send(commandLine);
      const first = await this.read(control, this.replyTimeout);
      if (first.code >= 400) throw new FtpReplyError(commandLine, first);
      if (first.code >= 200) return first; // done without data (some servers, empty listings)

      // 1yz: the data connection is (about to be) open. The final reply is read now (so
      // a lost control connection or a 425 while we wait for the server's connect ends
      // the wait) but shown only after the data, in the order BSD ftp prints them.
      const finalReply = control.nextReply();
      finalReply.catch(() => undefined);
      let socket = early;
      if (!socket) {
        let connected = false;
        socket = await Promise.race([
          data.ready().then((s) => {
            connected = true;
            return s;
          }),
          finalReply.then((r) => {
            // The data won the race, or the server finished (2yz) before we saw its
            // connection arrive: either way the data connection decides.
            if (connected || r.code < 400) return new Promise<never>(() => undefined);
            throw new FtpReplyError(commandLine, this.actOn(r));
          }),
        ]);
      }
      this.activeData = socket;
      try {
        await io(socket, announcedSize(first.text));
      } catch (err) {
        socket.destroy();
        // The server will still send its final reply (426/451): read it to stay in step.
        await this.read(control, this.replyTimeout, finalReply).catch(() => this.control?.destroy());
        throw err;
      }
      const last = await this.read(control, this.replyTimeout, finalReply);
      if (last.code >= 400) throw new FtpReplyError(commandLine, last);
      return last;
    } finally {
      this.activeData = undefined;
      data.cancel();
    }
  }

  /**
   * RETR, checked: in TYPE I we first ask SIZE, and the bytes that arrive must match
   * it (or the 150 reply's "(N bytes)"); see integrity.ts. Returns the bytes received
   * on the wire.
   */
  private async retrieve(remote: string, destination: Writable, options: DownloadOptions): Promise<number> {
    const type = options.type ?? this.type;
    const offset = options.offset ?? 0;
    const size = type === 'I' ? await this.sizeIfAnswered(remote) : undefined;
    let received = 0;
    await this.transfer(`RETR ${remote}`, type, offset, async (socket, announced) => {
      // Progress counts wire bytes of the whole file: the total is the file's size,
      // never offset + size (both SIZE and "(N bytes)" give the whole file).
      const total = size ?? (type === 'I' ? announced : undefined);
      const m = meter(this.dataContext, socket, offset, total, options.onProgress);
      try {
        await pipeline([socket, ...this.limit(options), m.stream, ...(type === 'A' ? [new CrlfToLf()] : []), destination], { end: options.end ?? true });
      } finally {
        m.stop();
        received = m.bytes();
        this.counters.inc('ftp.client.rx.bytes', received);
      }
      throwIfErrored(socket);
      this.verify(() => checkDownload({ type, offset, received, size, announced }));
    });
    return received;
  }

  /** STOR/APPE/STOU from `source`; progress counts from `offset` towards `total` (the local file's size, when known). */
  private async store(source: Readable, remote: string, verb: 'STOR' | 'APPE' | 'STOU', options: TransferOptions, offset: number, total?: number): Promise<number> {
    const type = options.type ?? this.type;
    let sent = 0;
    try {
      await this.transfer(`${verb} ${remote}`, type, 0, async (socket) => {
        const m = meter(this.dataContext, socket, offset, total, options.onProgress);
        try {
          await pipeline([source, ...(type === 'A' ? [new LfToCrlf({ keepCrlf: true })] : []), ...this.limit(options), m.stream, socket]);
        } finally {
          m.stop();
          sent = m.bytes();
          this.counters.inc('ftp.client.tx.bytes', sent);
        }
      });
    } finally {
      source.destroy();
    }
    return sent;
  }

  /** Run an integrity check (integrity.ts): a mismatch is counted, then thrown. */
  private verify(check: () => void): void {
    try {
      check();
    } catch (err) {
      this.counters.inc('ftp.client.transfer.size_mismatch');
      throw err;
    }
  }

  /** The `rate` limiter for a transfer's pipe, when one is asked for. */
  private limit(options: TransferOptions): Transform[] {
    return options.maxRate !== undefined && options.maxRate > 0 ? [throttle(this.clock, options.maxRate)] : [];
  }

  private async receiveText(commandLine: string): Promise<string> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    await this.receiveListing(commandLine, sink, true);
    return Buffer.concat(chunks).toString('utf8');
  }

  private async receiveListing(commandLine: string, destination: Writable, end: boolean): Promise<number> {
    let bytes = 0;
    // Listings are sent in whatever type is current; we don't change it just for a LIST
    // (the seed session has no TYPE command), and read lines ending in CRLF or LF.
    await this.transfer(commandLine, this.serverType, 0, async (socket) => {
      const m = meter(this.dataContext, socket, 0, undefined);
      try {
        await pipeline([socket, m.stream, destination], { end });
      } finally {
        m.stop();
        bytes = m.bytes();
      }
    });
    return bytes;
  }
}

/** A socket destroyed with an error (idle timeout) may still end the pipeline quietly: report the error. */
function throwIfErrored(socket: TcpSocketLike): void {
  const err = (socket as unknown as { errored?: Error | null }).errored;
  if (err) throw err;
}

/** RFC 959 Appendix II (257 reply): the path between the first quote and the matching close; "" is a quote. */
export function parseQuotedPath(text: string): string | undefined {
  const start = text.indexOf('"');
  if (start < 0) return undefined;
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      if (text[i + 1] === '"') {
        out += '"';
        i++;
      } else {
        return out;
      }
    } else {
      out += ch;
    }
  }
  return undefined;
}
