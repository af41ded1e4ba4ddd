import { formatIpv4, formatMac, macEquals, type Ipv4Address, type MacAddress } from '../wire/address.js';
import type { Timer } from './clock.js';
import type { Logger } from './log.js';
import type { StackServices } from './services.js';

/**
 * The neighbour cache: IPv4 next hop -> MAC, learned with ARP (RFC 826).
 *
 * An entry is INCOMPLETE while we ask (requests are retransmitted `retransmitMs`
 * apart, at most `maxRequests` times) and holds a small queue of frames waiting for the
 * answer: flushed when the reply comes, dropped and counted when we give up.
 *
 * The answer to our own question makes the entry REACHABLE for `reachableMs`; used
 * close to its end it is refreshed with a unicast request (RFC 1122 2.3.2.1 asks for a
 * way to notice stale entries), and it is removed when it expires, so a peer that
 * changed its MAC or left is asked again.
 *
 * What we did not ask for is trusted less, as Linux does (net/core/neighbour.c):
 * - A request for our address from a host we do not know creates a STALE entry (we
 *   are about to answer it, and it will likely talk to us). STALE entries carry
 *   traffic like REACHABLE ones (and are refreshed the same way when used near their
 *   end, which confirms them), live `staleMs`, and are the first to go when the
 *   cache is full, so a flood of requests from made-up senders only ever replaces
 *   other such entries, never a neighbour we resolved. (Linux's forced garbage
 *   collection removes entries that failed or were not updated for 5 s; we go by
 *   state instead, so that the outcome does not depend on timing.)
 * - A REACHABLE entry does not move to another MAC on unsolicited word (a forged reply,
 *   a request, a gratuitous ARP). Linux refuses such an override within `locktime`
 *   (1 s) of the last update; we go further: the new MAC is refused and the old one is
 *   asked with a unicast request. If it answers, nothing changed; if it stays silent
 *   for `retransmitMs * maxRequests`, the entry goes and the next frame asks again by
 *   broadcast, so a host that really moved (NIC swap, failover) is found within
 *   seconds, and a forger cannot redirect a live neighbour at all.
 * - A STALE entry takes a new MAC from any sane packet (it was never confirmed), and
 *   becomes REACHABLE only from an ARP reply addressed to us.
 */

export interface NeighbourOptions {
  /** Lifetime of a resolved entry after its last confirmation (default 60 s). */
  reachableMs?: number;
  /** Lifetime of an entry learned without asking (default 60 s, Linux's gc_stale_time). */
  staleMs?: number;
  /** Refresh an entry that is used within this time of its expiry (default 15 s). */
  refreshBeforeMs?: number;
  /** Time between two requests for an unresolved address (default 1 s). */
  retransmitMs?: number;
  /** Requests sent before giving up on an address (default 3). */
  maxRequests?: number;
  /** Frames queued per unresolved address; the oldest is dropped beyond (default 8). */
  maxPending?: number;
  /** Entries in the cache, resolved or not (default 512). */
  maxEntries?: number;
}

/** What an ARP packet from the neighbour tells us besides its addresses. */
export interface ArpEvidence {
  /** It was addressed to us (target IP is ours): only such packets create entries (RFC 826 merge). */
  forUs: boolean;
  /** It is an ARP reply to us: it answers a question, so it can confirm reachability. */
  reply: boolean;
}

type ResolvedState = 'reachable' | 'stale';

type Entry =
  | { state: 'incomplete'; ip: Ipv4Address; requests: number; pending: Uint8Array[]; timer: Timer }
  | { state: ResolvedState; ip: Ipv4Address; mac: MacAddress; expiresAt: number; refreshing: boolean; timer: Timer };

type Resolved = Extract<Entry, { state: ResolvedState }>;

export interface NeighbourSnapshot {
  ip: string;
  state: 'incomplete' | ResolvedState;
  mac?: string;
  pending?: number;
}

export class NeighbourCache {
  /**
   * Called with the frames that were waiting when resolution failed, so that IPv4 can
   * report the loss to their senders (as Linux does).
   */
  onUnresolved: ((ip: Ipv4Address, frames: Uint8Array[]) => void) | undefined;
  private readonly entries = new Map<Ipv4Address, Entry>();
  /** The STALE entries, oldest first: the order in which they are evicted. */
  private readonly staleOrder = new Set<Ipv4Address>();
  private readonly reachableMs: number;
  private readonly staleMs: number;
  private readonly refreshBeforeMs: number;
  private readonly retransmitMs: number;
  private readonly maxRequests: number;
  private readonly maxPending: number;
  private readonly maxEntries: number;
  private readonly log: Logger;

  constructor(
    private readonly services: StackServices,
    /** Send an ARP request for `ip`: broadcast, or unicast to `mac` for a refresh. */
    private readonly sendRequest: (ip: Ipv4Address, mac?: MacAddress) => void,
    options: NeighbourOptions = {},
  ) {
    this.reachableMs = options.reachableMs ?? 60_000;
    this.staleMs = options.staleMs ?? 60_000;
    this.refreshBeforeMs = options.refreshBeforeMs ?? 15_000;
    this.retransmitMs = options.retransmitMs ?? 1_000;
    this.maxRequests = options.maxRequests ?? 3;
    this.maxPending = options.maxPending ?? 8;
    this.maxEntries = options.maxEntries ?? 512;
    this.log = services.log.child({ layer: 'arp' });
  }

  /** The MAC of a resolved (REACHABLE or STALE) neighbour, or undefined. */
  lookup(ip: Ipv4Address): MacAddress | undefined {
    const e = this.entries.get(ip);
    return e === undefined || e.state === 'incomplete' ? undefined : e.mac;
  }

  /**
   * Send `frame` (a whole Ethernet frame whose first 6 bytes, the destination MAC,
   * are filled in here) to the neighbour `ip`, resolving it first if needed.
   */
  send(ip: Ipv4Address, frame: Uint8Array): void {
    const { counters } = this.services;
    const e = this.entries.get(ip);
    if (e !== undefined && e.state !== 'incomplete') {
      frame.set(e.mac, 0);
      this.services.transmit(frame);
      if (!e.refreshing && e.expiresAt - this.services.clock.now() <= this.refreshBeforeMs) {
        // Still valid, but ask again now so that the answer arrives before it expires
        // (and makes a STALE entry that is in use REACHABLE).
        e.refreshing = true;
        counters.inc('arp.cache.refresh');
        this.sendRequest(ip, e.mac);
      }
      return;
    }
    if (e?.state === 'incomplete') {
      if (e.pending.length >= this.maxPending) {
        e.pending.shift();
        counters.inc('arp.pending.overflow');
      }
      e.pending.push(frame);
      counters.inc('arp.pending.queued');
      return;
    }
    // Our own traffic may push out an unconfirmed entry, or another unanswered question.
    if (!this.makeRoom(true)) {
      counters.inc('arp.cache.full');
      return;
    }
    const entry: Entry = { state: 'incomplete', ip, requests: 1, pending: [frame], timer: this.retryTimer(ip) };
    this.entries.set(ip, entry);
    counters.inc('arp.pending.queued');
    this.log.debug({ ip: formatIpv4(ip) }, 'resolving');
    this.sendRequest(ip);
  }

  /**
   * What an ARP packet taught us: `ip` is at `mac` (the sender was checked by ArpLayer).
   * RFC 826 merge rule: an existing entry is updated (within the rules in the class
   * comment); a new one is created, STALE, only by a request addressed to us.
   */
  update(ip: Ipv4Address, mac: MacAddress, evidence: ArpEvidence): void {
    const { counters } = this.services;
    const e = this.entries.get(ip);
    if (e === undefined) {
      if (!evidence.forUs) return;
      if (evidence.reply) {
        // A reply we never asked for creates nothing (Linux: arp_accept=0).
        counters.inc('arp.rx.unsolicited_reply');
        return;
      }
      if (!this.makeRoom(false)) {
        counters.inc('arp.cache.full');
        return;
      }
      this.resolve(ip, undefined, mac, 'stale');
      counters.inc('arp.cache.added_stale');
      return;
    }
    if (e.state === 'incomplete') {
      // The answer to our question. The first one wins: a later, different answer meets
      // a resolved entry below (Linux keeps the first reply within locktime, too). Only
      // a reply makes it REACHABLE; a request from the address we ask for makes it
      // STALE (as Linux), or a SYN from a spoofed source followed by a request "from"
      // it would pin an entry that cannot be evicted.
      const resolved = this.resolve(ip, e, mac, evidence.reply ? 'reachable' : 'stale');
      counters.inc('arp.cache.resolved');
      counters.inc('arp.pending.flushed', e.pending.length);
      this.log.debug({ ip: formatIpv4(ip), mac: formatMac(mac), pending: e.pending.length }, 'resolved');
      for (const frame of e.pending) {
        frame.set(resolved.mac, 0);
        this.services.transmit(frame);
      }
      return;
    }
    if (macEquals(e.mac, mac)) {
      // A reply to us confirms (Linux: a unicast reply asserts reachability); other
      // packets from the same MAC change nothing, so they cannot extend a lifetime.
      if (evidence.reply) {
        this.resolve(ip, e, mac, 'reachable');
        counters.inc('arp.cache.confirmed');
      }
      return;
    }
    if (e.state === 'reachable') {
      counters.inc('arp.cache.override_refused');
      this.log.debug({ ip: formatIpv4(ip), mac: formatMac(e.mac), claimed: formatMac(mac) }, 'refused a new MAC for a reachable neighbour; asking the old one');
      this.verify(e);
      return;
    }
    counters.inc('arp.cache.mac_changed');
    this.log.debug({ ip: formatIpv4(ip), from: formatMac(e.mac), to: formatMac(mac) }, 'neighbour MAC changed');
    this.resolve(ip, e, mac, 'stale');
  }

  /** Current entries, for `--stats`, debugging and tests. */
  snapshot(): NeighbourSnapshot[] {
    return [...this.entries.values()].map((e) =>
      e.state === 'incomplete'
        ? { ip: formatIpv4(e.ip), state: e.state, pending: e.pending.length }
        : { ip: formatIpv4(e.ip), state: e.state, mac: formatMac(e.mac) },
    );
  }

  get size(): number {
    return this.entries.size;
  }

  /** Forget everything and stop the timers (host shutdown). */
  clear(): void {
    for (const e of this.entries.values()) e.timer.cancel();
    this.entries.clear();
    this.staleOrder.clear();
  }

  /** Replace whatever `ip` had with a resolved entry and its expiry timer. */
  private resolve(ip: Ipv4Address, previous: Entry | undefined, mac: MacAddress, state: ResolvedState): Resolved {
    previous?.timer.cancel();
    const lifetime = state === 'reachable' ? this.reachableMs : this.staleMs;
    const entry: Resolved = {
      state,
      ip,
      mac: Uint8Array.from(mac.subarray(0, 6)),
      expiresAt: this.services.clock.now() + lifetime,
      refreshing: false,
      timer: this.expiryTimer(ip, lifetime),
    };
    this.entries.set(ip, entry);
    // Re-inserted at the end: the stale order is the order of last change.
    this.staleOrder.delete(ip);
    if (state === 'stale') this.staleOrder.add(ip);
    return entry;
  }

  /** Ask the MAC we hold with a unicast request; silent for the probe time, the entry goes. */
  private verify(e: Resolved): void {
    const probeMs = this.retransmitMs * this.maxRequests;
    const now = this.services.clock.now();
    if (e.expiresAt - now > probeMs) {
      e.timer.cancel();
      e.expiresAt = now + probeMs;
      e.timer = this.expiryTimer(e.ip, probeMs);
    }
    if (e.refreshing) return; // a request to it is out already
    e.refreshing = true;
    this.sendRequest(e.ip, e.mac);
  }

  /**
   * Make room for one more entry: evict the oldest STALE entry, or (for our own
   * traffic) the oldest unanswered question. REACHABLE entries are never evicted.
   */
  private makeRoom(mayEvictIncomplete: boolean): boolean {
    if (this.entries.size < this.maxEntries) return true;
    const { counters } = this.services;
    const oldestStale = this.staleOrder.values().next();
    if (!oldestStale.done) {
      this.remove(oldestStale.value);
      counters.inc('arp.cache.evicted_stale');
      return true;
    }
    if (!mayEvictIncomplete) return false;
    for (const e of this.entries.values()) {
      if (e.state !== 'incomplete') continue;
      this.remove(e.ip);
      counters.inc('arp.cache.evicted_incomplete');
      counters.inc('arp.pending.dropped', e.pending.length);
      this.onUnresolved?.(e.ip, e.pending);
      return true;
    }
    return false;
  }

  private remove(ip: Ipv4Address): void {
    this.entries.get(ip)?.timer.cancel();
    this.entries.delete(ip);
    this.staleOrder.delete(ip);
  }

  private retryTimer(ip: Ipv4Address): Timer {
    return this.services.clock
      .setTimer(this.retransmitMs, () => {
        const e = this.entries.get(ip);
        if (e?.state !== 'incomplete') return;
        if (e.requests < this.maxRequests) {
          e.requests++;
          e.timer = this.retryTimer(ip);
          this.sendRequest(ip);
          return;
        }
        // RFC 1122 2.3.2.1 wants at most about one request a second per address (the
        // retransmitMs pace); after maxRequests we give up and the queued datagrams are lost.
        this.entries.delete(ip);
        this.services.counters.inc('arp.resolve.failed');
        this.services.counters.inc('arp.pending.dropped', e.pending.length);
        this.log.debug({ ip: formatIpv4(ip), dropped: e.pending.length }, 'no ARP reply, giving up');
        this.onUnresolved?.(ip, e.pending);
      })
      .unref();
  }

  private expiryTimer(ip: Ipv4Address, delayMs: number): Timer {
    return this.services.clock
      .setTimer(delayMs, () => {
        const e = this.entries.get(ip);
        if (e === undefined || e.state === 'incomplete') return;
        this.remove(ip);
        this.services.counters.inc(e.state === 'stale' ? 'arp.cache.stale_expired' : 'arp.cache.expired');
        this.log.debug({ ip: formatIpv4(ip), state: e.state }, 'entry expired');
      })
      .unref();
  }
}
