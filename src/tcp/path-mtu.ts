import type { Clock } from '../stack/clock.js';

/**
 * Path MTUs learned from ICMP "fragmentation needed" (RFC 1191), per destination.
 * New connections to a destination start from what was learned; an estimate is
 * forgotten after 10 minutes (RFC 1191 6.3: a larger MTU may be tried again), and
 * the table is bounded, oldest entry first out, so ICMP cannot grow memory.
 */

/**
 * The smallest path MTU we accept: Linux's min_pmtu (512 + 20 + 20 = 552). Every
 * host must take 576-byte datagrams (RFC 791, RFC 1122 3.3.3); RFC 1191 3 allows
 * 68, but a report below 552 is more likely an attack (RFC 5927 7.2) than a real
 * link: we use 552 then and let routers fragment (DF off), as Linux does.
 */
export const MIN_PATH_MTU = 552;
const EXPIRY_MS = 10 * 60_000;
const MAX_ENTRIES = 1024;

/**
 * The MTU plateaus of RFC 1191 7 (table 7-1), for a router that says "fragmentation
 * needed" without the next-hop MTU (an RFC 792 router): take the next plateau below
 * what we sent, the strategy RFC 1191 5 recommends.
 */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

export function plateauBelow(size: number): number {
  return PLATEAUS.find((p) => p < size) ?? 68;
}

export interface PathMtu {
  mtu: number;
  /** The report was below MIN_PATH_MTU: send at MIN_PATH_MTU without DF. */
  locked: boolean;
}

export class PathMtuCache {
  private readonly entries = new Map<number, PathMtu & { at: number }>();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.entries.size;
  }

  get(dst: number): PathMtu | undefined {
    const e = this.entries.get(dst);
    if (e && this.clock.now() - e.at >= EXPIRY_MS) {
      this.entries.delete(dst);
      return undefined;
    }
    return e;
  }

  /** Record a lower path MTU for `dst`; returns what is now in effect (a lower one already known stays). */
  lower(dst: number, reported: number): PathMtu {
    const mtu = Math.max(reported, MIN_PATH_MTU);
    const known = this.get(dst);
    if (known && known.mtu <= mtu) return known;
    const entry = { mtu, locked: reported < MIN_PATH_MTU, at: this.clock.now() };
    this.entries.delete(dst);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(dst, entry);
    return entry;
  }
}
