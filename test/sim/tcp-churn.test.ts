import { describe, expect, it } from 'vitest';
import type { TcpSocketLike } from '../../src/tcp/api.js';
import { collect, createTcpTestNet } from '../support/tcp-hosts.js';

/** Many connections, concurrent and one after the other, through a lossy link. */
describe('tcp connection churn', () => {
  it('100 concurrent request/response connections through 5% loss all complete; only TIME-WAIT is left', async () => {
    const net = createTcpTestNet({ seed: 42, latencyMs: 2, faults: { loss: 0.05, reorder: 0.02, duplicate: 0.02 }, tcp: { timeWaitMs: 10_000 } });
    const { a, b, clock } = net;
    b.tcp.listen({ port: 80, backlog: 128 }, (s) => {
      const got = collect(s);
      s.on('end', () => s.end(`echo:${Buffer.concat(got.chunks).toString()}`));
    });
    const results: string[] = [];
    const errors: string[] = [];
    for (let i = 0; i < 100; i++) {
      const s: TcpSocketLike = a.tcp.connect({ host: '10.0.0.2', port: 80 });
      const got = collect(s);
      s.on('error', (e: Error & { code?: string }) => errors.push(`${i}: ${e.code}`));
      s.on('end', () => results.push(Buffer.concat(got.chunks).toString()));
      s.end(`request ${i}`);
    }
    await clock.runUntil(() => results.length + errors.length === 100, 600_000);
    expect(errors).toEqual([]);
    expect(new Set(results).size).toBe(100);
    expect(results).toContain('echo:request 57');
    // The client sent its FIN first (active close) and holds TIME-WAIT until it expires;
    // the server closed second and forgets each connection when its FIN is acked.
    await clock.advanceAsync(5_000);
    expect(a.tcp.connectionCount).toBe(100);
    expect(b.tcp.connectionCount).toBe(0);
    expect(a.counters.get('tcp.state.time-wait')).toBe(100);
    await clock.advanceAsync(20_000);
    expect(a.tcp.connectionCount).toBe(0);
    await net.close();
  });
});
