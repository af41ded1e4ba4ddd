import { Buffer } from 'node:buffer';
import { formatIpv4 } from '../wire/address.js';
import { IPV4_MAX_DATAGRAM, type Ipv4Header } from '../wire/ipv4.js';
import type { Timer } from './clock.js';
import type { Logger } from './log.js';
import type { StackServices } from './services.js';

/**
 * IPv4 reassembly (RFC 791 3.2 "reassembly", with the hole bookkeeping of RFC 815
 * done by keeping the fragments sorted by offset).
 *
 * Fragments of one datagram share (source, destination, protocol, identification).
 * Each buffer waits at most `timeoutMs` (RFC 791 suggests 15 s or more; Linux uses
 * 30 s), and all buffers together hold at most `maxBytes`: the oldest is evicted
 * first, so a flood of never-completed fragments cannot exhaust memory.
 *
 * Overlaps: a fragment whose overlapping bytes equal what we already have is
 * accepted (a resend with different fragment boundaries); one that disagrees
 * discards the whole datagram, because there is no way to know which copy is right
 * and guessing is how overlap attacks get through (compare RFC 5722 for IPv6).
 */

export interface ReassemblyOptions {
  /** Give up on an incomplete datagram after this long (default 30 s). */
  timeoutMs?: number;
  /** Memory for all incomplete datagrams of this host (default 1 MiB). */
  maxBytes?: number;
  /** Incomplete datagrams held at once (default 64). */
  maxDatagrams?: number;
}

export interface ReassembledDatagram {
  /** The header of the first fragment (offset 0), as received. */
  header: Uint8Array;
  /** The whole data, in a fresh buffer. */
  payload: Uint8Array;
}

/** Bookkeeping cost charged per fragment on top of its data, so tiny fragments count. */
const FRAGMENT_OVERHEAD = 64;

interface Fragment {
  start: number;
  end: number;
  data: Uint8Array;
}

interface Buffering {
  key: string;
  /** Source address, for the log. */
  src: number;
  /** Sorted by `start`. */
  fragments: Fragment[];
  /** Data length, known once the last fragment (MF = 0) arrived. */
  total?: number;
  /** Header of fragment 0, once it arrived. */
  firstHeader?: Uint8Array;
  bytes: number;
  timer: Timer;
}

export class Reassembler {
  private readonly buffers = new Map<string, Buffering>();
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxDatagrams: number;
  private bytesInUse = 0;
  private readonly log: Logger;

  constructor(
    private readonly services: StackServices,
    options: ReassemblyOptions = {},
    /** Called when a datagram times out after fragment 0 arrived (for ICMP time exceeded). */
    private readonly onTimeout?: (firstHeader: Uint8Array, firstData: Uint8Array) => void,
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBytes = options.maxBytes ?? 1 << 20;
    this.maxDatagrams = options.maxDatagrams ?? 64;
    this.log = services.log.child({ layer: 'ipv4' });
  }

  /** Incomplete datagrams held now. */
  get pending(): number {
    return this.buffers.size;
  }

  /** Bytes charged to incomplete datagrams now. */
  get memory(): number {
    return this.bytesInUse;
  }

  /**
   * Add one fragment. Returns the whole datagram when this fragment completed it,
   * otherwise null. `data` may be kept (a view into the received frame).
   */
  add(header: Ipv4Header, headerBytes: Uint8Array, data: Uint8Array): ReassembledDatagram | null {
    const { counters } = this.services;
    counters.inc('ipv4.reasm.fragments');
    const key = `${header.src}/${header.dst}/${header.protocol}/${header.identification}`;
    const start = header.fragmentOffset;
    const end = start + data.length;
    let buf = this.buffers.get(key);

    // RFC 791: every fragment but the last carries a multiple of 8 data bytes.
    if (header.moreFragments && (data.length === 0 || data.length % 8 !== 0)) {
      counters.inc('ipv4.reasm.bad_fragment');
      return null;
    }
    // The datagram would not fit in 16 bits of total length (the "ping of death").
    if (end + header.headerLength > IPV4_MAX_DATAGRAM) {
      counters.inc('ipv4.reasm.oversize');
      if (buf) this.discard(buf);
      return null;
    }

    if (!buf) {
      while (this.buffers.size >= this.maxDatagrams) this.evictOldest();
      buf = {
        key,
        src: header.src,
        fragments: [],
        bytes: 0,
        timer: this.services.clock.setTimer(this.timeoutMs, () => this.expire(key)).unref(),
      };
      this.buffers.set(key, buf);
    }

    // Where the datagram ends: the last fragment says so, and nothing may go beyond.
    if (!header.moreFragments) {
      if ((buf.total !== undefined && buf.total !== end) || buf.fragments.some((f) => f.end > end)) {
        counters.inc('ipv4.reasm.inconsistent');
        this.discard(buf);
        return null;
      }
      buf.total = end;
    } else if (buf.total !== undefined && end > buf.total) {
      counters.inc('ipv4.reasm.inconsistent');
      this.discard(buf);
      return null;
    }

    // Overlaps must agree byte for byte; a fragment wholly inside what we have is a duplicate.
    let duplicate = false;
    for (const f of buf.fragments) {
      if (f.start >= end || start >= f.end) continue;
      const from = Math.max(start, f.start);
      const to = Math.min(end, f.end);
      const ours = f.data.subarray(from - f.start, to - f.start);
      const theirs = data.subarray(from - start, to - start);
      if (Buffer.compare(ours, theirs) !== 0) {
        counters.inc('ipv4.reasm.overlap_conflict');
        this.log.debug({ src: formatIpv4(header.src), id: header.identification }, 'conflicting overlap, datagram discarded');
        this.discard(buf);
        return null;
      }
      if (f.start <= start && end <= f.end) duplicate = true;
    }
    if (duplicate) {
      counters.inc('ipv4.reasm.duplicate');
      return null;
    }

    // Memory bound: make room by evicting the oldest other datagrams.
    const cost = data.length + FRAGMENT_OVERHEAD;
    while (this.bytesInUse + cost > this.maxBytes && this.evictOldest(buf)) {
      /* evicted one */
    }
    if (this.bytesInUse + cost > this.maxBytes) {
      counters.inc('ipv4.reasm.memory_drop');
      this.discard(buf);
      return null;
    }

    const fragment: Fragment = { start, end, data };
    let i = buf.fragments.length;
    while (i > 0 && buf.fragments[i - 1]!.start > start) i--;
    buf.fragments.splice(i, 0, fragment);
    buf.bytes += cost;
    this.bytesInUse += cost;
    if (start === 0) buf.firstHeader = headerBytes;

    return this.tryComplete(buf);
  }

  /** Drop everything (host shutdown). */
  clear(): void {
    for (const buf of [...this.buffers.values()]) this.release(buf);
  }

  private tryComplete(buf: Buffering): ReassembledDatagram | null {
    if (buf.total === undefined || !buf.firstHeader) return null;
    // Walk the sorted fragments: any gap means a hole is still open (RFC 815).
    let covered = 0;
    for (const f of buf.fragments) {
      if (f.start > covered) return null;
      covered = Math.max(covered, f.end);
    }
    if (covered < buf.total) return null;
    const payload = new Uint8Array(buf.total);
    for (const f of buf.fragments) payload.set(f.data, f.start);
    const header = buf.firstHeader;
    this.release(buf);
    this.services.counters.inc('ipv4.reasm.ok');
    return { header, payload };
  }

  private expire(key: string): void {
    const buf = this.buffers.get(key);
    if (!buf) return;
    this.services.counters.inc('ipv4.reasm.timeout');
    this.log.debug({ src: formatIpv4(buf.src), key }, 'reassembly timed out');
    const first = buf.fragments[0];
    const header = buf.firstHeader;
    this.release(buf);
    // RFC 1122 3.3.2: time exceeded (code 1) only if fragment zero is available.
    if (header && first && first.start === 0) this.onTimeout?.(header, first.data);
  }

  private evictOldest(keep?: Buffering): boolean {
    for (const buf of this.buffers.values()) {
      if (buf === keep) continue;
      this.services.counters.inc('ipv4.reasm.evicted');
      this.release(buf);
      return true;
    }
    return false;
  }

  private discard(buf: Buffering): void {
    this.services.counters.inc('ipv4.reasm.discarded');
    this.release(buf);
  }

  private release(buf: Buffering): void {
    buf.timer.cancel();
    this.bytesInUse -= buf.bytes;
    this.buffers.delete(buf.key);
  }
}
