import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Host } from '../../src/host.js';
import type { TcpServerLike, TcpSocketLike } from '../../src/tcp/api.js';

/**
 * The device under test, as the probes drive it: sockets opened, written, read and
 * closed on command, named by their local port (each probe has its own ports). Two
 * implementations with one contract: our stack in this process (TapstackDut) and the
 * Linux kernel behind a veth, through test/support/prober-dut.py (LinuxDut).
 */
export interface ListenOptions {
  /** Read what arrives (default true); false leaves it unread so the window closes. */
  read?: boolean;
  backlog?: number;
}

export interface Received {
  bytes: number;
  eof: boolean;
}

export interface Dut {
  readonly name: 'tapstack' | 'linux';
  readonly mac: Uint8Array;
  listen(port: number, opts?: ListenOptions): Promise<void>;
  /** Connect from local `port` to the prober at `rport`; does not wait for the handshake. */
  connect(port: number, rport: number, opts?: { read?: boolean }): Promise<void>;
  /** Queue bytes on the connection of `port` (returns at once, like a non-blocking write). */
  send(port: number, data: Uint8Array): Promise<void>;
  noDelay(port: number): Promise<void>;
  /** Start reading a connection opened with read: false. */
  read(port: number): Promise<void>;
  /** Half-close: our FIN. */
  shutdown(port: number): Promise<void>;
  /** Close the connection on `port` (waiting for it to be accepted) and its listener. */
  close(port: number): Promise<void>;
  /** After a probe: close whatever is open on `port`, without waiting for anything. */
  release(port: number): Promise<void>;
  received(port: number): Promise<Received>;
}

/** Our stack, driven through the public socket API only. */
export class TapstackDut implements Dut {
  readonly name = 'tapstack';
  private readonly sockets = new Map<number, TcpSocketLike>();
  private readonly servers = new Map<number, TcpServerLike>();
  private readonly counts = new Map<number, Received>();

  constructor(private readonly host: Host) {}

  get mac(): Uint8Array {
    return this.host.mac;
  }

  async listen(port: number, opts: ListenOptions = {}): Promise<void> {
    const server = this.host.tcp.listen({ port, backlog: opts.backlog ?? 16 }, (socket) => this.adopt(port, socket, opts.read ?? true));
    this.servers.set(port, server);
  }

  async connect(port: number, rport: number, opts: { read?: boolean } = {}): Promise<void> {
    const socket = this.host.tcp.connect({ host: '10.0.0.2', port: rport, localPort: port });
    this.adopt(port, socket, opts.read ?? true);
  }

  async send(port: number, data: Uint8Array): Promise<void> {
    (await this.socket(port)).write(data);
  }

  async noDelay(port: number): Promise<void> {
    (await this.socket(port)).setNoDelay(true);
  }

  async read(port: number): Promise<void> {
    this.startReading(port, await this.socket(port));
  }

  async shutdown(port: number): Promise<void> {
    (await this.socket(port)).end();
  }

  async close(port: number): Promise<void> {
    await this.socket(port);
    await this.release(port);
  }

  async release(port: number): Promise<void> {
    this.servers.get(port)?.close();
    this.servers.delete(port);
    this.sockets.get(port)?.end();
    this.sockets.delete(port);
  }

  async received(port: number): Promise<Received> {
    return { ...(this.counts.get(port) ?? { bytes: 0, eof: false }) };
  }

  private adopt(port: number, socket: TcpSocketLike, read: boolean): void {
    this.sockets.set(port, socket);
    this.counts.set(port, { bytes: 0, eof: false });
    // Probes reset connections on purpose: the error is the expected outcome.
    socket.on('error', () => {});
    socket.on('end', () => (this.counts.get(port)!.eof = true));
    if (read) this.startReading(port, socket);
  }

  private startReading(port: number, socket: TcpSocketLike): void {
    socket.on('data', (chunk: Buffer) => (this.counts.get(port)!.bytes += chunk.length));
  }

  /** The connection on `port`; waits a little, since the handshake's last ACK may still be on its way. */
  private async socket(port: number): Promise<TcpSocketLike> {
    for (let i = 0; i < 300; i++) {
      const s = this.sockets.get(port);
      if (s) return s;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`tapstack dut: no connection on port ${port}`);
  }
}

/** The Linux kernel in its namespace, through prober-dut.py (JSON lines). */
export class LinuxDut implements Dut {
  readonly name = 'linux';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly mac: Uint8Array,
  ) {}

  static async start(child: ChildProcess, mac: Uint8Array): Promise<LinuxDut> {
    const dut = new LinuxDut(child, mac);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => {
        const error = new Error(`linux dut agent exited (${code}): ${stderr}`);
        reject(error);
        for (const p of dut.pending.values()) p.reject(error);
      });
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (msg.ready) return resolve();
        const p = dut.pending.get(msg.id as number);
        dut.pending.delete(msg.id as number);
        if (msg.error) p?.reject(new Error(`linux dut: ${String(msg.error)}`));
        else p?.resolve(msg);
      });
    });
    return dut;
  }

  private call(op: string, port: number, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(JSON.stringify({ id, op, port, ...extra }) + '\n');
    });
  }

  async listen(port: number, opts: ListenOptions = {}): Promise<void> {
    await this.call('listen', port, { read: opts.read ?? true, backlog: opts.backlog ?? 16 });
  }
  async connect(port: number, rport: number, opts: { read?: boolean } = {}): Promise<void> {
    await this.call('connect', port, { rport, read: opts.read ?? true });
  }
  async send(port: number, data: Uint8Array): Promise<void> {
    await this.call('send', port, { hex: Buffer.from(data).toString('hex') });
  }
  async noDelay(port: number): Promise<void> {
    await this.call('nodelay', port);
  }
  async read(port: number): Promise<void> {
    await this.call('read', port);
  }
  async shutdown(port: number): Promise<void> {
    await this.call('shutdown', port);
  }
  async close(port: number): Promise<void> {
    await this.call('close', port);
  }
  async release(port: number): Promise<void> {
    await this.call('release', port);
  }
  async received(port: number): Promise<Received> {
    const r = await this.call('received', port);
    return { bytes: r.bytes as number, eof: r.eof as boolean };
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const hard = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(hard);
  }
}
