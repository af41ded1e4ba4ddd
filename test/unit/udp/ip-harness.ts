import { VirtualClock } from '../../../src/stack/clock.js';
import { Counters } from '../../../src/stack/counters.js';
import { silentLogger } from '../../../src/stack/log.js';
import type { HostContext, IpDatagram, IpSendOptions, NetworkLayer, ProtocolHandler } from '../../../src/stack/network.js';
import { SeededRandom } from '../../../src/stack/random.js';
import { parseIpv4, type Ipv4Address } from '../../../src/wire/address.js';

/**
 * A network joined at the IP level, for transport tests that need no Ethernet or
 * ARP: each host's `ip.send` delivers the datagram to the host that owns the
 * destination address after `latencyMs` on a VirtualClock. A datagram for an address
 * nobody owns vanishes (a silent server). `sendUnreachable` hands the ICMP error
 * straight to the sender's handler, as the receiving host's ICMP would.
 */
export class IpNet {
  readonly clock = new VirtualClock();
  private readonly hosts = new Map<Ipv4Address, FakeIp>();
  /** Return true to drop a datagram (a seeded fault, a filtered port). */
  drop: (d: IpDatagram) => boolean = () => false;

  constructor(readonly latencyMs = 1) {}

  host(address: string, seed = 1): HostContext & { ip: FakeIp } {
    const ip = new FakeIp(this, parseIpv4(address)!);
    this.hosts.set(ip.address, ip);
    const flushers: (() => void)[] = [];
    return {
      ip,
      clock: this.clock,
      random: new SeededRandom(seed),
      counters: new Counters(),
      log: silentLogger,
      onFlush: (cb) => flushers.push(cb),
      requestFlush: () => {},
    };
  }

  /** @internal */
  route(d: IpDatagram): void {
    if (this.drop(d)) return;
    const target = this.hosts.get(d.dst);
    if (!target) return;
    this.clock.setTimer(this.latencyMs, () => target.deliver(d));
  }

  /** @internal */
  reportUnreachable(reporter: FakeIp, d: IpDatagram, code: number): void {
    const sender = this.hosts.get(d.src);
    if (!sender) return;
    reporter.unreachablesSent++;
    this.clock.setTimer(this.latencyMs, () =>
      sender.handlers.get(d.protocol)?.icmpError?.({
        type: 3,
        code,
        reporter: reporter.address,
        src: d.src,
        dst: d.dst,
        protocol: d.protocol,
        quoted: d.payload.slice(0, 8),
      }),
    );
  }
}

export class FakeIp implements NetworkLayer {
  readonly prefixLength = 24;
  readonly mtu = 1500;
  readonly handlers = new Map<number, ProtocolHandler>();
  readonly sent: IpDatagram[] = [];
  unreachablesSent = 0;

  constructor(
    private readonly net: IpNet,
    readonly address: Ipv4Address,
  ) {}

  register(protocol: number, handler: ProtocolHandler): void {
    this.handlers.set(protocol, handler);
  }

  send(options: IpSendOptions): boolean {
    const parts = options.payload instanceof Uint8Array ? [options.payload] : options.payload;
    const payload = Buffer.concat(parts.map((p) => Buffer.from(p)));
    const d: IpDatagram = {
      src: options.src ?? this.address,
      dst: options.dst,
      protocol: options.protocol,
      ttl: options.ttl ?? 64,
      payload: new Uint8Array(payload),
      header: new Uint8Array(20),
    };
    this.sent.push(d);
    this.net.route(d);
    return true;
  }

  sendUnreachable(datagram: IpDatagram, code: number): void {
    this.net.reportUnreachable(this, datagram, code);
  }

  /** @internal */
  deliver(d: IpDatagram): void {
    this.handlers.get(d.protocol)?.receive(d);
  }
}
