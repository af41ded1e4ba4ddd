import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import picomatch from 'picomatch';
import type { Clock } from '../../stack/clock.js';
import type { FtpReply } from '../common/reply.js';
import { CrlfToLf } from '../common/ascii.js';
import type { FtpClient } from './client.js';
import type { TransferOptions } from './options.js';
import { FtpConnectionError, FtpReplyError, FtpSizeMismatchError } from './errors.js';
import { safeLocalPath } from './local-path.js';
import { lookupNetrc } from './netrc.js';
import { COMMANDS, findCommand } from './shell-commands.js';
import { on } from './shell-spec.js';
import { splitWords } from './shell-words.js';

/**
 * The command interpreter of `tapstack ftp`, modelled on BSD ftp(1) (tnftp). It is
 * apart from the CLI (readline, TAP device) so tests can drive it with strings. The
 * commands themselves are in shell-commands*.ts.
 *
 * Each command returns true on success. As in BSD ftp, `verbose` shows the server's
 * replies and transfer summaries, `debug` shows our commands as `---> PORT ...`.
 */

/**
 * Something that shows transfer progress (a cli-progress bar on a TTY). stop() ends a
 * display that has shown something (later updates are ignored); before its first
 * update it changes nothing.
 */
export interface ProgressDisplay {
  update(bytes: number, total: number | undefined): void;
  stop(): void;
}

export interface ShellOptions {
  client: FtpClient;
  out: Writable;
  /** For rates in transfer summaries. */
  clock: Clock;
  /** Local directory for get/put (lcd changes it). Default process.cwd(). */
  localDir?: string;
  verbose?: boolean;
  /** Show the commands we send (`---> USER ftp`). Default false. */
  debug?: boolean;
  /**
   * Ask the person at the keyboard (interactive only): resolves with the answer, or
   * undefined for end of input (Ctrl-D). Without it the shell never asks: no login
   * prompts, no per-file questions.
   */
  ask?: (prompt: string) => Promise<string | undefined>;
  /** As `ask`, without echoing what is typed (passwords). */
  askSecret?: (prompt: string) => Promise<string | undefined>;
  /** Make a progress display for a transfer of `name` that started at `startedAt` (clock ms). */
  progressFactory?: (name: string, startedAt: number) => ProgressDisplay;
  /** Default login for `open` when no user is given (and no .netrc entry). */
  defaultUser?: string;
  defaultPassword?: string;
  /**
   * After each login send SYST and, on "215 UNIX Type: L8", switch to binary, as tnftp
   * does (default true). Off only to replay the seed session, which stays in ASCII.
   */
  detectBinary?: boolean;
  /** The .netrc to read at `open` (BSD ftp auto-login); undefined: none. */
  netrcPath?: string;
  /**
   * How `!` and `page` run local programs: 'inherit' gives them our terminal (the CLI),
   * 'pipe' (default) copies their output to `out` (tests, scripts).
   */
  childStdio?: 'inherit' | 'pipe';
  /** Give the terminal to a child program; returns how to take it back (the CLI's readline). */
  suspendTerminal?: () => () => void;
}

/** The answer to a per-file question of mget, mput or mdelete. */
type Confirm = 'yes' | 'no' | 'quit';

export class FtpShell {
  readonly client: FtpClient;
  verbose: boolean;
  debug: boolean;
  hash = false;
  progress = false;
  /** `prompt`: ask before each file of mget, mput and mdelete (on when someone can answer). */
  prompting: boolean;
  /** `sunique`: STOU instead of STOR. */
  storeUnique = false;
  /** `runique`: never overwrite a local file; add .1, .2, ... to the name instead. */
  receiveUnique = false;
  /** `rate`: bytes per second, per direction; undefined: no limit. */
  rate: { get: number | undefined; put: number | undefined } = { get: undefined, put: undefined };
  localDir: string;
  /** Set by bye/quit: the caller should stop reading commands. */
  done = false;
  /** Remote names of the current directory, for tab completion (cleared by cd and writes). */
  private nameCache: string[] | undefined;
  private quiet = false;
  /** The progress bar of the transfer in progress: ended before anything else is printed. */
  private display: ProgressDisplay | undefined;
  /** Answered 'a' (all) to a per-file question: no more questions in this command. */
  private yesToAll = false;

  constructor(readonly options: ShellOptions) {
    this.client = options.client;
    this.verbose = options.verbose ?? true;
    this.debug = options.debug ?? false;
    this.prompting = options.ask !== undefined;
    this.localDir = options.localDir ?? process.cwd();
    this.client.on('command', (line: string) => {
      if (this.debug && !this.quiet) this.print(`---> ${line}`);
    });
    // BSD ftp: "Connected to host." comes before the server's greeting.
    this.client.on('connect', (c: { host: string; address: string }) => {
      if (!this.quiet) this.print(this.verbose ? `Connected to ${c.host} (${c.address}).` : `Connected to ${c.host}.`);
    });
    this.client.on('reply', (reply: FtpReply) => {
      if (this.verbose && !this.quiet) this.print(reply.lines.join('\n'));
    });
  }

  print(text: string): void {
    // A progress bar redraws its line: end it first, so a reply (226) or a summary
    // gets a line of its own. (One that has not drawn yet, before the data, goes on.)
    this.display?.stop();
    this.options.out.write(`${text}\n`);
  }

  /** Every command name, for completion and help. */
  static commandNames(): string[] {
    return COMMANDS.flatMap((c) => c.names).sort();
  }

  /** Run one command line; false when it failed. Never throws. */
  async execute(line: string): Promise<boolean> {
    this.showFarewell();
    const trimmed = line.trim();
    // "!cmd": the rest of the line goes to the local shell as it is.
    const words = trimmed.startsWith('!') ? ['!', ...(trimmed.length > 1 ? [trimmed.slice(1).trim()] : [])] : splitWords(trimmed);
    if (words.length === 0) return true;
    const found = findCommand(words[0]!.toLowerCase());
    if (found === 'ambiguous') {
      this.print('?Ambiguous command.');
      return false;
    }
    if (!found) {
      this.print('?Invalid command.');
      return false;
    }
    const args = words.slice(1);
    if (found.connected && !this.requireConnection()) return false;
    if (args.length < (found.minArgs ?? 0)) {
      this.print(`usage: ${found.usage}`);
      return false;
    }
    this.yesToAll = false;
    try {
      return await found.run(this, args);
    } catch (err) {
      this.reportError(err);
      return false;
    }
  }

  /**
   * Ctrl-C during a command: stop the transfer in progress (the session goes on).
   * False when no transfer was running.
   */
  interrupt(): boolean {
    if (!this.client.abort()) return false;
    // Hash marks leave their line open; a progress bar ends its own (print stops it).
    this.print(this.hash ? '\ntransfer aborted' : 'transfer aborted');
    return true;
  }

  /** Remote names for tab completion of `prefix` (one quiet NLST per directory visit). */
  async complete(prefix: string): Promise<string[]> {
    if (!this.client.connected) return [];
    if (!this.nameCache) {
      this.quiet = true;
      try {
        this.nameCache = await this.client.nlst();
      } catch {
        this.nameCache = [];
      } finally {
        this.quiet = false;
      }
    }
    return this.nameCache.filter((n) => n.startsWith(prefix));
  }

  /** The server closed the session on its own (421 idle timeout): say what it said. */
  private showFarewell(): void {
    const farewell = this.client.takeFarewell();
    for (const reply of farewell) this.print(reply.lines.join('\n'));
  }

  /** A failed command in one line: the server's reply (unless verbose showed it), or what went wrong. */
  reportError(err: unknown): void {
    if (err instanceof FtpReplyError) {
      // In verbose mode the reply is already on the screen.
      if (!this.verbose) this.print(`${err.code} ${err.text}`);
      if (err.code === 421 && !this.client.connected) this.print('Not connected.');
      return;
    }
    // abort() (Ctrl-C): the person asked for it and has been told; the session goes on.
    if (err instanceof FtpConnectionError && err.code === 'ECONNABORTED' && this.client.connected) return;
    const kept = err instanceof FtpSizeMismatchError && err.keptPath ? ` (kept ${path.basename(err.keptPath)}; reget resumes it)` : '';
    this.print(`ftp: ${(err as Error).message ?? String(err)}${kept}`);
    if (err instanceof FtpConnectionError && !this.client.connected) this.print('Not connected.');
  }

  requireConnection(): boolean {
    if (this.client.connected) return true;
    this.print('Not connected.');
    return false;
  }

  invalidateNames(): void {
    this.nameCache = undefined;
  }

  // -------------------------------------------------------------------------
  // Login
  // -------------------------------------------------------------------------

  /** Connect, then log in as tnftp does: user given, else .netrc, else ask "Name". */
  async open(host: string, port: number, user?: string, password?: string): Promise<boolean> {
    if (this.client.connected) await this.client.quit();
    this.invalidateNames();
    await this.client.connect(host, port);
    let account: string | undefined;
    if (user === undefined && this.options.netrcPath !== undefined) {
      const found = await lookupNetrc(this.options.netrcPath, host);
      for (const line of found.refused ?? []) this.print(line);
      if (found.entry?.login !== undefined) {
        user = found.entry.login;
        password ??= found.entry.password;
        account = found.entry.account;
      }
    }
    if (user === undefined && this.options.defaultUser !== undefined) {
      user = this.options.defaultUser;
      password ??= this.options.defaultPassword;
    }
    if (user === undefined) {
      if (!this.options.ask) return true; // connected; `user` logs in
      const answer = await this.options.ask(`Name (${host}:anonymous): `);
      if (answer === undefined) return this.loginFailed();
      user = answer.trim() || 'anonymous';
    }
    return this.login(user, password, account);
  }

  /**
   * RFC 959 4.1.1 as tnftp: USER first; only a 331 asks for the password (also for
   * anonymous, whose password is an e-mail address by custom), a 332 for the account.
   * Ctrl-D at a question fails the login and returns to the prompt, connected.
   */
  async login(user: string, password?: string, account?: string): Promise<boolean> {
    let reply = await this.client.raw(`USER ${user}`);
    if (reply.code === 331) {
      let pass = password;
      if (pass === undefined && this.options.askSecret) {
        pass = await this.options.askSecret('Password:');
        if (pass === undefined) return this.loginFailed();
      }
      pass ??= user === 'anonymous' || user === 'ftp' ? 'guest@' : '';
      reply = await this.client.raw(`PASS ${pass}`);
    }
    if (reply.code === 332) {
      let acct = account;
      if (acct === undefined && this.options.ask) {
        acct = await this.options.ask('Account:');
        if (acct === undefined) return this.loginFailed();
      }
      reply = await this.client.raw(`ACCT ${acct ?? ''}`);
    }
    if (reply.code < 200 || reply.code >= 300) {
      if (!this.verbose) this.print(reply.lines.join('\n'));
      return this.loginFailed();
    }
    if (this.options.detectBinary ?? true) await this.chooseTypeFromSystem();
    return true;
  }

  private loginFailed(): false {
    this.print('Login failed.');
    return false;
  }

  /**
   * tnftp: a server that answers SYST with "UNIX Type: L8" stores files as 8-bit bytes,
   * so binary transfers them unchanged; ASCII (the RFC 959 default) would turn every
   * CRLF of a binary file into LF. Any other answer, or none, leaves the type alone.
   */
  private async chooseTypeFromSystem(): Promise<void> {
    const reply = await this.client.system().catch(() => undefined);
    if (!reply) return;
    // As tnftp, said in verbose mode only: stdout may carry a file (get FILE -).
    // RFC 959 4.1.3 SYST: the first word of the answer names the system.
    if (this.verbose) this.print(`Remote system type is ${reply.text.split(' ')[0]}.`);
    if (/^UNIX Type: L8/i.test(reply.text)) {
      // TYPE at once, as tnftp: what the screen says is what the server has been told.
      const typed = await this.client.raw('TYPE I');
      if (typed.code >= 400) return;
      this.client.type = 'I';
      if (this.verbose) this.print('Using binary mode to transfer files.');
    }
  }

  // -------------------------------------------------------------------------
  // Transfers
  // -------------------------------------------------------------------------

  /** Options for one transfer: hash marks or a progress bar, as toggled, and the rate. */
  transferOptions(name: string, direction: 'get' | 'put', startedAt: number): { options: TransferOptions; finish: () => void } {
    let display: ProgressDisplay | undefined;
    if (this.progress && this.options.progressFactory) display = this.options.progressFactory(name, startedAt);
    this.display = display;
    let marks = 0;
    const maxRate = this.rate[direction];
    const options: TransferOptions = {
      ...(maxRate !== undefined ? { maxRate } : {}),
      onProgress: (bytes, total) => {
        display?.update(bytes, total);
        if (this.hash) {
          const want = Math.floor(bytes / 1024);
          if (want > marks) {
            this.options.out.write('#'.repeat(want - marks));
            marks = want;
          }
        }
      },
    };
    return {
      options,
      finish: () => {
        if (this.display === display) this.display = undefined;
        display?.stop();
        if (this.hash && marks > 0) this.options.out.write('\n');
      },
    };
  }

  /** BSD ftp's summary line; the rate is the one the progress bar showed (bytes over time since the start). */
  summary(bytes: number, verb: 'received' | 'sent', startedAt: number): void {
    if (!this.verbose) return;
    const secs = Math.max(0.001, (this.options.clock.now() - startedAt) / 1000);
    this.print(`${bytes} bytes ${verb} in ${secs.toFixed(2)} secs (${formatRate(bytes / secs)})`);
  }

  now(): number {
    return this.options.clock.now();
  }

  async listInto(command: 'LIST' | 'NLST', args: string[]): Promise<boolean> {
    const [remote, local] = args;
    if (local !== undefined && local !== '-') {
      const text = command === 'LIST' ? await this.client.listRaw(remote) : (await this.client.nlst(remote)).join('\n') + '\n';
      await fsp.writeFile(path.resolve(this.localDir, local), text);
      return true;
    }
    // Print the lines as they arrive, between the 150 and the 226, as BSD ftp does.
    const out = this.options.out;
    const toScreen = new CrlfToLf();
    toScreen.on('data', (chunk: Buffer) => out.write(chunk));
    await this.client.listTo(toScreen, remote, command);
    toScreen.end();
    return true;
  }

  /** get/reget/newer: one download; `local` "-" writes to our output (stdout). */
  async get(remote: string, local: string | undefined, resume: boolean): Promise<boolean> {
    if (!this.requireConnection()) return false;
    if (local === '-') return this.getToOutput(remote);
    let target = local === undefined ? safeLocalPath(this.localDir, remote) : path.resolve(this.localDir, local);
    if (this.receiveUnique && !resume) {
      const unique = await uniqueLocalName(target);
      if (unique === undefined) {
        this.print(`ftp: ${target}: cannot find a unique name`);
        return false;
      }
      if (unique !== target && this.verbose) this.print(`Storing as ${path.basename(unique)}`);
      target = unique;
    }
    if (this.verbose) this.print(`local: ${local ?? path.basename(target)} remote: ${remote}`);
    const started = this.now();
    const t = this.transferOptions(remote, 'get', started);
    try {
      const res = await this.client.get(remote, target, { ...t.options, resume });
      t.finish();
      this.summary(res.bytes, 'received', started);
      return true;
    } catch (err) {
      t.finish();
      throw err;
    }
  }

  private async getToOutput(remote: string): Promise<boolean> {
    const started = this.now();
    const maxRate = this.rate.get;
    const bytes = await this.client.download(remote, this.options.out, { end: false, ...(maxRate !== undefined ? { maxRate } : {}) });
    this.summary(bytes, 'received', started);
    return true;
  }

  async put(local: string, remote: string | undefined, mode: 'put' | 'append'): Promise<boolean> {
    if (!this.requireConnection()) return false;
    const source = path.resolve(this.localDir, local);
    const st = await fsp.stat(source).catch(() => undefined);
    if (!st?.isFile()) {
      this.print(`local: ${local}: No such file`);
      return false;
    }
    const target = remote ?? path.basename(local);
    if (this.verbose) this.print(`local: ${local} remote: ${target}`);
    const started = this.now();
    const t = this.transferOptions(target, 'put', started);
    try {
      const res = await this.client.put(source, target, { ...t.options, append: mode === 'append', unique: this.storeUnique && mode === 'put' });
      t.finish();
      this.invalidateNames();
      this.summary(res.bytes, 'sent', started);
      return true;
    } catch (err) {
      t.finish();
      throw err;
    }
  }

  /** Local files matching a glob (picomatch), sorted; a name without wildcards as it is. */
  async localGlob(pattern: string): Promise<string[]> {
    if (!picomatch.scan(pattern).isGlob) return [pattern];
    const dir = path.dirname(pattern);
    const isMatch = picomatch(path.basename(pattern));
    const names = await fsp.readdir(path.resolve(this.localDir, dir)).catch(() => [] as string[]);
    return names.filter((n) => isMatch(n)).sort().map((n) => (dir === '.' ? n : path.join(dir, n)));
  }

  /**
   * mget/mput/mdelete: ask before each file while `prompt` is on, as tnftp:
   * "mget big.bin [anpqy?]? ". Enter or y: yes; n: no; a: yes to all the rest of this
   * command; p: prompting off (yes); q or Ctrl-D: stop the command.
   */
  async confirm(command: string, file: string): Promise<Confirm> {
    if (!this.prompting || this.yesToAll || !this.options.ask) return 'yes';
    for (;;) {
      const answer = await this.options.ask(`${command} ${file} [anpqy?]? `);
      if (answer === undefined) return 'quit';
      const a = answer.trim().toLowerCase();
      if (a === '' || a.startsWith('y')) return 'yes';
      if (a.startsWith('n')) return 'no';
      if (a.startsWith('q')) return 'quit';
      if (a.startsWith('a')) {
        this.yesToAll = true;
        return 'yes';
      }
      if (a.startsWith('p')) {
        this.prompting = false;
        this.print('Interactive mode: off.');
        return 'yes';
      }
      this.print('a  answer yes to all\nn  answer no\np  turn off prompt mode\nq  answer no to all\ny  answer yes');
    }
  }

  /**
   * Run a local program (`!`, `page`): `/bin/sh -c command` in the local directory, or
   * $SHELL alone without one; `args` become $1, $2, ... `input`, when given, writes its
   * stdin (a pager's text). Resolves with the exit code.
   */
  async runLocal(command: string | undefined, input?: (stdin: Writable) => Promise<void>, args: string[] = []): Promise<number> {
    const inherit = this.options.childStdio === 'inherit';
    const argv = command === undefined ? [process.env['SHELL'] || '/bin/sh'] : ['/bin/sh', '-c', command, 'sh', ...args];
    const resume = this.options.suspendTerminal?.();
    try {
      const child = spawn(argv[0]!, argv.slice(1), {
        cwd: this.localDir,
        stdio: [input ? 'pipe' : inherit ? 'inherit' : 'ignore', inherit ? 'inherit' : 'pipe', inherit ? 'inherit' : 'pipe'],
      });
      child.stdout?.on('data', (c: Buffer) => this.options.out.write(c));
      child.stderr?.on('data', (c: Buffer) => this.options.out.write(c));
      const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
      if (input && child.stdin) {
        child.stdin.on('error', () => undefined); // the pager quit early (EPIPE): fine
        try {
          await input(child.stdin);
        } finally {
          child.stdin.end();
        }
      }
      const [code] = await exited;
      return code ?? 1;
    } finally {
      resume?.();
    }
  }

  status(): void {
    const c = this.client;
    const remote = c.remote;
    this.print(remote ? `Connected to ${remote.address} port ${remote.port}.` : 'Not connected.');
    this.print(`Mode: ${c.mode}; Type: ${c.type === 'A' ? 'ascii' : 'binary'}; Verbose: ${on(this.verbose)}; Debugging: ${on(this.debug)}`);
    this.print(`Hash: ${on(this.hash)}; Progress: ${on(this.progress)}; Prompting: ${on(this.prompting)}; Store unique: ${on(this.storeUnique)}; Receive unique: ${on(this.receiveUnique)}`);
    this.print(`Rate: get ${this.rate.get ?? 'unlimited'}, put ${this.rate.put ?? 'unlimited'} (bytes/s)`);
    this.print(`Passive: EPSV ${on(c.useEpsv)}, trust 227 address ${on(c.trustPasvAddress)}; Active: EPRT ${on(c.useEprt)}`);
    this.print(`Local directory: ${this.localDir}`);
  }
}

/** Bytes per second as BSD ftp prints it: KiB/s, or MiB/s from 1 MiB/s up. */
export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond >= 1024 * 1024 ? `${(bytesPerSecond / 1024 / 1024).toFixed(2)} MiB/s` : `${(bytesPerSecond / 1024).toFixed(2)} KiB/s`;
}

/** `runique`: the name itself if free, else name.1 ... name.99 (BSD ftp gunique). */
async function uniqueLocalName(target: string): Promise<string | undefined> {
  const taken = (p: string) => fsp.stat(p).then(() => true, () => false);
  if (!(await taken(target))) return target;
  for (let i = 1; i < 100; i++) if (!(await taken(`${target}.${i}`))) return `${target}.${i}`;
  return undefined;
}
