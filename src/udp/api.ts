import type { EventEmitter } from 'node:events';

/** The public shape of our UDP, in the spirit of dgram.Socket. */

export interface UdpRemoteInfo {
  address: string;
  port: number;
  family: 'IPv4';
  size: number;
}

/** Events: 'message' (data: Buffer, rinfo), 'error' (err with a Node code), 'close'. */
export interface UdpSocketLike extends EventEmitter {
  send(data: Uint8Array, port: number, address: string, callback?: (err: Error | null) => void): void;
  address(): { address: string; family: 'IPv4'; port: number };
  close(callback?: () => void): void;
}

export interface UdpApi {
  /** Bind a port (random ephemeral 49152-65535 when none); throws EADDRINUSE synchronously. */
  bind(options?: { port?: number }): UdpSocketLike;
}
