import { spawn, spawnSync } from 'node:child_process';

/**
 * Running the tools that build namespaces (`ip`, `sysctl`) and the commands that run
 * inside them. Async by default; the few synchronous forms exist for an exit hook
 * (Node runs no async work in 'exit') and for callers whose API is synchronous.
 */

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; null if killed by a signal (then `signal` says which). */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  input?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Run a command to its end and collect its output. Never rejects on an exit code. */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code, signal });
    });
    child.stdin.on('error', () => {}); // the command may exit before reading its input
    child.stdin.end(opts.input ?? '');
  });
}

function failure(args: readonly string[], code: number | null, stderr: string): Error {
  return new Error(`ip ${args.join(' ')} failed (${code}): ${stderr.trim()}`);
}

/** `ip ARGS`; throws with ip's own message when it fails. */
export async function ip(args: readonly string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code !== 0) throw failure(args, r.code, r.stderr);
}

/** `ip ARGS`, synchronously. */
export function ipSync(args: readonly string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw failure(args, r.status, r.stderr ?? String(r.error));
}

/** Every namespace `ip netns list` shows. */
export async function listNamespaces(): Promise<string[]> {
  return namesOf((await run('ip', ['netns', 'list'])).stdout);
}

export function listNamespacesSync(): string[] {
  return namesOf(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '');
}

/** `ip netns list` prints "NAME" or "NAME (id: N)", one a line. */
function namesOf(listing: string): string[] {
  return listing
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name !== '');
}
