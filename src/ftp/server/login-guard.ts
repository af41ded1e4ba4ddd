/**
 * Password guessing, slowed down per source address without slowing anybody else.
 *
 * - scrypt runs on libuv's small thread pool (4 threads), which file I/O needs too.
 *   So at most `maxConcurrent` checks run at once server-wide, and at most ONE per
 *   source address: an address that opens 50 connections and sends 50 PASS waits
 *   for its own previous check, while another address gets the next free slot.
 * - Each failed login from an address makes its next 530 come later (the delay
 *   doubles, up to 32 times the base; RFC 2577 5 asks for a delay), and only that
 *   address waits.
 * - `banAfter` failures within `banMs` ban the address for `banMs`: its new
 *   connections get 421 and its PASS is not even checked.
 * - A successful login forgets the address's failures.
 * Counters: ftp.server.login.{checks_queued, delayed, banned}, ftp.server.refused.banned.
 */
import type { Clock } from '../../stack/clock.js';
import type { Counters } from '../../stack/counters.js';

export interface LoginGuardOptions {
  /** Delay of the first failed login's reply; doubles per failure (ms). */
  baseDelayMs: number;
  /** Failures from one address after which it is banned. */
  banAfter: number;
  /** How long a ban lasts, and how long failures are remembered (ms). */
  banMs: number;
  /** Password checks running at once, server-wide. */
  maxConcurrent: number;
}

interface AddressRecord {
  failures: number;
  lastFailure: number;
  bannedUntil: number;
  /** The end of this address's queue of checks. */
  tail: Promise<unknown>;
}

const MAX_DELAY_FACTOR = 32;
/** Above this many remembered addresses, quiet ones are forgotten. */
const MAX_ADDRESSES = 10_000;

export class LoginGuard {
  private readonly byAddress = new Map<string, AddressRecord>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly o: LoginGuardOptions,
    private readonly clock: Clock,
    private readonly counters: Counters,
  ) {}

  private record(address: string): AddressRecord {
    let r = this.byAddress.get(address);
    const now = this.clock.now();
    if (!r && this.byAddress.size >= MAX_ADDRESSES) this.forgetQuiet(now);
    // Failures are forgotten after a quiet banMs (and the map does not grow for ever).
    if (r && this.isQuiet(r, now)) r.failures = 0;
    if (!r) {
      r = { failures: 0, lastFailure: 0, bannedUntil: 0, tail: Promise.resolve() };
      this.byAddress.set(address, r);
    }
    return r;
  }

  /** Many addresses (a spoofed or distributed guesser): drop those neither banned nor recently failing. */
  private forgetQuiet(now: number): void {
    for (const [address, r] of this.byAddress) {
      if (this.isQuiet(r, now)) this.byAddress.delete(address);
    }
  }

  /** Not banned, and no failure for the last banMs: nothing about this address matters any more. */
  private isQuiet(r: AddressRecord, now: number): boolean {
    return r.bannedUntil <= now && now - r.lastFailure > this.o.banMs;
  }

  isBanned(address: string): boolean {
    const r = this.byAddress.get(address);
    return r !== undefined && r.bannedUntil > this.clock.now();
  }

  /**
   * Run one password check for `address`: after this address's earlier checks, and
   * when one of the server-wide slots is free.
   */
  check<T>(address: string, fn: () => Promise<T>): Promise<T> {
    const r = this.record(address);
    const run = r.tail.then(async () => {
      await this.acquire();
      try {
        return await fn();
      } finally {
        this.release();
      }
    });
    r.tail = run.catch(() => {});
    return run;
  }

  private acquire(): Promise<void> {
    if (this.running < this.o.maxConcurrent) {
      this.running++;
      return Promise.resolve();
    }
    this.counters.inc('ftp.server.login.checks_queued');
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  /** A failed login from `address`: how long to wait before answering it (ms). */
  failed(address: string): number {
    const r = this.record(address);
    const now = this.clock.now();
    r.failures++;
    r.lastFailure = now;
    if (r.failures >= this.o.banAfter && r.bannedUntil <= now) {
      r.bannedUntil = now + this.o.banMs;
      this.counters.inc('ftp.server.login.banned');
    }
    const delay = this.o.baseDelayMs * Math.min(MAX_DELAY_FACTOR, 2 ** (r.failures - 1));
    if (r.failures > 1) this.counters.inc('ftp.server.login.delayed');
    return delay;
  }

  succeeded(address: string): void {
    const r = this.byAddress.get(address);
    if (r && r.bannedUntil <= this.clock.now()) this.byAddress.delete(address);
  }
}
