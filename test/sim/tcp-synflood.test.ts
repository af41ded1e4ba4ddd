import { afterEach, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../src/host.js';
import { MemoryHub } from '../../src/link/memory.js';
import { VirtualClock } from '../../src/stack/clock.js';
import { SeededRandom } from '../../src/stack/random.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { encodeTcp, TcpFlags } from '../../src/wire/tcp.js';
import { withSeed } from '../support/tcp-hosts.js';

/**
 * A SYN flood on the memory hub (RFC 4987): a "router" R (10.0.0.254, the server's
 * gateway) sends spoofed SYNs from 172.16/12 to the server B (10.0.0.2); the
 * SYN,ACKs go back to R, which drops them (they are not for it), as the Internet
 * would. A real client A (10.0.0.1) connects during and after the flood; all on the
 * virtual clock, so the times below are the protocol's, not the machine's.
 */

interface Lab {
  clock: VirtualClock;
  a: Host;
  b: Host;
  r: Host;
}

let lab: Lab | undefined;
afterEach(async () => {
  if (!lab) return;
  await lab.a.close();
  await lab.b.close();
  await lab.r.close();
  lab = undefined;
});

function build(seed: number): Lab {
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock, { latencyMs: 1 });
  const host = (name: string, address: string, mac: string, n: number, gateway?: string): Host =>
    createHost({ link: hub.attach(name), address, prefixLength: 24, mac, clock, random: new SeededRandom(seed * 10 + n), gateway });
  return {
    clock,
    a: host('memA', '10.0.0.1', '02:00:00:00:00:01', 1),
    b: host('memB', '10.0.0.2', '02:00:00:00:00:02', 2, '10.0.0.254'),
    r: host('memR', '10.0.0.254', '02:00:00:00:00:fe', 3),
  };
}

/** `count` spoofed SYNs to B's `ports`, spread evenly over `durationMs` in 10 ms batches. */
async function flood(l: Lab, ports: number[], count: number, durationMs: number, seed: number): Promise<void> {
  const random = new SeededRandom(seed);
  const b = parseIpv4('10.0.0.2')!;
  const batches = durationMs / 10;
  const perBatch = Math.ceil(count / batches);
  let sent = 0;
  for (let i = 0; i < batches && sent < count; i++) {
    for (let j = 0; j < perBatch && sent < count; j++, sent++) {
      const src = (parseIpv4('172.16.0.0')! + random.int(0, (1 << 20) - 1)) >>> 0;
      const fields = {
        srcPort: random.int(1024, 65535),
        dstPort: ports[sent % ports.length]!,
        seq: random.uint32(),
        ack: 0,
        flags: TcpFlags.SYN,
        window: 64240,
        options: { mss: 1460, sackPermitted: true, timestamp: { value: random.uint32(), echo: 0 }, windowScale: 7 },
      };
      l.r.ip.ip.send({ src, dst: b, protocol: 6, payload: encodeTcp(fields, new Uint8Array(0), { src, dst: b }) });
    }
    await l.clock.advanceAsync(10);
  }
}

interface Attempt {
  /** Virtual milliseconds from connect() to 'connect'; undefined until then. */
  ms?: number;
  error?: string;
}

/** Start connecting A to B:port; the attempt fills in when it connects (or fails). */
function startConnect(l: Lab, port: number): Attempt {
  const start = l.clock.now();
  const attempt: Attempt = {};
  const s = l.a.tcp.connect({ host: '10.0.0.2', port });
  s.once('connect', () => {
    attempt.ms = l.clock.now() - start;
    s.end();
  });
  s.once('error', (e: Error & { code?: string }) => {
    attempt.error = e.code;
  });
  return attempt;
}

/** Run the virtual clock until every attempt connected or failed; return their times. */
async function settle(l: Lab, attempts: Attempt[]): Promise<number[]> {
  await l.clock.runUntil(() => attempts.every((a) => a.ms !== undefined || a.error !== undefined), 300_000);
  expect(attempts.map((a) => a.error)).toEqual(attempts.map(() => undefined));
  return attempts.map((a) => a.ms!);
}

describe('SYN flood (RFC 4987: SYN cookies, evicting stale half-open entries)', () => {
  it('100k spoofed SYNs in 10 s: a real client connects within 1 s during and after, to backlog 511 and backlog 1', async () => {
    const seed = 4987;
    await withSeed(seed, async () => {
      lab = build(seed);
      const l = lab;
      let accepted = 0;
      l.b.tcp.listen({ port: 21, backlog: 511 }, (s) => {
        accepted++;
        s.end();
      });
      l.b.tcp.listen({ port: 5000, backlog: 1 }, (s) => {
        accepted++;
        s.end();
      });
      const during: Attempt[] = [];
      // Halfway through the flood, the client tries both ports.
      l.clock.setTimer(5_000, () => during.push(startConnect(l, 21), startConnect(l, 5000)));
      await flood(l, [21, 5000], 100_000, 10_000, seed);
      expect(during).toHaveLength(2);
      const duringMs = await settle(l, during);
      const afterMs = await settle(l, [startConnect(l, 21), startConnect(l, 5000)]);
      await l.clock.advanceAsync(100);
      console.log(`SYN flood (sim): connect during ${duringMs.join('/')} ms, after ${afterMs.join('/')} ms; counters`, {
        sent: l.b.counters.get('tcp.syncookie.sent'),
        ok: l.b.counters.get('tcp.syncookie.ok'),
        evicted: l.b.counters.get('tcp.listen.syn_queue_evicted'),
      });
      for (const ms of [...duringMs, ...afterMs]) expect(ms).toBeLessThan(1000);
      expect(accepted).toBe(4);
      expect(l.b.counters.get('tcp.syncookie.sent')).toBeGreaterThan(90_000);
      expect(l.b.counters.get('tcp.syncookie.ok')).toBeGreaterThanOrEqual(2);
      // The half-open entries stay bounded by the backlogs: memory does not grow with the flood.
      expect(l.b.tcp.connectionCount).toBeLessThanOrEqual(511 + 1 + 4);
    });
  });

  it('nc -l style (backlog 1): one stray SYN does not lock the port', async () => {
    lab = build(7);
    const l = lab;
    l.b.tcp.listen({ port: 5000, backlog: 1 }, (s) => s.end());
    await flood(l, [5000], 1, 10, 7);
    expect(l.b.tcp.connectionCount).toBe(1);
    expect((await settle(l, [startConnect(l, 5000)]))[0]).toBeLessThan(1000); // by a cookie
    await l.clock.advanceAsync(2_000); // the stray's SYN,ACK went unanswered twice
    expect((await settle(l, [startConnect(l, 5000)]))[0]).toBeLessThan(1000); // it is evicted for us
    expect(l.b.counters.get('tcp.syncookie.ok')).toBe(1);
    expect(l.b.counters.get('tcp.listen.syn_queue_evicted')).toBe(1);
  });

  it('2,000 real clients at once on backlog 511: all served, none reset (accept queue full: the ACK waits, as Linux)', async () => {
    lab = build(2000);
    const l = lab;
    l.b.tcp.listen({ port: 80, backlog: 511 }, (s) => {
      s.on('data', () => {});
      s.on('end', () => s.end('ok'));
    });
    let done = 0;
    const errors: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const s = l.a.tcp.connect({ host: '10.0.0.2', port: 80 });
      let reply = '';
      s.on('data', (d: Buffer) => (reply += d.toString()));
      s.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
      s.on('end', () => {
        if (reply === 'ok') done++;
      });
      s.end('request');
    }
    await l.clock.runUntil(() => done + errors.length === 2000, 600_000);
    expect(errors).toEqual([]);
    expect(done).toBe(2000);
    expect(l.b.counters.get('tcp.syncookie.ok')).toBeGreaterThan(0);
    expect(l.b.counters.get('tcp.listen.accept_queue_full')).toBeGreaterThan(0);
    expect(l.b.counters.get('tcp.tx.rst')).toBe(0);
  });
});
