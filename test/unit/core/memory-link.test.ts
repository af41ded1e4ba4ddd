import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/stack/clock.js';
import { MemoryHub } from '../../../src/link/memory.js';

describe('MemoryHub', () => {
  it('delivers a frame to every other port, never back to the sender', () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock);
    const [a, b, c] = [hub.attach('a'), hub.attach('b'), hub.attach('c')];
    const got: Record<string, number[]> = { a: [], b: [], c: [] };
    a.onReceive((frames) => got.a!.push(...frames.map((f) => f[0]!)));
    b.onReceive((frames) => got.b!.push(...frames.map((f) => f[0]!)));
    c.onReceive((frames) => got.c!.push(...frames.map((f) => f[0]!)));
    a.send(new Uint8Array([7]));
    clock.advance(0);
    expect(got).toEqual({ a: [], b: [7], c: [7] });
  });

  it('copies frames on send, like a wire', () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock);
    const a = hub.attach();
    const b = hub.attach();
    const received: Uint8Array[] = [];
    b.onReceive((frames) => received.push(...frames));
    const frame = new Uint8Array([1, 2, 3]);
    a.send(frame);
    frame[0] = 99;
    clock.advance(0);
    expect([...received[0]!]).toEqual([1, 2, 3]);
  });

  it('batches frames sent at the same instant and honours latency', () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock, { latencyMs: 5 });
    const a = hub.attach();
    const b = hub.attach();
    const batches: number[][] = [];
    b.onReceive((frames) => batches.push(frames.map((f) => f[0]!)));
    a.sendBatch([new Uint8Array([1]), new Uint8Array([2])]);
    a.send(new Uint8Array([3]));
    clock.advance(4);
    expect(batches).toEqual([]);
    clock.advance(1);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('stops delivering to a closed port', async () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock);
    const a = hub.attach();
    const b = hub.attach();
    let count = 0;
    b.onReceive(() => count++);
    a.send(new Uint8Array([1]));
    await b.close();
    clock.advance(0);
    expect(count).toBe(0);
  });
});
