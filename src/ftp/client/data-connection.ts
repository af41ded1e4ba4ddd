import { Transform, type TransformCallback } from 'node:stream';
import type { Clock, Timer } from '../../stack/clock.js';
import type { Counters } from '../../stack/counters.js';
import type { TcpApi, TcpServerLike, TcpSocketLike } from '../../tcp/api.js';
import { FtpConnectionError } from './errors.js';

/**
 * The data connection of one transfer (RFC 959 3.2, 3.3): how the socket is opened in
 * either mode, how it is closed, and the meter that watches the bytes. Which address
 * and port to use is negotiated on the control connection by the client (PASV/EPSV,
 * PORT/EPRT); this file only deals with the sockets.
 */

/** What a data connection needs from the client that owns it. */
export interface DataContext {
  tcp: TcpApi;
  clock: Clock;
  counters: Counters;
  connectTimeout: number;
  dataTimeout: number;
  /** Announce the connection (the client's 'data' event). */
  announce(info: { mode: 'active' | 'passive'; local: number | undefined; remote: string }): void;
}

export interface DataConnection {
  /** Passive mode: connect before the transfer command. Active: the server connects after it. */
  connectsFirst: boolean;
  /** The connected data socket (waits for the server's connect in active mode). */
  ready(): Promise<TcpSocketLike>;
  /** Tear down whatever is left (listener, socket). */
  cancel(): void;
}

/** `promise`, or a rejection with `onTimeout()`'s error once `ms` have passed on `clock`. */
export function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(ms, () => reject(onTimeout()));
    timer.unref();
    promise.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (e: unknown) => {
        timer.cancel();
        reject(e);
      },
    );
  });
}

/** Wait for 'connect', with a timeout on the injected clock. */
export function waitConnected(socket: TcpSocketLike, clock: Clock, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = clock.setTimer(timeoutMs, () => {
      cleanup();
      socket.destroy();
      reject(new FtpConnectionError('ETIMEDOUT', `connecting to ${what} took longer than ${timeoutMs} ms`));
    });
    timer.unref();
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error & { code?: string }) => {
      cleanup();
      reject(new FtpConnectionError(err.code ?? 'ECONNREFUSED', `connecting to ${what}: ${err.message}`, err));
    };
    const onClose = () => {
      cleanup();
      reject(new FtpConnectionError('ECONNRESET', `connection to ${what} closed before it was established`));
    };
    const cleanup = () => {
      timer.cancel();
      socket.off('connect', onConnect);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/** Passive mode (RFC 959 4.1.2 PASV, RFC 2428 3 EPSV): we connect to the server's port now. */
export function connectPassive(ctx: DataContext, host: string, port: number): DataConnection {
  const socket = ctx.tcp.connect({ host, port, timeout: ctx.connectTimeout });
  // Errors during the transfer reach us through the pipeline; a late one (a RST after
  // we are done) must not crash the process as an unhandled 'error'.
  socket.on('error', () => undefined);
  const connected = waitConnected(socket, ctx.clock, ctx.connectTimeout, `data port ${host}:${port}`).then(() => {
    ctx.counters.inc('ftp.client.data.passive');
    ctx.announce({ mode: 'passive', local: socket.localPort, remote: `${host}:${port}` });
    return socket;
  });
  connected.catch(() => ctx.counters.inc('ftp.client.data.connect_failed')); // awaited later
  return { connectsFirst: true, ready: () => connected, cancel: () => release(ctx, socket) };
}

/**
 * Active mode (RFC 959 3.2): listen on one of our ports; the server connects to it
 * (from its port 20) after the transfer command. `takePort` hands out candidates;
 * taken ports are skipped. Returns the port to announce with PORT/EPRT.
 */
export function listenActive(ctx: DataContext, peer: string, takePort: () => number, attempts: number): { port: number; data: DataConnection } {
  let server: TcpServerLike | undefined;
  let port = 0;
  for (let tries = 0; tries < attempts && !server; tries++) {
    port = takePort();
    try {
      server = ctx.tcp.listen({ port, backlog: 1 });
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
      ctx.counters.inc('ftp.client.data.port_in_use');
    }
  }
  if (!server) throw new FtpConnectionError('EADDRINUSE', 'no free data port for active mode');
  const listener = server;
  let accepted: TcpSocketLike | undefined;
  let rejectWait: ((err: Error) => void) | undefined;
  const connection = new Promise<TcpSocketLike>((resolve, reject) => {
    rejectWait = reject;
    listener.on('connection', (socket: TcpSocketLike) => {
      socket.on('error', () => undefined); // as for passive sockets
      // RFC 2577 (FTP security), port stealing: only the server we talk to may connect; anyone else
      // is trying to steal or inject the data.
      if (accepted || socket.remoteAddress !== peer) {
        ctx.counters.inc('ftp.client.data.foreign_peer_refused');
        socket.destroy();
        return;
      }
      accepted = socket;
      listener.close();
      ctx.counters.inc('ftp.client.data.active');
      ctx.announce({ mode: 'active', local: port, remote: `${socket.remoteAddress}:${socket.remotePort}` });
      resolve(socket);
    });
    listener.on('error', (err: Error) => reject(err));
  });
  connection.catch(() => undefined);
  const cancel = () => {
    rejectWait?.(new FtpConnectionError('ECONNABORTED', 'data connection cancelled'));
    if (listener.listening) listener.close();
    if (accepted) release(ctx, accepted);
  };
  const ready = () =>
    withTimeout(ctx.clock, connection, ctx.connectTimeout, () => {
      ctx.counters.inc('ftp.client.data.accept_timeout');
      cancel();
      return new FtpConnectionError('ETIMEDOUT', `the server did not connect to data port ${port} within ${ctx.connectTimeout} ms`);
    });
  return { port, data: { connectsFirst: false, ready, cancel } };
}

/**
 * Done with a data socket. A transfer that failed has already destroyed it (RST);
 * otherwise close it the polite way (FIN, as a kernel close() does with nothing
 * unread), and only if the server never closes its side, abort it later.
 */
export function release(ctx: DataContext, socket: TcpSocketLike): void {
  if (socket.destroyed) return;
  if (socket.writableFinished && socket.readableEnded) {
    socket.destroy();
    return;
  }
  socket.end();
  socket.resume(); // read (and drop) anything left so the server's FIN is seen
  const timer = ctx.clock.setTimer(ctx.dataTimeout, () => socket.destroy());
  timer.unref();
  socket.once('close', () => timer.cancel());
}

/**
 * A pass-through in the transfer's pipe: counts bytes, reports progress, and destroys
 * the socket when no byte has moved for `dataTimeout` (a stalled peer is an error,
 * never a hang). A progress callback may abort the transfer by throwing.
 */
export function meter(
  ctx: DataContext,
  socket: TcpSocketLike,
  start: number,
  total: number | undefined,
  onProgress?: (bytes: number, total: number | undefined) => void,
): { stream: Transform; bytes: () => number; stop: () => void } {
  let bytes = 0;
  // One timer for the whole transfer, not one per chunk: a chunk only notes the time,
  // and the timer, when it fires, waits again for whatever is left of the idle period.
  let lastActivity = ctx.clock.now();
  let timer: Timer | undefined;
  const arm = (delayMs: number) => {
    timer = ctx.clock.setTimer(delayMs, () => {
      const idle = ctx.clock.now() - lastActivity;
      if (idle < ctx.dataTimeout) {
        arm(ctx.dataTimeout - idle);
        return;
      }
      ctx.counters.inc('ftp.client.data.idle_timeout');
      socket.destroy(new FtpConnectionError('ETIMEDOUT', `data connection idle for ${ctx.dataTimeout} ms`));
    });
    timer.unref();
  };
  arm(ctx.dataTimeout);
  // Where the transfer starts (a resumed offset): a progress bar starts its count there.
  onProgress?.(start, total);
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      bytes += chunk.length;
      lastActivity = ctx.clock.now();
      try {
        onProgress?.(start + bytes, total);
      } catch (err) {
        done(err as Error);
        return;
      }
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      timer?.cancel();
      done();
    },
  });
  return { stream, bytes: () => bytes, stop: () => timer?.cancel() };
}
