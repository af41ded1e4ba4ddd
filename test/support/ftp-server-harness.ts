/**
 * Test helpers for the FTP server: a scripted control-connection client that reads
 * replies with the shared ReplyParser, and data-connection helpers for PASV, EPSV and
 * PORT. They work over any TcpApi (the kernel adapter or our stack on MemoryHub).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TcpApi, TcpServerLike, TcpSocketLike } from '../../src/tcp/api.js';
import { ReplyParser, type FtpReply } from '../../src/ftp/common/reply.js';
import { parsePasvReply, parseEpsvReply, encodeHostPort } from '../../src/ftp/common/hostport.js';

export class ControlClient {
  private readonly parser = new ReplyParser();
  private readonly replies: FtpReply[] = [];
  private waiters: Array<(r: FtpReply) => void> = [];
  ended = false;
  private endWaiters: Array<() => void> = [];

  constructor(readonly socket: TcpSocketLike) {
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.parser.push(chunk)) {
        if (ev.kind !== 'reply') throw new Error(`bad reply: ${ev.error.message}`);
        const w = this.waiters.shift();
        if (w) w(ev.reply);
        else this.replies.push(ev.reply);
      }
    });
    const onEnd = (): void => {
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', () => {});
  }

  static connect(tcp: TcpApi, host: string, port: number): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = tcp.connect({ host, port }, () => resolve(new ControlClient(s)));
      s.once('error', reject);
    });
  }

  /** The next reply (already received or still to come). */
  next(): Promise<FtpReply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Replies already received and not yet taken. */
  get buffered(): number {
    return this.replies.length;
  }

  send(line: string | Buffer): void {
    this.socket.write(typeof line === 'string' ? line + '\r\n' : line);
  }

  async cmd(line: string): Promise<FtpReply> {
    this.send(line);
    return this.next();
  }

  /** Resolves when the server closed the control connection. */
  closed(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  async login(user = 'anonymous', pass = 'test@example.com'): Promise<FtpReply> {
    const r = await this.cmd(`USER ${user}`);
    if (r.code !== 331) throw new Error(`USER: ${r.lines.join(' | ')}`);
    return this.cmd(`PASS ${pass}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Everything the peer sent until it closed. */
export function readAll(socket: TcpSocketLike): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (c: Buffer) => parts.push(c));
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

export function connectTo(tcp: TcpApi, host: string, port: number): Promise<TcpSocketLike> {
  return new Promise((resolve, reject) => {
    const s = tcp.connect({ host, port }, () => {
      // A reset after an abort is expected in these tests, not an unhandled error.
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** PASV, then connect to the announced address. */
export async function pasv(c: ControlClient, tcp: TcpApi): Promise<TcpSocketLike> {
  const r = await c.cmd('PASV');
  if (r.code !== 227) throw new Error(`PASV: ${r.lines.join(' | ')}`);
  const hp = parsePasvReply(r.text);
  if (!hp.ok) throw new Error(hp.error);
  return connectTo(tcp, hp.value.address, hp.value.port);
}

/** EPSV, then connect to the control peer's address on the announced port. */
export async function epsv(c: ControlClient, tcp: TcpApi, host: string): Promise<TcpSocketLike> {
  const r = await c.cmd('EPSV');
  if (r.code !== 229) throw new Error(`EPSV: ${r.lines.join(' | ')}`);
  const port = parseEpsvReply(r.text);
  if (!port.ok) throw new Error(port.error);
  return connectTo(tcp, host, port.value);
}

/**
 * Active mode: listen on `port` of the client, send PORT, and return a promise of the
 * server's incoming data connection.
 */
export async function port(
  c: ControlClient,
  tcp: TcpApi,
  address: string,
  listenPort: number,
): Promise<{ reply: FtpReply; accepted: Promise<TcpSocketLike>; server: TcpServerLike }> {
  let resolveAccepted!: (s: TcpSocketLike) => void;
  const accepted = new Promise<TcpSocketLike>((r) => (resolveAccepted = r));
  const server = tcp.listen({ port: listenPort }, (s) => {
    s.on('error', () => {});
    server.close();
    resolveAccepted(s);
  });
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  const reply = await c.cmd(`PORT ${encodeHostPort({ address, port: listenPort })}`);
  return { reply, accepted, server };
}

export async function tempDir(prefix = 'tapstack-ftp-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
