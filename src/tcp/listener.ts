import type { Counters } from '../stack/counters.js';
import type { ConnectionListener, TcpConnection } from './connection.js';

/**
 * A listening port (RFC 9293 LISTEN): the SYN queue holds connections whose
 * handshake is in progress (SYN-RECEIVED), the accept queue those established but
 * not yet handed to the application. Both are bounded by the backlog; excess SYNs
 * are dropped and counted, so a SYN flood cannot grow memory.
 */
export class Listener implements ConnectionListener {
  private readonly synQueue = new Set<TcpConnection>();
  private readonly acceptQueue: TcpConnection[] = [];
  private draining = false;

  constructor(
    readonly port: number,
    readonly backlog: number,
    private readonly counters: Counters,
    private readonly accept: (conn: TcpConnection) => void,
  ) {}

  /** May one more half-open connection be created? */
  get hasRoom(): boolean {
    return this.synQueue.size < this.backlog && this.acceptQueue.length < this.backlog;
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
