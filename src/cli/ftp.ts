import { promises as fsp } from 'node:fs';
import * as readline from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { FtpShell, splitCommands } from '../ftp/client/shell.js';
import { addHostOptions, parseIntArg, startHost, usageError } from './common.js';
import { addFtpOptions, checkFtpOptions, createClient, finishFtp, progressBar, type FtpCommonCliOptions } from './ftp-client-setup.js';
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
        .option('--binary', 'start in binary mode (default: ascii until SYST says "UNIX Type: L8", then binary, as tnftp)')
        .option('--ascii', 'stay in ascii and send no SYST: the seed session exactly (text files only)')
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
      if (opts.ascii && opts.binary) usageError('--ascii and --binary cannot be used together');
      let scripted: string[] | undefined;
      if (opts.command !== undefined) scripted = splitCommands(opts.command);
      else if (opts.script !== undefined) {
        const text = await fsp.readFile(opts.script, 'utf8').catch((err: Error) => usageError(`--script: ${err.message}`));
        scripted = text.split(/\r?\n/).filter(isCommandLine);
      }
      const interactive = scripted === undefined && process.stdin.isTTY === true;

      const run = startHost(opts);
      // RFC 959 4.1.2 (TYPE): the default type is ASCII (the seed session never sends
      // TYPE); the shell turns to binary after login when SYST says Unix, as tnftp.
      const client = createClient(run, config, opts.binary ? 'I' : 'A');
      const muted = new MutableOutput(process.stdout);
      let rl: readline.Interface | undefined;
      const shell = new FtpShell({
        client,
        out: process.stdout,
        clock: run.clock,
        verbose: opts.verbose ?? interactive,
        detectBinary: opts.ascii !== true,
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
