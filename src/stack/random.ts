import { randomBytes } from 'node:crypto';

/**
 * Randomness is injected like time: production draws from the OS, simulations from
 * a seed so a failing run can be replayed exactly.
 */
export interface Random {
  /** A uniformly distributed unsigned 32-bit integer. */
  uint32(): number;
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [min, max] inclusive. */
  int(min: number, max: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

abstract class RandomBase implements Random {
  abstract uint32(): number;
  float(): number {
    return this.uint32() / 0x1_0000_0000;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uint32() & 0xff;
    return out;
  }
}

/** Deterministic generator (mulberry32): good enough for simulations, not for secrets. */
export class SeededRandom extends RandomBase {
  private state: number;
  constructor(readonly seed: number) {
    super();
    this.state = seed >>> 0;
  }
  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}

/** Cryptographically strong randomness from the OS, drawn in blocks. */
export class SystemRandom extends RandomBase {
  private pool = new Uint32Array(0);
  private index = 0;
  uint32(): number {
    if (this.index >= this.pool.length) {
      this.pool = new Uint32Array(randomBytes(1024).buffer);
      this.index = 0;
    }
    return this.pool[this.index++]!;
  }
  override bytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }
}
