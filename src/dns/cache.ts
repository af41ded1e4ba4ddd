import type { Clock } from '../stack/clock.js';
import { canonicalName, type DnsRecord } from '../wire/dns.js';

/**
 * The resolver's cache (RFC 1035 7.4, RFC 2308): answers kept for their TTL, and
 * negative answers too. Keys are (canonical name, type); an NXDOMAIN is stored under
 * type 0, because it says the name has no records of ANY type (RFC 2308 5).
 */

/** RFC 2308 5: negative answers should not be kept longer than a few hours. */
export const MAX_NEGATIVE_TTL = 3 * 3600;
/** Do not trust a positive TTL beyond a day (a cap many resolvers apply, e.g. 1 week in BIND). */
export const MAX_POSITIVE_TTL = 86400;

export type CacheEntry =
  | { kind: 'records'; records: DnsRecord[]; expires: number }
  | { kind: 'nxdomain'; expires: number }
  | { kind: 'nodata'; expires: number };

const NXDOMAIN_TYPE = 0;

export class DnsCache {
  private readonly entries = new Map<string, CacheEntry>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries = 1000,
  ) {}

  private key(name: string, type: number): string {
    return `${type} ${canonicalName(name)}`;
  }

  /** The live entry for (name, type): an NXDOMAIN for the name answers every type. */
  get(name: string, type: number): CacheEntry | undefined {
    return this.live(this.key(name, NXDOMAIN_TYPE)) ?? this.live(this.key(name, type));
  }

  /** Remaining TTL, in whole seconds, of an entry. */
  remaining(entry: CacheEntry): number {
    return Math.max(0, Math.floor((entry.expires - this.clock.now()) / 1000));
  }

  /** Keep an RRset for the smallest TTL among its records (RFC 2181 5.2: they should agree). */
  putRecords(name: string, type: number, records: DnsRecord[]): void {
    const ttl = Math.min(MAX_POSITIVE_TTL, ...records.map((r) => effectiveTtl(r.ttl)));
    if (ttl <= 0) return;
    this.put(this.key(name, type), { kind: 'records', records, expires: this.clock.now() + ttl * 1000 });
  }

  putNegative(name: string, type: number, kind: 'nxdomain' | 'nodata', ttl: number): void {
    const seconds = Math.min(MAX_NEGATIVE_TTL, effectiveTtl(ttl));
    if (seconds <= 0) return;
    const key = this.key(name, kind === 'nxdomain' ? NXDOMAIN_TYPE : type);
    this.put(key, { kind, expires: this.clock.now() + seconds * 1000 });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  private put(key: string, entry: CacheEntry): void {
    this.entries.delete(key);
    // Oldest-inserted first out: a Map iterates in insertion order.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
  }

  private live(key: string): CacheEntry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }
}

/** RFC 2181 8: a TTL with the top bit set is to be treated as zero. */
export function effectiveTtl(ttl: number): number {
  return ttl > 0x7fffffff ? 0 : ttl;
}
