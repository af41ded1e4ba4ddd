import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { FaultProfile } from '../../src/link/faults.js';
import type { TcpSocketLike } from '../../src/tcp/api.js';
import { collect, createTcpTestNet, runWithIo, sha256, testBytes, withSeed, writeAll, type TcpTestNet } from '../support/tcp-hosts.js';

/**
 * Two stacks on the in-memory hub, A's link wrapped in a seeded FaultLink (both
 * directions). Bulk data both ways at once must arrive byte-identical, and the
 * counters must show which recovery machinery did the work.
 */

let net: TcpTestNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

async function exchange(seed: number, size: number, faults: FaultProfile | undefined, maxVirtualMs = 3_600_000) {
  net = createTcpTestNet({ seed, latencyMs: 2, faults });
  const { a, b, clock } = net;
  const fromA = testBytes(size, seed * 2 + 1);
  const fromB = testBytes(size, seed * 2 + 2);
  let atB: ReturnType<typeof collect> | undefined;
  // Both sides send and each half-closes when done: with allowHalfOpen false (net's
  // default) the side that hears the other's FIN first would end its own writes early.
  b.tcp.listen({ port: 5001, allowHalfOpen: true }, (s) => {
    atB = collect(s);
    void writeAll(s, fromB);
  });
  const client = a.tcp.connect({ host: '10.0.0.2', port: 5001, allowHalfOpen: true });
  const atA = collect(client);
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  client.on('connect', () => void writeAll(client, fromA));
  await clock.runUntil(() => errors.length > 0 || (atA.ended && (atB?.ended ?? false)), maxVirtualMs);
  expect(errors).toEqual([]);
  expect(atB!.bytes()).toBe(size);
  expect(atA.bytes()).toBe(size);
  expect(sha256(Buffer.concat(atB!.chunks))).toBe(sha256(fromA));
  expect(sha256(Buffer.concat(atA.chunks))).toBe(sha256(fromB));
  return { a: a.counters, b: b.counters, faults: net.faults?.stats };
}

describe('tcp bulk transfer between two stacks', () => {
  it('10 MB each way on a clean link: no retransmissions, large windows', async () => {
    const { a, b } = await withSeed(1, () => exchange(1, 10_000_000, undefined));
    expect(a.sum('tcp.retransmit')).toBe(0);
    expect(b.sum('tcp.retransmit')).toBe(0);
    expect(a.get('tcp.rx.dup_ack')).toBe(0);
  });

  for (const seed of [21, 22]) {
    it(`10 MB each way through loss 5%, reordering, duplication, corruption, delay (seed ${seed})`, async () => {
      const faults = { loss: 0.05, reorder: 0.03, duplicate: 0.02, corrupt: 0.01, delayMs: 1 };
      const { a, b, faults: stats } = await withSeed(seed, () => exchange(seed, 10_000_000, faults));
      // The faults happened ...
      expect(stats!.outbound.dropped + stats!.inbound.dropped).toBeGreaterThan(100);
      expect(stats!.outbound.corrupted + stats!.inbound.corrupted).toBeGreaterThan(10);
      // ... and the machinery repaired them: fast retransmit and SACK recovery,
      // out-of-order reassembly, duplicate trimming, checksum drops.
      for (const c of [a, b]) {
        expect(c.get('tcp.retransmit.fast')).toBeGreaterThan(10);
        expect(c.get('tcp.rx.out_of_order_bytes')).toBeGreaterThan(10_000);
        expect(c.get('tcp.rx.dup_ack')).toBeGreaterThan(10);
      }
      expect(a.get('tcp.rx.bad_checksum') + b.get('tcp.rx.bad_checksum') + a.get('ipv4.rx.bad_checksum') + b.get('ipv4.rx.bad_checksum')).toBeGreaterThan(0);
      expect(a.get('tcp.rx.duplicate_bytes') + b.get('tcp.rx.duplicate_bytes') + a.get('tcp.rx.drop.unacceptable') + b.get('tcp.rx.drop.unacceptable')).toBeGreaterThan(0);
    });
  }

  it('reordering without loss: spurious fast retransmits are detected (Eifel) and undone', async () => {
    // Jitter shuffles the segments of a burst: holes that fill a moment later.
    const { a } = await withSeed(41, () => exchange(41, 3_000_000, { jitterMs: 1, delayMs: 1 }));
    expect(a.get('tcp.retransmit.spurious')).toBeGreaterThan(0);
    // Once the reordering is learnt, almost nothing is sent twice.
    expect(a.get('tcp.retransmit.segments')).toBeLessThan(a.get('tcp.tx.segments') * 0.02);
  });

  it('1 MB each way through 20% loss in both directions (seed 31)', async () => {
    const faults = { loss: 0.2, reorder: 0.02, duplicate: 0.02, corrupt: 0.01, delayMs: 1 };
    const { a, b } = await withSeed(31, () => exchange(31, 1_000_000, faults));
    for (const c of [a, b]) {
      expect(c.get('tcp.retransmit.rto')).toBeGreaterThan(0);
      expect(c.get('tcp.retransmit.fast')).toBeGreaterThan(0);
    }
  });
});

describe('tcp sockets as Node streams', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('stream.pipeline from an fs read stream to an fs write stream through two stacks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tapstack-tcp-'));
    const src = join(dir, 'in.bin');
    const dst = join(dir, 'out.bin');
    const data = testBytes(3_000_000, 77);
    await writeFile(src, data);
    net = createTcpTestNet({ seed: 5, latencyMs: 1, faults: { loss: 0.02, reorder: 0.01 } });
    const { a, b, clock } = net;
    let received: Promise<void> | undefined;
    b.tcp.listen({ port: 2121 }, (s) => {
      received = pipeline(s, createWriteStream(dst));
    });
    const client = a.tcp.connect({ host: '10.0.0.2', port: 2121 });
    const sent = pipeline(createReadStream(src, { highWaterMark: 256 * 1024 }), client);
    let done = false;
    void sent.then(async () => {
      await new Promise<void>((resolve) => {
        const wait = (): void => {
          if (received) resolve();
          else setImmediate(wait);
        };
        wait();
      });
      await received;
      done = true;
    });
    await runWithIo(clock, () => done);
    expect(sha256(await readFile(dst))).toBe(sha256(data));
    expect(client.bytesWritten).toBe(data.length);
  });

  it('a slow reader (paused) throttles the sender through the window, without loss', async () => {
    net = createTcpTestNet({ seed: 6, latencyMs: 1, tcp: { receiveBufferBytes: 64 * 1024 } });
    const { a, b, clock } = net;
    let server: TcpSocketLike | undefined;
    b.tcp.listen({ port: 7 }, (s) => {
      server = s;
      s.pause();
    });
    const client = a.tcp.connect({ host: '10.0.0.2', port: 7 });
    const data = testBytes(3_000_000, 5); // more than the 1 MB send buffer
    let writesDone = false;
    client.on('connect', () => void writeAll(client, data).then(() => (writesDone = true)));
    await clock.advanceAsync(2000);
    // The reader holds about one window; the rest waits in the sender's buffer.
    expect(server!.readableLength).toBeLessThanOrEqual(64 * 1024);
    expect(server!.readableLength).toBeGreaterThan(32 * 1024);
    expect(b.counters.get('tcp.tx.zero_window')).toBeGreaterThan(0);
    expect(writesDone).toBe(false);
    const got = collect(server!);
    server!.resume();
    await clock.runUntil(() => got.ended, 600_000);
    expect(sha256(Buffer.concat(got.chunks))).toBe(sha256(data));
    expect(b.counters.get('tcp.tx.window_update')).toBeGreaterThan(0);
  });
});
