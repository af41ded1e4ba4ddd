import { describe, expect, it } from 'vitest';
import { NeighbourCache } from '../../../src/stack/neighbour.js';
import { formatMac, parseIpv4 } from '../../../src/wire/address.js';
import { fakeServices } from '../../support/hosts.js';

const PEER = parseIpv4('10.0.0.2')!;
const PEER_MAC = Uint8Array.from([2, 0, 0, 0, 0, 2]);
const FORGED_MAC = Uint8Array.from([2, 0, 0, 0, 0, 0x66]);
/** What kind of ARP packet taught the cache: an answer to us, a request for us, or chatter. */
const REPLY = { forUs: true, reply: true };
const REQUEST = { forUs: true, reply: false };
const OVERHEARD = { forUs: false, reply: false };

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
    cache.update(PEER, PEER_MAC, REPLY);
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
    cache.update(PEER, PEER_MAC, REPLY);
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
    cache.update(PEER, PEER_MAC, OVERHEARD);
    expect(sent).toEqual([]);
    expect(cache.lookup(PEER)).toBeUndefined();
  });

  it('refreshes an entry that is used near its end with a unicast request', () => {
    const { cache, requests, clock, frame, counters } = setup({ reachableMs: 60_000, refreshBeforeMs: 15_000 });
    cache.send(PEER, frame(0));
    cache.update(PEER, PEER_MAC, REPLY);
    requests.length = 0;
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
    cache.update(PEER, PEER_MAC, REPLY);
    clock.advance(59_000);
    expect(cache.lookup(PEER)).toBeDefined();
    clock.advance(1_000);
    expect(cache.lookup(PEER)).toBeUndefined();
    expect(counters.get('arp.cache.expired')).toBe(1);
  });

  it('expires unused entries, after which the next frame asks again', () => {
    const { cache, requests, clock, frame, counters } = setup({ reachableMs: 30_000 });
    cache.send(PEER, frame(0));
    cache.update(PEER, PEER_MAC, REPLY);
    requests.length = 0;
    clock.advance(30_000);
    expect(counters.get('arp.cache.expired')).toBe(1);
    cache.send(PEER, frame(1));
    expect(requests).toEqual([{ ip: PEER, unicast: undefined }]);
  });

  it('follows the RFC 826 merge rule: only requests for us create entries, and only STALE ones', () => {
    const { cache, counters } = setup();
    cache.update(PEER, PEER_MAC, OVERHEARD);
    expect(cache.lookup(PEER)).toBeUndefined();
    cache.update(PEER, PEER_MAC, REPLY); // a reply we never asked for (Linux arp_accept=0)
    expect(cache.lookup(PEER)).toBeUndefined();
    expect(counters.get('arp.rx.unsolicited_reply')).toBe(1);
    cache.update(PEER, PEER_MAC, REQUEST);
    expect(cache.snapshot()).toEqual([{ ip: '10.0.0.2', state: 'stale', mac: '02:00:00:00:00:02' }]);
    expect(counters.get('arp.cache.added_stale')).toBe(1);
    // A STALE entry was never confirmed: anyone's packet may move it (it stays STALE) ...
    const moved = Uint8Array.from([2, 0, 0, 0, 0, 0x22]);
    cache.update(PEER, moved, OVERHEARD);
    expect(cache.snapshot()).toEqual([{ ip: '10.0.0.2', state: 'stale', mac: '02:00:00:00:00:22' }]);
    expect(counters.get('arp.cache.mac_changed')).toBe(1);
    // ... and only a reply to us confirms it.
    cache.update(PEER, moved, REQUEST);
    expect(cache.snapshot()[0]!.state).toBe('stale');
    cache.update(PEER, moved, REPLY);
    expect(cache.snapshot()[0]!.state).toBe('reachable');
  });

  it('an unanswered question answered by a request (not a reply) resolves only to STALE', () => {
    const { cache, sent, frame } = setup();
    cache.send(PEER, frame(1));
    cache.update(PEER, PEER_MAC, REQUEST);
    expect(sent.length).toBe(1); // the queued frame went out
    expect(cache.snapshot()).toEqual([{ ip: '10.0.0.2', state: 'stale', mac: '02:00:00:00:00:02' }]);
  });

  it('a STALE entry carries traffic, expires after staleMs, and is refreshed (confirmed) when used near its end', () => {
    const { cache, requests, sent, clock, frame, counters } = setup({ staleMs: 60_000, refreshBeforeMs: 15_000 });
    cache.update(PEER, PEER_MAC, REQUEST);
    cache.send(PEER, frame(1));
    expect(sent.map((f) => formatMac(f.subarray(0, 6)))).toEqual(['02:00:00:00:00:02']);
    expect(requests).toEqual([]);
    clock.advance(50_000);
    cache.send(PEER, frame(2));
    expect(requests).toEqual([{ ip: PEER, unicast: '02:00:00:00:00:02' }]);
    cache.update(PEER, PEER_MAC, REPLY);
    expect(cache.snapshot()[0]!.state).toBe('reachable');
    // An unused STALE entry just goes.
    cache.update(PEER + 1, PEER_MAC, REQUEST);
    clock.advance(60_000);
    expect(cache.lookup(PEER + 1)).toBeUndefined();
    expect(counters.get('arp.cache.stale_expired')).toBe(1);
  });

  it('refuses a forged MAC for a REACHABLE neighbour, asks the old MAC, and keeps it when it answers', () => {
    const { cache, requests, sent, frame, clock, counters } = setup({ retransmitMs: 1000, maxRequests: 3 });
    cache.send(PEER, frame(0));
    cache.update(PEER, PEER_MAC, REPLY);
    requests.length = 0;
    cache.update(PEER, FORGED_MAC, REPLY); // one forged reply
    cache.update(PEER, FORGED_MAC, REQUEST); // and a forged request for good measure
    expect(formatMac(cache.lookup(PEER)!)).toBe('02:00:00:00:00:02');
    expect(counters.get('arp.cache.override_refused')).toBe(2);
    expect(requests).toEqual([{ ip: PEER, unicast: '02:00:00:00:00:02' }]); // one probe of the old MAC
    clock.advance(500);
    cache.update(PEER, PEER_MAC, REPLY); // the real owner answers
    clock.advance(60_000 - 1);
    cache.send(PEER, frame(1));
    expect(formatMac(sent.at(-1)!.subarray(0, 6))).toBe('02:00:00:00:00:02');
  });

  it('lets a neighbour that really moved go within the probe time, then learns the new MAC by asking', () => {
    const { cache, requests, frame, clock, counters } = setup({ retransmitMs: 1000, maxRequests: 3 });
    cache.send(PEER, frame(0));
    cache.update(PEER, PEER_MAC, REPLY);
    const moved = Uint8Array.from([2, 0, 0, 0, 0, 0x22]);
    cache.update(PEER, moved, OVERHEARD); // its gratuitous ARP from the new NIC
    expect(formatMac(cache.lookup(PEER)!)).toBe('02:00:00:00:00:02');
    clock.advance(2_999);
    expect(cache.lookup(PEER)).toBeDefined();
    clock.advance(1); // the old MAC never answered
    expect(cache.lookup(PEER)).toBeUndefined();
    expect(counters.get('arp.cache.expired')).toBe(1);
    requests.length = 0;
    cache.send(PEER, frame(1));
    expect(requests).toEqual([{ ip: PEER, unicast: undefined }]);
    cache.update(PEER, moved, REPLY);
    expect(formatMac(cache.lookup(PEER)!)).toBe('02:00:00:00:00:22');
  });

  it('evicts STALE entries first: 100,000 requests from made-up senders never push out a resolved neighbour', () => {
    const { cache, requests, frame, counters } = setup({ maxEntries: 512 });
    cache.send(PEER, frame(0));
    cache.update(PEER, PEER_MAC, REPLY);
    const base = parseIpv4('10.0.4.0')!; // (ArpLayer checks the subnet; the cache does not)
    for (let i = 0; i < 100_000; i++) {
      const mac = Uint8Array.from([2, 0x10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 1]);
      cache.update(base + (i % 50_000), mac, REQUEST);
    }
    expect(cache.size).toBe(512);
    expect(formatMac(cache.lookup(PEER)!)).toBe('02:00:00:00:00:02');
    expect(counters.get('arp.cache.evicted_stale')).toBeGreaterThan(0);
    // A new real neighbour still gets an entry at once (it evicts a STALE one) and resolves.
    const fresh = parseIpv4('10.0.0.254')!;
    requests.length = 0;
    cache.send(fresh, frame(1));
    expect(requests).toEqual([{ ip: fresh, unicast: undefined }]);
    cache.update(fresh, Uint8Array.from([2, 0, 0, 0, 0, 0xfe]), REPLY);
    expect(cache.snapshot().find((n) => n.ip === '10.0.0.254')).toEqual({ ip: '10.0.0.254', state: 'reachable', mac: '02:00:00:00:00:fe' });
  });

  it('a full cache of our own unanswered questions makes room by dropping the oldest, with counters', () => {
    const { cache, frame, counters } = setup({ maxEntries: 2 });
    const lost: number[] = [];
    cache.onUnresolved = (ip) => lost.push(ip);
    cache.send(PEER, frame(1));
    cache.send(PEER + 1, frame(2));
    cache.update(PEER + 2, PEER_MAC, REQUEST); // unsolicited: may not push out our questions
    expect(counters.get('arp.cache.full')).toBe(1);
    cache.send(PEER + 2, frame(3));
    expect(lost).toEqual([PEER]);
    expect(counters.get('arp.cache.evicted_incomplete')).toBe(1);
    expect(counters.get('arp.pending.dropped')).toBe(1);
  });

  it('bounds the number of entries: resolved neighbours are never evicted', () => {
    const { cache, frame, counters } = setup({ maxEntries: 2 });
    for (const ip of [PEER, PEER + 1]) {
      cache.send(ip, frame(1));
      cache.update(ip, PEER_MAC, REPLY);
    }
    cache.send(PEER + 2, frame(3));
    expect(cache.size).toBe(2);
    expect(cache.lookup(PEER + 2)).toBeUndefined();
    expect(counters.get('arp.cache.full')).toBe(1);
  });
});
