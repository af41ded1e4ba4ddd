import type { Clock, Timer } from './clock.js';
import type { Logger } from './log.js';

/**
 * A token bucket on the injected clock: `burst` tokens at most, refilled at
 * `perSecond`. Used to limit ICMP errors (RFC 1812 4.3.2.8, RFC 1122 3.2.2).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Take one token if there is one. */
  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * One log line per interval for an event that a peer can repeat at will (an address
 * conflict, a flood): the first occurrence is logged at once, the ones after it within
 * `intervalMs` are only counted, and when the interval ends one more line says how
 * many there were. Counters still count every one.
 */
export class LogThrottle {
  private held = 0;
  private window: Timer | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    /** Write one line; `repeats` is 0 for the first occurrence, else how many were held back. */
    private readonly write: (repeats: number) => void,
  ) {}

  note(): void {
    if (this.window !== null) {
      this.held++;
      return;
    }
    this.write(0);
    this.open();
  }

  /** Stop the interval timer (host shutdown); what is held back is not written. */
  cancel(): void {
    this.window?.cancel();
    this.window = null;
  }

  private open(): void {
    this.window = this.clock
      .setTimer(this.intervalMs, () => {
        this.window = null;
        if (this.held === 0) return;
        const repeats = this.held;
        this.held = 0;
        this.write(repeats);
        this.open(); // the next line again no sooner than one interval later
      })
      .unref();
  }
}

/**
 * Errors (bugs) that a peer can make us hit again and again, one per frame or query:
 * the first is logged with its stack, since it is a bug to fix; those after it only
 * as a count, once per `intervalMs` (a LogThrottle).
 */
export class ThrottledErrorLog {
  private last: unknown;
  private readonly throttle: LogThrottle;

  constructor(
    clock: Clock,
    intervalMs: number,
    log: Logger | undefined,
    /** The first line ("error while handling a frame"), and the one for `n` repeats. */
    first: string,
    repeats: (n: number) => string,
  ) {
    this.throttle = new LogThrottle(clock, intervalMs, (n) => {
      if (n === 0) log?.error({ err: this.last }, first);
      else log?.error({ count: n }, repeats(n));
    });
  }

  note(err: unknown): void {
    this.last = err;
    this.throttle.note();
  }

  /** Stop the interval timer (shutdown). */
  cancel(): void {
    this.throttle.cancel();
  }
}
