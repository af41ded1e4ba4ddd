import { afterEach, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../src/host.js';
import { MemoryHub } from '../../src/link/memory.js';
import { VirtualClock } from '../../src/stack/clock.js';
import { SeededRandom } from '../../src/stack/random.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { collect, sha256, testBytes, writeAll } from '../support/tcp-hosts.js';
import { FragNeededRouter } from '../support/tcp-pmtu-router.js';

/**
 * Path MTU discovery (RFC 1191) on the memory hub: both hosts have MTU 1500, but a
 * "router" in front of A drops every datagram above 1000 bytes with DF set and
 * answers "fragmentation needed, MTU 1000". Without PMTUD the connection would
 * black-hole: every full-sized segment is dropped, forever.
 */
let hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts) await h.close();
  hosts = [];
});

function build(seed: number) {
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock, { latencyMs: 1 });
  const router = new FragNeededRouter(hub.attach('memA'), 1000, parseIpv4('10.0.0.254')!);
  const a = createHost({ link: router, address: '10.0.0.1', prefixLength: 24, mac: '02:00:00:00:00:01', clock, random: new SeededRandom(seed) });
  const b = createHost({ link: hub.attach('memB'), address: '10.0.0.2', prefixLength: 24, mac: '02:00:00:00:00:02', clock, random: new SeededRandom(seed + 1) });
  hosts = [a, b];
  return { clock, router, a, b };
}

/** A sends `data` to B's port 80 and closes; resolves when B has read all of it. */
async function transfer(net: ReturnType<typeof build>, data: Uint8Array): Promise<Buffer> {
  let got: ReturnType<typeof collect> | undefined;
  net.b.tcp.listen({ port: 80 }, (s) => {
    got = collect(s);
  });
  const s = net.a.tcp.connect({ host: '10.0.0.2', port: 80 });
  s.on('connect', () => void writeAll(s, data));
  await net.clock.runUntil(() => got?.ended === true, 120_000);
  return Buffer.concat(got!.chunks);
}

describe('path MTU discovery (RFC 1191) behind a router with a 1000-byte next hop', () => {
  it('all data arrives in segments that fit; the loss is repaired at once, not by the RTO', async () => {
    const net = build(11);
    const data = testBytes(500_000, 5);
    const start = net.clock.now();
    const got = await transfer(net, data);
    expect(sha256(got)).toBe(sha256(data));
    expect(net.router.tooBig).toBeGreaterThan(0);
    expect(net.router.largestPassed).toBeLessThanOrEqual(1000);
    const c = net.a.counters;
    expect(c.get('tcp.pmtu.lowered')).toBe(1);
    expect(c.get('tcp.retransmit.pmtu')).toBe(1);
    expect(c.get('tcp.retransmit.rto')).toBe(0);
    // 500 kB in far less than one RTO: the dropped segments were resent on the ICMP.
    expect(net.clock.now() - start).toBeLessThan(1000);
  });

  it('a second connection to the same destination starts from the learned path MTU', async () => {
    const net = build(12);
    await transfer(net, testBytes(20_000, 1));
    const dropped = net.router.tooBig;
    net.b.tcp.listen({ port: 81 }, (s) => collect(s));
    const s = net.a.tcp.connect({ host: '10.0.0.2', port: 81 });
    let done = false;
    s.on('connect', () => void writeAll(s, testBytes(50_000, 2)).then(() => (done = true)));
    await net.clock.runUntil(() => done && net.a.tcp.connectionCount <= 2, 60_000);
    await net.clock.advanceAsync(500);
    expect(net.router.tooBig).toBe(dropped);
    expect(net.a.counters.get('tcp.pmtu.lowered')).toBe(1);
  });
});
