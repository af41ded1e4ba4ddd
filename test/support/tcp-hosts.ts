import { createHash } from 'node:crypto';
import { createHost, type Host } from '../../src/host.js';
import { FaultLink, type FaultProfile } from '../../src/link/faults.js';
import { MemoryHub } from '../../src/link/memory.js';
import { VirtualClock } from '../../src/stack/clock.js';
import { SeededRandom } from '../../src/stack/random.js';
import type { TcpOptions } from '../../src/tcp/index.js';
import type { TcpSocketLike } from '../../src/tcp/api.js';

/**
 * Two full hosts (A = 10.0.0.1, B = 10.0.0.2) on one MemoryHub with a VirtualClock,
 * optionally with seeded faults on A's link (both directions). Everything is
 * reproducible from `seed`.
 */
export interface TcpTestNet {
  clock: VirtualClock;
  seed: number;
  a: Host;
  b: Host;
  faults?: FaultLink;
  close(): Promise<void>;
}

export function createTcpTestNet(
  options: { seed?: number; latencyMs?: number; faults?: FaultProfile; tcp?: TcpOptions; mtu?: number } = {},
): TcpTestNet {
  const seed = options.seed ?? 1;
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock, { latencyMs: options.latencyMs ?? 1, ...(options.mtu ? { mtu: options.mtu } : {}) });
  let linkA = hub.attach('memA');
  let faults: FaultLink | undefined;
  if (options.faults) {
    faults = new FaultLink(linkA, { ...options.faults, random: new SeededRandom(seed * 7919 + 3), clock });
    linkA = faults;
  }
  const a = createHost({ link: linkA, address: '10.0.0.1', prefixLength: 24, mac: '02:00:00:00:00:01', clock, random: new SeededRandom(seed + 1), tcp: options.tcp });
  const b = createHost({ link: hub.attach('memB'), address: '10.0.0.2', prefixLength: 24, mac: '02:00:00:00:00:02', clock, random: new SeededRandom(seed + 2), tcp: options.tcp });
  return {
    clock,
    seed,
    a,
    b,
    faults,
    async close() {
      await a.close();
      await b.close();
    },
  };
}

/** Deterministic pseudo-random bytes. */
export function testBytes(n: number, seed: number): Uint8Array {
  const r = new SeededRandom(seed);
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, Math.floor(n / 4));
  for (let i = 0; i < words.length; i++) words[i] = r.uint32();
  for (let i = words.length * 4; i < n; i++) out[i] = r.uint32() & 0xff;
  return out;
}

export function sha256(data: Uint8Array | Uint8Array[]): string {
  const h = createHash('sha256');
  for (const d of Array.isArray(data) ? data : [data]) h.update(d);
  return h.digest('hex');
}

/** Collect everything a socket reads until 'end'. */
export function collect(socket: TcpSocketLike): { chunks: Buffer[]; ended: boolean; bytes: () => number } {
  const state = { chunks: [] as Buffer[], ended: false, bytes: () => state.chunks.reduce((n, c) => n + c.length, 0) };
  socket.on('data', (c: Buffer) => state.chunks.push(c));
  socket.on('end', () => {
    state.ended = true;
  });
  return state;
}

/** Write `data` in `chunk`-sized pieces honouring backpressure, then end(). */
export async function writeAll(socket: TcpSocketLike, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!socket.write(data.subarray(off, Math.min(data.length, off + chunk)))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          socket.off('error', onError);
          resolve();
        };
        const onError = (e: Error): void => {
          socket.off('drain', onDrain);
          reject(e);
        };
        socket.once('drain', onDrain);
        socket.once('error', onError);
      });
    }
  }
  socket.end();
}

/**
 * Like VirtualClock.runUntil, but also waits for real I/O (fs streams): when no
 * virtual timer is due it sleeps a real millisecond instead of giving up.
 */
export async function runWithIo(clock: import('../../src/stack/clock.js').VirtualClock, done: () => boolean, maxVirtualMs = 600_000, maxRealMs = 30_000): Promise<void> {
  const limit = clock.now() + maxVirtualMs;
  const realLimit = Date.now() + maxRealMs;
  while (!done()) {
    if (Date.now() > realLimit) throw new Error(`runWithIo: not done after ${maxRealMs} ms of real time`);
    const due = clock.nextDue();
    if (due === undefined) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    if (due > limit) throw new Error(`runWithIo: not done within ${maxVirtualMs} ms of virtual time`);
    // Before virtual time jumps ahead, give real I/O (disk) a moment to catch up, so a
    // slow disk does not look like minutes of silence to the stacks.
    if (due > clock.now()) await new Promise((r) => setTimeout(r, 1));
    await clock.advanceAsync(due - clock.now());
  }
}

/** Run `fn`; on failure, name the seed so the run can be replayed. */
export async function withSeed<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as Error;
    err.message = `[replay with seed ${seed}] ${err.message}`;
    console.error(`tcp simulation failed with seed ${seed}`);
    throw err;
  }
}

/**
 * One connection on `net`: host b connects to a listener on host a (as a client to an
 * FTP passive data port), and resolves once both ends exist. `sender` is a's socket
 * (faults on a's link hit what it sends); what b reads is collected in `got`;
 * `receiverFailed` tells whether b's socket saw an error or closed without an end.
 */
export async function openStream(
  net: TcpTestNet,
  port: number,
): Promise<{ sender: TcpSocketLike; got: ReturnType<typeof collect>; receiverFailed: () => boolean }> {
  let sender: TcpSocketLike | undefined;
  net.a.tcp.listen({ port }, (s) => {
    sender = s;
  });
  const receiver = net.b.tcp.connect({ host: '10.0.0.1', port });
  const got = collect(receiver);
  let failed = false;
  receiver.on('error', () => (failed = true));
  receiver.on('close', () => {
    if (!got.ended) failed = true;
  });
  await net.clock.runUntil(() => sender !== undefined, 10_000);
  return { sender: sender!, got, receiverFailed: () => failed };
}
