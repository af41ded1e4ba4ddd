/**
 * One FTP control connection: the server-PI of RFC 959 section 3 and 5.
 *
 * State kept per session:
 *   login      not logged in -> USER given -> logged in (login.ts; REIN resets it)
 *   cwd        the working directory, a virtual path inside the user's root
 *   params     TYPE, the next data connection, REST, MLST facts (transfer-params.ts)
 *   rnfr       the entry named by RNFR, used only by the RNTO right after it
 *   transfer   the transfer in progress, if any
 *
 * This file reads, queues and dispatches commands; the commands themselves live by
 * concept: login.ts (USER, PASS), transfer-params.ts (PORT, PASV, TYPE, REST, ...),
 * file-commands.ts (CWD, MKD, DELE, RNFR/RNTO, SIZE, ...) and transfer-commands.ts
 * (RETR, STOR, APPE, STOU, LIST, NLST, MLSD), each through a small view of the session.
 *
 * Commands are run one at a time, in order. While a transfer runs the control
 * connection is still read: ABOR, STAT and QUIT are answered at once (RFC 959 4.1.3),
 * other commands wait their turn.
 */
import type { Timer } from '../../stack/clock.js';
import type { Logger } from '../../stack/log.js';
import type { TcpSocketLike } from '../../tcp/api.js';
import { mlstFeatLine } from '../common/listing.js';
import { LineReader } from '../common/line-reader.js';
import { formatReply } from '../common/reply.js';
import { parseCommand, type ParsedCommand } from './command-line.js';
import { COMMANDS, DURING_TRANSFER, lookUpVerb, NOT_IMPLEMENTED, type Verb } from './commands.js';
import { replyForOsError } from './errors.js';
import {
  changeDirectory,
  deleteFile,
  fileSize,
  machineListOne,
  makeDirectory,
  modificationTime,
  quotePath,
  removeDirectory,
  renameFrom,
  renameTo,
  statusOfPath,
  type FileSession,
  type RenameSource,
} from './file-commands.js';
import { pass, user, type LoginSession, type LoginState, type SessionUser } from './login.js';
import type { LoginGuard } from './login-guard.js';
import type { ResolvedServerOptions } from './options.js';
import type { VirtualRoot } from './path.js';
import { TransferCommands, type TransferSession } from './transfer-commands.js';
import { TransferParameters, type ParamsSession } from './transfer-params.js';
import type { Transfer } from './transfers.js';
import type { XferLog } from './xferlog.js';

export type { SessionUser } from './login.js';

/** What a session needs from its server. */
export interface SessionContext {
  options: ResolvedServerOptions;
  root: VirtualRoot;
  guard: LoginGuard;
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
  private readonly params: TransferParameters;
  private readonly transfers: TransferCommands;
  /** What login.ts and file-commands.ts see of this session (built in the constructor). */
  private readonly loginView: LoginSession;
  private readonly files: FileSession;
  private rnfr: RenameSource | undefined;
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
    this.loginView = this.makeLoginView();
    this.files = this.makeFileView();
    this.params = new TransferParameters(this.makeParamsView());
    this.transfers = new TransferCommands(this.makeTransferView());
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
    this.params.close();
    this.forgetRename();
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
    if (verb !== 'RNTO') this.forgetRename();
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
      // An OS error nobody expected: its errno still decides between 4yz and 5yz.
      this.opts.counters.inc('ftp.server.handler_error');
      this.log.warn({ err: (err as Error).message, cmd: verb }, 'command failed');
      const r = replyForOsError(err);
      this.reply(r.code, r.text);
    }
    // One log line per command; never the password.
    this.log.info(
      { cmd: verb, arg: verb === 'PASS' ? (arg === '' ? '' : '****') : arg.slice(0, 200), code: this.lastCode, ms: Math.round(this.opts.clock.now() - started) },
      'command',
    );
    if (!this.transfer) this.armIdle();
  }

  private readonly handlers: Record<Verb, (arg: string) => void | Promise<void>> = {
    USER: (arg) => user(this.loginView, arg),
    PASS: (arg) => pass(this.loginView, arg),
    ACCT: () => (this.isLoggedIn ? this.reply(202, 'ACCT command superfluous.') : this.reply(503, 'Login with USER first.')),
    CWD: (arg) => changeDirectory(this.files, arg, 'CWD'),
    XCWD: (arg) => changeDirectory(this.files, arg, 'CWD'),
    CDUP: () => changeDirectory(this.files, '..', 'CDUP'),
    XCUP: () => changeDirectory(this.files, '..', 'CDUP'),
    REIN: () => this.rein(),
    QUIT: () => this.replyAndClose(221, `Thank you for visiting ${this.opts.siteName}.`),
    PORT: (arg) => this.params.port(arg, 'PORT'),
    EPRT: (arg) => this.params.port(arg, 'EPRT'),
    PASV: () => this.params.passive('PASV', ''),
    EPSV: (arg) => this.params.passive('EPSV', arg),
    TYPE: (arg) => this.params.setType(arg),
    STRU: (arg) => this.params.setOnly(arg, 'F', 'Structure set to F.', 'Only file structure (STRU F) is supported.'),
    MODE: (arg) => this.params.setOnly(arg, 'S', 'Mode set to S.', 'Only stream mode (MODE S) is supported.'),
    RETR: (arg) => this.transfers.retr(arg),
    STOR: (arg) => this.transfers.store(arg, 'STOR'),
    STOU: (arg) => this.transfers.store(arg, 'STOU'),
    APPE: (arg) => this.transfers.store(arg, 'APPE'),
    ALLO: (arg) =>
      /^\s*\d+(\s+R\s+\d+)?\s*$/i.test(arg) ? this.reply(202, 'ALLO command ignored.') : this.reply(501, 'Syntax error in parameters or arguments.'),
    REST: (arg) => this.params.restart(arg),
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
    LIST: (arg) => this.transfers.list(arg, 'LIST'),
    NLST: (arg) => this.transfers.list(arg, 'NLST'),
    MLSD: (arg) => this.transfers.list(arg, 'MLSD'),
    MLST: (arg) => machineListOne(this.files, arg),
    SITE: (arg) => this.site(arg),
    SYST: () => this.reply(215, 'UNIX Type: L8'),
    STAT: (arg) => this.stat(arg),
    HELP: (arg) => this.help(arg),
    NOOP: () => this.reply(200, 'NOOP ok.'),
    FEAT: () => this.feat(),
    OPTS: (arg) => this.params.options(arg),
    SIZE: (arg) => fileSize(this.files, arg),
    MDTM: (arg) => modificationTime(this.files, arg),
  };

  // -------------------------------------------------------------------------
  // The views that login.ts, transfer-params.ts, file-commands.ts and
  // transfer-commands.ts get
  // -------------------------------------------------------------------------

  private resetLogin(): void {
    this.login = { kind: 'none' };
    this.cwd = '/';
    this.params.reset();
    this.forgetRename();
  }

  private forgetRename(): void {
    void this.rnfr?.release();
    this.rnfr = undefined;
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

  // Each view is built once, in the constructor: it reads the session through getters,
  // so it always sees the current state.
  private makeLoginView(): LoginSession {
    const session = this;
    return {
      options: session.opts,
      serverRoot: session.ctx.root,
      guard: session.ctx.guard,
      peer: session.peer,
      log: session.log,
      get closed() {
        return session.closed;
      },
      get login() {
        return session.login;
      },
      set login(state: LoginState) {
        session.login = state;
      },
      get failures() {
        return session.loginFailures;
      },
      set failures(n: number) {
        session.loginFailures = n;
      },
      reply: (code: number, text: string | readonly string[]) => session.reply(code, text),
      replyAndClose: (code: number, text: string) => session.replyAndClose(code, text),
      resetLogin: () => session.resetLogin(),
    };
  }

  private makeParamsView(): ParamsSession {
    const session = this;
    return {
      options: session.opts,
      peer: session.peer,
      get localAddress() {
        return session.socket.localAddress ?? '0.0.0.0';
      },
      get closed() {
        return session.closed;
      },
      reply: (code: number, text: string | readonly string[]) => session.reply(code, text),
    };
  }

  private makeTransferView(): TransferSession {
    const session = this;
    return {
      files: session.files,
      params: session.params,
      peer: session.peer,
      log: session.log,
      xferlog: session.ctx.xferlog,
      get user() {
        return session.currentUser;
      },
      // A client that closed (or half-closed) its control connection did not stay
      // for the result: its upload is not committed (upload.ts).
      get controlGone() {
        return session.closed || session.clientEnded;
      },
      begin(t: Transfer) {
        session.transfer = t;
        session.idleTimer?.cancel();
      },
      end() {
        session.transfer = undefined;
        if (session.quitAfterTransfer && !session.closed) session.replyAndClose(221, `Thank you for visiting ${session.opts.siteName}.`);
      },
    };
  }

  private makeFileView(): FileSession {
    const session = this;
    return {
      options: session.opts,
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
        return session.params.type;
      },
      get mlstFacts() {
        return session.params.mlstFacts;
      },
      reply: (code: number, text: string | readonly string[]) => session.reply(code, text),
    };
  }

  private feat(): void {
    // RFC 2389 3.2: each feature on its own line, starting with one space.
    this.reply(211, [
      'Features:',
      ' EPRT',
      ' EPSV',
      ' MDTM',
      ` ${mlstFeatLine(this.params.mlstFacts)}`,
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

  private async stat(arg: string): Promise<void> {
    if (arg.trim() !== '') return statusOfPath(this.files, arg);
    const u = this.isLoggedIn ? this.currentUser : undefined;
    this.reply(211, [
      `${this.opts.siteName} FTP server status:`,
      `     Connected to ${this.peer}`,
      `     Logged in as ${u ? u.name : '(nobody)'}`,
      `     TYPE: ${this.params.modeName}, STRU: File, MODE: Stream`,
      `     Data connection: ${this.params.dataMode}`,
      `     Listings stop at ${this.opts.maxListEntries} entries`,
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
