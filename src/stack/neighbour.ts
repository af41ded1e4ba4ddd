import { formatIpv4, formatMac, macEquals, type Ipv4Address, type MacAddress } from '../wire/address.js';
import type { Timer } from './clock.js';
import type { Logger } from './log.js';
import type { StackServices } from './services.js';

/**
 * The neighbour cache: IPv4 next hop -> MAC, learned with ARP (RFC 826).
 *
 * An entry is INCOMPLETE while we ask (requests are retransmitted `retransmitMs`
 * apart, at most `maxRequests` times) and holds a small queue of frames waiting for the
 * answer: flushed when the reply comes, dropped and counted when we give up. A
 * resolved entry is REACHABLE for `reachableMs`; used close to its end it is refreshed
 * with a unicast request (RFC 1122 2.3.2.1 asks for a way to notice stale entries),
 * and it is removed when it expires, so a peer that changed its MAC or left is
 * asked again.
 */

export interface NeighbourOptions {
  /** Lifetime of a resolved entry after its last confirmation (default 60 s). */
  reachableMs?: number;
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

type Entry =
  | { state: 'incomplete'; ip: Ipv4Address; requests: number; pending: Uint8Array[]; timer: Timer }
  | { state: 'reachable'; ip: Ipv4Address; mac: MacAddress; expiresAt: number; refreshing: boolean; timer: Timer };

export interface NeighbourSnapshot {
  ip: string;
  state: 'incomplete' | 'reachable';
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
  private readonly reachableMs: number;
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
    this.refreshBeforeMs = options.refreshBeforeMs ?? 15_000;
    this.retransmitMs = options.retransmitMs ?? 1_000;
    this.maxRequests = options.maxRequests ?? 3;
    this.maxPending = options.maxPending ?? 8;
    this.maxEntries = options.maxEntries ?? 512;
    this.log = services.log.child({ layer: 'arp' });
  }

  /** The MAC of a resolved neighbour, or undefined. */
  lookup(ip: Ipv4Address): MacAddress | undefined {
    const e = this.entries.get(ip);
    return e?.state === 'reachable' ? e.mac : undefined;
  }

  /**
   * Send `frame` (a whole Ethernet frame whose first 6 bytes, the destination MAC,
   * are filled in here) to the neighbour `ip`, resolving it first if needed.
   */
  send(ip: Ipv4Address, frame: Uint8Array): void {
    const { counters } = this.services;
    const e = this.entries.get(ip);
    if (e?.state === 'reachable') {
      frame.set(e.mac, 0);
      this.services.transmit(frame);
      if (!e.refreshing && e.expiresAt - this.services.clock.now() <= this.refreshBeforeMs) {
        // Still valid, but ask again now so that the answer arrives before it expires.
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
    if (this.entries.size >= this.maxEntries) {
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
   * What ARP learned: `ip` is at `mac`. RFC 826 merge rule: an existing entry is
   * always updated; a new one is created only when `create` is set (the packet was
   * addressed to us), so that broadcast chatter does not fill the cache.
   */
  update(ip: Ipv4Address, mac: MacAddress, create: boolean): void {
    const { counters } = this.services;
    const e = this.entries.get(ip);
    if (!e && !create) return;
    if (!e && this.entries.size >= this.maxEntries) {
      counters.inc('arp.cache.full');
      return;
    }
    e?.timer.cancel();
    const resolved: Entry = {
      state: 'reachable',
      ip,
      mac: Uint8Array.from(mac.subarray(0, 6)),
      expiresAt: this.services.clock.now() + this.reachableMs,
      refreshing: false,
      timer: this.expiryTimer(ip),
    };
    this.entries.set(ip, resolved);
    if (!e) {
      counters.inc('arp.cache.added');
    } else if (e.state === 'incomplete') {
      counters.inc('arp.cache.resolved');
      counters.inc('arp.pending.flushed', e.pending.length);
      this.log.debug({ ip: formatIpv4(ip), mac: formatMac(mac), pending: e.pending.length }, 'resolved');
      for (const frame of e.pending) {
        frame.set(resolved.mac, 0);
        this.services.transmit(frame);
      }
    } else {
      if (!macEquals(e.mac, mac)) {
        counters.inc('arp.cache.mac_changed');
        this.log.info({ ip: formatIpv4(ip), from: formatMac(e.mac), to: formatMac(mac) }, 'neighbour MAC changed');
      }
      counters.inc('arp.cache.confirmed');
    }
  }

  /** Current entries, for `--stats`, debugging and tests. */
  snapshot(): NeighbourSnapshot[] {
    return [...this.entries.values()].map((e) =>
      e.state === 'reachable'
        ? { ip: formatIpv4(e.ip), state: e.state, mac: formatMac(e.mac) }
        : { ip: formatIpv4(e.ip), state: e.state, pending: e.pending.length },
    );
  }

  get size(): number {
    return this.entries.size;
  }

  /** Forget everything and stop the timers (host shutdown). */
  clear(): void {
    for (const e of this.entries.values()) e.timer.cancel();
    this.entries.clear();
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

  private expiryTimer(ip: Ipv4Address): Timer {
    return this.services.clock
      .setTimer(this.reachableMs, () => {
        const e = this.entries.get(ip);
        if (e?.state !== 'reachable') return;
        this.entries.delete(ip);
        this.services.counters.inc('arp.cache.expired');
        this.log.debug({ ip: formatIpv4(ip) }, 'entry expired');
      })
      .unref();
  }
}
