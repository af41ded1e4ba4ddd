import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNamespace, type ExecOptions, type ExecResult } from './netns.js';

/**
 * Running the compiled CLI (`dist/cli/main.js`) the way users run it, inside a private
 * namespace. Unlike createTestNet (netns.ts), where THIS process opens the TAP device,
 * here the TAP is a persistent device made inside the namespace with
 * `ip -n NS tuntap add`, so that the CLI, a separate process started with
 * `ip netns exec NS node dist/cli/main.js ...`, can open it by name. Nothing is
 * configured in the root namespace; deleting the namespace deletes the device.
 *
 *   const net = await createCliNamespace('cli');       // tap `net.dev`, kernel 10.0.0.1/24
 *   const r = await net.run(['ping', '10.0.0.1', '--tap', net.dev, '--ip', '10.0.0.2/24']);
 *   const up = net.start(['up', '--tap', net.dev, '--ip', '10.0.0.2/24']);
 *   await up.waitForLine();                            // its banner
 *   await net.exec('ping', ['-c', '1', '10.0.0.2']);   // a kernel-side tool
 *   up.child.kill('SIGINT');
 *   await net.destroy();
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The compiled CLI entry point. */
export const CLI = join(repoRoot, 'dist/cli/main.js');

/** Prefix for `via`: run the CLI as user nobody, without CAP_NET_ADMIN. */
export const AS_NOBODY: readonly string[] = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a local tool in the root namespace and wait for it (tshark on a capture, the
 * CLI's offline commands). Needs no network, so it stays synchronous.
 */
export function sh(cmd: string, args: readonly string[], opts: { input?: string } = {}): ShResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, input: opts.input });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Newest modification time of any file under a folder. */
function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * The CLI runs from dist/: rebuild it if any source is newer (CI builds it in npm ci).
 * tsc's exit code is not checked: it still emits when some other file being edited
 * has a type error, and the tests then say what is wrong with the CLI itself.
 */
export function ensureCliBuilt(): void {
  if (!existsSync(CLI) || newestMtime(join(repoRoot, 'src')) > statSync(CLI).mtimeMs) {
    sh('npx', ['tsc', '-p', join(repoRoot, 'tsconfig.build.json')]);
  }
}

export interface CliRunOptions extends ExecOptions {
  /** A command the CLI runs under, e.g. AS_NOBODY or a pseudo-terminal driver. */
  via?: readonly string[];
}

/** A CLI command left running: a server, or `up`, to be stopped with a signal. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything it has written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with stdout once it holds a whole line (the banner of a command that is
   *  up); rejects if the command exits first. */
  waitForLine(): Promise<string>;
  /** Resolves once it has exited, with its exit code and all its output. */
  readonly done: Promise<ExecResult>;
}

export interface CliNamespace {
  /** Namespace name, e.g. tapstack-cli-1234. */
  readonly ns: string;
  /** The persistent TAP device inside the namespace, for `--tap`. */
  readonly dev: string;
  /** Run the CLI inside the namespace and wait for it (killed after 30 s by default). */
  run(args: readonly string[], opts?: CliRunOptions): Promise<ExecResult>;
  /** Start the CLI inside the namespace and leave it running; destroy() kills it. */
  start(args: readonly string[]): CliProcess;
  /** Run any command inside the namespace and wait for it (killed after 60 s). */
  exec(cmd: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start a kernel-side peer (dnsmasq, vsftpd) with its output ignored; destroy() kills it. */
  spawnPeer(cmd: string, args?: readonly string[]): ChildProcess;
  /** Kill what is still running and delete the namespace with its device. */
  destroy(): Promise<void>;
}

/**
 * Builds the CLI if needed, then makes `tapstack-<tag>-<pid>` (IPv6 off, lo up) with a
 * persistent TAP whose kernel side has `kernelCidr` (default 10.0.0.1/24).
 */
export async function createCliNamespace(tag: string, opts: { kernelCidr?: string } = {}): Promise<CliNamespace> {
  ensureCliBuilt();
  const space = await createNamespace(tag);
  const dev = space.deviceName(0);
  const destroy = async (): Promise<void> => {
    await space.stopPeers();
    await space.remove();
  };
  try {
    await space.ip(['tuntap', 'add', 'dev', dev, 'mode', 'tap']);
    await space.ip(['addr', 'add', opts.kernelCidr ?? '10.0.0.1/24', 'dev', dev]);
    await space.ip(['link', 'set', dev, 'up']);
  } catch (error) {
    await destroy();
    throw error;
  }

  const cliCommand = (args: readonly string[], via: readonly string[] = []): [string, string[]] => {
    const [cmd, ...rest] = [...via, process.execPath, CLI, ...args];
    return [cmd!, rest];
  };

  return {
    ns: space.ns,
    dev,
    run: (args, { via, ...execOpts } = {}) => space.exec(...cliCommand(args, via), execOpts),
    start: (args) => startCli(space.spawn(...cliCommand(args), { stdio: ['ignore', 'pipe', 'pipe'] })),
    exec: (cmd, args = [], execOpts = {}) => space.exec(cmd, args, { timeoutMs: 60_000, ...execOpts }),
    spawnPeer: (cmd, args = []) => space.spawn(cmd, args, { stdio: 'ignore' }),
    destroy,
  };
}

function startCli(child: ChildProcess): CliProcess {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<ExecResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const waitForLine = () =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (!stdout.includes('\n')) return;
        child.stdout!.off('data', check);
        resolve(stdout);
      };
      child.stdout!.on('data', check);
      check();
      void done.then(() => reject(new Error(`exited before its first line: ${stderr}`)));
    });
  return { child, stdout: () => stdout, stderr: () => stderr, waitForLine, done };
}
