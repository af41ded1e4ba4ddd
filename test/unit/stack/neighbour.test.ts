import { describe, expect, it } from 'vitest';
import { NeighbourCache } from '../../../src/stack/neighbour.js';
import { formatMac, parseIpv4 } from '../../../src/wire/address.js';
import { fakeServices } from '../../support/hosts.js';

const PEER = parseIpv4('10.0.0.2')!;
const PEER_MAC = Uint8Array.from([2, 0, 0, 0, 0, 2]);

function setup(options: ConstructorParameters<typeof NeighbourCache>[2] = {}) {
  const env = fakeServices();
  const requests: { ip: number; unicast: string | undefined }[] = [];
  const cache = new NeighbourCache(env.services, (ip, mac) => requests.push({ ip, unicast: mac && formatMac(mac) }), options);
  /** A frame whose first 6 bytes (destination MAC) the cache fills in; byte 14 tags it. */
  const frame = (tag: number) => {
    const f = new Uint8Array(20);
    f[14] = tag;
    return f;
  };
  return { ...env, cache, requests, frame };
}

describe('NeighbourCache (ARP cache)', () => {
  it('queues frames while resolving and flushes them, in order, when the reply comes', () => {
    const { cache, requests, sent, frame, counters } = setup();
    cache.send(PEER, frame(1));
    cache.send(PEER, frame(2));
    expect(requests).toEqual([{ ip: PEER, unicast: undefined }]); // one request, not one per frame
    expect(sent).toEqual([]);
    cache.update(PEER, PEER_MAC, true);
    expect(sent.map((f) => [formatMac(f.subarray(0, 6)), f[14]])).toEqual([
      ['02:00:00:00:00:02', 1],
      ['02:00:00:00:00:02', 2],
    ]);
    expect(counters.get('arp.pending.flushed')).toBe(2);
    expect(counters.get('arp.cache.resolved')).toBe(1);
    // Resolved: the next frame goes straight out.
    cache.send(PEER, frame(3));
    expect(sent.length).toBe(3);
    expect(requests.length).toBe(1);
  });

  it('bounds the queue per neighbour, dropping the oldest frame', () => {
    const { cache, sent, frame, counters } = setup({ maxPending: 3 });
    for (let i = 1; i <= 5; i++) cache.send(PEER, frame(i));
    expect(counters.get('arp.pending.overflow')).toBe(2);
    cache.update(PEER, PEER_MAC, true);
    expect(sent.map((f) => f[14])).toEqual([3, 4, 5]);
  });

  it('retries the request, then gives up and drops the queue with counters', () => {
    const { cache, requests, clock, frame, counters, sent } = setup({ retransmitMs: 1000, maxRequests: 3 });
    cache.send(PEER, frame(1));
    cache.send(PEER, frame(2));
    clock.advance(999);
    expect(requests.length).toBe(1);
    clock.advance(1);
    expect(requests.length).toBe(2);
    clock.advance(1000);
    expect(requests.length).toBe(3);
    clock.advance(1000);
    expect(requests.length).toBe(3);
    expect(counters.get('arp.resolve.failed')).toBe(1);
    expect(counters.get('arp.pending.dropped')).toBe(2);
    expect(cache.size).toBe(0);
    // A late reply (not addressed to us) no longer creates anything; the queue is gone.
    cache.update(PEER, PEER_MAC, false);
    expect(sent).toEqual([]);
    expect(cache.lookup(PEER)).toBeUndefined();
  });

  it('refreshes an entry that is used near its end with a unicast request', () => {
    const { cache, requests, clock, frame, counters } = setup({ reachableMs: 60_000, refreshBeforeMs: 15_000 });
    cache.update(PEER, PEER_MAC, true);
    clock.advance(40_000);
    cache.send(PEER, frame(1));
    expect(requests).toEqual([]); // 20 s left: no refresh yet
    clock.advance(10_000);
    cache.send(PEER, frame(2));
    cache.send(PEER, frame(3));
    expect(requests).toEqual([{ ip: PEER, unicast: '02:00:00:00:00:02' }]); // once, not per frame
    expect(counters.get('arp.cache.refresh')).toBe(1);
    // The answer restarts the lifetime: still there 60 s after it.
    clock.advance(1);
    cache.update(PEER, PEER_MAC, false);
    clock.advance(59_000);
    expect(cache.lookup(PEER)).toBeDefined();
    clock.advance(1_000);
    expect(cache.lookup(PEER)).toBeUndefined();
    expect(counters.get('arp.cache.expired')).toBe(1);
  });

  it('expires unused entries, after which the next frame asks again', () => {
    const { cache, requests, clock, frame, counters } = setup({ reachableMs: 30_000 });
    cache.update(PEER, PEER_MAC, true);
    clock.advance(30_000);
    expect(counters.get('arp.cache.expired')).toBe(1);
    cache.send(PEER, frame(1));
    expect(requests).toEqual([{ ip: PEER, unicast: undefined }]);
  });

  it('follows the RFC 826 merge rule: only packets to us create entries', () => {
    const { cache, counters } = setup();
    cache.update(PEER, PEER_MAC, false);
    expect(cache.lookup(PEER)).toBeUndefined();
    cache.update(PEER, PEER_MAC, true);
    expect(cache.lookup(PEER)).toBeDefined();
    const moved = Uint8Array.from([2, 0, 0, 0, 0, 0x22]);
    cache.update(PEER, moved, false); // existing entries are updated by anyone's packet
    expect(formatMac(cache.lookup(PEER)!)).toBe('02:00:00:00:00:22');
    expect(counters.get('arp.cache.mac_changed')).toBe(1);
  });

  it('bounds the number of entries', () => {
    const { cache, frame, counters } = setup({ maxEntries: 2 });
    cache.send(PEER, frame(1));
    cache.send(PEER + 1, frame(2));
    cache.send(PEER + 2, frame(3));
    expect(cache.size).toBe(2);
    expect(counters.get('arp.cache.full')).toBe(1);
  });
});
