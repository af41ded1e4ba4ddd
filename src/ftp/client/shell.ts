import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type { Clock } from '../../stack/clock.js';
import type { FtpReply } from '../common/reply.js';
import type { FtpClient, TransferOptions } from './client.js';
import { FtpConnectionError, FtpReplyError, FtpSizeMismatchError } from './errors.js';
import { CrlfToLf } from '../common/ascii.js';
import { safeLocalPath } from './local-path.js';

/**
 * The command interpreter of `tapstack ftp`, modelled on BSD ftp(1). It is apart
 * from the CLI (readline, TAP device) so tests can drive it with strings.
 *
 * Each command returns true on success. In verbose mode the protocol exchange is
 * printed as BSD ftp does: our commands as `---> PORT 10,0,0,1,19,137`, the server's
 * replies as they came.
 */

/** Something that shows transfer progress (a cli-progress bar on a TTY). */
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
  /** Ask for a password (interactive only); undefined: no prompting. */
  askPassword?: (prompt: string) => Promise<string>;
  /** Ask for the login name after `open` (interactive only); undefined: don't log in. */
  askName?: (prompt: string) => Promise<string>;
  /** Make a progress display for a transfer of `name` (only when `progress` is on). */
  progressFactory?: (name: string) => ProgressDisplay;
  /** Default login for `open` when no user is given. */
  defaultUser?: string;
  defaultPassword?: string;
  /**
   * After each login send SYST and, on "215 UNIX Type: L8", switch to binary, as tnftp
   * does (default true). Off only to replay the seed session, which stays in ASCII.
   */
  detectBinary?: boolean;
}

interface CommandSpec {
  names: string[];
  usage: string;
  help: string;
  /** Needs an open connection: checked ("Not connected.") before the arguments. */
  connected?: true;
  /** At least this many arguments, or `usage` is printed. */
  minArgs?: number;
  run: (shell: FtpShell, args: string[]) => Promise<boolean>;
}

/** Split a command line into words; "double" and 'single' quotes group words. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let inWord = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Split `-c "cmd; cmd"` into commands (a ';' inside quotes stays). */
export function splitCommands(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === ';' || ch === '\n') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

export class FtpShell {
  readonly client: FtpClient;
  verbose: boolean;
  hash = false;
  progress = false;
  localDir: string;
  /** Set by bye/quit: the caller should stop reading commands. */
  done = false;
  /** Remote names of the current directory, for tab completion (cleared by cd and writes). */
  private nameCache: string[] | undefined;
  private quiet = false;

  constructor(private readonly options: ShellOptions) {
    this.client = options.client;
    this.verbose = options.verbose ?? true;
    this.localDir = options.localDir ?? process.cwd();
    this.client.on('command', (line: string) => {
      if (this.verbose && !this.quiet) this.print(`---> ${line}`);
    });
    // BSD ftp: "Connected to host (address)." comes before the server's greeting.
    this.client.on('connect', (c: { host: string; address: string }) => {
      if (!this.quiet) this.print(this.verbose ? `Connected to ${c.host} (${c.address}).` : `Connected to ${c.host}.`);
    });
    this.client.on('reply', (reply: FtpReply) => {
      if (this.verbose && !this.quiet) this.print(reply.lines.join('\n'));
    });
  }

  print(text: string): void {
    this.options.out.write(`${text}\n`);
  }

  /** Every command name, for completion and help. */
  static commandNames(): string[] {
    return COMMANDS.flatMap((c) => c.names).sort();
  }

  /** Run one command line; false when it failed. Never throws. */
  async execute(line: string): Promise<boolean> {
    const words = splitWords(line.trim());
    if (words.length === 0) return true;
    const name = words[0]!.toLowerCase();
    let spec = COMMANDS.find((c) => c.names.includes(name));
    if (!spec) {
      // BSD ftp: a unique prefix of a command is the command ("di" is dir).
      const matches = COMMANDS.filter((c) => c.names.some((n) => n.startsWith(name)));
      if (matches.length > 1) {
        this.print('?Ambiguous command.');
        return false;
      }
      spec = matches[0];
    }
    if (!spec) {
      this.print('?Invalid command.');
      return false;
    }
    const args = words.slice(1);
    if (spec.connected && !this.requireConnection()) return false;
    if (args.length < (spec.minArgs ?? 0)) {
      this.print(`usage: ${spec.usage}`);
      return false;
    }
    try {
      return await spec.run(this, args);
    } catch (err) {
      this.report(err);
      return false;
    }
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

  private report(err: unknown): void {
    if (err instanceof FtpReplyError) {
      // In verbose mode the reply is already on the screen.
      if (!this.verbose) this.print(`${err.code} ${err.text}`);
      return;
    }
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

  async open(host: string, port: number, user?: string, password?: string): Promise<boolean> {
    if (this.client.connected) await this.client.quit();
    this.invalidateNames();
    await this.client.connect(host, port);
    let u = user ?? this.options.defaultUser;
    // BSD ftp asks for the name right after connecting (Enter means anonymous).
    if (u === undefined && this.options.askName) u = (await this.options.askName(`Name (${host}:anonymous): `)).trim() || 'anonymous';
    if (u === undefined) return true;
    return this.login(u, password ?? this.options.defaultPassword);
  }

  async login(user: string, password?: string): Promise<boolean> {
    let pass = password;
    if (pass === undefined) {
      const anonymous = user === 'anonymous' || user === 'ftp';
      if (anonymous) pass = 'guest@';
      else if (this.options.askPassword) pass = await this.options.askPassword('Password:');
      else pass = '';
    }
    await this.client.login(user, pass);
    if (this.options.detectBinary ?? true) await this.chooseTypeFromSystem();
    return true;
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
      this.client.type = 'I';
      if (this.verbose) this.print('Using binary mode to transfer files.');
    }
  }

  /** Options for one transfer: hash marks or a progress bar, as toggled. */
  transferOptions(name: string): { options: TransferOptions; finish: () => void } {
    let display: ProgressDisplay | undefined;
    if (this.progress && this.options.progressFactory) display = this.options.progressFactory(name);
    let marks = 0;
    const options: TransferOptions = {
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
        display?.stop();
        if (this.hash && marks > 0) this.options.out.write('\n');
      },
    };
  }

  summary(bytes: number, verb: 'received' | 'sent', startedAt: number): void {
    if (!this.verbose) return;
    const secs = Math.max(0.001, (this.options.clock.now() - startedAt) / 1000);
    const rate = bytes / secs / 1024;
    this.print(`${bytes} bytes ${verb} in ${secs.toFixed(2)} secs (${rate.toFixed(2)} KB/s)`);
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

  async get(remote: string, local: string | undefined, resume: boolean): Promise<boolean> {
    if (!this.requireConnection()) return false;
    const target = local === undefined ? safeLocalPath(this.localDir, remote) : path.resolve(this.localDir, local);
    if (this.verbose) this.print(`local: ${local ?? path.basename(target)} remote: ${remote}`);
    const started = this.now();
    const t = this.transferOptions(remote);
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
    const t = this.transferOptions(target);
    try {
      const res = await this.client.put(source, target, { ...t.options, append: mode === 'append' });
      t.finish();
      this.invalidateNames();
      this.summary(res.bytes, 'sent', started);
      return true;
    } catch (err) {
      t.finish();
      throw err;
    }
  }

  async localGlob(pattern: string): Promise<string[]> {
    if (!/[*?]/.test(pattern)) return [pattern];
    const dir = path.dirname(pattern);
    const re = globToRegExp(path.basename(pattern));
    const names = await fsp.readdir(path.resolve(this.localDir, dir)).catch(() => [] as string[]);
    return names.filter((n) => re.test(n) && !n.startsWith('.')).sort().map((n) => (dir === '.' ? n : path.join(dir, n)));
  }

  status(): void {
    const c = this.client;
    const remote = c.remote;
    this.print(remote ? `Connected to ${remote.address} port ${remote.port}.` : 'Not connected.');
    this.print(`Mode: ${c.mode}; Type: ${c.type === 'A' ? 'ascii' : 'binary'}; Verbose: ${on(this.verbose)}; Hash: ${on(this.hash)}; Progress: ${on(this.progress)}`);
    this.print(`Passive: EPSV ${on(c.useEpsv)}, trust 227 address ${on(c.trustPasvAddress)}; Active: EPRT ${on(c.useEprt)}`);
    this.print(`Local directory: ${this.localDir}`);
  }
}

const on = (b: boolean) => (b ? 'on' : 'off');

/** For commands that change the remote directory or its contents: the cached names are stale. */
async function forgetNamesAfter(shell: FtpShell, op: Promise<unknown>): Promise<boolean> {
  await op;
  shell.invalidateNames();
  return true;
}

function toggle(current: boolean, arg: string | undefined): boolean {
  if (arg === undefined) return !current;
  return arg.toLowerCase() === 'on';
}

const COMMANDS: CommandSpec[] = [
  {
    names: ['open'],
    usage: 'open host [port]',
    help: 'connect to remote ftp server',
    minArgs: 1,
    run: async (s, a) => {
      const port = a[1] !== undefined ? Number(a[1]) : 21;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        s.print(`ftp: bad port: ${a[1]}`);
        return false;
      }
      return s.open(a[0]!, port);
    },
  },
  {
    names: ['user'],
    usage: 'user username [password]',
    help: 'send new user information',
    connected: true,
    minArgs: 1,
    run: (s, a) => s.login(a[0]!, a[1]),
  },
  {
    names: ['ls', 'dir'],
    usage: 'ls [remote-directory] [local-file]',
    help: 'list contents of remote directory',
    connected: true,
    run: (s, a) => s.listInto('LIST', a),
  },
  {
    names: ['nlist'],
    usage: 'nlist [remote-directory] [local-file]',
    help: 'nlist contents of remote directory',
    connected: true,
    run: (s, a) => s.listInto('NLST', a),
  },
  {
    names: ['cd', 'cwd'],
    usage: 'cd remote-directory',
    help: 'change remote working directory',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.cwd(a[0]!)),
  },
  {
    names: ['cdup'],
    usage: 'cdup',
    help: 'change remote working directory to parent directory',
    connected: true,
    run: (s) => forgetNamesAfter(s, s.client.cdup()),
  },
  {
    names: ['pwd'],
    usage: 'pwd',
    help: 'print working directory on remote machine',
    connected: true,
    run: async (s) => {
      const dir = await s.client.pwd();
      if (!s.verbose) s.print(`Remote directory: ${dir}`);
      return true;
    },
  },
  {
    names: ['lcd'],
    usage: 'lcd [local-directory]',
    help: 'change local working directory',
    run: async (s, a) => {
      const dir = path.resolve(s.localDir, a[0] ?? process.env['HOME'] ?? '.');
      const st = await fsp.stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) {
        s.print(`local: ${a[0]}: No such directory`);
        return false;
      }
      s.localDir = dir;
      s.print(`Local directory now: ${dir}`);
      return true;
    },
  },
  // get, reget, put and append check the connection themselves (mget and mput call them
  // too), after the arguments.
  {
    names: ['get', 'recv'],
    usage: 'get remote-file [local-file]',
    help: 'receive file',
    minArgs: 1,
    run: (s, a) => s.get(a[0]!, a[1], false),
  },
  {
    names: ['reget'],
    usage: 'reget remote-file [local-file]',
    help: 'get file restarting at end of local file',
    minArgs: 1,
    run: (s, a) => s.get(a[0]!, a[1], true),
  },
  {
    names: ['mget'],
    usage: 'mget remote-files',
    help: 'get multiple files',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      let ok = true;
      for (const pattern of a) {
        // The server expands the pattern (NLST); each name it returns is only a
        // suggestion for the local name: safeLocalPath keeps it inside our directory.
        const names = await s.client.nlst(pattern);
        for (const name of names) ok = (await s.get(name, undefined, false).catch((e: unknown) => (s.print(`ftp: ${(e as Error).message}`), false))) && ok;
      }
      return ok;
    },
  },
  {
    names: ['put', 'send'],
    usage: 'put local-file [remote-file]',
    help: 'send one file',
    minArgs: 1,
    run: (s, a) => s.put(a[0]!, a[1], 'put'),
  },
  {
    names: ['append'],
    usage: 'append local-file [remote-file]',
    help: 'append to a file',
    minArgs: 1,
    run: (s, a) => s.put(a[0]!, a[1], 'append'),
  },
  {
    names: ['mput'],
    usage: 'mput local-files',
    help: 'send multiple files',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      let ok = true;
      for (const pattern of a) {
        for (const file of await s.localGlob(pattern)) ok = (await s.put(file, path.basename(file), 'put')) && ok;
      }
      return ok;
    },
  },
  {
    names: ['mkdir'],
    usage: 'mkdir directory-name',
    help: 'make directory on the remote machine',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.mkdir(a[0]!)),
  },
  {
    names: ['rmdir'],
    usage: 'rmdir directory-name',
    help: 'remove directory on the remote machine',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.rmdir(a[0]!)),
  },
  {
    names: ['delete'],
    usage: 'delete remote-file',
    help: 'delete remote file',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.delete(a[0]!)),
  },
  {
    names: ['rename'],
    usage: 'rename from-name to-name',
    help: 'rename file',
    connected: true,
    minArgs: 2,
    run: (s, a) => forgetNamesAfter(s, s.client.rename(a[0]!, a[1]!)),
  },
  {
    names: ['size'],
    usage: 'size remote-file',
    help: 'show size of remote file',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const n = await s.client.size(a[0]!);
      if (!s.verbose) s.print(`${a[0]}\t${n}`);
      return true;
    },
  },
  {
    names: ['modtime'],
    usage: 'modtime remote-file',
    help: 'show last modification time of remote file',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const d = await s.client.mdtm(a[0]!);
      s.print(`${a[0]}\t${d.toUTCString()}`);
      return true;
    },
  },
  {
    names: ['binary', 'image'],
    usage: 'binary',
    help: 'set binary transfer type',
    run: async (s) => {
      s.client.type = 'I';
      if (!s.verbose) s.print('200 Type set to I.');
      return true;
    },
  },
  {
    names: ['ascii'],
    usage: 'ascii',
    help: 'set ascii transfer type',
    run: async (s) => {
      s.client.type = 'A';
      if (!s.verbose) s.print('200 Type set to A.');
      return true;
    },
  },
  {
    names: ['type'],
    usage: 'type [ascii|binary]',
    help: 'set file transfer type',
    run: async (s, a) => {
      const t = a[0]?.toLowerCase();
      if (t === 'ascii' || t === 'a') s.client.type = 'A';
      else if (t === 'binary' || t === 'image' || t === 'i') s.client.type = 'I';
      else if (t !== undefined) {
        s.print(`${a[0]}: unknown mode.`);
        return false;
      }
      s.print(`Using ${s.client.type === 'A' ? 'ascii' : 'binary'} mode to transfer files.`);
      return true;
    },
  },
  {
    names: ['passive'],
    usage: 'passive [on|off]',
    help: 'toggle passive transfer mode',
    run: async (s, a) => {
      const passive = toggle(s.client.mode === 'passive', a[0]);
      s.client.mode = passive ? 'passive' : 'active';
      s.print(`Passive mode: ${on(passive)}.`);
      return true;
    },
  },
  {
    names: ['verbose'],
    usage: 'verbose [on|off]',
    help: 'toggle verbose mode (show the protocol exchange)',
    run: async (s, a) => {
      s.verbose = toggle(s.verbose, a[0]);
      s.print(`Verbose mode: ${on(s.verbose)}.`);
      return true;
    },
  },
  {
    names: ['hash'],
    usage: 'hash [on|off]',
    help: 'toggle printing `#\' for each kilobyte transferred',
    run: async (s, a) => {
      s.hash = toggle(s.hash, a[0]);
      s.print(`Hash mark printing: ${on(s.hash)} (1024 bytes/hash mark).`);
      return true;
    },
  },
  {
    names: ['progress'],
    usage: 'progress [on|off]',
    help: 'toggle the progress bar (on a terminal)',
    run: async (s, a) => {
      s.progress = toggle(s.progress, a[0]);
      s.print(`Progress bar: ${on(s.progress)}.`);
      return true;
    },
  },
  {
    names: ['status'],
    usage: 'status',
    help: 'show current status',
    run: async (s) => {
      s.status();
      return true;
    },
  },
  {
    names: ['quote', 'literal'],
    usage: 'quote line-to-send',
    help: 'send arbitrary ftp command',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const reply = await s.client.raw(a.join(' '));
      if (!s.verbose) s.print(reply.lines.join('\n'));
      return reply.code < 400;
    },
  },
  {
    names: ['site'],
    usage: 'site arguments',
    help: 'send site specific command to remote server',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const reply = await s.client.site(a.join(' '));
      if (!s.verbose) s.print(reply.lines.join('\n'));
      return true;
    },
  },
  {
    names: ['close', 'disconnect'],
    usage: 'close',
    help: 'terminate ftp session',
    connected: true,
    run: async (s) => {
      await s.client.quit();
      return true;
    },
  },
  {
    names: ['bye', 'quit', 'exit'],
    usage: 'bye',
    help: 'terminate ftp session and exit',
    run: async (s) => {
      if (s.client.connected) await s.client.quit();
      s.done = true;
      return true;
    },
  },
  {
    names: ['help', '?'],
    usage: 'help [command]',
    help: 'print local help information',
    run: async (s, a) => {
      if (a.length > 0) {
        let ok = true;
        for (const name of a) {
          const spec = COMMANDS.find((c) => c.names.includes(name.toLowerCase()));
          if (spec) s.print(`${name.padEnd(12)}${spec.help}\n${' '.repeat(12)}usage: ${spec.usage}`);
          else {
            s.print(`?Invalid help command ${name}`);
            ok = false;
          }
        }
        return ok;
      }
      s.print('Commands may be abbreviated.  Commands are:\n');
      const names = FtpShell.commandNames();
      for (let i = 0; i < names.length; i += 5) s.print(names.slice(i, i + 5).map((n) => n.padEnd(14)).join('').trimEnd());
      return true;
    },
  },
];
