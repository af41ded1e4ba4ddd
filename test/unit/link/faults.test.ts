import { describe, expect, it } from 'vitest';
import { FaultLink, type FaultOptions } from '../../../src/link/faults.js';
import type { Link } from '../../../src/link/link.js';
import { MemoryHub } from '../../../src/link/memory.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';

/** A frame that carries its number in bytes 14..17 (after a blank Ethernet header). */
function frame(n: number, size = 64): Uint8Array {
  const f = new Uint8Array(size);
  new DataView(f.buffer).setUint32(14, n);
  return f;
}
const id = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset).getUint32(14);

/** Send `count` frames through a FaultLink on port a; return what port b saw, in order. */
function run(options: Omit<FaultOptions, 'clock' | 'random'>, seed: number, count: number) {
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock);
  const a = new FaultLink(hub.attach('a'), { ...options, clock, random: new SeededRandom(seed) });
  const b = hub.attach('b');
  const seen: Uint8Array[] = [];
  b.onReceive((fs) => seen.push(...fs));
  for (let i = 0; i < count; i++) {
    a.send(frame(i));
    clock.advance(1);
  }
  clock.advance(1000);
  return { seen, ids: seen.map(id), stats: a.stats };
}

function inversions(ids: number[]): number {
  let n = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i]! < ids[i - 1]!) n++;
  return n;
}

describe('FaultLink', () => {
  const mixed = { loss: 0.1, duplicate: 0.05, reorder: 0.1, corrupt: 0.02 };

  it('makes the same decisions for the same seed, other ones for another seed', () => {
    const one = run(mixed, 1234, 500);
    const two = run(mixed, 1234, 500);
    const other = run(mixed, 4321, 500);
    expect(two.ids).toEqual(one.ids);
    expect(two.stats).toEqual(one.stats);
    expect(two.seen.map((f) => Array.from(f).join())).toEqual(one.seen.map((f) => Array.from(f).join()));
    expect(other.ids).not.toEqual(one.ids);
  });

  it('drops, duplicates and reorders at roughly the configured rates', () => {
    const n = 10_000;
    const { ids, stats } = run({ ...mixed, corrupt: 0 }, 7, n); // corruption could hit the frame number
    const s = stats.outbound;
    expect(s.frames).toBe(n);
    expect(s.dropped / n).toBeGreaterThan(0.085);
    expect(s.dropped / n).toBeLessThan(0.115);
    // duplicate and reorder are drawn only for frames that survived the loss draw
    expect(s.duplicated / (n - s.dropped)).toBeGreaterThan(0.04);
    expect(s.duplicated / (n - s.dropped)).toBeLessThan(0.06);
    expect(s.reordered / n).toBeGreaterThan(0.07);
    expect(s.reordered / n).toBeLessThan(0.11);
    expect(ids.length).toBe(n - s.dropped + s.duplicated);
    expect(s.delivered).toBe(ids.length);
    // every held frame is overtaken by exactly the next frame: one inversion each
    expect(inversions(ids)).toBe(s.reordered);
    expect(new Set(ids).size).toBe(n - s.dropped);
  });

  it('corrupts copies: one flipped bit past the Ethernet header, the sender buffer untouched', () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock);
    const a = new FaultLink(hub.attach('a'), { corrupt: 1, clock, random: new SeededRandom(99) });
    const b = hub.attach('b');
    const seen: Uint8Array[] = [];
    b.onReceive((fs) => seen.push(...fs));
    const sent = Array.from({ length: 50 }, (_, i) => frame(i));
    for (const f of sent) a.send(f);
    clock.advance(1);
    expect(a.stats.outbound.corrupted).toBe(50);
    sent.forEach((f, i) => {
      expect(id(f) === i && f.subarray(18).every((x) => x === 0)).toBe(true); // original intact
      let bits = 0;
      for (let k = 0; k < f.length; k++) {
        let x = f[k]! ^ seen[i]![k]!;
        if (x !== 0) expect(k).toBeGreaterThanOrEqual(14);
        for (; x; x &= x - 1) bits++;
      }
      expect(bits).toBe(1);
    });
  });

  it('corrupts inbound frames in a copy too, and applies faults per direction', () => {
    const clock = new VirtualClock();
    let deliver: (fs: Uint8Array[]) => void = () => {};
    const sent: Uint8Array[] = [];
    const stub: Link = {
      mtu: 1500,
      name: 'stub',
      send: (f) => sent.push(f),
      sendBatch: (fs) => sent.push(...fs),
      onReceive: (h) => (deliver = h),
      close: async () => {},
    };
    const link = new FaultLink(stub, { clock, random: new SeededRandom(5), inbound: { corrupt: 1 }, outbound: { loss: 1 } });
    const got: Uint8Array[] = [];
    link.onReceive((fs) => got.push(...fs));
    const incoming = frame(7);
    deliver([incoming]);
    expect(got).toHaveLength(1);
    expect(got[0]).not.toBe(incoming);
    expect(id(incoming)).toBe(7);
    expect(incoming.subarray(18).every((x) => x === 0)).toBe(true);
    link.send(frame(1));
    expect(sent).toHaveLength(0);
    expect(link.stats.outbound.dropped).toBe(1);
    expect(link.stats.inbound).toMatchObject({ frames: 1, corrupted: 1, dropped: 0 });
  });

  it('delays by delayMs plus jitter on the injected clock', () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock);
    const a = new FaultLink(hub.attach('a'), { delayMs: 20, jitterMs: 10, clock, random: new SeededRandom(3) });
    const b = hub.attach('b');
    const arrivals: number[] = [];
    b.onReceive((fs) => fs.forEach(() => arrivals.push(clock.now())));
    for (let i = 0; i < 20; i++) a.send(frame(i));
    clock.advance(19);
    expect(arrivals).toHaveLength(0);
    clock.advance(11);
    expect(arrivals).toHaveLength(20);
    expect(Math.min(...arrivals)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...arrivals)).toBeLessThan(30);
    expect(new Set(arrivals).size).toBeGreaterThan(5); // jitter spreads them
    expect(a.stats.outbound.delayed).toBe(20);
  });

  it('releases a held frame after reorderHoldMs when nothing overtakes it, and passes through with no faults', () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock);
    const a = new FaultLink(hub.attach('a'), { reorder: 1, reorderHoldMs: 15, clock, random: new SeededRandom(1) });
    const b = hub.attach('b');
    const arrivals: number[] = [];
    b.onReceive((fs) => fs.forEach(() => arrivals.push(clock.now())));
    a.send(frame(0));
    clock.advance(14);
    expect(arrivals).toEqual([]);
    clock.advance(2);
    expect(arrivals).toEqual([15]);

    const plain = run({}, 1, 100);
    expect(plain.ids).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
