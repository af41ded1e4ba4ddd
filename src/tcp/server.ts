import { EventEmitter } from 'node:events';
import { formatIpv4 } from '../wire/address.js';
import type { TcpAddressInfo, TcpServerLike } from './api.js';

/** A listening socket like net.Server: 'listening', 'connection', 'close', 'error'. */
export class TcpServer extends EventEmitter implements TcpServerLike {
  private open = true;

  constructor(
    private readonly localAddr: number,
    readonly port: number,
    private readonly unlisten: () => void,
  ) {
    super();
    process.nextTick(() => {
      if (this.open) this.emit('listening');
    });
  }

  get listening(): boolean {
    return this.open;
  }

  address(): TcpAddressInfo | null {
    return this.open ? { address: formatIpv4(this.localAddr), family: 'IPv4', port: this.port } : null;
  }

  /** Stop accepting; existing connections are not affected (as net.Server). */
  close(callback?: (err?: Error) => void): this {
    if (!this.open) {
      const err = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
      if (callback) process.nextTick(() => callback(err));
      return this;
    }
    this.open = false;
    this.unlisten();
    if (callback) this.once('close', callback);
    process.nextTick(() => this.emit('close'));
    return this;
  }
}
