import type { FtpShell } from './shell.js';

/** One command of the shell: its names, usage line, help text and what it does. */
export interface CommandSpec {
  names: string[];
  usage: string;
  help: string;
  /** Needs an open connection: checked ("Not connected.") before the arguments. */
  connected?: true;
  /** At least this many arguments, or `usage` is printed. */
  minArgs?: number;
  /** Returns true on success (a script stops at the first false). */
  run: (shell: FtpShell, args: string[]) => Promise<boolean>;
}

export const on = (b: boolean): string => (b ? 'on' : 'off');

/** BSD ftp toggles: no argument flips the setting, `on`/`off` set it. */
export function toggle(current: boolean, arg: string | undefined): boolean {
  if (arg === undefined) return !current;
  return arg.toLowerCase() === 'on';
}

/** For commands that change the remote directory or its contents: the cached names are stale. */
export async function forgetNamesAfter(shell: FtpShell, op: Promise<unknown>): Promise<boolean> {
  await op;
  shell.invalidateNames();
  return true;
}

/** Print the server's reply unless verbose mode has shown it already. */
export function showReply(shell: FtpShell, reply: { lines: string[] }): void {
  if (!shell.verbose) shell.print(reply.lines.join('\n'));
}
