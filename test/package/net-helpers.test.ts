import { describe, expect, it } from 'vitest';
import { MemoryNetwork, NetError, TcpServer, TcpSocket, connect, createServer } from '../../src/index.js';

/** createServer and connect of src/index.ts: net's shapes over a host's own TCP. */
describe('net-like helpers', () => {
  it('createServer takes a port or listen options, binds at once and hands out TcpSockets', async () => {
    const net = new MemoryNetwork();
    const server = net.host('10.0.0.1');
    const client = net.host('10.0.0.2');
    let accept!: (socket: TcpSocket) => void;
    const accepted = new Promise<TcpSocket>((resolve) => (accept = resolve));
    const byPort = createServer(server, 21, (socket) => accept(socket));
    const byOptions = createServer(server, { port: 0, backlog: 4 });
    expect(byPort).toBeInstanceOf(TcpServer);
    expect(byPort.address()).toEqual({ address: '10.0.0.1', family: 'IPv4', port: 21 });
    // port 0: a free ephemeral port, as net picks one.
    expect(byOptions.address()!.port).toBeGreaterThanOrEqual(49152);
    // A userspace bind is a table lookup, so a taken port fails here, not in an event.
    expect(() => createServer(server, 21)).toThrow(NetError);
    expect(() => createServer(server, 21)).toThrow(/port 21 is already listening/);

    const socket = connect(client, { host: '10.0.0.1', port: 21 });
    expect(socket).toBeInstanceOf(TcpSocket);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    expect(socket.state).toBe('ESTABLISHED');
    // The server's side is accepted once our ACK of its SYN-ACK arrives.
    const peer = await accepted;
    expect(peer).toBeInstanceOf(TcpSocket);
    expect(peer.remotePort).toBe(socket.localPort);
    await net.close();
  });

  it('connect reports a refused port as an ECONNREFUSED error event', async () => {
    const net = new MemoryNetwork();
    net.host('10.0.0.1'); // listens nowhere: answers a SYN with a RST (RFC 9293 3.10.7.1)
    const socket = connect(net.host('10.0.0.2'), { host: '10.0.0.1', port: 9 }, () => {
      throw new Error('connected to a port nobody listens on');
    });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    expect(error.code).toBe('ECONNREFUSED');
    await net.close();
  });
});
