/**
 * Test-only TcpApi over Node's `net` on 127.0.0.1: the kernel's TCP, so tests that
 * use it exercise real connections. Used to develop the FTP server before our own
 * TCP existed, and kept for tests where a real kernel peer adds something.
 *
 * `localPort` (active FTP mode binds port 20) is ignored: the kernel would keep a
 * closed port-20 connection in TIME-WAIT and refuse the next bind, which our own
 * stack (4-tuple demultiplexing) does not.
 */
import net from 'node:net';
import { NetError, type TcpApi, type TcpServerLike, type TcpSocketLike } from '../../src/tcp/api.js';

const HOST = '127.0.0.1';

export function kernelTcp(): TcpApi {
  return {
    listen(opts, onConnection) {
      const server = net.createServer({ allowHalfOpen: opts.allowHalfOpen ?? false }, (s) => onConnection?.(s as unknown as TcpSocketLike));
      server.maxConnections = 10_000;
      server.listen({ port: opts.port, host: HOST, backlog: opts.backlog ?? 511 });
      const origAddress = server.address.bind(server);
      const wrapped = server as unknown as TcpServerLike;
      (wrapped as unknown as { address: () => unknown }).address = () => {
        const a = origAddress();
        return a && typeof a === 'object' ? { address: a.address, family: 'IPv4', port: a.port } : null;
      };
      return wrapped;
    },
    connect(opts, onConnect) {
      const socket = net.connect({
        host: opts.host,
        port: opts.port,
        localAddress: HOST,
        allowHalfOpen: opts.allowHalfOpen ?? false,
      });
      if (onConnect) socket.once('connect', onConnect);
      if (opts.timeout) {
        socket.setTimeout(opts.timeout, () => {
          socket.destroy(new NetError('ETIMEDOUT', 'connect timed out'));
        });
        socket.once('connect', () => socket.setTimeout(0));
      }
      return socket as unknown as TcpSocketLike;
    },
  };
}
