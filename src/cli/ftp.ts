import { promises as fsp } from 'node:fs';
import * as readline from 'node:readline';
import { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { Resolver } from '../dns/resolver.js';
import type { TcpApi, TcpSocketLike } from '../tcp/api.js';
import { FtpClient, type DataMode, type TransferType } from '../ftp/client/client.js';
import { FtpReplyError } from '../ftp/client/errors.js';
import { FtpShell, splitCommands, type ProgressDisplay } from '../ftp/client/shell.js';
import { parseFtpUrl, type FtpUrl } from '../ftp/client/url.js';
import { addHostOptions, checkDnsServerArgs, parseIntArg, startHost, stopHostWhenClosed, usageError, type HostCliOptions, type RunningHost } from './common.js';
import { register as registerGet } from './get.js';
import { register as registerPut } from './put.js';

/** Options shared by `ftp`, `get` and `put`. */
export interface FtpCommonCliOptions extends HostCliOptions {
  dns: string[];
  active?: boolean;
  passive?: boolean;
  activePortBase?: string;
  trustPasv?: boolean;
  timeout?: string;
  verbose?: boolean;
}

interface FtpCliOptions extends FtpCommonCliOptions {
  user?: string;
  password?: string;
  port?: string;
  command?: string;
  script?: string;
  binary?: boolean;
}

/** Add --dns, --active/--passive, --active-port-base, --trust-pasv, --timeout, -v. */
export function addFtpOptions(command: Command): Command {
  return command
    .option('--dns <server>', 'DNS server IPv4[:port] for host names; repeat for more', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--active', 'active mode: the server connects to us (PORT)')
    .option('--passive', 'passive mode: we connect to the server (EPSV, then PASV)')
    .option('--active-port-base <port>', 'first local data port in active mode; each transfer takes the next', '5001')
    .option('--trust-pasv', 'connect to the address inside a 227 reply (default: the control peer)')
    .option('--timeout <ms>', 'connect, reply and data idle timeout', '30000');
}

/** The FTP options, checked: what createClient needs besides the host. */
export interface FtpClientConfig {
  dns: string[];
  mode: DataMode;
  activePortBase: number;
  timeoutMs: number;
  trustPasv: boolean;
}

/**
 * Check the FTP options (exit 2 on a bad one) before the host starts. `defaultMode`
 * applies without --active or --passive: active for `ftp` (the seed session), passive
 * for `get` and `put`.
 */
export function checkFtpOptions(opts: FtpCommonCliOptions, defaultMode: DataMode): FtpClientConfig {
  if (opts.active && opts.passive) usageError('--active and --passive cannot be used together');
  checkDnsServerArgs(opts.dns);
  return {
    dns: opts.dns,
    mode: opts.active ? 'active' : opts.passive ? 'passive' : defaultMode,
    activePortBase: parseIntArg('--active-port-base', opts.activePortBase ?? '5001', 1024, 65535),
    timeoutMs: parseIntArg('--timeout', opts.timeout ?? '30000', 100, 3_600_000),
    trustPasv: opts.trustPasv === true,
  };
}

/** Every socket the client opened or accepted, per host: finishFtp waits for them to close. */
const tracked = new WeakMap<RunningHost, Set<TcpSocketLike>>();

function trackingTcp(run: RunningHost): TcpApi {
  const tcp = run.host.tcp;
  const sockets = new Set<TcpSocketLike>();
  tracked.set(run, sockets);
  return {
    connect(options, onConnect) {
      const s = tcp.connect(options, onConnect);
      sockets.add(s);
      return s;
    },
    listen(options, onConnection) {
      const server = tcp.listen(options, onConnection);
      server.on('connection', (s: TcpSocketLike) => sockets.add(s));
      return server;
    },
  };
}

/**
 * Stop the host once the last FIN/ACK exchanges of the client's connections are done
 * (at most `maxMs`): otherwise the server would see a RST where the seed shows FINs.
 */
export function finishFtp(run: RunningHost, code: number, maxMs = 2000): Promise<void> {
  return stopHostWhenClosed(run, tracked.get(run) ?? [], code, maxMs);
}

/** An FtpClient on the host's TCP, resolving names with our own DNS resolver. */
export function createClient(run: RunningHost, config: FtpClientConfig, type: TransferType): FtpClient {
  const { host } = run;
  let resolver: Resolver | undefined;
  if (config.dns.length > 0) {
    resolver = new Resolver({ udp: host.udp, tcp: host.tcp, servers: config.dns, clock: host.clock, random: host.random, counters: host.counters });
  }
  return new FtpClient({
    tcp: trackingTcp(run),
    clock: host.clock,
    lookup: resolver
      ? async (name) => {
          const addrs = await resolver.resolve4(name);
          if (addrs.length === 0) throw new Error(`${name}: no IPv4 address`);
          return addrs[0]!;
        }
      : undefined,
    mode: config.mode,
    type,
    activePortBase: config.activePortBase,
    trustPasvAddress: config.trustPasv,
    connectTimeout: config.timeoutMs,
    replyTimeout: config.timeoutMs,
    dataTimeout: config.timeoutMs,
    counters: host.counters,
  });
}

/** Parse an ftp:// URL argument of `get` or `put`, exiting 2 (one line) when it is not one. */
export function urlArg(text: string): FtpUrl {
  try {
    return parseFtpUrl(text);
  } catch (err) {
    usageError((err as Error).message);
  }
}

/**
 * For `get` and `put`: with -v, echo the protocol exchange to stderr (stdout may carry
 * the file), then connect and log in as the URL says: anonymous (password guest@)
 * unless it names a user.
 */
export async function openUrl(client: FtpClient, url: FtpUrl, verbose: boolean): Promise<void> {
  if (verbose) {
    client.on('command', (l: string) => process.stderr.write(`---> ${l}\n`));
    client.on('reply', (r: { lines: string[] }) => process.stderr.write(`${r.lines.join('\n')}\n`));
  }
  await client.connect(url.host, url.port);
  await client.login(url.user ?? 'anonymous', url.password ?? (url.user === undefined ? 'guest@' : ''));
}

/** A failed one-shot transfer in one line: the server's reply, or the error's message. */
export function describeFailure(err: unknown): string {
  if (err instanceof FtpReplyError) return `${err.code} ${err.text.replace(/\n/g, ' ')}`;
  return (err as Error).message ?? String(err);
}

/** A cli-progress bar on stderr, only when stderr is a terminal. */
export function progressBar(name: string): ProgressDisplay | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${name.slice(-30)} |{bar}| {percentage}% {value}/{total} bytes {speed} ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const t0 = performance.now();
  return {
    update(bytes, total) {
      const speed = `${((bytes / Math.max(0.001, (performance.now() - t0) / 1000)) / 1024).toFixed(1)} KiB/s`;
      if (!started) {
        bar.start(total ?? 0, bytes, { speed });
        started = true;
      }
      if (total !== undefined && bar.getTotal() !== total) bar.setTotal(total);
      bar.update(bytes, { speed });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/**
 * `tapstack ftp [HOST]`: an interactive FTP client on our stack, like BSD ftp(1).
 * With -c "cmd; cmd", --script FILE or commands piped on stdin it runs them in order
 * and exits non-zero at the first that fails. Registers its one-shot siblings
 * `tapstack get URL` and `tapstack put FILE URL` too.
 */
export function register(program: Command): void {
  registerShell(program);
  registerGet(program);
  registerPut(program);
}

function registerShell(program: Command): void {
  addFtpOptions(
    addHostOptions(
      program
        .command('ftp')
        .description('FTP client on our stack: interactive shell like BSD ftp, or scripted with -c/--script/stdin')
        .argument('[host]', 'server name or IPv4 address to open at start')
        .option('--user <name>', 'log in as this user (default: anonymous, or asked interactively)')
        .option('--password <password>', 'password for --user (default for anonymous: guest@)')
        .option('--port <n>', 'control port of the server', '21')
        .option('-c, --command <commands>', 'run these commands, separated by ";", then exit')
        .option('--script <file>', 'run the commands in FILE (one a line), then exit')
        .option('--binary', 'start in binary mode (default: ascii, as RFC 959 and the seed session)')
        .option('-v, --verbose', 'show the protocol exchange (default on in the interactive shell)'),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  tapstack ftp ftp.any-domain.com --tap tap0 --ip 192.168.0.2/24 --dns 192.168.0.1 --active\n' +
        '  tapstack ftp 192.168.0.1 --tap tap0 --ip 192.168.0.2/24 --user ftp --password abc@any-domain.com -v -c "dir; cd pub; get readme.txt; bye"',
    )
    .action(async (hostArg: string | undefined, opts: FtpCliOptions) => {
      const port = parseIntArg('--port', opts.port ?? '21', 1, 65535);
      const config = checkFtpOptions(opts, 'active');
      if (opts.command !== undefined && opts.script !== undefined) usageError('-c and --script cannot be used together');
      let scripted: string[] | undefined;
      if (opts.command !== undefined) scripted = splitCommands(opts.command);
      else if (opts.script !== undefined) {
        const text = await fsp.readFile(opts.script, 'utf8').catch((err: Error) => usageError(`--script: ${err.message}`));
        scripted = text.split(/\r?\n/).filter(isCommandLine);
      }
      const interactive = scripted === undefined && process.stdin.isTTY === true;

      const run = startHost(opts);
      // RFC 959 4.1.2 (TYPE): the default type is ASCII, and the seed session never sends TYPE.
      const client = createClient(run, config, opts.binary ? 'I' : 'A');
      const muted = new MutableOutput(process.stdout);
      let rl: readline.Interface | undefined;
      const shell = new FtpShell({
        client,
        out: process.stdout,
        clock: run.clock,
        verbose: opts.verbose ?? interactive,
        progressFactory: (name) => progressBar(name) ?? { update() {}, stop() {} },
        defaultUser: opts.user ?? (interactive ? undefined : 'anonymous'),
        ...(opts.password !== undefined ? { defaultPassword: opts.password } : {}),
        ...(interactive
          ? {
              askPassword: async (prompt: string) => {
                const answer = await question(rl!, prompt, muted);
                process.stdout.write('\n');
                return answer;
              },
              askName: (prompt: string) => question(rl!, prompt),
            }
          : {}),
      });
      shell.progress = process.stderr.isTTY === true;

      if (!interactive) {
        const lines = scripted ?? (await readAllLines(process.stdin));
        let code = 0;
        if (hostArg !== undefined && !(await shell.execute(`open ${quote(hostArg)} ${port}`))) code = 1;
        for (const line of code === 0 ? lines : []) {
          if (!(await shell.execute(line))) {
            code = 1;
            break;
          }
          if (shell.done) break;
        }
        if (client.connected) await client.quit().catch(() => undefined);
        await finishFtp(run, code);
        return;
      }

      rl = readline.createInterface({
        input: process.stdin,
        output: muted,
        terminal: true,
        historySize: 500,
        completer: (line: string, callback: (err: Error | null, result: [string[], string]) => void) => {
          const words = line.split(/\s+/);
          if (words.length <= 1) {
            const hits = FtpShell.commandNames().filter((n) => n.startsWith(words[0] ?? ''));
            callback(null, [hits, words[0] ?? '']);
            return;
          }
          const last = words[words.length - 1]!;
          shell.complete(last).then(
            (hits) => callback(null, [hits, last]),
            () => callback(null, [[], last]),
          );
        },
      });
      rl.setPrompt('ftp> ');
      const finish = async (code: number) => {
        rl?.close();
        if (client.connected) await client.quit().catch(() => undefined);
        await finishFtp(run, code);
      };
      // Ctrl-C, as in BSD ftp: during a transfer it aborts the transfer and the session
      // goes on; at the prompt it clears the line. Ctrl-D or bye leaves.
      let running = 0;
      rl.on('SIGINT', () => {
        if (running > 0) {
          if (client.abort()) process.stdout.write('\ntransfer aborted\n');
          return;
        }
        process.stdout.write('^C\n');
        rl?.write(null, { ctrl: true, name: 'u' });
        rl?.prompt();
      });
      process.once('SIGTERM', () => void finish(143));

      if (hostArg !== undefined) await shell.execute(`open ${quote(hostArg)} ${port}`);
      rl.prompt();
      let busy = Promise.resolve();
      rl.on('line', (line) => {
        busy = busy.then(async () => {
          running++;
          await shell.execute(line).finally(() => running--);
          if (shell.done) return finish(0);
          rl?.prompt();
        });
      });
      rl.on('close', () => void busy.then(() => finish(0)));
    });
}

function quote(s: string): string {
  return /[\s"']/.test(s) ? `"${s.replace(/"/g, '')}"` : s;
}

/** In a --script file or on stdin, blank lines and '#' comments are not commands. */
function isCommandLine(line: string): boolean {
  return line.trim() !== '' && !line.trimStart().startsWith('#');
}

async function readAllLines(input: NodeJS.ReadableStream): Promise<string[]> {
  const lines: string[] = [];
  const rl = readline.createInterface({ input, terminal: false });
  for await (const line of rl) if (isCommandLine(line)) lines.push(line);
  return lines;
}

function question(rl: readline.Interface, prompt: string, muted?: MutableOutput): Promise<string> {
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      if (muted) muted.muted = false;
      resolve(answer);
    });
    if (muted) muted.muted = true; // after the prompt is written: hide what is typed
  });
}

/** stdout for readline that can hide echo (password prompts). */
class MutableOutput extends Writable {
  muted = false;
  readonly isTTY: boolean;
  constructor(private readonly target: NodeJS.WriteStream) {
    super();
    this.isTTY = target.isTTY === true;
  }
  get columns(): number {
    return this.target.columns ?? 80;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (!this.muted) this.target.write(chunk);
    done();
  }
}
