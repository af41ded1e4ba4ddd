import type { Command } from 'commander';
import { PingError, type PingReply } from '../stack/ping.js';
import { formatIpv4 } from '../wire/address.js';
import {
  addHostOptions,
  parseIntArg,
  parseIpArg,
  parseNumberArg,
  startHost,
  stopHost,
  type HostCliOptions,
  type RunningHost,
} from './common.js';

interface PingCliOptions extends HostCliOptions {
  count?: string;
  size?: string;
  interval?: string;
  timeout?: string;
}

/** What iputils prints at the end, from what we saw. */
interface PingTally {
  transmitted: number;
  received: number;
  errors: number;
  rtts: number[];
  elapsedMs: number;
}

/** The two summary lines of iputils ping (without the "--- ... ---" header). */
function formatSummary(t: PingTally): string {
  const loss = t.transmitted === 0 ? 0 : Math.round(((t.transmitted - t.received) / t.transmitted) * 100);
  const errors = t.errors > 0 ? `, +${t.errors} errors` : '';
  let out = `${t.transmitted} packets transmitted, ${t.received} received${errors}, ${loss}% packet loss, time ${Math.round(t.elapsedMs)}ms\n`;
  if (t.rtts.length > 0) {
    const min = Math.min(...t.rtts);
    const max = Math.max(...t.rtts);
    const avg = t.rtts.reduce((a, b) => a + b, 0) / t.rtts.length;
    const sq = t.rtts.reduce((a, b) => a + b * b, 0) / t.rtts.length;
    const mdev = Math.sqrt(Math.max(0, sq - avg * avg));
    out += `rtt min/avg/max/mdev = ${[min, avg, max, mdev].map((v) => v.toFixed(3)).join('/')} ms\n`;
  }
  return out;
}

function formatReply(dst: string, r: PingReply): string {
  return `${r.bytes} bytes from ${dst}: icmp_seq=${r.seq} ttl=${r.ttl} time=${r.rttMs < 10 ? r.rttMs.toFixed(3) : r.rttMs.toFixed(1)} ms\n`;
}

/**
 * `tapstack ping DEST`: echo requests from our own stack, printed like iputils ping,
 * including the statistics on exit (after -c N replies, or on Ctrl-C).
 */
export function register(program: Command): void {
  addHostOptions(
    program
      .command('ping')
      .description('send ICMP echo requests from our stack and print the replies like iputils ping')
      .argument('<dest>', 'IPv4 address to ping')
      .option('-c, --count <n>', 'stop after sending n requests (default: until Ctrl-C)')
      .option('-s, --size <bytes>', 'data bytes per request', '56')
      .option('-i, --interval <seconds>', 'seconds between requests', '1')
      .option('-W, --timeout <seconds>', 'seconds to wait for each reply', '2')
      .addHelpText('after', '\nExample:\n  tapstack ping 10.0.0.1 --tap tap0 --ip 10.0.0.2/24 -c 5'),
  ).action(async (destText: string, opts: PingCliOptions) => {
    const dst = parseIpArg('ping destination', destText);
    const count = opts.count !== undefined ? parseIntArg('-c', opts.count, 1, 1_000_000) : Infinity;
    const size = parseIntArg('-s', opts.size ?? '56', 0, 65507);
    const intervalMs = parseNumberArg('-i', opts.interval ?? '1', 0.002, 3600) * 1000;
    const timeoutMs = parseNumberArg('-W', opts.timeout ?? '2', 0.001, 3600) * 1000;
    const run = startHost(opts);
    await pingLoop(run, formatIpv4(dst), dst, { count, size, intervalMs, timeoutMs });
  });
}

async function pingLoop(
  run: RunningHost,
  dstText: string,
  dst: number,
  o: { count: number; size: number; intervalMs: number; timeoutMs: number },
): Promise<void> {
  const { host, clock } = run;
  const tally: PingTally = { transmitted: 0, received: 0, errors: 0, rtts: [], elapsedMs: 0 };
  const started = clock.now();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let wake: (() => void) | undefined;

  const finish = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    wake?.();
    tally.elapsedMs = clock.now() - started;
    process.stdout.write(`\n--- ${dstText} ping statistics ---\n${formatSummary(tally)}`);
    await stopHost(run, tally.received > 0 ? 0 : 1);
  };
  process.once('SIGINT', () => void finish());
  process.once('SIGTERM', () => void finish());

  const header = `PING ${dstText} (${dstText}) ${o.size}(${o.size + 28}) bytes of data.\n`;
  process.stdout.write(header);
  for (let seq = 1; seq <= o.count && !stopped; seq++) {
    tally.transmitted++;
    const p = host
      .ping(dst, { size: o.size, seq: seq & 0xffff, timeoutMs: o.timeoutMs })
      .then(
        (reply) => {
          if (stopped) return;
          tally.received++;
          tally.rtts.push(reply.rttMs);
          process.stdout.write(formatReply(dstText, reply));
        },
        (err: unknown) => {
          if (stopped) return;
          // Like iputils: a timeout prints nothing, an ICMP error prints its "From" line.
          if (err instanceof PingError && err.code === 'ETIMEDOUT') return;
          tally.errors++;
          process.stdout.write(`${err instanceof Error ? err.message : String(err)}\n`);
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (seq < o.count) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        clock.setTimer(o.intervalMs, resolve);
      });
    }
  }
  await Promise.all(inFlight);
  await finish();
}
