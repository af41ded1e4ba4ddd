import { createHash } from 'node:crypto';
import type { Clock } from '../stack/clock.js';
import type { Random } from '../stack/random.js';
import { seqAdd } from './seq.js';

/**
 * SYN cookies (RFC 4987 3.6), encoded as Linux does for IPv4: when the SYN queue
 * of a listener is full, the SYN,ACK is answered without keeping any state, and our
 * ISN (the "cookie") carries what the connection needs to be rebuilt from the
 * peer's ACK:
 *
 *   cookie = H1(tuple) + SEG.SEQ of the SYN + (minute << 24)
 *            + ((H2(tuple, minute) + mssIndex) mod 2^24)
 *
 * The top 8 bits are a minute counter (a cookie older than 2 minutes is refused),
 * the low 24 bits an index into a table of 4 MSS values hidden under a keyed hash;
 * H1 and H2 are keyed hashes of the four-tuple, with a secret from the injected
 * Random, so an off-path attacker cannot forge an ACK that passes.
 *
 * What does not fit into the ISN rides in the low 6 bits of our TSval, when the
 * peer offered timestamps (Linux's cookie_init_timestamp): window scale (4 bits,
 * 15 = none), SACK-permitted (bit 4) and ECN (bit 5, always 0: we do not do ECN).
 * The peer echoes the TSval in the ACK (TSecr). Without timestamps the connection
 * goes without window scaling and SACK (as on Linux).
 */

/** Linux's msstab for IPv4: the MSS is rounded down to one of these. */
export const COOKIE_MSS_TABLE = [536, 1300, 1440, 1460] as const;
/** The cookie counts minutes; one from the current or the previous minute passes (Linux MAX_SYNCOOKIE_AGE = 2). */
const MAX_AGE_MINUTES = 2;
const MINUTE_MS = 60_000;
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Low TSval bits that carry options (Linux TSBITS). */
const TS_BITS = 6;
const TS_MASK = (1 << TS_BITS) - 1;
const TS_NO_WSCALE = 0xf;
const TS_SACK = 1 << 4;

export interface CookieTuple {
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
}

/** What the options in the low TSval bits said. */
export interface CookieOptions {
  /** The peer's window scale, or undefined when it sent none. */
  windowScale: number | undefined;
  sackPermitted: boolean;
}

export class SynCookies {
  private readonly secrets: [Uint8Array, Uint8Array, Uint8Array];

  constructor(
    private readonly clock: Clock,
    random: Random,
  ) {
    this.secrets = [random.bytes(16), random.bytes(16), random.bytes(16)];
  }

  /** The minute counter (8 bits are carried). */
  private minute(): number {
    return Math.floor(this.clock.now() / MINUTE_MS);
  }

  /** Our ISN for a SYN with sequence number `peerSeq` and MSS option `peerMss`. */
  encode(t: CookieTuple, peerSeq: number, peerMss: number): number {
    const count = this.minute();
    const index = mssIndex(peerMss);
    const low = (this.hash(1, t, count) + index) & COOKIE_MASK;
    return (this.hash(0, t, 0) + peerSeq + ((count & 0xff) << COOKIE_BITS) + low) >>> 0;
  }

  /**
   * Check the ACK of a cookie SYN,ACK: `ack` is SEG.ACK (cookie + 1), `seq` SEG.SEQ
   * (the peer's ISN + 1). Returns the MSS the cookie carried, or undefined when
   * the cookie is forged, or older than two minutes.
   */
  decode(t: CookieTuple, seq: number, ack: number): number | undefined {
    const count = this.minute();
    const cookie = (seqAdd(ack, -1) - this.hash(0, t, 0) - seqAdd(seq, -1)) >>> 0;
    const age = (count - (cookie >>> COOKIE_BITS)) & 0xff;
    if (age >= MAX_AGE_MINUTES) return undefined;
    const index = ((cookie & COOKIE_MASK) - this.hash(1, t, count - age)) & COOKIE_MASK;
    return index < COOKIE_MSS_TABLE.length ? COOKIE_MSS_TABLE[index] : undefined;
  }

  /**
   * The timestamp offset of a cookie connection: its TSvals must continue from the
   * one in the stateless SYN,ACK, so the offset is a keyed hash of the four-tuple
   * (as Linux's secure_tcp_ts_off) instead of a random number kept in state.
   */
  tsOffset(t: CookieTuple): number {
    return this.hash(2, t, 0);
  }

  private hash(which: 0 | 1 | 2, t: CookieTuple, count: number): number {
    const b = Buffer.alloc(16);
    b.writeUInt32BE(t.localAddr >>> 0, 0);
    b.writeUInt32BE(t.remoteAddr >>> 0, 4);
    b.writeUInt16BE(t.localPort, 8);
    b.writeUInt16BE(t.remotePort, 10);
    b.writeUInt32BE(count >>> 0, 12);
    return createHash('sha256').update(this.secrets[which]).update(b).digest().readUInt32BE(0);
  }
}

/** The largest table entry not above the peer's MSS (the smallest when it is below all). */
function mssIndex(peerMss: number): number {
  let i = COOKIE_MSS_TABLE.length - 1;
  while (i > 0 && COOKIE_MSS_TABLE[i]! > peerMss) i--;
  return i;
}

/**
 * The TSval of a cookie SYN,ACK: our clock `tsNow` with its low 6 bits replaced by
 * the options, moved back 64 ms if that put it in the future (a TSval must never run
 * ahead of the clock that later segments use).
 */
export function cookieTsval(tsNow: number, opts: CookieOptions): number {
  let bits = opts.windowScale === undefined ? TS_NO_WSCALE : Math.min(opts.windowScale, 14);
  if (opts.sackPermitted) bits |= TS_SACK;
  let ts = ((tsNow & ~TS_MASK) | bits) >>> 0;
  if (((ts - tsNow) | 0) > 0) ts = (ts - (1 << TS_BITS)) >>> 0;
  return ts;
}

/** The options a cookie's echoed TSval carries. */
export function cookieOptions(tsecr: number): CookieOptions {
  const ws = tsecr & 0xf;
  return { windowScale: ws === TS_NO_WSCALE ? undefined : ws, sackPermitted: (tsecr & TS_SACK) !== 0 };
}
