import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';
import { Counters } from '../../../src/stack/counters.js';

describe('VirtualClock', () => {
  it('fires timers in due order, ties in the order they were set', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    clock.setTimer(20, () => fired.push('c'));
    clock.advance(15);
    expect(fired).toEqual(['a']);
    expect(clock.now()).toBe(15);
    clock.advance(5);
    expect(fired).toEqual(['a', 'b', 'c']);
  });

  it('does not fire cancelled timers, and timers set by timers run in the same advance', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    const t = clock.setTimer(5, () => fired.push(5));
    clock.setTimer(1, () => clock.setTimer(1, () => fired.push(2)));
    t.cancel();
    clock.advance(10);
    expect(fired).toEqual([2]);
    expect(clock.pending).toBe(0);
  });

  it('runUntil jumps over idle time and reports a hang instead of waiting forever', async () => {
    const clock = new VirtualClock();
    let done = false;
    clock.setTimer(60_000, () => (done = true));
    await clock.runUntil(() => done);
    expect(clock.now()).toBe(60_000);
    await expect(clock.runUntil(() => false, 1000)).rejects.toThrow(/no timers left/);
  });
});

describe('SeededRandom', () => {
  it('replays the same sequence for the same seed', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const seqA = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(seqA);
    expect(new SeededRandom(43).uint32()).not.toBe(seqA[0]);
  });

  it('keeps int() inside its bounds', () => {
    const r = new SeededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const v = r.int(49152, 65535);
      expect(v).toBeGreaterThanOrEqual(49152);
      expect(v).toBeLessThanOrEqual(65535);
    }
  });
});

describe('Counters', () => {
  it('counts, sums by prefix and formats', () => {
    const c = new Counters();
    c.inc('ipv4.rx.bad_checksum');
    c.inc('ipv4.rx.bad_checksum');
    c.inc('ipv4.rx.ok', 5);
    c.inc('arp.tx.request');
    expect(c.get('ipv4.rx.bad_checksum')).toBe(2);
    expect(c.get('nothing')).toBe(0);
    expect(c.sum('ipv4.')).toBe(7);
    expect(Object.keys(c.snapshot())).toEqual(['arp.tx.request', 'ipv4.rx.bad_checksum', 'ipv4.rx.ok']);
    expect(c.format('arp')).toBe('arp.tx.request  1');
  });
});
