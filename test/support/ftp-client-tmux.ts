import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A person at a terminal, for the shell tests: a private tmux server (its own socket,
 * `-L tapstack-<tag>-<pid>`) with one pane running a command. Keys are typed with
 * send-keys; the screen is read with capture-pane. Waiting is always for text to
 * appear (polled, with a generous timeout), never a fixed sleep, so a loaded machine
 * only makes the test slower.
 */
export class TmuxPane {
  private readonly socket: string;
  /** How far into the pane's history earlier waits have matched. */
  private position = 0;
  /** The server's socket file, removed by kill() (tmux leaves it behind). */
  private socketPath: string | undefined;
  /** Where the pane's shell writes the command's exit status (see start()). */
  private readonly statusFile: string;

  private constructor(tag: string) {
    this.socket = `tapstack-${tag}-${process.pid}`;
    this.statusFile = join(tmpdir(), `${this.socket}.status`);
  }

  /** Start `command` (a shell command line) in a detached 150x50 session. */
  static async start(tag: string, command: string): Promise<TmuxPane> {
    const pane = new TmuxPane(tag);
    rmSync(pane.statusFile, { force: true });
    // The pane's shell reaps the command and writes `$?` (128 + N after signal N) to a
    // file: tmux's own pane_dead_status stays empty when tmux has not yet reaped the
    // child (seen with tmux 3.3a: the process a zombie, the pane already dead).
    const recorded = `(${command}); echo $? > ${pane.statusFile}`;
    await pane.tmux(['new-session', '-d', '-s', 'main', '-x', '150', '-y', '50', recorded]);
    // Keep the pane after the command exits, to read its last words.
    await pane.tmux(['set-option', '-t', 'main', 'remain-on-exit', 'on']);
    pane.socketPath = (await pane.tmux(['display-message', '-p', '#{socket_path}'])).trim();
    return pane;
  }

  /** Type text (literally), then optionally Enter. */
  async type(text: string, enter = true): Promise<void> {
    if (text !== '') await this.tmux(['send-keys', '-t', 'main', '-l', text]);
    if (enter) await this.tmux(['send-keys', '-t', 'main', 'Enter']);
  }

  /** Press one key as tmux names it: C-d, C-c, Enter. */
  async key(name: string): Promise<void> {
    await this.tmux(['send-keys', '-t', 'main', name]);
  }

  /** Everything the pane has shown, wrapped lines joined. */
  async screen(): Promise<string> {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-', '-t', 'main']);
  }

  /**
   * Wait until `text` appears after the previous match; returns the screen. Fails
   * with the whole screen after `timeoutMs`. Trailing spaces are not compared: tmux
   * drops them from captured lines (the prompt "ftp> " reads "ftp>").
   */
  async waitFor(wanted: string, timeoutMs = 60_000): Promise<string> {
    const text = wanted.trimEnd();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      const at = screen.indexOf(text, this.position);
      if (at >= 0) {
        this.position = at + text.length;
        return screen;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)}; the screen:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Undefined while the command runs, then its exit status (128 + N when signal N killed it, as `$?` says). */
  async exitStatus(): Promise<number | undefined> {
    let text: string;
    try {
      text = readFileSync(this.statusFile, 'utf8');
    } catch {
      return undefined;
    }
    return text.endsWith('\n') ? Number(text.trim()) : undefined; // a half-written file is not yet a status
  }

  async kill(): Promise<void> {
    await this.tmux(['kill-server']).catch(() => undefined);
    if (this.socketPath) rmSync(this.socketPath, { force: true });
    rmSync(this.statusFile, { force: true });
  }

  private async tmux(args: string[]): Promise<string> {
    return (await run('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' })).stdout;
  }
}
