/**
 * Time is injected (the smoltcp/gVisor way): every timer and every "now" in src/
 * goes through a Clock. Production uses RealClock; tests use VirtualClock and run
 * minutes of retransmissions in milliseconds, deterministically.
 */

export interface Timer {
  /** Stop the timer; calling it twice, or after it fired, is harmless. */
  cancel(): void;
  /** Do not keep the process alive for this timer (no effect on the virtual clock). */
  unref(): this;
}

export interface Clock {
  /** Milliseconds since an arbitrary origin; monotonic; may be fractional. */
  now(): number;
  /** Run `fn` once, `delayMs` from now. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** The real clock: performance.now() and setTimeout. */
export class RealClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    if (delayMs <= 0) {
      // setTimeout(0) waits at least 1 ms; "as soon as possible" is setImmediate.
      const immediate = setImmediate(fn);
      return {
        cancel: () => clearImmediate(immediate),
        unref() {
          immediate.unref();
          return this;
        },
      };
    }
    const handle = setTimeout(fn, delayMs);
    return {
      cancel: () => clearTimeout(handle),
      unref() {
        handle.unref();
        return this;
      },
    };
  }
}

interface VirtualTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. Timers due at the same instant fire in the
 * order they were set. `run*` helpers yield to the event loop between timers so that
 * stream callbacks (process.nextTick, microtasks) of Node's streams can run.
 */
export class VirtualClock implements Clock {
  private current = 0;
  private seq = 0;
  private timers: VirtualTimer[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const t: VirtualTimer = { due: this.current + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.insert(t);
    return {
      cancel: () => {
        t.cancelled = true;
      },
      unref() {
        return this;
      },
    };
  }

  /** Number of timers still waiting. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** When the next live timer is due, or undefined. */
  nextDue(): number | undefined {
    this.dropCancelled();
    return this.timers[0]?.due;
  }

  /** Fire, synchronously, every timer due up to now + ms, then set now to that time. */
  advance(ms: number): void {
    const until = this.current + ms;
    while (this.fireNext(until));
    this.current = until;
  }

  /**
   * Advance by `ms`, firing timers one at a time and letting the event loop turn
   * (setImmediate) after each, so Node stream events interleave as they would live.
   */
  async advanceAsync(ms: number): Promise<void> {
    const until = this.current + ms;
    await yieldToEventLoop();
    while (this.fireNext(until)) await yieldToEventLoop();
    this.current = until;
  }

  /**
   * Run timers (jumping over idle time) until `done()` is true. Throws when virtual
   * time passes `maxMs` or no timer is left while `done()` is still false: a hang in a
   * simulation becomes a clear failure instead of a stuck test.
   */
  async runUntil(done: () => boolean, maxMs = 10 * 60_000): Promise<void> {
    const limit = this.current + maxMs;
    await yieldToEventLoop();
    while (!done()) {
      const due = this.nextDue();
      if (due === undefined) {
        // Nothing scheduled: give pending I/O callbacks a few turns before giving up.
        let moved = false;
        for (let i = 0; i < 5 && !moved; i++) {
          await yieldToEventLoop();
          moved = done() || this.nextDue() !== undefined;
        }
        if (!moved) throw new Error(`VirtualClock.runUntil: no timers left at t=${this.current}ms and condition not met`);
        continue;
      }
      if (due > limit) throw new Error(`VirtualClock.runUntil: condition not met within ${maxMs}ms of virtual time`);
      this.fireNext(due);
      await yieldToEventLoop();
    }
  }

  /** Fire the earliest live timer if it is due by `until`; false when there is none. */
  private fireNext(until: number): boolean {
    this.dropCancelled();
    const t = this.timers[0];
    if (!t || t.due > until) return false;
    this.timers.shift();
    this.current = Math.max(this.current, t.due);
    t.fn();
    return true;
  }

  private insert(t: VirtualTimer): void {
    // Keep the list sorted by (due, seq); binary search for the insertion point.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.timers[mid]!;
      if (m.due < t.due || (m.due === t.due && m.seq < t.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, t);
  }

  private dropCancelled(): void {
    while (this.timers.length > 0 && this.timers[0]!.cancelled) this.timers.shift();
  }
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
