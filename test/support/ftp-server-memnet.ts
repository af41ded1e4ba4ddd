/**
 * Two full hosts of our stack on the in-memory hub, for the FTP server's unit tests:
 * the client host 10.0.0.1 and the server host 10.0.0.2 (plus, if asked, a third
 * host 10.0.0.3 to play a third party). The network runs on the real clock: without
 * faults nothing is lost, so no TCP timer matters; with faults, retransmissions take
 * real time. The FTP server gets its own VirtualClock so the tests decide when login
 * delays, idle and data timeouts expire.
 */
import { createHost, type Host } from '../../src/host.js';
import { FaultLink, type FaultProfile } from '../../src/link/faults.js';
import type { Link } from '../../src/link/link.js';
import { MemoryHub } from '../../src/link/memory.js';
import { RealClock, VirtualClock } from '../../src/stack/clock.js';
import { SeededRandom } from '../../src/stack/random.js';

export interface FtpMemNet {
  client: Host;
  server: Host;
  third: Host;
  /** The FTP server's clock (timers only: login delay, idle and data timeouts). */
  ftpClock: VirtualClock;
  /** The fault injector on the client's link, when faults were asked for. */
  faults?: FaultLink;
  close(): Promise<void>;
}

/**
 * `faults` puts a seeded FaultLink on the client's link (both directions); the same
 * seed gives the same decisions (timing still follows the real clock).
 */
export function createFtpMemNet(options: { faults?: FaultProfile; seed?: number } = {}): FtpMemNet {
  const clock = new RealClock();
  const hub = new MemoryHub(clock, { latencyMs: 0 });
  const seed = options.seed ?? 1;
  let faults: FaultLink | undefined;
  const linkFor = (address: string): Link => {
    const link = hub.attach(address);
    if (address !== '10.0.0.1' || !options.faults) return link;
    faults = new FaultLink(link, { ...options.faults, random: new SeededRandom(seed * 7919 + 5), clock });
    return faults;
  };
  const mk = (address: string, mac: string, s: number): Host =>
    createHost({ link: linkFor(address), address, prefixLength: 24, mac, clock, random: new SeededRandom(s + seed * 100) });
  const client = mk('10.0.0.1', '02:00:00:00:00:01', 11);
  const server = mk('10.0.0.2', '02:00:00:00:00:02', 12);
  const third = mk('10.0.0.3', '02:00:00:00:00:03', 13);
  return {
    client,
    server,
    third,
    ftpClock: new VirtualClock(),
    ...(faults ? { faults } : {}),
    async close() {
      await Promise.all([client.close(), server.close(), third.close()]);
    },
  };
}
