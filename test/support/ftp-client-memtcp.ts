import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import {
  NetError,
  type TcpAddressInfo,
  type TcpApi,
  type TcpConnectOptions,
  type TcpListenOptions,
  type TcpServerLike,
  type TcpSocketLike,
} from '../../src/tcp/api.js';

/**
 * A test-only TcpApi: byte streams between "hosts" inside one process, no packets.
 * It lets the FTP client's logic (replies, data connections, timeouts, cut
 * connections) be tested alone; the real stack is tested with our TCP elsewhere.
 */
export class MemTcpNet {
  readonly hosts = new Map<string, MemTcpHost>();

  host(address: string): MemTcpHost {
    const h = new MemTcpHost(this, address);
    this.hosts.set(address, h);
    return h;
  }
}

export class MemTcpHost implements TcpApi {
  readonly listeners = new Map<number, MemServer>();
  private nextEphemeral = 40000;
  /** Every connection this host made or accepted, for tests that cut them. */
  readonly sockets: MemSocket[] = [];

  constructor(
    readonly net: MemTcpNet,
    readonly address: string,
  ) {}

  listen(options: TcpListenOptions, onConnection?: (socket: TcpSocketLike) => void): TcpServerLike {
    if (this.listeners.has(options.port)) throw new NetError('EADDRINUSE', `port ${options.port} is in use`);
    const server = new MemServer(this, options.port, options.allowHalfOpen ?? false);
    if (onConnection) server.on('connection', onConnection);
    this.listeners.set(options.port, server);
    setImmediate(() => server.emit('listening'));
    return server;
  }

  connect(options: TcpConnectOptions, onConnect?: () => void): TcpSocketLike {
    const local = new MemSocket(options.allowHalfOpen ?? false);
    local.localAddress = this.address;
    local.localPort = options.localPort ?? this.nextEphemeral++;
    local.remoteAddress = options.host;
    local.remotePort = options.port;
    this.sockets.push(local);
    if (onConnect) local.once('connect', onConnect);
    setImmediate(() => {
      const server = this.net.hosts.get(options.host)?.listeners.get(options.port);
      if (!server) {
        local.destroy(new NetError('ECONNREFUSED', `connect ${options.host}:${options.port}`));
        return;
      }
      const remote = new MemSocket(server.allowHalfOpen);
      remote.localAddress = options.host;
      remote.localPort = options.port;
      remote.remoteAddress = this.address;
      remote.remotePort = local.localPort;
      server.host.sockets.push(remote);
      local.peer = remote;
      remote.peer = local;
      local.emit('connect');
      server.emit('connection', remote);
    });
    return local;
  }
}

class MemServer extends EventEmitter implements TcpServerLike {
  listening = true;
  constructor(
    readonly host: MemTcpHost,
    readonly port: number,
    readonly allowHalfOpen: boolean,
  ) {
    super();
  }
  address(): TcpAddressInfo | null {
    return this.listening ? { address: this.host.address, family: 'IPv4', port: this.port } : null;
  }
  close(callback?: (err?: Error) => void): this {
    if (this.listening) {
      this.listening = false;
      this.host.listeners.delete(this.port);
      setImmediate(() => this.emit('close'));
    }
    callback?.();
    return this;
  }
}

export class MemSocket extends Duplex implements TcpSocketLike {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  peer: MemSocket | undefined;

  constructor(allowHalfOpen: boolean) {
    super({ allowHalfOpen });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer) {
      done(new NetError('ENOTCONN', 'not connected'));
      return;
    }
    this.bytesWritten += chunk.length;
    setImmediate(() => {
      if (peer.destroyed) return;
      peer.bytesRead += chunk.length;
      peer.push(chunk);
    });
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    const peer = this.peer;
    setImmediate(() => {
      if (peer && !peer.destroyed) peer.push(null); // FIN
    });
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    const peer = this.peer;
    if (peer && !peer.destroyed) {
      // Closing without end() still delivers an orderly end to the peer (like close(2)).
      setImmediate(() => {
        if (!peer.destroyed) peer.push(null);
      });
    }
    done(err);
  }

  /** Simulate a RST: the peer sees ECONNRESET. */
  reset(): void {
    const peer = this.peer;
    this.destroy();
    if (peer && !peer.destroyed) setImmediate(() => peer.destroy(new NetError('ECONNRESET', 'connection reset by peer')));
  }

  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
}
