/**
 * The FTP server: listens on the control port, enforces the connection limits, and
 * runs one FtpSession per client. It only uses the socket API (TcpApi), so the same
 * server runs on our own TCP over a TAP device, over the in-memory link, or on any
 * other TcpApi.
 */
import { EventEmitter } from 'node:events';
import { Counters } from '../../stack/counters.js';
import { silentLogger } from '../../stack/log.js';
import { SystemRandom } from '../../stack/random.js';
import type { TcpAddressInfo, TcpServerLike, TcpSocketLike } from '../../tcp/api.js';
import { formatReply } from '../common/reply.js';
import { LoginGuard } from './login-guard.js';
import { SERVER_DEFAULTS, type FtpServerOptions, type ResolvedServerOptions } from './options.js';
import { VirtualRoot } from './path.js';
import { FtpSession } from './session.js';
import { XferLog } from './xferlog.js';

export type { FtpServerOptions } from './options.js';

export function resolveOptions(o: FtpServerOptions): ResolvedServerOptions {
  const port = o.port ?? SERVER_DEFAULTS.port;
  return {
    ...SERVER_DEFAULTS,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    port,
    // RFC 959 3.2: the server's data port defaults to the control port minus one (L-1).
    dataPort: o.dataPort ?? Math.max(1, port - 1),
    random: o.random ?? new SystemRandom(),
    logger: (o.logger ?? silentLogger).child({ layer: 'ftp-server' }),
    counters: o.counters ?? new Counters(),
    now: o.now ?? (() => new Date()),
  } as ResolvedServerOptions;
}

export class FtpServer extends EventEmitter {
  readonly options: ResolvedServerOptions;
  private listener: TcpServerLike | undefined;
  private root: VirtualRoot | undefined;
  private xferlog: XferLog | undefined;
  private readonly sessions = new Set<FtpSession>();
  private readonly perAddress = new Map<string, number>();
  private readonly guard: LoginGuard;
  private nextId = 1;

  constructor(options: FtpServerOptions) {
    super();
    const o = (this.options = resolveOptions(options));
    this.guard = new LoginGuard(
      { baseDelayMs: o.loginFailDelayMs, banAfter: o.loginBanAfter, banMs: o.loginBanMs, maxConcurrent: o.maxConcurrentLogins },
      o.clock,
      o.counters,
    );
  }

  get counters(): Counters {
    return this.options.counters;
  }

  /** Clients connected right now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Open the served root and start listening on the control port. */
  async listen(): Promise<TcpAddressInfo> {
    const o = this.options;
    this.root = await VirtualRoot.open(o.root);
    if (o.xferlog) this.xferlog = new XferLog(o.xferlog, o.now);
    // Half-open allowed: a client may send its last commands with its FIN and still
    // deserves the answers (the session closes after them).
    // Room in the accept queue for every client we would admit: a burst of logins
    // must not lose SYNs (and a second each to the client's retransmission).
    const backlog = Math.max(128, o.maxClients);
    const listener = o.tcp.listen({ port: o.port, backlog, allowHalfOpen: true }, (socket) => this.onConnection(socket));
    this.listener = listener;
    if (!listener.listening) {
      await new Promise<void>((resolve, reject) => {
        listener.once('listening', resolve);
        listener.once('error', reject);
      });
    }
    o.logger.info({ port: o.port, root: this.root.realRoot }, 'ftp server listening');
    return listener.address() ?? { address: '0.0.0.0', family: 'IPv4', port: o.port };
  }

  private onConnection(socket: TcpSocketLike): void {
    const o = this.options;
    const peer = socket.remoteAddress ?? '';
    socket.on('error', () => {});
    // An address banned for guessing passwords (login-guard.ts) is turned away at once.
    if (this.guard.isBanned(peer)) {
      o.counters.inc('ftp.server.refused.banned');
      socket.end(formatReply(421, 'Too many failed logins from your address, try again later.'));
      return;
    }
    // Limits are checked before any session state exists (RFC 959: 421 service not available).
    const fromPeer = this.perAddress.get(peer) ?? 0;
    if (this.sessions.size >= o.maxClients || fromPeer >= o.maxPerIp) {
      const which = this.sessions.size >= o.maxClients ? 'max_clients' : 'max_per_ip';
      o.counters.inc(`ftp.server.refused.${which}`);
      socket.end(formatReply(421, 'Too many connections, try again later.'));
      return;
    }
    this.perAddress.set(peer, fromPeer + 1);
    const session = new FtpSession(
      {
        options: o,
        root: this.root!,
        guard: this.guard,
        xferlog: this.xferlog,
        onClose: (s) => this.forget(s),
      },
      socket,
      this.nextId++,
    );
    this.sessions.add(session);
    session.start();
    this.emit('session', session);
  }

  private forget(session: FtpSession): void {
    if (!this.sessions.delete(session)) return;
    const left = (this.perAddress.get(session.peer) ?? 1) - 1;
    if (left <= 0) this.perAddress.delete(session.peer);
    else this.perAddress.set(session.peer, left);
    this.emit('session-closed', session);
  }

  /** Stop listening and end every session. */
  async close(): Promise<void> {
    for (const s of [...this.sessions]) s.close('server shutting down', true);
    const listener = this.listener;
    this.listener = undefined;
    if (listener?.listening) await new Promise<void>((resolve) => listener.close(() => resolve()));
    await this.xferlog?.flush();
  }
}
