/**
 * One FTP control connection: the server-PI of RFC 959 section 3 and 5.
 *
 * State kept per session:
 *   login      not logged in -> USER given -> logged in (USER/PASS, REIN resets it)
 *   cwd        the working directory, a virtual path inside the user's root
 *   type       A (ASCII, the RFC 959 default) or I (image)
 *   data       how the next data connection is made (PORT/EPRT/PASV/EPSV), used once
 *   rest       restart offset from REST, used by the next RETR/STOR/APPE
 *   rnfr       the path named by RNFR, used only by the RNTO right after it
 *   transfer   the transfer in progress, if any
 *
 * Commands are run one at a time, in order. While a transfer runs the control
 * connection is still read: ABOR, STAT and QUIT are answered at once (RFC 959 4.1.3),
 * other commands wait their turn.
 */
import { posix } from 'node:path';
import type { Timer } from '../../stack/clock.js';
import type { Logger } from '../../stack/log.js';
import type { TcpSocketLike } from '../../tcp/api.js';
import { formatEpsvReply, formatPasvReply, parseEprtArgument, parseEpsvArgument, parsePortArgument } from '../common/hostport.js';
import {
  MLST_FACTS,
  formatListLine,
  formatMlsxLine,
  mlstFeatLine,
  parseMlstOpts,
  stripListFlags,
  type EntryInfo,
  type MlstFact,
} from '../common/listing.js';
import { LineReader } from '../common/line-reader.js';
import { formatReply } from '../common/reply.js';
import { parseCommand, type ParsedCommand } from './command-line.js';
import { COMMANDS, DURING_TRANSFER, lookUpVerb, NOT_IMPLEMENTED, type Verb } from './commands.js';
import {
  changeDirectory,
  deleteFile,
  existing,
  fileSize,
  machineListOne,
  makeDirectory,
  modificationTime,
  pathError,
  quotePath,
  removeDirectory,
  renameFrom,
  renameTo,
  requireWritable,
  statusOfPath,
  type FileSession,
} from './file-commands.js';
import { ActiveEndpoint, PassiveEndpoint, type DataEndpoint } from './data.js';
import { readDirectory, toEntryInfo } from './directory.js';
import type { ResolvedServerOptions } from './options.js';
import { baseName, VirtualRoot } from './path.js';
import { Transfer, receiveFile, sendFile, sendBuffer, type TransferResult } from './transfers.js';
import { ANONYMOUS_NAMES } from './users.js';
import type { XferLog } from './xferlog.js';

export interface SessionUser {
  name: string;
  anonymous: boolean;
  writable: boolean;
  /** For anonymous users: the identity given as password (RFC 1635). */
  identity?: string;
}

type LoginState =
  | { kind: 'none' }
  | { kind: 'user-given'; name: string }
  | { kind: 'logged-in'; user: SessionUser; root: VirtualRoot };

/** What a session needs from its server. */
export interface SessionContext {
  options: ResolvedServerOptions;
  root: VirtualRoot;
  xferlog?: XferLog;
  onClose(session: FtpSession): void;
}

type Queued = ParsedCommand | { tooLong: true };

/** At most this many commands wait while one runs (a flood is cut off). */
const MAX_QUEUED = 100;

export class FtpSession {
  readonly peer: string;
  private readonly log: Logger;
  private readonly reader: LineReader;
  private readonly queue: Queued[] = [];
  private busy = false;
  private closed = false;
  private idleTimer: Timer | undefined;

  private login: LoginState = { kind: 'none' };
  private loginFailures = 0;
  private cwd = '/';
  private type: 'A' | 'I' = 'A';
  private data: DataEndpoint | undefined;
  private epsvAll = false;
  private rest = 0;
  private rnfr: { virtual: string; real: string } | undefined;
  private mlstFacts: MlstFact[] = [...MLST_FACTS];
  private transfer: Transfer | undefined;
  private quitAfterTransfer = false;
  /** The client sent its FIN: close once the queued commands are answered. */
  private clientEnded = false;
  /** Code of the last reply, for the per-command log line. */
  private lastCode = 0;

  constructor(
    private readonly ctx: SessionContext,
    private readonly socket: TcpSocketLike,
    readonly id: number,
  ) {
    this.peer = socket.remoteAddress ?? '';
    this.log = ctx.options.logger.child({ session: id, peer: `${this.peer}:${socket.remotePort ?? 0}` });
    this.reader = new LineReader(ctx.options.maxLineLength);
  }

  private get opts(): ResolvedServerOptions {
    return this.ctx.options;
  }

  /** Greet the client (RFC 959 5.4: 220 on connection) and start reading commands. */
  start(): void {
    this.opts.counters.inc('ftp.server.session.open');
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // A client may send its last commands and its FIN together (a script piped into
    // nc): answer what was sent, then close.
    this.socket.on('end', () => {
      this.clientEnded = true;
      if (!this.busy && this.queue.length === 0) this.close('client closed');
    });
    this.socket.on('error', (err: Error) => {
      this.opts.counters.inc('ftp.server.control.error');
      this.log.debug({ err: err.message }, 'control connection error');
      this.close('error', true);
    });
    this.socket.on('close', () => this.close('closed', true));
    this.reply(220, this.opts.banner);
    this.armIdle();
  }

  // -------------------------------------------------------------------------
  // Replies, closing, idle timeout
  // -------------------------------------------------------------------------

  private reply(code: number, text: string | readonly string[]): void {
    this.lastCode = code;
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(formatReply(code, text));
  }

  /** Reply and close the control connection (221 after QUIT, 421 on errors). */
  private replyAndClose(code: number, text: string): void {
    this.reply(code, text);
    this.close(`sent ${code}`);
  }

  /** End the session. `hard` destroys the socket instead of a graceful FIN. */
  close(reason: string, hard = false): void {
    if (this.closed) {
      if (hard && !this.socket.destroyed) this.socket.destroy();
      return;
    }
    this.closed = true;
    this.idleTimer?.cancel();
    this.data?.close();
    this.data = undefined;
    this.transfer?.abort('control-closed');
    this.queue.length = 0;
    if (hard) this.socket.destroy();
    else this.socket.end();
    this.opts.counters.inc('ftp.server.session.close');
    this.log.info({ reason }, 'session closed');
    this.ctx.onClose(this);
  }

  private armIdle(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    if (this.opts.idleTimeoutMs <= 0 || this.closed) return;
    this.idleTimer = this.opts.clock.setTimer(this.opts.idleTimeoutMs, () => {
      // A long transfer is not idleness.
      if (this.transfer) {
        this.armIdle();
        return;
      }
      this.opts.counters.inc('ftp.server.idle_timeout');
      this.replyAndClose(421, 'Timeout: closing control connection.');
    });
    this.idleTimer.unref();
  }

  // -------------------------------------------------------------------------
  // Reading and dispatching commands
  // -------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    for (const event of this.reader.push(chunk)) {
      this.armIdle();
      if (event.kind === 'too-long') {
        this.opts.counters.inc('ftp.server.line_too_long');
        this.enqueue({ tooLong: true });
        continue;
      }
      const command = parseCommand(event.line);
      if (this.transfer && DURING_TRANSFER.has(command.verb) && this.isLoggedIn) {
        this.duringTransfer(command);
        continue;
      }
      this.enqueue(command);
    }
  }

  private enqueue(item: Queued): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.opts.counters.inc('ftp.server.queue_overflow');
      this.replyAndClose(421, 'Too many commands queued, closing control connection.');
      return;
    }
    this.queue.push(item);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const item = this.queue.shift()!;
        if ('tooLong' in item) {
          this.reply(500, 'Command line too long.');
          continue;
        }
        await this.execute(item);
      }
    } finally {
      this.busy = false;
    }
    if (this.clientEnded && !this.closed) this.close('client closed');
  }

  /** ABOR, STAT and QUIT while a transfer runs. */
  private duringTransfer(command: ParsedCommand): void {
    const t = this.transfer!;
    this.log.info({ cmd: command.verb, during: t.verb }, 'command during transfer');
    switch (command.verb) {
      case 'ABOR':
        // The transfer answers 426 for itself, then 226 for the ABOR (RFC 959 4.1.3).
        t.abort('ABOR');
        break;
      case 'STAT':
        this.reply(213, t.progressText());
        break;
      case 'QUIT':
        // RFC 959 4.1.1: QUIT during a transfer waits for its result reply.
        this.quitAfterTransfer = true;
        break;
    }
  }

  private get isLoggedIn(): boolean {
    return this.login.kind === 'logged-in';
  }

  private async execute({ verb, arg }: ParsedCommand): Promise<void> {
    const started = this.opts.clock.now();
    this.lastCode = 0;
    this.opts.counters.inc('ftp.server.command');
    const known = lookUpVerb(verb);
    // Per-verb counters only for known verbs: a client cannot create counter names.
    if (known) this.opts.counters.inc(`ftp.server.cmd.${known}`);
    // RFC 959 4.1.3: RNTO must come right after RNFR; any other command forgets it.
    if (verb !== 'RNTO') this.rnfr = undefined;
    try {
      if (!known) {
        if (NOT_IMPLEMENTED.has(verb)) this.reply(502, `${verb} not implemented.`);
        else this.reply(500, 'Unknown command.');
      } else if (COMMANDS[known].login && !this.isLoggedIn) {
        this.reply(530, 'Please login with USER and PASS.');
      } else if (COMMANDS[known].arg === 'required' && arg.trim() === '') {
        this.reply(501, 'Syntax error in parameters or arguments.');
      } else if (COMMANDS[known].arg === 'none' && arg.trim() !== '') {
        this.reply(501, 'Syntax error in parameters or arguments.');
      } else {
        await this.handlers[known](arg);
      }
    } catch (err) {
      this.opts.counters.inc('ftp.server.handler_error');
      this.log.warn({ err: (err as Error).message, cmd: verb }, 'command failed');
      this.reply(451, 'Requested action aborted: local error in processing.');
    }
    // One log line per command; never the password.
    this.log.info(
      { cmd: verb, arg: verb === 'PASS' ? (arg === '' ? '' : '****') : arg.slice(0, 200), code: this.lastCode, ms: Math.round(this.opts.clock.now() - started) },
      'command',
    );
    if (!this.transfer) this.armIdle();
  }

  private readonly handlers: Record<Verb, (arg: string) => void | Promise<void>> = {
    USER: (arg) => this.user(arg),
    PASS: (arg) => this.pass(arg),
    ACCT: () => (this.isLoggedIn ? this.reply(202, 'ACCT command superfluous.') : this.reply(503, 'Login with USER first.')),
    CWD: (arg) => changeDirectory(this.files, arg, 'CWD'),
    XCWD: (arg) => changeDirectory(this.files, arg, 'CWD'),
    CDUP: () => changeDirectory(this.files, '..', 'CDUP'),
    XCUP: () => changeDirectory(this.files, '..', 'CDUP'),
    REIN: () => this.rein(),
    QUIT: () => this.replyAndClose(221, `Thank you for visiting ${this.opts.siteName}.`),
    PORT: (arg) => this.port(arg, 'PORT'),
    EPRT: (arg) => this.port(arg, 'EPRT'),
    PASV: () => this.passive('PASV', ''),
    EPSV: (arg) => this.passive('EPSV', arg),
    TYPE: (arg) => this.setType(arg),
    STRU: (arg) => this.setOnly(arg, 'F', 'Structure set to F.', 'Only file structure (STRU F) is supported.'),
    MODE: (arg) => this.setOnly(arg, 'S', 'Mode set to S.', 'Only stream mode (MODE S) is supported.'),
    RETR: (arg) => this.retr(arg),
    STOR: (arg) => this.store(arg, 'STOR'),
    STOU: (arg) => this.store(arg, 'STOU'),
    APPE: (arg) => this.store(arg, 'APPE'),
    ALLO: (arg) =>
      /^\s*\d+(\s+R\s+\d+)?\s*$/i.test(arg) ? this.reply(202, 'ALLO command ignored.') : this.reply(501, 'Syntax error in parameters or arguments.'),
    REST: (arg) => this.restart(arg),
    RNFR: async (arg) => {
      this.rnfr = await renameFrom(this.files, arg);
    },
    RNTO: (arg) => {
      const from = this.rnfr;
      this.rnfr = undefined;
      return renameTo(this.files, from, arg);
    },
    // Only reached when no transfer runs (otherwise duringTransfer answers).
    ABOR: () => this.reply(225, 'No transfer to abort.'),
    DELE: (arg) => deleteFile(this.files, arg),
    RMD: (arg) => removeDirectory(this.files, arg),
    XRMD: (arg) => removeDirectory(this.files, arg),
    MKD: (arg) => makeDirectory(this.files, arg),
    XMKD: (arg) => makeDirectory(this.files, arg),
    PWD: () => this.reply(257, `${quotePath(this.cwd)} is the current directory.`),
    XPWD: () => this.reply(257, `${quotePath(this.cwd)} is the current directory.`),
    LIST: (arg) => this.list(arg, 'LIST'),
    NLST: (arg) => this.list(arg, 'NLST'),
    MLSD: (arg) => this.list(arg, 'MLSD'),
    MLST: (arg) => machineListOne(this.files, arg),
    SITE: (arg) => this.site(arg),
    SYST: () => this.reply(215, 'UNIX Type: L8'),
    STAT: (arg) => this.stat(arg),
    HELP: (arg) => this.help(arg),
    NOOP: () => this.reply(200, 'NOOP ok.'),
    FEAT: () => this.feat(),
    OPTS: (arg) => this.options(arg),
    SIZE: (arg) => fileSize(this.files, arg),
    MDTM: (arg) => modificationTime(this.files, arg),
  };

  // -------------------------------------------------------------------------
  // Access control (RFC 959 4.1.1)
  // -------------------------------------------------------------------------

  private user(name: string): void {
    // A new USER starts a new login, also when someone is logged in (RFC 959 4.1.1).
    this.resetLogin();
    this.login = { kind: 'user-given', name };
    // Always 331, whether the name exists or not, so names cannot be probed.
    if (this.opts.anonymous && ANONYMOUS_NAMES.has(name.toLowerCase())) {
      this.reply(331, 'Anonymous access allowed, send identity (e-mail name) as password.');
    } else {
      this.reply(331, 'Please specify the password.');
    }
  }

  private async pass(password: string): Promise<void> {
    if (this.login.kind !== 'user-given') {
      this.reply(503, this.isLoggedIn ? 'Already logged in.' : 'Login with USER first.');
      return;
    }
    const name = this.login.name;
    if (this.opts.anonymous && ANONYMOUS_NAMES.has(name.toLowerCase())) {
      const user: SessionUser = { name: 'anonymous', anonymous: true, writable: this.opts.anonymousWritable, identity: password };
      this.loggedIn(user, this.ctx.root);
      this.reply(230, [`Welcome to ${this.opts.siteName}`, 'Anonymous user logged in.']);
      return;
    }
    const found = this.opts.users && !ANONYMOUS_NAMES.has(name.toLowerCase()) ? await this.opts.users.authenticate(name, password) : undefined;
    let root: VirtualRoot | undefined;
    if (found) {
      // The home is a path inside the served root: resolve it like any client path.
      const home = await this.ctx.root.existing('/', found.home);
      if (home.ok && home.value.stats.isDirectory()) root = await VirtualRoot.open(home.value.real);
    }
    if (found && root) {
      this.loggedIn({ name: found.name, anonymous: false, writable: found.writable }, root);
      this.reply(230, `User ${found.name} logged in.`);
      return;
    }
    await this.failedLogin();
  }

  /**
   * RFC 2577 5: a failed login is answered late, and the last allowed failure closes
   * the connection, so that guessing passwords is slow.
   */
  private async failedLogin(): Promise<void> {
    this.loginFailures++;
    this.opts.counters.inc('ftp.server.login.failed');
    this.login = { kind: 'none' };
    await new Promise<void>((resolve) => this.opts.clock.setTimer(this.opts.loginFailDelayMs, resolve));
    if (this.closed) return;
    if (this.loginFailures >= this.opts.maxLoginFailures) {
      this.replyAndClose(421, 'Too many failed logins, closing control connection.');
      return;
    }
    this.reply(530, 'Login incorrect.');
  }

  private loggedIn(user: SessionUser, root: VirtualRoot): void {
    this.login = { kind: 'logged-in', user, root };
    this.loginFailures = 0;
    this.cwd = '/';
    this.opts.counters.inc(user.anonymous ? 'ftp.server.login.anonymous' : 'ftp.server.login.user');
    this.log.info({ user: user.name }, 'logged in');
  }

  private resetLogin(): void {
    this.login = { kind: 'none' };
    this.cwd = '/';
    this.type = 'A';
    this.data?.close();
    this.data = undefined;
    this.epsvAll = false;
    this.rest = 0;
    this.rnfr = undefined;
    this.mlstFacts = [...MLST_FACTS];
  }

  private rein(): void {
    // RFC 959 4.1.1: back to the state right after the connection opened.
    this.resetLogin();
    this.reply(220, 'Service ready for new user.');
  }

  private get currentUser(): SessionUser {
    return (this.login as Extract<LoginState, { kind: 'logged-in' }>).user;
  }

  private get root(): VirtualRoot {
    return (this.login as Extract<LoginState, { kind: 'logged-in' }>).root;
  }

  /** The view of this session that the file commands get (file-commands.ts). */
  private readonly files: FileSession = (() => {
    const session = this;
    return {
      get options() {
        return session.opts;
      },
      get root() {
        return session.root;
      },
      get cwd() {
        return session.cwd;
      },
      set cwd(path: string) {
        session.cwd = path;
      },
      get writable() {
        return session.currentUser.writable;
      },
      get type() {
        return session.type;
      },
      get mlstFacts() {
        return session.mlstFacts;
      },
      reply: (code: number, text: string | readonly string[]) => session.reply(code, text),
    };
  })();

  // -------------------------------------------------------------------------
  // Transfer parameters (RFC 959 4.1.2, RFC 2428, RFC 2577)
  // -------------------------------------------------------------------------

  private setData(endpoint: DataEndpoint | undefined): void {
    this.data?.close();
    this.data = endpoint;
  }

  private port(arg: string, verb: 'PORT' | 'EPRT'): void {
    if (this.epsvAll) {
      // RFC 2428 4: after EPSV ALL every other data connection command is refused.
      this.reply(503, 'EPSV ALL in effect; use EPSV.');
      return;
    }
    let host: string;
    let port: number;
    if (verb === 'PORT') {
      const p = parsePortArgument(arg);
      if (!p.ok) return this.reply(501, 'Syntax error in PORT argument.');
      ({ address: host, port } = p.value);
    } else {
      const p = parseEprtArgument(arg);
      if (!p.ok) {
        if ('unsupportedProtocol' in p) return this.reply(522, 'Network protocol not supported, use (1)');
        return this.reply(501, 'Syntax error in EPRT argument.');
      }
      ({ address: host, port } = p.value);
    }
    // RFC 2577 3: no connections to other hosts (FTP bounce) or to privileged ports.
    if (host !== this.peer && !this.opts.allowForeignDataAddress) {
      this.opts.counters.inc('ftp.server.bounce_refused.address');
      return this.reply(504, `${verb} to another host than the client's refused.`);
    }
    if (port < 1024 && !this.opts.allowLowDataPort) {
      this.opts.counters.inc('ftp.server.bounce_refused.port');
      return this.reply(504, `${verb} to a port below 1024 refused.`);
    }
    this.setData(new ActiveEndpoint(this.opts.tcp, this.opts.clock, host, port, this.opts.dataPort));
    this.reply(200, `${verb} command successful.`);
  }

  private async passive(verb: 'PASV' | 'EPSV', arg: string): Promise<void> {
    if (verb === 'PASV' && this.epsvAll) {
      this.reply(503, 'EPSV ALL in effect; use EPSV.');
      return;
    }
    if (verb === 'EPSV') {
      const p = parseEpsvArgument(arg);
      if (!p.ok) return this.reply(501, 'Syntax error in EPSV argument.');
      if (p.value.all) {
        this.epsvAll = true;
        return this.reply(200, 'EPSV ALL ok.');
      }
      if (p.value.protocol !== undefined && p.value.protocol !== 1) return this.reply(522, 'Network protocol not supported, use (1)');
    }
    this.setData(undefined);
    const o = this.opts;
    const endpoint = await PassiveEndpoint.create(o.tcp, o.pasvPorts, this.peer, o.random, o.clock, o.counters);
    if (!endpoint) return this.reply(425, 'Cannot open passive connection: no free port.');
    if (this.closed) {
      endpoint.close();
      return;
    }
    this.data = endpoint;
    if (verb === 'PASV') {
      this.reply(227, formatPasvReply({ address: this.socket.localAddress ?? '0.0.0.0', port: endpoint.port }));
    } else {
      this.reply(229, formatEpsvReply(endpoint.port));
    }
  }

  private setType(arg: string): void {
    const words = arg.trim().toUpperCase().split(/\s+/);
    const [code, param] = words;
    if (words.length > 2) return this.reply(501, 'Syntax error in TYPE argument.');
    if (code === 'A' && (param === undefined || param === 'N')) {
      this.type = 'A';
      return this.reply(200, 'Type set to A.');
    }
    if ((code === 'I' && param === undefined) || (code === 'L' && param === '8')) {
      this.type = 'I';
      return this.reply(200, 'Type set to I.');
    }
    // Known but unsupported: EBCDIC, Telnet/ASA format control, other byte sizes.
    if (code === 'E' || ((code === 'A' || code === 'E') && (param === 'T' || param === 'C')) || (code === 'L' && /^\d+$/.test(param ?? ''))) {
      return this.reply(504, 'Type not supported; use A or I.');
    }
    this.reply(501, 'Syntax error in TYPE argument.');
  }

  private setOnly(arg: string, only: string, ok: string, unsupported: string): void {
    const v = arg.trim().toUpperCase();
    if (v === only) return this.reply(200, ok);
    if (/^[A-Z]$/.test(v) && ((only === 'F' && 'RP'.includes(v)) || (only === 'S' && 'BC'.includes(v)))) return this.reply(504, unsupported);
    this.reply(501, 'Syntax error in parameters or arguments.');
  }

  private restart(arg: string): void {
    const v = arg.trim();
    if (!/^\d{1,15}$/.test(v)) return this.reply(501, 'REST needs a byte offset.');
    this.rest = Number(v);
    this.reply(350, `Restarting at ${this.rest}. Send STORE or RETRIEVE to initiate transfer.`);
  }

  private options(arg: string): void {
    const [name = '', ...rest] = arg.trim().split(/\s+/);
    const value = rest.join(' ');
    switch (name.toUpperCase()) {
      case 'UTF8':
      case 'UTF-8':
        // RFC 2640: path names are UTF-8 all the time here.
        if (value.toUpperCase() === 'ON' || value === '') return this.reply(200, 'Always in UTF8 mode.');
        return this.reply(504, 'UTF8 cannot be turned off.');
      case 'MLST':
        this.mlstFacts = parseMlstOpts(value);
        return this.reply(200, `MLST OPTS ${this.mlstFacts.map((f) => `${f};`).join('')}`);
      default:
        return this.reply(501, 'Option not understood.');
    }
  }

  private feat(): void {
    // RFC 2389 3.2: each feature on its own line, starting with one space.
    this.reply(211, [
      'Features:',
      ' EPRT',
      ' EPSV',
      ' MDTM',
      ` ${mlstFeatLine(this.mlstFacts)}`,
      ' PASV',
      ' REST STREAM',
      ' SIZE',
      ' TVFS',
      ' UTF8',
      'End',
    ]);
  }

  // -------------------------------------------------------------------------
  // Transfers
  // -------------------------------------------------------------------------

  private get modeName(): string {
    return this.type === 'A' ? 'ASCII' : 'BINARY';
  }

  /**
   * Run one transfer over the data connection set up by PORT/PASV/...: 150, open,
   * move the data with `work`, then the result reply. Returns the result.
   */
  private async runTransfer(
    verb: string,
    path: string,
    text150: string,
    work: (socket: TcpSocketLike, t: Transfer) => Promise<void>,
    size?: number,
  ): Promise<TransferResult> {
    const endpoint = this.data!;
    this.data = undefined;
    const o = this.opts;
    const t = new Transfer(verb, path, endpoint, o.clock, o.dataTimeoutMs, size);
    this.transfer = t;
    this.idleTimer?.cancel();
    this.reply(150, text150);
    const result = await t.run(work);
    this.transfer = undefined;
    o.counters.inc(`ftp.server.transfer.${result.outcome}`);
    switch (result.outcome) {
      case 'ok':
        this.reply(226, result.note ? `Transfer complete (${result.note}).` : 'Transfer complete.');
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
      case 'disk-full':
        this.reply(452, 'Insufficient storage space.');
        break;
      case 'local-error':
        this.reply(451, 'Requested action aborted: local error in processing.');
        break;
    }
    this.log.info(
      { transfer: verb, path, bytes: result.bytes, ms: Math.round(result.ms), result: result.outcome, reason: result.reason, type: this.type },
      'transfer',
    );
    // xferlog records file transfers, not listings (as wu-ftpd and vsftpd do).
    const user = this.currentUser;
    if (verb !== 'LIST' && verb !== 'NLST' && verb !== 'MLSD') {
      this.ctx.xferlog?.record({
        seconds: result.ms / 1000,
        host: this.peer,
        bytes: result.bytes,
        path,
        binary: this.type === 'I',
        incoming: verb === 'STOR' || verb === 'STOU' || verb === 'APPE',
        anonymous: user.anonymous,
        // RFC 1635: an anonymous user's password is their identity, worth logging.
        user: user.anonymous ? (user.identity ?? '') : user.name,
        complete: result.outcome === 'ok',
      });
    }
    if (this.quitAfterTransfer && !this.closed) this.replyAndClose(221, `Thank you for visiting ${this.opts.siteName}.`);
    return result;
  }

  private needData(): boolean {
    if (this.data) return true;
    this.reply(425, 'Use PORT, PASV, EPRT or EPSV first.');
    return false;
  }

  private takeRest(): number {
    const r = this.rest;
    this.rest = 0;
    return r;
  }

  private async retr(arg: string): Promise<void> {
    const offset = this.takeRest();
    if (!this.needData()) return;
    const r = await existing(this.files, arg);
    if (!r.ok) return pathError(this.files, r.error);
    const { stats, real, virtual } = r.value;
    if (!stats.isFile()) return this.reply(550, 'Not a plain file.');
    if (offset > stats.size) return this.reply(554, 'Restart offset beyond the end of the file.');
    const ascii = this.type === 'A';
    await this.runTransfer(
      'RETR',
      virtual,
      `Opening ${this.modeName} mode data connection for ${arg}(${stats.size} bytes).`,
      (socket, t) => sendFile(real, offset, ascii, socket, t),
      ascii ? undefined : stats.size - offset,
    );
  }

  private async store(arg: string, verb: 'STOR' | 'STOU' | 'APPE'): Promise<void> {
    const offset = this.takeRest();
    if (!requireWritable(this.files)) return;
    if (!this.needData()) return;
    let target = arg;
    if (verb === 'STOU') {
      const unique = await this.uniqueName(arg.trim() === '' ? 'file' : arg);
      if (!unique) return this.reply(553, 'Could not find a unique file name.');
      target = unique;
    }
    const r = await this.root.entry(this.cwd, target);
    if (!r.ok) return pathError(this.files, r.error, true);
    const { real, virtual, exists } = r.value;
    if (exists) {
      const st = await this.root.existing('/', virtual);
      if (st.ok && !st.value.stats.isFile()) return this.reply(550, 'Not a plain file.');
      if (st.ok && offset > st.value.stats.size) return this.reply(554, 'Restart offset beyond the end of the file.');
    } else if (offset > 0) {
      return this.reply(554, 'Restart offset beyond the end of the file.');
    }
    // Where the existing content is kept: APPE keeps it all, REST n keeps n bytes.
    const keep = verb === 'APPE' ? (exists ? 'all' : 0) : offset;
    const text150 = verb === 'STOU' ? `FILE: ${baseName(virtual)}` : `Opening ${this.modeName} mode data connection for ${arg}.`;
    await this.runTransfer(verb, virtual, text150, (socket, t) =>
      receiveFile({ real, keep, exists, ascii: this.type === 'A', exclusive: verb === 'STOU', random: this.opts.random }, socket, t),
    );
  }

  /** STOU: the name itself if free, else name.1, name.2, ... */
  private async uniqueName(base: string): Promise<string | undefined> {
    for (let i = 0; i < 100; i++) {
      const candidate = i === 0 ? base : `${base}.${i}`;
      const r = await this.root.entry(this.cwd, candidate);
      if (!r.ok) return i === 0 ? candidate : undefined; // let the caller report the path error
      if (!r.value.exists) return candidate;
    }
    return undefined;
  }

  private async list(rawArg: string, verb: 'LIST' | 'NLST' | 'MLSD'): Promise<void> {
    if (!this.needData()) return;
    const arg = verb === 'MLSD' ? rawArg : stripListFlags(rawArg);
    const r = await existing(this.files, arg === '' ? '.' : arg);
    if (!r.ok) {
      // RFC 959 5.4 lists 450 (file unavailable) for LIST and NLST; RFC 3659 uses 550.
      if (r.error === 'not-found' && verb !== 'MLSD') return this.reply(450, 'No such file or directory.');
      return pathError(this.files, r.error);
    }
    const { stats, real, virtual } = r.value;
    if (verb === 'MLSD' && !stats.isDirectory()) return this.reply(501, 'Not a directory.');
    let entries: EntryInfo[];
    let truncated = false;
    if (stats.isDirectory()) {
      ({ entries, truncated } = await readDirectory(this.root, real, this.opts.maxListEntries));
    } else {
      entries = [toEntryInfo(baseName(virtual), stats)];
    }
    const now = this.opts.now();
    const access = { writable: this.currentUser.writable };
    let lines: string[];
    if (verb === 'LIST') lines = entries.map((e) => formatListLine(e, now));
    else if (verb === 'MLSD') lines = entries.map((e) => formatMlsxLine(e, access, this.mlstFacts));
    else if (!stats.isDirectory()) lines = [arg];
    else if (arg === '' || arg === '.') lines = entries.map((e) => e.name);
    else lines = entries.map((e) => posix.join(arg, e.name));
    if (truncated) this.opts.counters.inc('ftp.server.listing_truncated');
    const body = Buffer.from(lines.map((l) => l + '\r\n').join(''), 'utf8');
    // Listings are text with CRLF line ends already, in either TYPE.
    const result = await this.runTransfer(verb, virtual, 'Opening ASCII mode data connection for /bin/ls.', (socket, t) => sendBuffer(body, socket, t));
    if (truncated && result.outcome === 'ok') this.log.warn({ path: virtual, limit: this.opts.maxListEntries }, 'listing truncated');
  }

  private async stat(arg: string): Promise<void> {
    if (arg.trim() !== '') return statusOfPath(this.files, arg);
    const u = this.isLoggedIn ? this.currentUser : undefined;
    this.reply(211, [
      `${this.opts.siteName} FTP server status:`,
      `     Connected to ${this.peer}`,
      `     Logged in as ${u ? u.name : '(nobody)'}`,
      `     TYPE: ${this.modeName}, STRU: File, MODE: Stream`,
      `     Data connection: ${this.data ? this.data.mode : 'none'}`,
      'End of status',
    ]);
  }

  private help(arg: string): void {
    const verb = arg.trim().toUpperCase();
    if (verb !== '') {
      const known = lookUpVerb(verb);
      if (!known) return this.reply(501, 'Unknown command.');
      return this.reply(214, `Syntax: ${COMMANDS[known].help}`);
    }
    const verbs = Object.keys(COMMANDS);
    const rows: string[] = [];
    for (let i = 0; i < verbs.length; i += 8) rows.push(' ' + verbs.slice(i, i + 8).map((v) => v.padEnd(5)).join(' '));
    this.reply(214, ['The following commands are recognized.', ...rows, 'Help OK.']);
  }

  private site(arg: string): void {
    const sub = arg.trim().split(/\s+/)[0]!.toUpperCase();
    if (sub === 'HELP') return this.reply(214, ['SITE commands recognized:', ' HELP', 'End of SITE help.']);
    this.reply(500, 'Unknown SITE command.');
  }
}
