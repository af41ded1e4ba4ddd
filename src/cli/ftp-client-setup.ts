import { readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { Resolver } from '../dns/resolver.js';
import { candidateNames, parseResolvConf, type ResolvConf } from '../dns/resolv-conf.js';
import type { TcpApi, TcpSocketLike } from '../tcp/api.js';
import { FtpClient } from '../ftp/client/client.js';
import type { DataMode, TransferType } from '../ftp/client/options.js';
import { FtpReplyError, FtpSizeMismatchError } from '../ftp/client/errors.js';
import { formatRate, type ProgressDisplay } from '../ftp/client/shell.js';
import type { Clock } from '../stack/clock.js';
import { parseFtpUrl, type FtpUrl } from '../ftp/client/url.js';
import { checkDnsServerArgs, parseIntArg, stopHostWhenClosed, usageError, type HostCliOptions, type RunningHost } from './common.js';

/**
 * What `tapstack ftp`, `get` and `put` share: their FTP options, the client on the
 * host's stack (with our DNS resolver), URL login, failure lines and the progress bar.
 */

/** Options shared by `ftp`, `get` and `put`. */
export interface FtpCommonCliOptions extends HostCliOptions {
  dns: string[];
  active?: boolean;
  passive?: boolean;
  activePortBase?: string;
  trustPasv?: boolean;
  timeout?: string;
  verbose?: boolean;
}

/** Add --dns, --active/--passive, --active-port-base, --trust-pasv, --timeout, -v. */
export function addFtpOptions(command: Command): Command {
  return command
    .option('--dns <server>', 'DNS server IPv4[:port] for host names; repeat for more (default: the nameservers of /etc/resolv.conf)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--active', 'active mode: the server connects to us (PORT)')
    .option('--passive', 'passive mode: we connect to the server (EPSV, then PASV)')
    .option('--active-port-base <port>', 'first local data port in active mode; each transfer takes the next', '5001')
    .option('--trust-pasv', 'connect to the address inside a 227 reply (default: the control peer)')
    .option('--timeout <ms>', 'connect, reply and data idle timeout', '30000');
}

/** The FTP options, checked: what createClient needs besides the host. */
export interface FtpClientConfig {
  dns: string[];
  mode: DataMode;
  activePortBase: number;
  timeoutMs: number;
  trustPasv: boolean;
}

/**
 * Check the FTP options (exit 2 on a bad one) before the host starts. `defaultMode`
 * applies without --active or --passive: active for `ftp` (the seed session), passive
 * for `get` and `put`.
 */
export function checkFtpOptions(opts: FtpCommonCliOptions, defaultMode: DataMode): FtpClientConfig {
  if (opts.active && opts.passive) usageError('--active and --passive cannot be used together');
  checkDnsServerArgs(opts.dns);
  return {
    dns: opts.dns,
    mode: opts.active ? 'active' : opts.passive ? 'passive' : defaultMode,
    activePortBase: parseIntArg('--active-port-base', opts.activePortBase ?? '5001', 1024, 65535),
    timeoutMs: parseIntArg('--timeout', opts.timeout ?? '30000', 100, 3_600_000),
    trustPasv: opts.trustPasv === true,
  };
}

/** Every socket the client opened or accepted, per host: finishFtp waits for them to close. */
const tracked = new WeakMap<RunningHost, Set<TcpSocketLike>>();

function trackingTcp(run: RunningHost): TcpApi {
  const tcp = run.host.tcp;
  const sockets = new Set<TcpSocketLike>();
  tracked.set(run, sockets);
  return {
    connect(options, onConnect) {
      const s = tcp.connect(options, onConnect);
      sockets.add(s);
      return s;
    },
    listen(options, onConnection) {
      const server = tcp.listen(options, onConnection);
      server.on('connection', (s: TcpSocketLike) => sockets.add(s));
      return server;
    },
  };
}

/**
 * Stop the host once the last FIN/ACK exchanges of the client's connections are done
 * (at most `maxMs`): otherwise the server would see a RST where the seed shows FINs.
 */
export function finishFtp(run: RunningHost, code: number, maxMs = 2000): Promise<void> {
  return stopHostWhenClosed(run, tracked.get(run) ?? [], code, maxMs);
}

/**
 * An FtpClient on the host's TCP, resolving names with our own DNS resolver (through
 * our stack, never the kernel's): the --dns servers, else the nameservers of
 * /etc/resolv.conf (inside `ip netns exec NS`, that is /etc/netns/NS/resolv.conf).
 */
export function createClient(run: RunningHost, config: FtpClientConfig, type: TransferType): FtpClient {
  const { host } = run;
  const conf: ResolvConf = config.dns.length > 0 ? { nameservers: config.dns, search: [] } : readResolvConf(RESOLV_CONF);
  const resolver =
    conf.nameservers.length > 0
      ? new Resolver({ udp: host.udp, tcp: host.tcp, servers: conf.nameservers, clock: host.clock, random: host.random, counters: host.counters })
      : undefined;
  return new FtpClient({
    tcp: trackingTcp(run),
    clock: host.clock,
    lookup: async (name) => {
      if (!resolver) throw new Error(`cannot resolve ${name}: no DNS server (give --dns, or a nameserver in ${RESOLV_CONF})`);
      let lastError: unknown;
      for (const candidate of candidateNames(name, conf)) {
        try {
          const addrs = await resolver.resolve4(candidate);
          if (addrs.length > 0) return addrs[0]!;
        } catch (err) {
          lastError = err;
        }
      }
      throw lastError ?? new Error(`${name}: no IPv4 address`);
    },
    mode: config.mode,
    type,
    activePortBase: config.activePortBase,
    trustPasvAddress: config.trustPasv,
    connectTimeout: config.timeoutMs,
    replyTimeout: config.timeoutMs,
    dataTimeout: config.timeoutMs,
    counters: host.counters,
  });
}

/** Parse an ftp:// URL argument of `get` or `put`, exiting 2 (one line) when it is not one. */
export function urlArg(text: string): FtpUrl {
  try {
    return parseFtpUrl(text);
  } catch (err) {
    usageError((err as Error).message);
  }
}

/**
 * For `get` and `put`: with -v, echo the protocol exchange to stderr (stdout may carry
 * the file), then connect and log in as the URL says: anonymous (password guest@)
 * unless it names a user.
 */
export async function openUrl(client: FtpClient, url: FtpUrl, verbose: boolean): Promise<void> {
  if (verbose) {
    client.on('command', (l: string) => process.stderr.write(`---> ${l}\n`));
    client.on('reply', (r: { lines: string[] }) => process.stderr.write(`${r.lines.join('\n')}\n`));
  }
  await client.connect(url.host, url.port);
  await client.login(url.user ?? 'anonymous', url.password ?? (url.user === undefined ? 'guest@' : ''));
}

/** A failed one-shot transfer in one line: the server's reply, or the error's message. */
export function describeFailure(err: unknown): string {
  if (err instanceof FtpReplyError) return `${err.code} ${err.text.replace(/\n/g, ' ')}`;
  if (err instanceof FtpSizeMismatchError && err.keptPath) return `${err.message} (kept ${err.keptPath}; -C resumes it)`;
  return (err as Error).message ?? String(err);
}

/**
 * A cli-progress bar on stderr, only when stderr is a terminal. The ETA is
 * cli-progress's own (from its buffer of recent updates); the speed is bytes moved in
 * this transfer (not a resumed offset) over the time since `startedAt`, the figure the
 * shell's summary line prints at the end. Without a known total: no bar, no ETA.
 */
export function progressBar(name: string, startedAt: number, clock: Clock): ProgressDisplay | undefined {
  if (!process.stderr.isTTY) return undefined;
  const label = name.length > 30 ? `...${name.slice(-27)}` : name;
  let base: number | undefined;
  let known = false;
  let stopped = false;
  let last = { bytes: 0, at: 0 };
  let bar: cliProgress.SingleBar | undefined;
  const speed = (bytes: number) => formatRate((bytes - (base ?? 0)) / Math.max(0.001, (clock.now() - startedAt) / 1000));
  return {
    update(bytes, total) {
      if (stopped) return;
      known = total !== undefined;
      if (!bar) {
        base = bytes;
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            hideCursor: true,
            // The ETA is the rate over the last 30 updates, which we space by 100 ms
            // or more (see update): a burst of chunks within one millisecond would
            // otherwise look like an infinite rate and an ETA of 0 s.
            etaBuffer: 30,
            clearOnComplete: false, // stop() leaves the last state and ends its line
            format: (options, params, payload: { speed: string }) => {
              const value = `${params.value} bytes ${payload.speed}`;
              if (!known) return `${label} ${value}`;
              const pct = Math.floor((params.value / Math.max(1, params.total)) * 100);
              const eta = typeof params.eta === 'number' && Number.isFinite(params.eta) ? cliProgress.Format.TimeFormat(params.eta, options, 5) : '--';
              return `${label} |${cliProgress.Format.BarFormat(params.progress, options)}| ${String(pct).padStart(3)}% ${value} ETA ${eta}`;
            },
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total ?? bytes, bytes, { speed: speed(bytes) });
        last = { bytes, at: clock.now() };
        return;
      }
      if (total !== undefined && bar.getTotal() !== total) bar.setTotal(total);
      last.bytes = bytes;
      if (clock.now() - last.at < 100 && bytes !== total) return;
      last.at = clock.now();
      bar.update(bytes, { speed: speed(bytes) });
    },
    stop() {
      if (!bar) return;
      // The last frame: every byte, and the speed up to now, as the summary will say.
      bar.update(last.bytes, { speed: speed(last.bytes) });
      bar.stop();
      bar = undefined;
      stopped = true;
    },
  };
}

const RESOLV_CONF = '/etc/resolv.conf';

/** resolv.conf, or no servers when it can't be read. */
function readResolvConf(file: string): ResolvConf {
  try {
    return parseResolvConf(readFileSync(file, 'utf8'));
  } catch {
    return { nameservers: [], search: [] };
  }
}
