import { createHost, type Host, type HostOptions } from './host.js';
import { MemoryHub } from './link/memory.js';
import { RealClock, type Clock } from './stack/clock.js';

/** Options of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Shared by the hub and every host (default: the real clock). */
  clock?: Clock;
  /** One-way delay of the wire in milliseconds (default 0). */
  latencyMs?: number;
  /** Largest IP datagram the wire carries (default 1500, Ethernet). */
  mtu?: number;
  /** Prefix length of the hosts' addresses (default 24). */
  prefixLength?: number;
}

/** What {@link MemoryNetwork.host} takes besides the address; everything of {@link HostOptions} but the link. */
export type MemoryHostOptions = Partial<Omit<HostOptions, 'link' | 'address'>>;

/**
 * Hosts on one in-memory Ethernet hub: the quickest way to run our stacks against
 * each other in one process, with no TAP device and no privileges.
 *
 * ```js
 * const net = new MemoryNetwork();
 * const server = net.host('10.0.0.1');
 * const client = net.host('10.0.0.2');
 * // ... createServer(server, ...), connect(client, ...)
 * await net.close();
 * ```
 *
 * While it is open, the network keeps the Node process alive, as an open `net.Server`
 * does. A TAP device holds the event loop through its file descriptor, but the
 * in-memory wire has none, and TCP's timers never hold it (an idle stack must not
 * keep Node running): without this, a program that waits for a retransmission or a
 * delayed ACK would simply exit.
 */
export class MemoryNetwork {
  readonly clock: Clock;
  readonly hub: MemoryHub;
  private readonly prefixLength: number;
  private readonly hosts: Host[] = [];
  // The longest interval Node accepts; it only has to exist, not to fire.
  private readonly keepAlive = setInterval(() => undefined, 0x7fffffff);
  private closing: Promise<void> | undefined;

  constructor(options: MemoryNetworkOptions = {}) {
    this.clock = options.clock ?? new RealClock();
    this.hub = new MemoryHub(this.clock, { latencyMs: options.latencyMs, mtu: options.mtu });
    this.prefixLength = options.prefixLength ?? 24;
  }

  /**
   * Attach a new host to the hub.
   *
   * @param address - its IPv4 address, e.g. `'10.0.0.1'`
   * @param options - anything else {@link createHost} takes (MAC, TCP tunables, a seeded `random`, ...)
   */
  host(address: string, options: MemoryHostOptions = {}): Host {
    if (this.closing) throw new Error('MemoryNetwork is closed');
    const host = createHost({
      prefixLength: this.prefixLength,
      clock: this.clock,
      ...options,
      address,
      link: this.hub.attach(`mem-${address}`),
    });
    this.hosts.push(host);
    return host;
  }

  /** Close every host (their sockets and links), then let the process exit. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await Promise.all(this.hosts.map((h) => h.close()));
      } finally {
        clearInterval(this.keepAlive);
      }
    })();
    return this.closing;
  }
}
