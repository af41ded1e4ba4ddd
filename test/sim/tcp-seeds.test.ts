import { describe, expect, it } from 'vitest';
import { collect, createTcpTestNet, sha256, testBytes, writeAll } from '../support/tcp-hosts.js';
import type { TcpOptions } from '../../src/tcp/index.js';

/**
 * Many short seeded runs with varied faults, sizes, write sizes, buffers and Nagle:
 * cheap to run, and good at finding the corner that one long run misses (a
 * retransmission storm was found this way). Failing seeds are listed by number.
 */
describe('tcp: 40 seeded exchanges through varied faults', () => {
  it('every seed delivers both directions intact, without errors or hangs', async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const failure = await seededExchange(seed, {});
      if (failure) failures.push(failure);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('without SACK and timestamps (NewReno, Karn-timed RTT), without window scaling for some: intact', async () => {
    const failures: string[] = [];
    for (let seed = 101; seed <= 130; seed++) {
      const failure = await seededExchange(seed, { sack: false, timestamps: false, windowScaling: seed % 3 !== 0 });
      if (failure) failures.push(failure);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('slow readers (window often closed) under loss: every seed intact', async () => {
    const failures: string[] = [];
    let zeroWindows = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const loss = [0, 0.02, 0.1][seed % 3]!;
      const net = createTcpTestNet({
        seed,
        latencyMs: 1 + (seed % 4),
        faults: { loss, reorder: 0.03, duplicate: 0.02, corrupt: 0.01 },
        tcp: { receiveBufferBytes: [4096, 16_384, 65_536][seed % 3]!, sendBufferBytes: 32_768 },
      });
      const { a, b, clock } = net;
      const size = 50_000 + ((seed * 7919) % 200_000);
      const fromA = testBytes(size, seed);
      const atB: Buffer[] = [];
      let ended = false;
      b.tcp.listen({ port: 5001 }, (s) => {
        // Read at most 3000 bytes every few milliseconds of virtual time.
        s.pause();
        s.on('readable', () => {});
        s.on('end', () => (ended = true));
        const pump = (): void => {
          let n = 0;
          let chunk: Buffer | null;
          while (n < 3000 && (chunk = s.read() as Buffer | null) !== null) {
            atB.push(chunk);
            n += chunk.length;
          }
          clock.setTimer(5 + (seed % 7) * 10, pump);
        };
        clock.setTimer(50, pump);
      });
      const client = a.tcp.connect({ host: '10.0.0.2', port: 5001 });
      let error: (Error & { code?: string }) | undefined;
      client.on('error', (e) => (error = e));
      client.on('connect', () => void writeAll(client, fromA, 1000 + seed * 37));
      try {
        await clock.runUntil(() => error !== undefined || ended, 3_600_000);
        if (error) failures.push(`seed ${seed}: ${error.code}`);
        else if (sha256(Buffer.concat(atB)) !== sha256(fromA)) failures.push(`seed ${seed}: data differs`);
      } catch (e) {
        failures.push(`seed ${seed} (loss ${loss}): ${(e as Error).message}; B got ${Buffer.concat(atB).length} of ${size}`);
      }
      zeroWindows += b.counters.get('tcp.tx.zero_window');
      await net.close();
    }
    expect(failures).toEqual([]);
    expect(zeroWindows).toBeGreaterThan(0);
  }, 120_000);

  it('destroy() in mid-transfer resets the peer (ECONNRESET) and both sides forget the connection', async () => {
    const net = createTcpTestNet({ seed: 3, latencyMs: 1 });
    const { a, b, clock } = net;
    const errors: string[] = [];
    b.tcp.listen({ port: 5001 }, (s) => {
      s.on('error', (e: Error & { code?: string }) => errors.push(e.code!));
      s.resume();
    });
    const client = a.tcp.connect({ host: '10.0.0.2', port: 5001 });
    client.on('connect', () => void writeAll(client, testBytes(2_000_000, 1)).catch(() => {}));
    await clock.advanceAsync(20);
    client.destroy();
    await clock.advanceAsync(20);
    expect(errors).toEqual(['ECONNRESET']);
    expect(a.tcp.connectionCount).toBe(0);
    expect(b.tcp.connectionCount).toBe(0);
    await net.close();
  });
});

/**
 * One seeded exchange: both sides write a few hundred kB through faults that the seed
 * picks (loss 0-20%, reordering, duplication, corruption, jitter), with a small receive
 * buffer or Nagle off for some seeds. Returns why it failed, or undefined.
 */
async function seededExchange(seed: number, tcp: TcpOptions): Promise<string | undefined> {
  const loss = [0, 0.01, 0.05, 0.1, 0.2][seed % 5]!;
  const net = createTcpTestNet({
    seed,
    latencyMs: 1 + (seed % 3),
    faults: { loss, reorder: 0.05, duplicate: 0.03, corrupt: 0.02, jitterMs: seed % 2 ? 2 : 0 },
    tcp: { receiveBufferBytes: seed % 4 === 0 ? 16_384 : 1 << 20, ...tcp },
  });
  const { a, b, clock } = net;
  const size = 100_000 + ((seed * 7919) % 400_000);
  const fromA = testBytes(size, seed);
  const fromB = testBytes(size + 13, seed + 100);
  let atB: ReturnType<typeof collect> | undefined;
  // Both sides send; each half-closes only when it is done (see tcp-faults.test.ts).
  b.tcp.listen({ port: 5001, allowHalfOpen: true }, (s) => {
    atB = collect(s);
    void writeAll(s, fromB, 1000 + seed * 97);
  });
  const client = a.tcp.connect({ host: '10.0.0.2', port: 5001, allowHalfOpen: true });
  if (seed % 3 === 0) client.setNoDelay(true);
  const atA = collect(client);
  let error: (Error & { code?: string }) | undefined;
  client.on('error', (e) => (error = e));
  client.on('connect', () => void writeAll(client, fromA, 3000 + seed * 31));
  let failure: string | undefined;
  try {
    await clock.runUntil(() => error !== undefined || (atA.ended && (atB?.ended ?? false)), 3_600_000);
    if (error) failure = `seed ${seed}: ${error.code}`;
    else if (sha256(Buffer.concat(atA.chunks)) !== sha256(fromB) || sha256(Buffer.concat(atB!.chunks)) !== sha256(fromA)) {
      failure = `seed ${seed}: data differs`;
    }
  } catch (e) {
    failure = `seed ${seed} (loss ${loss}): ${(e as Error).message}; A got ${atA.bytes()}, B got ${atB?.bytes()}`;
  }
  await net.close();
  return failure;
}
