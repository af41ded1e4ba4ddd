import { createHash } from 'node:crypto';
import type { Clock } from '../stack/clock.js';
import type { Random } from '../stack/random.js';

/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip,
 * remoteport, secretkey), where M is a timer ticking every 4 microseconds and F a
 * keyed hash. Different four-tuples get unrelated ISNs (an off-path attacker cannot
 * guess them), while one four-tuple's ISNs keep increasing with time, so a new
 * incarnation starts above the old one (what lets a SYN reuse a TIME-WAIT pair).
 */
export class IsnGenerator {
  private readonly key: Uint8Array;

  constructor(
    private readonly clock: Clock,
    random: Random,
  ) {
    this.key = random.bytes(16);
  }

  next(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): number {
    const tuple = new Uint8Array(12);
    const v = new DataView(tuple.buffer);
    v.setUint32(0, localAddr);
    v.setUint16(4, localPort);
    v.setUint32(6, remoteAddr);
    v.setUint16(10, remotePort);
    const digest = createHash('sha256').update(this.key).update(tuple).digest();
    const f = digest.readUInt32BE(0);
    // M: the clock in 4-microsecond ticks (RFC 6528 3, as RFC 793 suggested).
    const m = Math.floor(this.clock.now() * 250);
    return (f + m) >>> 0;
  }
}
