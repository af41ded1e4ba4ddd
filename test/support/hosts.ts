import { VirtualClock } from '../../src/stack/clock.js';
import { IpHost, type IpHostOptions } from '../../src/stack/ip-host.js';
import { SeededRandom } from '../../src/stack/random.js';
import { MemoryHub } from '../../src/link/memory.js';
import type { Link } from '../../src/link/link.js';
import { Counters } from '../../src/stack/counters.js';
import { silentLogger } from '../../src/stack/log.js';
import { parseIpv4 } from '../../src/wire/address.js';

/**
 * Test helpers: IpHosts on one MemoryHub with a VirtualClock. Each host gets its own
 * seeded Random (seed + index) so a failing run can be replayed from the seed.
 */
export interface TestLan {
  clock: VirtualClock;
  hub: MemoryHub;
  seed: number;
  /** Add a host at 10.0.0.<n>/24 with MAC 02:00:00:00:00:<n>. */
  host(n: number, options?: Partial<IpHostOptions>): IpHost;
  /** Attach a raw port (for injecting frames and watching what the hosts send). */
  tap(): RawPort;
}

export interface RawPort {
  link: Link;
  /** Every frame received so far. */
  received: Uint8Array[];
  send(frame: Uint8Array): void;
}

export function createTestLan(options: { seed?: number; latencyMs?: number; mtu?: number } = {}): TestLan {
  const seed = options.seed ?? 1;
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock, { latencyMs: options.latencyMs ?? 1, ...(options.mtu ? { mtu: options.mtu } : {}) });
  return {
    clock,
    hub,
    seed,
    host(n, extra = {}) {
      return new IpHost(hub.attach(`mem${n}`), {
        address: `10.0.0.${n}`,
        prefixLength: 24,
        mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
        clock,
        random: new SeededRandom(seed + n),
        ...extra,
      });
    },
    tap() {
      const link = hub.attach();
      const received: Uint8Array[] = [];
      link.onReceive((frames) => received.push(...frames));
      return { link, received, send: (frame) => link.send(frame) };
    },
  };
}

/** Hex string (spaces, newlines and `#` comments allowed) to bytes. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/#.*$/gm, '').replace(/[^0-9a-fA-F]/g, '');
  if (clean.length % 2 !== 0) throw new Error('odd number of hex digits');
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** StackServices for testing one layer alone: transmitted frames are collected. */
export function fakeServices(options: { address?: string; seed?: number } = {}): {
  services: import('../../src/stack/services.js').StackServices;
  clock: VirtualClock;
  counters: import('../../src/stack/counters.js').Counters;
  sent: Uint8Array[];
} {
  const clock = new VirtualClock();
  const counters = new Counters();
  const sent: Uint8Array[] = [];
  const services = {
    mac: Uint8Array.from([2, 0, 0, 0, 0, 1]),
    address: parseIpv4(options.address ?? '10.0.0.1')!,
    prefixLength: 24,
    clock,
    random: new SeededRandom(options.seed ?? 1),
    counters,
    log: silentLogger,
    transmit: (frame: Uint8Array) => sent.push(frame),
  };
  return { services, clock, counters, sent };
}
