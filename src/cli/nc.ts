import type { Command } from 'commander';
import type { TcpSocketLike } from '../tcp/api.js';
import { formatIpv4 } from '../wire/address.js';
import {
  addHostOptions,
  fatal,
  parseIntArg,
  parseIpArg,
  parseNumberArg,
  runUntilSignal,
  startHost,
  stopHost,
  stopHostWhenClosed,
  usageError,
  type HostCliOptions,
  type RunningHost,
} from './common.js';

interface NcCliOptions extends HostCliOptions {
  listen?: string;
  sourcePort?: string;
  wait?: string;
}

/** One line for a failed connection, in netcat's words. */
function describeError(err: Error & { code?: string }, peer: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connect to ${peer} failed: Connection refused`;
    case 'ECONNRESET':
      return `${peer}: Connection reset by peer`;
    case 'ETIMEDOUT':
      return `connect to ${peer} failed: Connection timed out`;
    case 'EHOSTUNREACH':
      return `connect to ${peer} failed: No route to host`;
    case 'ENETUNREACH':
      return `connect to ${peer} failed: Network is unreachable`;
    case 'EADDRINUSE':
      return `${peer}: Address already in use`;
    default:
      return `${peer}: ${err.message}`;
  }
}

/**
 * `tapstack nc` copies stdin to a TCP connection over our stack and the connection
 * to stdout, like netcat: `nc -l PORT` accepts one connection, `nc HOST PORT`
 * connects. EOF on stdin sends our FIN (half-close); the program ends when both
 * directions are closed.
 */
export function register(program: Command): void {
  addHostOptions(
    program
      .command('nc')
      .description('netcat over our TCP: copy stdin to a connection and the connection to stdout')
      .argument('[host]', 'IPv4 address to connect to (omit with -l)')
      .argument('[port]', 'TCP port to connect to')
      .option('-l, --listen <port>', 'accept one connection on this port instead of connecting')
      .option('-p, --source-port <port>', 'local port to connect from')
      .option('-w, --wait <seconds>', 'give up connecting after this many seconds')
      .addHelpText(
        'after',
        '\nExamples:\n  tapstack nc -l 5001 --tap tap0 --ip 10.0.0.2/24 > received.bin\n  tapstack nc 10.0.0.1 5001 --tap tap0 --ip 10.0.0.2/24 < file.bin',
      ),
  ).action(async (hostText: string | undefined, portText: string | undefined, opts: NcCliOptions) => {
    if (opts.listen !== undefined) {
      if (hostText !== undefined) usageError('nc -l PORT takes no HOST argument');
      const port = parseIntArg('-l', opts.listen, 1, 65535);
      const run = startHost(opts);
      listenOnce(run, port);
      return runUntilSignal(run);
    }
    if (hostText === undefined || portText === undefined) usageError('nc needs HOST PORT, or -l PORT');
    const dst = parseIpArg('nc host', hostText);
    const port = parseIntArg('nc port', portText, 1, 65535);
    const localPort = opts.sourcePort !== undefined ? parseIntArg('-p', opts.sourcePort, 1, 65535) : undefined;
    const timeout = opts.wait !== undefined ? parseNumberArg('-w', opts.wait, 0.001, 86_400) * 1000 : undefined;
    const run = startHost(opts);
    const socket = run.host.tcp.connect({
      host: formatIpv4(dst),
      port,
      allowHalfOpen: true,
      ...(localPort !== undefined ? { localPort } : {}),
      ...(timeout !== undefined ? { timeout } : {}),
    });
    relay(run, socket, `${formatIpv4(dst)} port ${port}`);
    socket.once('connect', () => {
      process.stdin.pipe(socket);
    });
    return runUntilSignal(run);
  });
}

function listenOnce(run: RunningHost, port: number): void {
  let server: ReturnType<RunningHost['host']['tcp']['listen']>;
  try {
    server = run.host.tcp.listen({ port, backlog: 1, allowHalfOpen: true }, (socket) => {
      server.close();
      relay(run, socket, `${socket.remoteAddress} port ${socket.remotePort}`);
      process.stdin.pipe(socket);
    });
  } catch (err) {
    fatal(`nc: port ${port}: ${(err as Error).message}`);
  }
}

/** Connection to stdout; exit when it is closed both ways (0) or fails (1). */
function relay(run: RunningHost, socket: TcpSocketLike, peer: string): void {
  socket.on('data', (chunk: Buffer) => {
    if (!process.stdout.write(chunk)) {
      socket.pause();
      process.stdout.once('drain', () => socket.resume());
    }
  });
  let failed = false;
  socket.on('error', (err: Error & { code?: string }) => {
    failed = true;
    process.stderr.write(`tapstack: nc: ${describeError(err, peer)}\n`);
    void stopHost(run, 1);
  });
  socket.on('close', () => {
    // Let the last ACK (or our FIN's retransmissions) go out before the device closes.
    if (!failed) void stopHostWhenClosed(run, [socket], 0, 3000);
  });
}
