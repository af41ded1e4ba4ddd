/**
 * Two full hosts of our stack on the in-memory hub, for the FTP server's unit tests:
 * the client host 10.0.0.1 and the server host 10.0.0.2 (plus, if asked, a third
 * host 10.0.0.3 to play a third party). The network runs on the real clock (nothing
 * is lost, so no TCP timer matters); the FTP server gets its own VirtualClock so the
 * tests decide when login delays, idle and data timeouts expire.
 */
import { createHost, type Host } from '../../src/host.js';
import { MemoryHub } from '../../src/link/memory.js';
import { RealClock, VirtualClock } from '../../src/stack/clock.js';
import { SeededRandom } from '../../src/stack/random.js';

export interface FtpMemNet {
  client: Host;
  server: Host;
  third: Host;
  /** The FTP server's clock (timers only: login delay, idle and data timeouts). */
  ftpClock: VirtualClock;
  close(): Promise<void>;
}

export function createFtpMemNet(): FtpMemNet {
  const clock = new RealClock();
  const hub = new MemoryHub(clock, { latencyMs: 0 });
  const mk = (address: string, mac: string, seed: number): Host =>
    createHost({ link: hub.attach(address), address, prefixLength: 24, mac, clock, random: new SeededRandom(seed) });
  const client = mk('10.0.0.1', '02:00:00:00:00:01', 11);
  const server = mk('10.0.0.2', '02:00:00:00:00:02', 12);
  const third = mk('10.0.0.3', '02:00:00:00:00:03', 13);
  return {
    client,
    server,
    third,
    ftpClock: new VirtualClock(),
    async close() {
      await Promise.all([client.close(), server.close(), third.close()]);
    },
  };
}
