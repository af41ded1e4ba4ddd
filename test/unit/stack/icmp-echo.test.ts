import { describe, expect, it } from 'vitest';
import { createTestLan } from '../../support/hosts.js';
import { PingError } from '../../../src/stack/ping.js';

describe('ICMP echo between two IpHosts on a MemoryHub', () => {
  it('answers ping, resolving ARP first, with the RTT on the virtual clock', async () => {
    const lan = createTestLan({ latencyMs: 5 });
    const a = lan.host(1);
    const b = lan.host(2);
    // Let the gratuitous ARPs of both hosts pass first (they would answer our question).
    await lan.clock.advanceAsync(100);
    expect(a.counters.get('arp.tx.gratuitous')).toBe(1);
    expect(a.arp.neighbours.size).toBe(0);
    let reply: Awaited<ReturnType<typeof a.ping>> | undefined;
    const p = a.ping('10.0.0.2', { size: 56 }).then((r) => (reply = r));
    await lan.clock.runUntil(() => reply !== undefined);
    await p;
    // ARP request + reply, then echo request + reply: 4 one-way trips of 5 ms.
    expect(reply).toMatchObject({ rttMs: 20, ttl: 64, bytes: 64, seq: 1 });
    expect(a.counters.get('arp.tx.request')).toBe(1);
    expect(b.counters.get('arp.tx.reply')).toBe(1);
    expect(b.counters.get('icmp.rx.echo_request')).toBe(1);
    expect(b.counters.get('icmp.tx.echo_reply')).toBe(1);
    expect(a.counters.get('ping.rx.reply')).toBe(1);

    // Second ping: the neighbour is cached, so one round trip.
    let second: Awaited<ReturnType<typeof a.ping>> | undefined;
    void a.ping('10.0.0.2').then((r) => (second = r));
    await lan.clock.runUntil(() => second !== undefined);
    expect(second).toMatchObject({ rttMs: 10, seq: 2 });
    expect(a.counters.get('arp.tx.request')).toBe(1);
  });

  it('answers a fragmented echo request with a fragmented reply', async () => {
    const lan = createTestLan();
    const a = lan.host(1);
    const b = lan.host(2);
    let reply: Awaited<ReturnType<typeof a.ping>> | undefined;
    void a.ping('10.0.0.2', { size: 3000 }).then((r) => (reply = r));
    await lan.clock.runUntil(() => reply !== undefined);
    expect(reply!.bytes).toBe(3008);
    expect(a.counters.get('ipv4.tx.fragments')).toBe(3);
    expect(b.counters.get('ipv4.reasm.ok')).toBe(1);
    expect(b.counters.get('ipv4.tx.fragments')).toBe(3);
    expect(a.counters.get('ipv4.reasm.ok')).toBe(1);
  });

  it('times out when no reply comes in time', async () => {
    const lan = createTestLan();
    const a = lan.host(1);
    let error: unknown;
    void a.ping('10.0.0.9', { timeoutMs: 500 }).catch((e) => (error = e));
    await lan.clock.runUntil(() => error !== undefined);
    expect(error).toBeInstanceOf(PingError);
    expect((error as PingError).code).toBe('ETIMEDOUT');
    expect(lan.clock.now()).toBe(500);
    expect(a.counters.get('ping.timeout')).toBe(1);
  });

  it('reports "Destination Host Unreachable" from itself when ARP gives up, like Linux', async () => {
    const lan = createTestLan();
    const a = lan.host(1);
    let error: unknown;
    void a.ping('10.0.0.9', { timeoutMs: 10_000 }).catch((e) => (error = e));
    await lan.clock.runUntil(() => error !== undefined);
    expect(error).toBeInstanceOf(PingError);
    expect((error as PingError).code).toBe('EHOSTUNREACH');
    expect((error as PingError).message).toBe('From 10.0.0.1 icmp_seq=1 Destination Host Unreachable');
    expect(lan.clock.now()).toBe(3000); // three requests, one second apart
    expect(a.counters.get('arp.tx.request')).toBe(3);
    expect(a.counters.get('arp.resolve.failed')).toBe(1);
    expect(a.counters.get('arp.pending.dropped')).toBe(1);
    expect(a.counters.get('ipv4.tx.unreachable_reported')).toBe(1);
  });

  it('reports protocol unreachable for a protocol nobody registered', async () => {
    const lan = createTestLan();
    const a = lan.host(1);
    const b = lan.host(2);
    const errors: { type: number; code: number }[] = [];
    a.ip.register(253, { receive: () => {}, icmpError: (e) => errors.push({ type: e.type, code: e.code }) });
    a.ip.send({ dst: b.address, protocol: 253, payload: new Uint8Array(16) });
    await lan.clock.runUntil(() => errors.length > 0);
    expect(errors).toEqual([{ type: 3, code: 2 }]);
    expect(b.counters.get('ipv4.rx.unknown_protocol')).toBe(1);
    expect(b.counters.get('icmp.tx.dest_unreachable')).toBe(1);
    expect(a.counters.get('icmp.rx.error_delivered')).toBe(1);
  });
});
