import type { Counters } from '../stack/counters.js';
import type { ConnectionListener, TcpConnection } from './connection.js';

/** Cookie ACKs are accepted only this long after the last cookie was sent (Linux: 2 minutes). */
const COOKIE_WINDOW_MS = 120_000;

/**
 * A listening port (RFC 9293 LISTEN): the SYN queue holds connections whose
 * handshake is in progress (SYN-RECEIVED), the accept queue those established but
 * not yet handed to the application. Both are bounded by the backlog, so a SYN
 * flood cannot grow memory: when the SYN queue is full, Tcp answers with SYN
 * cookies or evicts the oldest half-open entry (index.ts, RFC 4987).
 */
export class Listener implements ConnectionListener {
  private readonly synQueue = new Set<TcpConnection>();
  private readonly acceptQueue: TcpConnection[] = [];
  private draining = false;
  /** When we last answered a SYN with a cookie (undefined: never). */
  private cookieSentAt: number | undefined;

  constructor(
    readonly port: number,
    readonly backlog: number,
    private readonly counters: Counters,
    private readonly accept: (conn: TcpConnection) => void,
  ) {}

  get synQueueFull(): boolean {
    return this.synQueue.size >= this.backlog;
  }

  get acceptQueueFull(): boolean {
    return this.acceptQueue.length >= this.backlog;
  }

  /** The half-open connection that has waited longest (a Set iterates in insertion order). */
  get oldestHalfOpen(): TcpConnection | undefined {
    return this.synQueue.values().next().value;
  }

  cookieSent(now: number): void {
    this.cookieSentAt = now;
  }

  /**
   * Is an ACK to this port worth checking as a cookie? Only when we sent cookies
   * lately (as Linux's tcp_synq_no_recent_overflow), so that a blind attacker cannot
   * try ACKs against a listener that never needed cookies.
   */
  cookiesRecent(now: number): boolean {
    return this.cookieSentAt !== undefined && now - this.cookieSentAt < COOKIE_WINDOW_MS;
  }

  add(conn: TcpConnection): void {
    this.synQueue.add(conn);
    conn.listener = this;
  }

  onEstablished(conn: TcpConnection): void {
    this.synQueue.delete(conn);
    if (this.acceptQueue.length >= this.backlog) {
      this.counters.inc('tcp.listen.accept_queue_full');
      conn.abort();
      return;
    }
    this.acceptQueue.push(conn);
    this.counters.inc('tcp.listen.accepted');
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => this.drain());
    }
  }

  onAborted(conn: TcpConnection): void {
    this.synQueue.delete(conn);
  }

  /** Stop listening: half-open connections are reset. */
  close(): void {
    for (const conn of this.synQueue) conn.abort();
    this.synQueue.clear();
  }

  private drain(): void {
    this.draining = false;
    for (const conn of this.acceptQueue.splice(0)) {
      if (conn.state !== 'CLOSED') this.accept(conn);
    }
  }
}
