import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Command } from 'commander';
import { FtpShell } from '../ftp/client/shell.js';
import { splitCommands } from '../ftp/client/shell-words.js';
import type { FtpUrl } from '../ftp/client/url.js';
import { addHostOptions, parseIntArg, startHost, usageError } from './common.js';
import { addFtpOptions, checkFtpOptions, createClient, finishFtp, progressBar, urlArg, type FtpCommonCliOptions } from './ftp-client-setup.js';
import { FtpTerminal } from './ftp-terminal.js';
import { register as registerGet } from './get.js';
import { register as registerPut } from './put.js';

interface FtpCliOptions extends FtpCommonCliOptions {
  user?: string;
  password?: string;
  port?: string;
  command?: string;
  script?: string;
  binary?: boolean;
  ascii?: boolean;
  debug?: boolean;
  netrc?: boolean;
}

/** What the HOST argument asks for: a host (maybe user@host), or an ftp:// URL. */
interface Target {
  host: string;
  port: number | undefined;
  user?: string;
  password?: string;
  /** ftp://host/dir/: change into it after login. */
  dir?: string;
  /** ftp://host/path/file: fetch it and exit (tnftp's auto-fetch). */
  fetch?: FtpUrl;
}

/** `ftp.example.com`, `alice@ftp.example.com`, or `ftp://[user[:pass]@]host[:port]/path` as tnftp reads them. */
function parseTarget(arg: string): Target {
  if (/^ftp:\/\//i.test(arg)) {
    const url = urlArg(arg);
    const t: Target = { host: url.host, port: url.port };
    // tnftp: a URL without a user logs in anonymously, without asking.
    t.user = url.user ?? 'anonymous';
    if (url.password !== undefined) t.password = url.password;
    else if (url.user === undefined) t.password = 'guest@';
    if (url.isDirectory || url.type === 'D') {
      if (url.path !== '') t.dir = url.path.replace(/\/$/, '') || '/';
    } else {
      t.fetch = url;
    }
    return t;
  }
  const at = arg.lastIndexOf('@');
  if (at > 0) return { host: arg.slice(at + 1), port: undefined, user: arg.slice(0, at) };
  return { host: arg, port: undefined };
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
        .argument('[host]', 'host, user@host, or ftp://[user[:password]@]host[:port]/path (a file: fetch it and exit)')
        .option('--user <name>', 'log in as this user (default: .netrc, else anonymous, or asked interactively)')
        .option('--password <password>', 'password for --user (default for anonymous: guest@)')
        .option('--port <n>', 'control port of the server', '21')
        .option('-c, --command <commands>', 'run these commands, separated by ";", then exit')
        .option('--script <file>', 'run the commands in FILE (one a line), then exit')
        .option('--binary', 'start in binary mode (default: ascii until SYST says "UNIX Type: L8", then binary, as tnftp)')
        .option('--ascii', 'stay in ascii and send no SYST: the seed session exactly (text files only)')
        .option('-v, --verbose', "show the server's replies (default on in the interactive shell)")
        .option('-d, --debug', 'show the commands sent (---> PORT ...)')
        .option('--no-netrc', 'do not read ~/.netrc for auto-login'),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  tapstack ftp ftp.any-domain.com --tap tap0 --ip 192.168.0.2/24 --dns 192.168.0.1 --active\n' +
        '  tapstack ftp 192.168.0.1 --tap tap0 --ip 192.168.0.2/24 --user ftp --password abc@any-domain.com -v -d -c "dir; cd pub; get readme.txt; bye"\n' +
        '  tapstack ftp ftp://192.168.0.1/pub/readme.txt --tap tap0 --ip 192.168.0.2/24',
    )
    .action(async (hostArg: string | undefined, opts: FtpCliOptions) => {
      const target = hostArg !== undefined ? parseTarget(hostArg) : undefined;
      const port = target?.port ?? parseIntArg('--port', opts.port ?? '21', 1, 65535);
      const config = checkFtpOptions(opts, 'active');
      if (opts.command !== undefined && opts.script !== undefined) usageError('-c and --script cannot be used together');
      if (opts.ascii && opts.binary) usageError('--ascii and --binary cannot be used together');
      let scripted: string[] | undefined;
      if (opts.command !== undefined) scripted = splitCommands(opts.command);
      else if (opts.script !== undefined) {
        const text = await fsp.readFile(opts.script, 'utf8').catch((err: Error) => usageError(`--script: ${err.message}`));
        scripted = text.split(/\r?\n/).filter(isCommandLine);
      }
      const interactive = scripted === undefined && target?.fetch === undefined && process.stdin.isTTY === true;

      const run = startHost(opts);
      // RFC 959 4.1.2 (TYPE): the default type is ASCII (the seed session never sends
      // TYPE); the shell turns to binary after login when SYST says Unix, as tnftp.
      const client = createClient(run, config, opts.binary ? 'I' : 'A');
      let terminal: FtpTerminal | undefined;
      const shell = new FtpShell({
        client,
        out: process.stdout,
        clock: run.clock,
        verbose: opts.verbose ?? interactive,
        debug: opts.debug === true,
        detectBinary: opts.ascii !== true,
        progressFactory: (name, startedAt) => progressBar(name, startedAt, run.clock) ?? { update() {}, stop() {} },
        ...(opts.user !== undefined ? { defaultUser: opts.user } : interactive ? {} : { defaultUser: 'anonymous' }),
        ...(opts.password !== undefined ? { defaultPassword: opts.password } : {}),
        ...(opts.netrc !== false ? { netrcPath: process.env['NETRC'] ?? path.join(os.homedir(), '.netrc') } : {}),
        childStdio: 'inherit',
        ...(interactive
          ? {
              ask: (prompt: string) => terminal!.ask(prompt),
              askSecret: (prompt: string) => terminal!.ask(prompt, true),
              suspendTerminal: () => terminal!.suspend(),
            }
          : {}),
      });
      shell.progress = process.stderr.isTTY === true;

      /** Open the HOST argument: connect, log in, cd into a URL's directory. */
      const openTarget = async (): Promise<boolean> => {
        if (!target) return true;
        try {
          if (!(await shell.open(target.host, port, target.user ?? opts.user, target.password ?? opts.password))) return false;
        } catch (err) {
          shell.print(`ftp: ${(err as Error).message}`);
          return false;
        }
        return target.dir === undefined || shell.execute(`cd ${quote(target.dir)}`);
      };

      if (target?.fetch) {
        // tnftp's auto-fetch: ftp ftp://host/path/file downloads it here and exits.
        const url = target.fetch;
        let ok = await openTarget();
        if (ok && url.type !== undefined) ok = await shell.execute(url.type === 'A' ? 'ascii' : 'binary');
        if (ok) ok = await shell.get(url.path, undefined, false).catch((err: unknown) => (shell.print(`ftp: ${(err as Error).message}`), false));
        if (client.connected) await client.quit().catch(() => undefined);
        await finishFtp(run, ok ? 0 : 1);
        return;
      }

      if (!interactive) {
        const lines = scripted ?? (await readAllLines(process.stdin));
        let code = (await openTarget()) ? 0 : 1;
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

      let finished = false;
      const finish = async (code: number) => {
        if (finished) return;
        finished = true;
        terminal?.close();
        if (client.connected) await client.quit().catch(() => undefined);
        await finishFtp(run, code);
      };
      let running = 0;
      let busy = Promise.resolve();
      terminal = new FtpTerminal({
        onLine: (line) => {
          busy = busy.then(async () => {
            running++;
            await shell.execute(line).finally(() => running--);
            if (shell.done) return finish(0);
            terminal?.prompt();
          });
        },
        // Ctrl-D at ftp>: leave, as BSD ftp does (after the command in progress).
        onEnd: () => void busy.then(() => finish(0)),
        // Ctrl-C, as in BSD ftp: during a transfer it aborts the transfer and the
        // session goes on; at the prompt it clears the line.
        onInterrupt: () => {
          if (running > 0) {
            shell.interrupt();
            return;
          }
          terminal?.clearLine();
        },
        completer: (line, callback) => {
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
      process.once('SIGTERM', () => void finish(143));
      busy = busy.then(async () => {
        running++;
        await openTarget().finally(() => running--);
        terminal?.prompt();
      });
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
