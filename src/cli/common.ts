import { Option, type Command } from 'commander';
import { CaptureLink } from '../link/capture.js';
import type { Link } from '../link/link.js';
import { TapLink } from '../link/tap.js';
import { createHost, type Host } from '../host.js';
import { RealClock, type Clock } from '../stack/clock.js';
import { createLogger, type LogLevel, type Logger } from '../stack/log.js';
import type { NeighbourSnapshot } from '../stack/neighbour.js';
import type { TcpSocketLike } from '../tcp/api.js';
import {
  formatIpv4,
  parseCidr,
  parseIpv4,
  parseMac,
  prefixMask,
  sameSubnet,
  type Ipv4Address,
  type MacAddress,
} from '../wire/address.js';

/**
 * What every command shares: option parsing with one-line errors (exit code 2),
 * opening the TAP device (optionally wrapped in a pcapng capture), building the host,
 * and a clean stop on SIGINT/SIGTERM.
 *
 *   export function register(program: Command): void {
 *     addHostOptions(program.command('up')).action(async (opts: HostCliOptions) => {
 *       const run = await startHost(opts);
 *       await runUntilSignal(run);
 *     });
 *   }
 */

/** Print one line to stderr and exit with code 2 (bad usage), like the rest of the CLI. */
export function usageError(message: string): never {
  process.stderr.write(`tapstack: ${message}\n`);
  process.exit(2);
}

/** Print one line to stderr and exit with `code` (1: the run failed). */
export function fatal(message: string, code = 1): never {
  process.stderr.write(`tapstack: ${message}\n`);
  process.exit(code);
}

export function parseIpArg(what: string, text: string): Ipv4Address {
  const addr = parseIpv4(text);
  if (addr === null) usageError(`${what}: "${text}" is not an IPv4 address (a.b.c.d)`);
  return addr;
}

function parseCidrArg(what: string, text: string): { address: Ipv4Address; prefixLength: number } {
  const cidr = parseCidr(text);
  if (cidr === null) usageError(`${what}: "${text}" is not ADDRESS/PREFIX (e.g. 10.0.0.2/24)`);
  if (cidr.prefixLength === 0 || cidr.prefixLength > 30) {
    // A host needs at least one neighbour: /31 and /32 leave none on an Ethernet.
    usageError(`${what}: prefix length must be 1..30, got /${cidr.prefixLength}`);
  }
  return cidr;
}

function parseMacArg(what: string, text: string): MacAddress {
  const mac = parseMac(text);
  if (mac === null) usageError(`${what}: "${text}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  if ((mac[0]! & 1) !== 0) usageError(`${what}: ${text} is a multicast MAC address`);
  return mac;
}

/** The values of a repeatable --dns option: each an IPv4 address with an optional :port. */
export function checkDnsServerArgs(servers: readonly string[]): void {
  for (const s of servers) if (!/^\d+\.\d+\.\d+\.\d+(:\d{1,5})?$/.test(s)) usageError(`--dns: "${s}" is not IPv4[:port]`);
}

/** A decimal integer in [min, max]. */
export function parseIntArg(what: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) usageError(`${what}: "${text}" is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) usageError(`${what}: ${n} is out of range ${min}..${max}`);
  return n;
}

/** A decimal number (fractions allowed, e.g. ping -i 0.2) in [min, max]. */
export function parseNumberArg(what: string, text: string, min: number, max: number): number {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) usageError(`${what}: "${text}" is not a number`);
  const n = Number(text);
  if (n < min || n > max) usageError(`${what}: ${n} is out of range ${min}..${max}`);
  return n;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function parseLogLevelArg(text: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(text)) usageError(`--log-level: "${text}" is not one of ${LOG_LEVELS.join(', ')}`);
  return text as LogLevel;
}

/** Raw option values as commander hands them over (all strings; parsed by resolveHostOptions). */
export interface HostCliOptions {
  tap?: string;
  ip?: string;
  gateway?: string;
  mac?: string;
  mtu?: string;
  pcap?: string;
  logLevel?: string;
  stats?: boolean;
  offload?: boolean;
}

/** Add the options of a host on a TAP device: --tap, --ip, --gateway, --mac, --mtu, --pcap, --log-level, --stats. */
export function addHostOptions(command: Command): Command {
  return command
    .addOption(new Option('--tap <name>', 'TAP device to attach to (created if missing; needs CAP_NET_ADMIN)'))
    .addOption(new Option('--ip <addr/prefix>', 'our IPv4 address and prefix length, e.g. 10.0.0.2/24'))
    .addOption(new Option('--gateway <ip>', 'default gateway for destinations outside the prefix'))
    .addOption(new Option('--mac <mac>', 'our MAC address (default: random, locally administered)'))
    .addOption(new Option('--mtu <n>', 'largest IP datagram on the link').default('1500'))
    .addOption(new Option('--pcap <file>', 'write every frame, both directions, to a pcapng file'))
    .addOption(new Option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`).default('warn'))
    .addOption(new Option('--stats', 'print the protocol counters on exit'))
    .addOption(new Option('--offload', 'TAP checksum/segmentation offload: 64 KiB TCP super-frames both ways (faster; captures show super-frames, not wire segments)'));
}

/** Checked host settings. */
export interface HostConfig {
  tap: string;
  address: Ipv4Address;
  prefixLength: number;
  gateway?: Ipv4Address;
  mac?: MacAddress;
  mtu: number;
  pcap?: string;
  logLevel: LogLevel;
  stats: boolean;
  offload: boolean;
}

/** Check every host option; the first bad one ends the program (one line, exit 2). */
function resolveHostOptions(opts: HostCliOptions): HostConfig {
  if (!opts.tap) usageError('--tap NAME is required');
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(opts.tap)) usageError(`--tap: "${opts.tap}" is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  if (!opts.ip) usageError('--ip ADDRESS/PREFIX is required');
  const { address, prefixLength } = parseCidrArg('--ip', opts.ip);
  const config: HostConfig = {
    tap: opts.tap,
    address,
    prefixLength,
    mtu: parseIntArg('--mtu', opts.mtu ?? '1500', 576, 9000),
    logLevel: parseLogLevelArg(opts.logLevel ?? 'warn'),
    stats: opts.stats === true,
    offload: opts.offload === true,
  };
  const mask = prefixMask(prefixLength);
  const hostPart = (address & ~mask) >>> 0;
  if (hostPart === 0 || hostPart === (~mask >>> 0)) {
    usageError(`--ip: ${formatIpv4(address)} is the network or broadcast address of its /${prefixLength}`);
  }
  if (opts.gateway !== undefined) {
    config.gateway = parseIpArg('--gateway', opts.gateway);
    if (!sameSubnet(config.gateway, address, prefixLength) || config.gateway === address) {
      usageError(`--gateway: ${opts.gateway} is not another host inside ${formatIpv4((address & mask) >>> 0)}/${prefixLength}`);
    }
  }
  if (opts.mac !== undefined) config.mac = parseMacArg('--mac', opts.mac);
  if (opts.pcap !== undefined) {
    if (opts.pcap === '') usageError('--pcap: file name is empty');
    config.pcap = opts.pcap;
  }
  return config;
}

/** Open the TAP device. Errors are one line: permission problems exit 2, others 1. */
function openTap(name: string, mtu: number, offload: boolean): TapLink {
  try {
    return TapLink.open({ name, mtu, offload });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // The binding's messages name the device and say what to do (e.g. CAP_NET_ADMIN).
    const message = e.message.includes(name) ? e.message : `cannot open TAP device ${name}: ${e.message}`;
    if (e.code === 'EPERM' || e.code === 'EACCES' || e.code === 'EINVAL' || e.code === 'EBUSY') usageError(message);
    fatal(message);
  }
}

/**
 * What a host on an offload TAP (--offload) sets beyond the defaults; nothing for a
 * plain one. IP and TCP send super-segments that the kernel cuts into MTU-sized ones,
 * and both TCP buffers grow to 4 MiB: with 1 MiB only about 16 super-frames of 60 KB
 * are in flight, and the sender waits while the other side works through a batch
 * (measured: stack -> kernel 400-480 MB/s with 1 MiB, 630-660 with 4 MiB; more did
 * not help). The benchmarks use this too.
 */
export function offloadHostOptions(tap: TapLink): { superFrameMtu?: number; tcp?: { segmentsPerSend: number; receiveBufferBytes: number; sendBufferBytes: number } } {
  if (tap.superFrameMtu === undefined) return {};
  const buffer = 4 << 20;
  return {
    superFrameMtu: tap.superFrameMtu,
    tcp: { segmentsPerSend: tap.segmentsPerSuperFrame, receiveBufferBytes: buffer, sendBufferBytes: buffer },
  };
}

/** A host running on a device, with what is needed to stop it cleanly. */
export interface RunningHost {
  host: Host;
  config: HostConfig;
  tap: TapLink;
  /** The link the host uses: the TAP device, or the capture around it. */
  link: Link;
  capture?: CaptureLink;
  clock: Clock;
  log: Logger;
}

/** Parse the options, open the device (and capture), build the host. */
export function startHost(opts: HostCliOptions): RunningHost {
  const config = resolveHostOptions(opts);
  const clock = new RealClock();
  const log = createLogger(config.logLevel);
  const tap = openTap(config.tap, config.mtu, config.offload);
  let link: Link = tap;
  let capture: CaptureLink | undefined;
  if (config.pcap) {
    try {
      // The capture's timestamps are wall-clock dates: the real clock's origin plus now.
      capture = new CaptureLink(tap, { path: config.pcap, clock, epochMs: performance.timeOrigin + clock.now() });
    } catch (err) {
      void tap.close();
      fatal(`cannot write capture ${config.pcap}: ${(err as Error).message}`, 2);
    }
    link = capture;
  }
  tap.onError((err) => {
    log.error({ err }, 'TAP device failed');
    process.stderr.write(`tapstack: ${config.tap}: ${err.message}\n`);
    void stopHost({ host, config, tap, link, clock, log, ...(capture ? { capture } : {}) }, 1);
  });
  const host = createHost({
    link,
    address: config.address,
    prefixLength: config.prefixLength,
    mtu: config.mtu,
    ...offloadHostOptions(tap),
    clock,
    log,
    ...(config.gateway !== undefined ? { gateway: config.gateway } : {}),
    ...(config.mac ? { mac: config.mac } : {}),
  });
  return { host, config, tap, link, clock, log, ...(capture ? { capture } : {}) };
}

/** One line about the host, e.g. for `up`: "tap0 10.0.0.2/24 02:12:..:..  mtu 1500". */
export function describeHost(run: RunningHost): string {
  const { config, host } = run;
  const mac = Array.from(host.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const gw = config.gateway !== undefined ? ` via ${formatIpv4(config.gateway)}` : '';
  return `${config.tap} ${formatIpv4(config.address)}/${config.prefixLength} ${mac} mtu ${config.mtu}${gw}${config.offload ? ' offload' : ''}`;
}

/** What the table says of one neighbour: its MAC, or what it waits for. */
function neighbourState(n: NeighbourSnapshot): string {
  if (n.state === 'incomplete') return `incomplete (${n.pending} queued)`;
  return n.state === 'reachable' ? `${n.mac}` : `${n.mac} (stale)`;
}

/** The ARP cache, one neighbour a line (empty once the host is closed: take it before). */
function neighbourTable(host: Host): string {
  return host.ip.arp.neighbours
    .snapshot()
    .map((n) => `${n.ip.padEnd(15)}  ${neighbourState(n)}`)
    .join('\n');
}

/** Print the counters and the ARP cache (for --stats) to stderr, so stdout keeps only program output. */
function printStats(host: Host, neighbours = neighbourTable(host)): void {
  const table = host.counters.format();
  process.stderr.write(`--- counters ---\n${table}${table ? '\n' : ''}`);
  if (neighbours) process.stderr.write(`--- neighbours ---\n${neighbours}\n`);
}

let stopping: Promise<void> | undefined;

/** Close host, capture and device (in that order, via Host.close), print stats, exit. */
export function stopHost(run: RunningHost, code = 0): Promise<void> {
  stopping ??= (async () => {
    const neighbours = neighbourTable(run.host);
    try {
      await run.host.close();
    } catch (err) {
      process.stderr.write(`tapstack: error while closing: ${(err as Error).message}\n`);
      code = code || 1;
    }
    if (run.config.stats) printStats(run.host, neighbours);
    process.exit(code);
  })();
  return stopping;
}

/**
 * Stop the host once every one of `sockets` is CLOSED or in TIME-WAIT, or after `maxMs`.
 * A process that exits takes our whole stack with it (unlike the kernel, which finishes
 * the closing handshakes of a dead process's sockets): without this wait the peer would
 * see a RST, or a FIN that is never acknowledged, where the last FIN/ACK exchange belongs.
 */
export async function stopHostWhenClosed(run: RunningHost, sockets: Iterable<TcpSocketLike>, code: number, maxMs: number): Promise<void> {
  const closing = (): boolean => {
    for (const s of sockets) if (s.state !== undefined && s.state !== 'CLOSED' && s.state !== 'TIME-WAIT') return true;
    return false;
  };
  const deadline = run.clock.now() + maxMs;
  while (closing() && run.clock.now() < deadline) {
    await new Promise<void>((resolve) => run.clock.setTimer(10, resolve));
  }
  await stopHost(run, code);
}

/**
 * Keep running until SIGINT or SIGTERM, then close the host and the device, flush the
 * capture and exit 0. Never resolves.
 */
export function runUntilSignal(run: RunningHost): Promise<never> {
  const onSignal = (): void => {
    void stopHost(run, 0);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return new Promise<never>(() => {});
}
