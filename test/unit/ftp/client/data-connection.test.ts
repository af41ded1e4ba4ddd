import { describe, expect, it } from 'vitest';
import { meter, type DataContext } from '../../../../src/ftp/client/data-connection.js';
import { VirtualClock } from '../../../../src/stack/clock.js';
import { Counters } from '../../../../src/stack/counters.js';
import type { TcpSocketLike } from '../../../../src/tcp/api.js';

describe('meter: the idle timeout of a data connection', () => {
  function setup() {
    const clock = new VirtualClock();
    const counters = new Counters();
    const ctx = { clock, counters, dataTimeout: 1000 } as unknown as DataContext;
    const destroyed: Error[] = [];
    const socket = { destroy: (err: Error) => destroyed.push(err) } as unknown as TcpSocketLike;
    const progress: number[] = [];
    const m = meter(ctx, socket, 100, undefined, (bytes) => progress.push(bytes));
    const chunk = (n: number) => new Promise<void>((resolve) => m.stream.write(Buffer.alloc(n), () => resolve()));
    m.stream.resume();
    return { clock, counters, destroyed, progress, m, chunk };
  }

  it('counts from the last chunk, not from the start', async () => {
    const { clock, counters, destroyed, progress, m, chunk } = setup();
    await chunk(10);
    clock.advance(600);
    await chunk(5);
    clock.advance(900); // 1500 ms since the start, 900 since the last chunk
    expect(destroyed).toHaveLength(0);
    clock.advance(100);
    expect(destroyed.map((e) => e.message)).toEqual(['ETIMEDOUT: data connection idle for 1000 ms']);
    expect(counters.get('ftp.client.data.idle_timeout')).toBe(1);
    // First the starting point (a resumed offset of 100), then the count after each chunk.
    expect(progress).toEqual([100, 110, 115]);
    expect(m.bytes()).toBe(15);
  });

  it('stop() ends the watch', async () => {
    const { clock, destroyed, m, chunk } = setup();
    await chunk(1);
    clock.advance(500);
    m.stop();
    clock.advance(5000);
    expect(destroyed).toHaveLength(0);
  });
});
