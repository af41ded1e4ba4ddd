import { EventEmitter } from 'node:events';
import type { Clock, Timer } from '../../stack/clock.js';
import { Counters } from '../../stack/counters.js';
import type { TcpSocketLike } from '../../tcp/api.js';
import { ReplyParser, type FtpReply, type ReplyError } from '../common/reply.js';
import { FtpConnectionError } from './errors.js';

interface Waiter {
  resolve: (reply: FtpReply) => void;
  reject: (err: Error) => void;
  timer: Timer | undefined;
}

/**
 * The control connection (RFC 959 2.3): commands go out as `VERB arg\r\n`, replies
 * come back through the incremental ReplyParser. Replies are handed to readers in
 * order; one that arrives when nobody waits is kept for the next reader.
 *
 * Events: 'command' (the line as sent, PASS masked), 'reply' (FtpReply),
 * 'protocol-error' (ReplyError), 'close' (Error | undefined).
 * Once the connection is gone every waiting and later read fails: never a hang.
 */
export class ControlConnection extends EventEmitter {
  private readonly parser = new ReplyParser();
  private readonly queue: FtpReply[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: FtpConnectionError | undefined;
  /** Set by closeGracefully: the end of the connection is expected. */
  private closing = false;

  constructor(
    readonly socket: TcpSocketLike,
    private readonly clock: Clock,
    private readonly counters: Counters = new Counters(),
  ) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.fail(new FtpConnectionError('ECONNRESET', 'control connection closed by the server')));
    socket.on('error', (err: Error & { code?: string }) =>
      this.fail(new FtpConnectionError(err.code ?? 'ECONNRESET', `control connection: ${err.message}`, err)),
    );
    socket.on('close', () => this.fail(new FtpConnectionError('ECONNRESET', 'control connection closed')));
  }

  /** True once the connection has failed or been closed. */
  get closed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Send one command line. CR and LF inside it are refused: a file name holding
   * "\r\nDELE x" must not become a second command.
   */
  send(line: string, display = line): void {
    if (this.failure) throw this.failure;
    if (/[\r\n]/.test(line)) throw new FtpConnectionError('EINVAL', 'command contains a line break');
    this.counters.inc('ftp.client.tx.command');
    this.emit('command', display);
    this.socket.write(`${line}\r\n`);
  }

  /** The next reply; after `timeoutMs` (if given) the connection is dropped and this fails. */
  nextReply(timeoutMs?: number): Promise<FtpReply> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<FtpReply>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        waiter.timer = this.clock.setTimer(timeoutMs, () => {
          // We no longer know where we are in the dialogue: the connection is unusable.
          this.counters.inc('ftp.client.reply_timeout');
          this.destroy(new FtpConnectionError('ETIMEDOUT', `no reply from the server within ${timeoutMs} ms`));
        });
        waiter.timer.unref();
      }
      this.waiters.push(waiter);
    });
  }

  /** Replies that arrived without being asked for (e.g. a late 421). */
  takeUnread(): FtpReply[] {
    return this.queue.splice(0);
  }

  /**
   * After QUIT: close politely and wait until both sides are closed. The server's FIN
   * is then the normal end of the session (the seed: server FIN, our ACK and FIN), not
   * an error. Only a server that never closes gets a RST, after `timeoutMs`.
   */
  closeGracefully(timeoutMs: number): Promise<void> {
    this.closing = true;
    return new Promise<void>((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.socket.destroy();
        resolve();
      });
      timer.unref();
      this.socket.once('close', () => {
        timer.cancel();
        resolve();
      });
      this.socket.end();
    });
  }

  /** Drop the connection and fail everything waiting with `err`. */
  destroy(err: FtpConnectionError = new FtpConnectionError('ECONNABORTED', 'control connection closed by the client')): void {
    this.fail(err);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (const ev of this.parser.push(chunk)) {
      if (ev.kind === 'error') {
        this.counters.inc(`ftp.client.rx.bad_reply.${ev.error.kind}`);
        this.emit('protocol-error', ev.error satisfies ReplyError);
        if (ev.error.kind !== 'no-code') {
          this.destroy(new FtpConnectionError('EPROTO', `bad reply from the server: ${ev.error.message}`));
          return;
        }
        continue;
      }
      this.emit('reply', ev.reply);
      const waiter = this.waiters.shift();
      if (waiter) {
        waiter.timer?.cancel();
        waiter.resolve(ev.reply);
      } else {
        this.queue.push(ev.reply);
      }
    }
  }

  private fail(err: FtpConnectionError): void {
    if (this.failure) return;
    this.failure = this.parser.pending ? new FtpConnectionError(err.code, `${err.message} (in the middle of a reply)`, err.cause) : err;
    for (const w of this.waiters.splice(0)) {
      w.timer?.cancel();
      w.reject(this.failure);
    }
    this.emit('close', this.closing ? undefined : this.failure);
  }
}
