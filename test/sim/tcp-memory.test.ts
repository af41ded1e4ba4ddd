import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { TcpSocketLike } from '../../src/tcp/api.js';
import { createTcpTestNet, type TcpTestNet } from '../support/tcp-hosts.js';

/**
 * Memory after many connections (issue 12: "RSS stays at 195 MB after 10,000
 * connections close"): open and close 10,000 connections on the memory hub; while
 * they are in TIME-WAIT each costs a small record, not a whole connection; once
 * TIME-WAIT runs out every table is empty, no timer is left, and the heap (after a
 * full garbage collection) is back where it was after the first batch.
 */

/** A full GC: --expose-gc for this process, then the gc() it defines. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function heapAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** `n` request/response connections, `parallel` at a time; resolves when all closed. */
async function churn(net: TcpTestNet, n: number, parallel: number): Promise<void> {
  let closed = 0;
  let started = 0;
  const errors: string[] = [];
  const start = (): void => {
    started++;
    const s: TcpSocketLike = net.a.tcp.connect({ host: '10.0.0.2', port: 80 });
    s.on('data', () => {});
    s.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
    s.on('close', () => {
      closed++;
      if (started < n) start();
    });
    s.end(Buffer.alloc(100, 1));
  };
  for (let i = 0; i < Math.min(parallel, n); i++) start();
  await net.clock.runUntil(() => closed === n, 3_600_000);
  expect(errors).toEqual([]);
}

describe('memory after 10,000 connections', () => {
  it('tables, timers and heap come back after the connections and their TIME-WAIT are gone', { timeout: 300_000 }, async () => {
    const net = createTcpTestNet({ seed: 10_000 });
    const server = net.b.tcp.listen({ port: 80, backlog: 511 }, (s) => {
      s.on('data', () => {});
      s.on('end', () => s.end('ok'));
    });
    // Warm up (code compiled, pools sized), and let its TIME-WAITs expire.
    await churn(net, 200, 50);
    await net.clock.advanceAsync(61_000);
    const before = heapAfterGc();
    const timersBefore = net.clock.pending;

    await churn(net, 10_000, 200);
    // The client closed first: each of its connections waits in TIME-WAIT (60 s).
    expect(net.a.tcp.connectionCount).toBeGreaterThan(0);
    const inTimeWait = heapAfterGc();
    console.log(`${net.a.tcp.connectionCount} connections in TIME-WAIT: heap ${(inTimeWait / 2 ** 20).toFixed(1)} MB`);
    // A TIME-WAIT pair is a small record (time-wait.ts), not the whole connection: the
    // full connections cost about 6 KB each (60 MB for 10,000), the records under 3 KB.
    expect((inTimeWait - before) / net.a.tcp.connectionCount).toBeLessThan(3 * 1024);
    await net.clock.advanceAsync(61_000);

    expect(net.a.tcp.connectionCount).toBe(0);
    expect(net.b.tcp.connectionCount).toBe(0);
    expect(net.a.counters.get('tcp.time_wait.expired')).toBe(10_200);
    expect(net.clock.pending).toBeLessThanOrEqual(timersBefore);
    const after = heapAfterGc();
    const grewMb = (after - before) / 2 ** 20;
    console.log(`heap after 10,000 connections and their TIME-WAIT: ${(before / 2 ** 20).toFixed(1)} MB -> ${(after / 2 ** 20).toFixed(1)} MB`);
    // Kept per connection, 10,000 of them would be tens of MB.
    expect(grewMb).toBeLessThan(5);
    server.close();
    await net.close();
  });
});
