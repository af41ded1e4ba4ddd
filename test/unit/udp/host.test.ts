import { describe, expect, it } from 'vitest';
import { createHost } from '../../../src/host.js';
import { MemoryHub } from '../../../src/link/memory.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';
import type { UdpRemoteInfo } from '../../../src/udp/api.js';

/** UDP on two full hosts (Ethernet, ARP, IPv4, ICMP) joined by the in-memory hub. */
function twoHosts(seed = 7) {
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock, { latencyMs: 1 });
  const mk = (address: string, s: number) =>
    createHost({ link: hub.attach(), address, prefixLength: 24, clock, random: new SeededRandom(s) });
  return { clock, a: mk('10.0.0.2', seed), b: mk('10.0.0.3', seed + 1) };
}

describe('udp over full hosts on the memory hub', () => {
  it('echo through ARP and IPv4, and a 4000-byte datagram is fragmented and reassembled', async () => {
    const { clock, a, b } = twoHosts();
    const server = b.udp.bind({ port: 7 });
    server.on('message', (d: Buffer, r: UdpRemoteInfo) => server.send(d, r.port, r.address));
    const client = a.udp.bind();
    const got: Buffer[] = [];
    client.on('message', (d: Buffer) => got.push(Buffer.from(d)));
    const big = Buffer.alloc(4000, 0x5a);
    client.send(Buffer.from('hello'), 7, '10.0.0.3');
    client.send(big, 7, '10.0.0.3');
    await clock.runUntil(() => got.length === 2, 5000);
    expect(got[0]!.toString()).toBe('hello');
    expect(got[1]!.equals(big)).toBe(true);
    expect(a.counters.get('ipv4.tx.fragmented')).toBeGreaterThanOrEqual(1);
    expect(b.counters.get('udp.rx.datagrams')).toBe(2);
  });

  it('a closed port answers with ICMP port unreachable, seen as ECONNREFUSED', async () => {
    const { clock, a, b } = twoHosts(11);
    const client = a.udp.bind();
    const errors: NodeJS.ErrnoException[] = [];
    client.on('error', (e: NodeJS.ErrnoException) => errors.push(e));
    client.send(Buffer.from('anyone?'), 4444, '10.0.0.3');
    await clock.runUntil(() => errors.length === 1, 5000);
    expect(errors[0]!.code).toBe('ECONNREFUSED');
    expect(b.counters.get('udp.rx.no_port')).toBe(1);
    expect(a.counters.get('udp.icmp.econnrefused')).toBe(1);
  });

  it('closing the host closes its sockets: they emit close and a later send fails', async () => {
    const { a } = twoHosts(13);
    const socket = a.udp.bind({ port: 5353 });
    let closed = false;
    socket.on('close', () => (closed = true));
    await a.close();
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(true);
    const err = await new Promise<Error | null>((resolve) => socket.send(Buffer.from('late'), 53, '10.0.0.3', resolve));
    expect((err as NodeJS.ErrnoException | null)?.code).toBe('ERR_SOCKET_DGRAM_NOT_RUNNING');
  });
});

describe('udp send errors from IPv4', () => {
  it('a destination outside the prefix with no gateway: ENETUNREACH in the callback', async () => {
    const { a } = twoHosts(21);
    const s = a.udp.bind();
    const err = await new Promise<Error | null>((resolve) => s.send(Buffer.from('x'), 53, '192.0.2.1', resolve));
    expect((err as NodeJS.ErrnoException).code).toBe('ENETUNREACH');
    expect(a.counters.get('udp.tx.dropped')).toBe(1);
  });
});
