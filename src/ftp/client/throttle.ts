import { Transform, type TransformCallback } from 'node:stream';
import type { Clock } from '../../stack/clock.js';

/**
 * BSD ftp's `rate`: at most `bytesPerSecond` through the transfer's pipe. Each chunk
 * is let through when the bytes so far are due (start + bytes / rate); holding it back
 * stops the pipe, so the socket's backpressure slows the sender (TCP shrinks the
 * window) instead of us buffering. Chunks are cut into pieces of a tenth of a second,
 * so the data idle timeout behind us sees steady progress even at a low rate.
 */
export function throttle(clock: Clock, bytesPerSecond: number): Transform {
  const start = clock.now();
  const piece = Math.max(512, Math.floor(bytesPerSecond / 10));
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < chunk.length; i += piece) pieces.push(chunk.subarray(i, i + piece));
      const next = (): void => {
        const p = pieces.shift();
        if (!p) {
          done();
          return;
        }
        passed += p.length;
        const wait = start + (passed / bytesPerSecond) * 1000 - clock.now();
        if (wait <= 0) {
          this.push(p);
          next();
          return;
        }
        clock.setTimer(wait, () => {
          this.push(p);
          next();
        });
      };
      next();
    },
  });
}
