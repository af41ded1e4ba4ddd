import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

/**
 * The public shape of our TCP, modelled on Node's `net`. Upper layers (ftp/, dns/)
 * depend on these interfaces only, never on TCP internals.
 */

export interface TcpConnectOptions {
  /** Dotted-quad address of the peer. */
  host: string;
  port: number;
  /** Bind this local port (FTP active mode connects from port 20); random ephemeral otherwise. */
  localPort?: number;
  /** Keep the writable side open after the peer's FIN (as in net). Default false. */
  allowHalfOpen?: boolean;
  /** Give up connecting after this many milliseconds (ETIMEDOUT). */
  timeout?: number;
}

export interface TcpListenOptions {
  /** 0 picks a free ephemeral port (see the server's address()). */
  port: number;
  /** Longest accept queue; further SYNs are dropped and counted. */
  backlog?: number;
  allowHalfOpen?: boolean;
}

export interface TcpAddressInfo {
  address: string;
  family: 'IPv4';
  port: number;
}

/** A connection: a stream.Duplex like net.Socket ('connect', 'data', 'end', 'close', 'error'). */
export interface TcpSocketLike extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /**
   * Of bytesWritten, how many the peer has acknowledged (SND.UNA has passed them):
   * what really arrived, for FTP's STAT and ABOR. Optional like `state` (net.Socket
   * cannot tell); our TcpSocket has it.
   */
  readonly bytesAcked?: number;
  /**
   * True once the peer acknowledged our FIN, and so every byte before it; the socket
   * emits 'finAcked' then. Lets a sender learn that its data arrived without waiting
   * for the peer to close its side (FTP's 226). Optional like `state`.
   */
  readonly finAcked?: boolean;
  /**
   * The RFC 9293 state ('ESTABLISHED', 'TIME-WAIT', ...), for teaching. Optional in
   * this interface so that test doubles and net.Socket still fit; our TcpSocket has it.
   */
  readonly state?: string;
  setNoDelay(noDelay?: boolean): this;
  /**
   * Zero-copy writes (the idea of Linux's MSG_ZEROCOPY): buffers given to write() are
   * kept by reference until acknowledged instead of copied, so the writer must not
   * change a buffer before `bytesAcked` covers its bytes. Optional like `state`.
   */
  setZeroCopy?(enable?: boolean): this;
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  /** Emit 'timeout' after `ms` of inactivity (0 disables), as net.Socket does. */
  setTimeout(ms: number, callback?: () => void): this;
}

/** A listening socket like net.Server ('connection', 'listening', 'close', 'error'). */
export interface TcpServerLike extends EventEmitter {
  address(): TcpAddressInfo | null;
  close(callback?: (err?: Error) => void): this;
  readonly listening: boolean;
}

export interface TcpApi {
  /**
   * Listen on a port. Unlike net, binding is a table lookup in a userspace stack, so
   * a taken port throws an Error with code 'EADDRINUSE' synchronously; 'listening'
   * is still emitted on the next tick for code written against net.
   */
  listen(options: TcpListenOptions, onConnection?: (socket: TcpSocketLike) => void): TcpServerLike;
  /** Open a connection; errors (ECONNREFUSED, ETIMEDOUT, ...) arrive as 'error'. */
  connect(options: TcpConnectOptions, onConnect?: () => void): TcpSocketLike;
}

// Both transports raise it, so it lives below them, in stack/.
export { NetError } from '../stack/net-error.js';
