/**
 * Data connections (RFC 959 3.2, 3.3). Before each transfer the client says how the
 * data connection will be made:
 *
 * - Active (PORT, EPRT): the server connects to the client's address and port, from
 *   its own port 20 (the control port minus one, RFC 959 3.2).
 * - Passive (PASV, EPSV): the server listens on a port from its range and the client
 *   connects to it. Only the control connection's peer may use it: anybody else who
 *   connects first is turned away (port-stealing protection, RFC 2577 8).
 *
 * Either way the result is one TcpSocketLike, used for one transfer and closed.
 */
import type { Clock } from '../../stack/clock.js';
import type { Counters } from '../../stack/counters.js';
import type { Random } from '../../stack/random.js';
import type { TcpApi, TcpServerLike, TcpSocketLike } from '../../tcp/api.js';

export class DataConnectionError extends Error {
  constructor(
    readonly reason: 'timeout' | 'refused' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

export interface DataEndpoint {
  readonly mode: 'active' | 'passive';
  /** Open (active) or wait for (passive) the data connection. */
  open(timeoutMs: number): Promise<TcpSocketLike>;
  /** Give up: stop listening, stop connecting. Harmless after open() resolved. */
  close(): void;
}

/** PORT/EPRT: connect to the client from our data port. */
export class ActiveEndpoint implements DataEndpoint {
  readonly mode = 'active';
  private cancel: (() => void) | undefined;

  constructor(
    private readonly tcp: TcpApi,
    private readonly clock: Clock,
    readonly host: string,
    readonly port: number,
    private readonly localPort: number,
  ) {}

  open(timeoutMs: number): Promise<TcpSocketLike> {
    return new Promise((resolve, reject) => {
      const socket = this.tcp.connect({ host: this.host, port: this.port, localPort: this.localPort });
      const timer = this.clock.setTimer(timeoutMs, () => {
        fail(new DataConnectionError('timeout', `no data connection to ${this.host}:${this.port} within ${timeoutMs} ms`));
      });
      const cleanup = (): void => {
        timer.cancel();
        socket.off('connect', onConnect);
        socket.off('error', onError);
        this.cancel = undefined;
      };
      const fail = (err: Error): void => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onConnect = (): void => {
        cleanup();
        resolve(socket);
      };
      const onError = (err: Error): void => fail(new DataConnectionError('refused', err.message));
      this.cancel = () => fail(new DataConnectionError('aborted', 'aborted'));
      socket.once('connect', onConnect);
      socket.once('error', onError);
    });
  }

  close(): void {
    this.cancel?.();
  }
}

/** PASV/EPSV: a listener on one port of the range, for one connection from `peer`. */
export class PassiveEndpoint implements DataEndpoint {
  readonly mode = 'passive';
  private accepted: TcpSocketLike | undefined;
  private waiter: ((socket: TcpSocketLike) => void) | undefined;
  private cancel: (() => void) | undefined;
  private closed = false;
  /** open() was called: the connection belongs to a transfer. */
  private handedOver = false;

  private constructor(
    private readonly server: TcpServerLike,
    readonly port: number,
    private readonly peer: string,
    private readonly clock: Clock,
    private readonly counters: Counters,
  ) {
    server.on('connection', (socket: TcpSocketLike) => this.onConnection(socket));
    server.on('error', () => this.counters.inc('ftp.server.data.listen_error'));
  }

  /**
   * Listen on a free port of [min, max], trying them from a random start so that
   * consecutive sessions do not get predictable ports. Undefined if all are taken.
   */
  static async create(
    tcp: TcpApi,
    range: { min: number; max: number },
    peer: string,
    random: Random,
    clock: Clock,
    counters: Counters,
  ): Promise<PassiveEndpoint | undefined> {
    const count = range.max - range.min + 1;
    const first = random.int(0, count - 1);
    for (let i = 0; i < Math.min(count, 100); i++) {
      const port = range.min + ((first + i) % count);
      const server = await tryListen(tcp, port);
      if (server) return new PassiveEndpoint(server, port, peer, clock, counters);
    }
    counters.inc('ftp.server.data.no_passive_port');
    return undefined;
  }

  private onConnection(socket: TcpSocketLike): void {
    // RFC 2577 8: only the client on the control connection may connect here.
    if (this.closed || this.accepted || socket.remoteAddress !== this.peer) {
      this.counters.inc(this.accepted || this.closed ? 'ftp.server.data.extra_connection' : 'ftp.server.data.foreign_peer_refused');
      socket.destroy();
      return;
    }
    this.accepted = socket;
    // The client may reset it before any transfer uses it; that is not our error.
    socket.on('error', () => this.counters.inc('ftp.server.data.error_before_use'));
    // One connection per PASV: stop listening now.
    this.server.close();
    if (this.waiter) this.waiter(socket);
  }

  open(timeoutMs: number): Promise<TcpSocketLike> {
    // From here on the transfer owns the connection: close() no longer drops it.
    this.handedOver = true;
    if (this.accepted) return Promise.resolve(this.accepted);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.close();
        reject(new DataConnectionError('timeout', `no data connection on port ${this.port} within ${timeoutMs} ms`));
      });
      this.waiter = (socket) => {
        timer.cancel();
        this.cancel = undefined;
        resolve(socket);
      };
      this.cancel = () => {
        timer.cancel();
        reject(new DataConnectionError('aborted', 'aborted'));
      };
    });
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      if (this.server.listening) this.server.close();
      if (!this.handedOver && this.accepted) {
        // Accepted but never used for a transfer (e.g. PASV twice): drop it.
        this.accepted.destroy();
      }
    }
    const cancel = this.cancel;
    this.cancel = undefined;
    cancel?.();
  }
}

/** Listen on `port`; undefined if it is taken (sync throw, as our TCP does, or an 'error' event, as net does). */
function tryListen(tcp: TcpApi, port: number): Promise<TcpServerLike | undefined> {
  let server: TcpServerLike;
  try {
    server = tcp.listen({ port, backlog: 1 });
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server);
    };
    const onError = (): void => {
      server.off('listening', onListening);
      resolve(undefined);
    };
    if (server.listening) {
      resolve(server);
      return;
    }
    server.once('listening', onListening);
    server.once('error', onError);
  });
}

/**
 * After the last byte is written and end() called (so the FIN can ride on the last
 * data segment), wait until the peer has acknowledged all of it and our FIN: then
 * the file has arrived and 226 may be sent (RFC 959 3.2: the server closes the data
 * connection to mark the end of a stream-mode transfer). We do not wait for the
 * client's own FIN: a client may keep its end open (vsftpd answers 226 in 40 ms
 * there too). Resolves false if the connection closed without that ACK or
 * `timeoutMs` passed first (the socket is destroyed then).
 *
 * A socket that cannot tell (net.Socket, in tests against the kernel's TCP) is
 * waited on until it closes, as before.
 */
export function waitForDelivery(socket: TcpSocketLike, clock: Clock, timeoutMs: number): Promise<boolean> {
  if (socket.finAcked === undefined) return waitForClose(socket, clock, timeoutMs);
  if (socket.finAcked) return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      timer.cancel();
      socket.off('finAcked', onFinAcked);
      socket.off('close', onClose);
      if (!ok) socket.destroy();
      resolve(ok);
    };
    const onFinAcked = (): void => finish(true);
    const onClose = (): void => finish(socket.finAcked === true);
    const timer = clock.setTimer(timeoutMs, () => finish(false)).unref();
    socket.on('finAcked', onFinAcked);
    socket.on('close', onClose);
  });
}

/** Wait until the connection is fully closed; false (and destroyed) after `timeoutMs`. */
export function waitForClose(socket: TcpSocketLike, clock: Clock, timeoutMs: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = clock.setTimer(timeoutMs, () => {
      socket.off('close', onClose);
      socket.destroy();
      resolve(false);
    });
    const onClose = (): void => {
      timer.cancel();
      resolve(true);
    };
    socket.once('close', onClose);
  });
}
