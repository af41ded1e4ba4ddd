import * as readline from 'node:readline';
import { Writable } from 'node:stream';

/**
 * The keyboard side of the interactive `tapstack ftp`: a readline prompt with history
 * and completion, questions (Name, Password without echo, per-file questions), and
 * Ctrl-C / Ctrl-D as BSD ftp treats them:
 *
 * - Ctrl-D at `ftp>` ends the program; at a question it answers "nothing" (the login
 *   fails, mget stops) and the prompt comes back. readline closes itself on Ctrl-D,
 *   so the terminal then makes a new readline, keeping the history.
 * - Ctrl-C at a question cancels it the same way; otherwise `onInterrupt` decides
 *   (abort the transfer, or clear the line).
 * - suspend() hands the terminal to a child (`!`, `page`) and takes it back.
 */
export interface TerminalHandlers {
  onLine(line: string): void;
  /** Ctrl-D at the prompt. */
  onEnd(): void;
  /** Ctrl-C outside a question. */
  onInterrupt(): void;
  completer(line: string, callback: (err: Error | null, result: [string[], string]) => void): void;
}

export class FtpTerminal {
  private rl: readline.Interface;
  private readonly output: MutableOutput;
  private history: string[] = [];
  /** The question being asked: how to end it without an answer. */
  private pending: { cancel: (newline: boolean) => void } | undefined;

  constructor(private readonly handlers: TerminalHandlers) {
    this.output = new MutableOutput(process.stdout);
    this.rl = this.create();
  }

  prompt(): void {
    this.rl.prompt();
  }

  close(): void {
    this.pending = undefined;
    this.rl.removeAllListeners('close');
    this.rl.close();
  }

  /** Ask; resolves with the answer, or undefined on Ctrl-D or Ctrl-C. */
  ask(prompt: string, secret = false): Promise<string | undefined> {
    return new Promise((resolve) => {
      const abort = new AbortController();
      // The line ends with Enter, or with readline's own newline on Ctrl-D; our own
      // is needed where the echo was hidden, and after Ctrl-C.
      const finish = (answer: string | undefined, newline: boolean) => {
        if (this.pending !== entry) return;
        this.pending = undefined;
        this.output.muted = false;
        if (newline || secret) process.stdout.write('\n');
        resolve(answer);
      };
      const entry = {
        cancel: (newline: boolean) => {
          abort.abort();
          finish(undefined, newline);
        },
      };
      this.pending = entry;
      this.rl.question(prompt, { signal: abort.signal }, (answer) => finish(answer, false));
      this.output.muted = secret; // after the prompt is written: hide what is typed
    });
  }

  /** Give the terminal to a child program; the returned function takes it back. */
  suspend(): () => void {
    this.rl.pause();
    const stdin = process.stdin;
    if (stdin.isTTY) stdin.setRawMode(false);
    // In cooked mode Ctrl-C signals the whole foreground group: it is the child's.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    return () => {
      process.off('SIGINT', ignore);
      if (stdin.isTTY) stdin.setRawMode(true);
      this.rl.resume();
    };
  }

  private create(): readline.Interface {
    const rl = readline.createInterface({
      input: process.stdin,
      output: this.output,
      terminal: true,
      historySize: 500,
      history: this.history,
      completer: this.handlers.completer,
    });
    rl.setPrompt('ftp> ');
    rl.on('history', (h: string[]) => (this.history = h));
    rl.on('line', (line) => this.handlers.onLine(line));
    rl.on('SIGINT', () => {
      if (this.pending) this.pending.cancel(true);
      else this.handlers.onInterrupt();
    });
    rl.on('close', () => {
      if (!this.pending) {
        process.stdout.write('\n'); // Ctrl-D at ftp>: what follows starts a line
        this.handlers.onEnd();
        return;
      }
      // Ctrl-D at a question: answer nothing, and carry on with a new readline.
      this.pending.cancel(false);
      this.rl = this.create();
    });
    return rl;
  }

  /** Write above the prompt (Ctrl-C at the prompt). */
  clearLine(): void {
    process.stdout.write('^C\n');
    this.rl.write(null, { ctrl: true, name: 'u' });
    this.rl.prompt();
  }
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
