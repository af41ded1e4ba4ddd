import { LinkDecorator, type Link, type LinkClock } from './link.js';

/**
 * What can go wrong on a wire, as probabilities per frame (0..1) and delays in ms.
 * The defaults are all zero: a FaultLink with no profile is a plain pass-through.
 */
export interface FaultProfile {
  /** Drop the frame. */
  loss?: number;
  /** Deliver the frame twice. */
  duplicate?: number;
  /** Hold the frame back so that the next frame overtakes it. */
  reorder?: number;
  /** Flip one bit in a copy of the frame (after the Ethernet header when there is one). */
  corrupt?: number;
  /** Fixed one-way delay. */
  delayMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs); can reorder frames by itself. */
  jitterMs?: number;
}

/** The randomness a FaultLink needs, typed structurally so link/ stays below stack/. */
export interface FaultRandom {
  /** Uniform in [0, 1). SeededRandom from src/stack/random.ts fits. */
  float(): number;
}

export interface FaultOptions extends FaultProfile {
  /** Every decision is drawn from here: the same seed replays the same run. */
  random: FaultRandom;
  clock: LinkClock;
  /** Overrides for frames the stack sends (merged over the shared profile). */
  outbound?: FaultProfile;
  /** Overrides for frames the stack receives. */
  inbound?: FaultProfile;
  /** Longest time a reordered frame waits for a frame to overtake it (default 10 ms). */
  reorderHoldMs?: number;
  /**
   * Told about every frame the injector drops, when it drops it, so a capture or a
   * teaching tool can show the loss that the receiver never sees.
   */
  onDrop?: (frame: Uint8Array, direction: FaultDirection) => void;
}

export interface FaultDirectionStats {
  /** Frames offered to the fault injector. */
  frames: number;
  /** Frames handed on (duplicates count twice). */
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  delayed: number;
}

export type FaultDirection = 'inbound' | 'outbound';

const emptyStats = (): FaultDirectionStats => ({ frames: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0, corrupted: 0, delayed: 0 });

const ETHERNET_HEADER = 14;

/**
 * Middleware that damages traffic on purpose (smoltcp's FaultInjector idea): loss,
 * duplication, reordering, corruption and delay, each direction on its own. Every
 * decision is one draw from the injected random source, made in a fixed order, so a
 * simulation that fails can be replayed exactly from its seed.
 *
 * Corruption never touches the caller's buffer: it flips a bit in a copy.
 */
export class FaultLink extends LinkDecorator {
  readonly stats: Record<FaultDirection, FaultDirectionStats> = { outbound: emptyStats(), inbound: emptyStats() };
  private readonly random: FaultRandom;
  private readonly clock: LinkClock;
  private readonly profiles: Record<FaultDirection, Required<FaultProfile>>;
  private readonly reorderHoldMs: number;
  private readonly held: Record<FaultDirection, { frames: Uint8Array[]; timer: { cancel(): void } } | null> = { outbound: null, inbound: null };
  private readonly timers = new Set<{ cancel(): void }>();
  private handler: ((frames: Uint8Array[]) => void) | null = null;
  private readonly onDrop: FaultOptions['onDrop'];
  private closed = false;

  constructor(inner: Link, options: FaultOptions) {
    super(inner);
    this.random = options.random;
    this.clock = options.clock;
    this.reorderHoldMs = options.reorderHoldMs ?? 10;
    this.onDrop = options.onDrop;
    this.profiles = { outbound: profile(options, options.outbound ?? {}), inbound: profile(options, options.inbound ?? {}) };
    inner.onReceive((frames) => this.apply(frames, 'inbound'));
  }

  override send(frame: Uint8Array): void {
    this.apply([frame], 'outbound');
  }

  override sendBatch(frames: readonly Uint8Array[]): void {
    this.apply(frames, 'outbound');
  }

  override onReceive(handler: (frames: Uint8Array[]) => void): void {
    this.handler = handler;
  }

  override close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.held.inbound = this.held.outbound = null;
    return this.inner.close();
  }

  /** Decide the fate of each frame in order, then hand on what survives. */
  private apply(frames: readonly Uint8Array[], dir: FaultDirection): void {
    if (this.closed) return;
    const p = this.profiles[dir];
    const s = this.stats[dir];
    const ready: Uint8Array[] = [];
    for (const frame of frames) {
      s.frames++;
      if (this.chance(p.loss)) {
        s.dropped++;
        this.onDrop?.(frame, dir);
        continue;
      }
      let out = frame;
      if (this.chance(p.corrupt) && frame.length > 0) {
        out = this.corruptCopy(frame);
        s.corrupted++;
      }
      const copies = [out];
      if (this.chance(p.duplicate)) {
        copies.push(out);
        s.duplicated++;
      }
      const held = this.held[dir];
      if (!held && this.chance(p.reorder)) {
        // Hold this frame until the next one has gone (or the hold time runs out).
        s.reordered++;
        const entry = { frames: copies, timer: this.schedule(this.reorderHoldMs, () => this.releaseHeld(dir)) };
        this.held[dir] = entry;
        continue;
      }
      ready.push(...copies);
      if (held) {
        // This frame overtook the held one; the held one follows right behind it.
        this.held[dir] = null;
        held.timer.cancel();
        this.timers.delete(held.timer);
        ready.push(...held.frames);
      }
    }
    this.forward(ready, dir);
  }

  private releaseHeld(dir: FaultDirection): void {
    const held = this.held[dir];
    if (!held) return;
    this.held[dir] = null;
    this.timers.delete(held.timer);
    this.forward(held.frames, dir);
  }

  /** Apply the delay (fixed + jitter, one draw per frame when jitter is on), then emit. */
  private forward(frames: Uint8Array[], dir: FaultDirection): void {
    if (frames.length === 0) return;
    const p = this.profiles[dir];
    if (p.delayMs <= 0 && p.jitterMs <= 0) {
      this.emit(frames, dir);
      return;
    }
    // Frames with the same delay travel together, as one batch.
    const groups = new Map<number, Uint8Array[]>();
    for (const f of frames) {
      const delay = p.delayMs + (p.jitterMs > 0 ? this.random.float() * p.jitterMs : 0);
      const group = groups.get(delay);
      if (group) group.push(f);
      else groups.set(delay, [f]);
    }
    for (const [delay, group] of groups) {
      this.stats[dir].delayed += group.length;
      const timer = this.schedule(delay, () => {
        this.timers.delete(timer);
        this.emit(group, dir);
      });
    }
  }

  private emit(frames: Uint8Array[], dir: FaultDirection): void {
    if (this.closed) return;
    this.stats[dir].delivered += frames.length;
    if (dir === 'outbound') this.inner.sendBatch(frames);
    else this.handler?.(frames);
  }

  private schedule(delayMs: number, fn: () => void): { cancel(): void } {
    const timer = this.clock.setTimer(delayMs, fn);
    this.timers.add(timer);
    return timer;
  }

  /** One draw per enabled fault; a probability of 0 draws nothing. */
  private chance(probability: number): boolean {
    return probability > 0 && this.random.float() < probability;
  }

  /** A copy with one bit flipped, past the Ethernet header so the frame still arrives. */
  private corruptCopy(frame: Uint8Array): Uint8Array {
    const copy = frame.slice();
    const from = copy.length > ETHERNET_HEADER ? ETHERNET_HEADER : 0;
    const bit = Math.floor(this.random.float() * (copy.length - from) * 8);
    const index = from + (bit >>> 3);
    copy[index] = copy[index]! ^ (1 << (bit & 7));
    return copy;
  }
}

/** One direction's profile: each field from its override, else the shared value, else 0. */
function profile(base: FaultProfile, over: FaultProfile): Required<FaultProfile> {
  const pick = (k: keyof FaultProfile): number => over[k] ?? base[k] ?? 0;
  return {
    loss: pick('loss'),
    duplicate: pick('duplicate'),
    reorder: pick('reorder'),
    corrupt: pick('corrupt'),
    delayMs: pick('delayMs'),
    jitterMs: pick('jitterMs'),
  };
}
