import { describe, expect, it } from 'vitest';
import { FaultLink } from '../../../src/link/faults.js';
import { MemoryHub } from '../../../src/link/memory.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { IpHost } from '../../../src/stack/ip-host.js';
import { PingError } from '../../../src/stack/ping.js';
import { SeededRandom } from '../../../src/stack/random.js';

/**
 * Simulation: fragmented pings through a wire that loses, duplicates, reorders and
 * corrupts frames (seeded, so a failure replays from the printed seed). Every ping
 * ends as a correct reply or a timeout; a corrupted frame never becomes a reply.
 */
async function run(seed: number) {
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock, { latencyMs: 2 });
  const faulty = new FaultLink(hub.attach('a'), {
    random: new SeededRandom(seed),
    clock,
    loss: 0.05,
    duplicate: 0.05,
    reorder: 0.05,
    corrupt: 0.05,
    jitterMs: 3,
  });
  const a = new IpHost(faulty, { address: '10.0.0.1', prefixLength: 24, clock, random: new SeededRandom(seed + 1) });
  const b = new IpHost(hub.attach('b'), { address: '10.0.0.2', prefixLength: 24, clock, random: new SeededRandom(seed + 2) });
  const outcomes: string[] = [];
  for (let seq = 1; seq <= 40; seq++) {
    let done = false;
    a.ping('10.0.0.2', { seq, size: 2000 + seq, timeoutMs: 500 }).then(
      (r) => {
        outcomes.push(r.bytes === 2008 + seq ? 'reply' : 'wrong size');
        done = true;
      },
      (e: unknown) => {
        outcomes.push(e instanceof PingError ? e.code : String(e));
        done = true;
      },
    );
    await clock.runUntil(() => done);
    await clock.advanceAsync(100);
  }
  await clock.advanceAsync(60_000); // every reassembly buffer and ARP entry times out
  return { a, b, outcomes, faults: faulty.stats };
}

describe('ping through a faulty wire (seeded simulation)', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`every ping ends as a correct reply or a timeout (seed ${seed})`, async () => {
      const { a, b, outcomes, faults } = await run(seed);
      const why = `seed ${seed}: ${JSON.stringify({ outcomes, faults, a: a.counters.snapshot(), b: b.counters.snapshot() })}`;
      expect(outcomes.length, why).toBe(40);
      expect(outcomes.every((o) => o === 'reply' || o === 'ETIMEDOUT'), why).toBe(true);
      expect(outcomes.filter((o) => o === 'reply').length, why).toBeGreaterThanOrEqual(20);
      // Corruption was caught by checksums, never delivered as data.
      expect(faults.inbound.corrupted + faults.outbound.corrupted, why).toBeGreaterThan(0);
      expect(a.counters.get('ping.rx.bad_data'), why).toBe(0);
      for (const h of [a, b]) {
        expect(h.counters.get('host.rx.handler_error'), why).toBe(0);
        expect(h.ip.reassembler.memory, why).toBe(0);
        expect(h.ip.reassembler.pending, why).toBe(0);
      }
    });
  }
});
