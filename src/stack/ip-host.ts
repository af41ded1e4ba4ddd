import { RX_CHECKSUM_GOOD, type Link } from '../link/link.js';
import {
  formatIpv4,
  formatMac,
  localMac,
  macEquals,
  parseIpv4,
  parseMac,
  type Ipv4Address,
  type MacAddress,
} from '../wire/address.js';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_LLDP,
  isBroadcastMac,
  isMulticastMac,
  parseEthernet,
} from '../wire/ethernet.js';
import { ArpLayer } from './arp.js';
import { RealClock, type Clock } from './clock.js';
import { Counters } from './counters.js';
import { IcmpLayer, type IcmpOptions } from './icmp.js';
import { Ipv4Layer } from './ipv4.js';
import { silentLogger, type Logger } from './log.js';
import type { NeighbourOptions } from './neighbour.js';
import type { HostContext } from './network.js';
import { IPPROTO_ICMP } from './network.js';
import { Pinger, type PingOptions, type PingReply } from './ping.js';
import { SystemRandom, type Random } from './random.js';
import { ThrottledErrorLog } from './rate-limit.js';
import type { ReassemblyOptions } from './reassembly.js';
import type { StackServices } from './services.js';

/** At most one line per this interval about errors a peer can repeat (a frame that hits a bug). */
const ERROR_LOG_INTERVAL_MS = 10_000;

export interface IpHostOptions {
  /** Our IPv4 address (number or dotted quad). */
  address: Ipv4Address | string;
  prefixLength: number;
  /** Default gateway for destinations outside the prefix. */
  gateway?: Ipv4Address | string;
  /** Our MAC; a random locally administered one by default. */
  mac?: MacAddress | string;
  /** Largest IP datagram to send; defaults to the link's MTU. */
  mtu?: number;
  /** Largest TCP datagram on a link that segments TCP for us (TapLink.superFrameMtu with offload). */
  superFrameMtu?: number;
  clock?: Clock;
  random?: Random;
  log?: Logger;
  counters?: Counters;
  arp?: NeighbourOptions;
  reassembly?: ReassemblyOptions;
  icmp?: IcmpOptions;
  /** Send a gratuitous ARP when the host starts (default true). */
  announce?: boolean;
}

/**
 * One IPv4 host on one link: Ethernet demultiplexing, ARP, IPv4 and ICMP, and the
 * HostContext that transports (TCP, UDP) attach to.
 *
 * Batching: when the link hands over a batch of frames, every frame is handled, then
 * the `onFlush` callbacks run (transports send coalesced ACKs there), then every frame
 * produced meanwhile goes to the link in ONE `sendBatch`. Output produced outside a
 * batch (a timer, an application write) waits for a flush that `requestFlush()`
 * schedules on a microtask, so many writes in one tick still make one batch.
 */
export class IpHost implements HostContext {
  readonly ip: Ipv4Layer;
  readonly clock: Clock;
  readonly random: Random;
  readonly counters: Counters;
  readonly log: Logger;
  readonly mac: MacAddress;
  readonly arp: ArpLayer;
  readonly icmp: IcmpLayer;
  readonly pinger: Pinger;

  private readonly flushCallbacks: (() => void)[] = [];
  private outbox: Uint8Array[] = [];
  private inBatch = false;
  private flushScheduled = false;
  private closed = false;
  private readonly ethLog: Logger;
  private readonly handlerErrors: ThrottledErrorLog;
  private readonly flushErrors: ThrottledErrorLog;

  constructor(
    readonly link: Link,
    options: IpHostOptions,
  ) {
    const address = typeof options.address === 'string' ? parseIpv4(options.address) : options.address;
    if (address === null) throw new Error(`invalid IPv4 address ${String(options.address)}`);
    if (!Number.isInteger(options.prefixLength) || options.prefixLength < 0 || options.prefixLength > 32) {
      throw new Error(`invalid prefix length ${options.prefixLength}`);
    }
    const gateway = typeof options.gateway === 'string' ? parseIpv4(options.gateway) : options.gateway;
    if (gateway === null) throw new Error(`invalid gateway ${String(options.gateway)}`);
    this.clock = options.clock ?? new RealClock();
    this.random = options.random ?? new SystemRandom();
    this.counters = options.counters ?? new Counters();
    this.log = options.log ?? silentLogger;
    const mac = typeof options.mac === 'string' ? parseMac(options.mac) : options.mac;
    if (mac === null) throw new Error(`invalid MAC address ${String(options.mac)}`);
    this.mac = mac ?? localMac(this.random.bytes(6));
    this.ethLog = this.log.child({ layer: 'eth' });
    // Hostile traffic can raise the same error for every frame (or every batch).
    this.handlerErrors = new ThrottledErrorLog(this.clock, ERROR_LOG_INTERVAL_MS, this.log, 'error while handling a frame', (n) => `error while handling ${n} more frames`);
    this.flushErrors = new ThrottledErrorLog(this.clock, ERROR_LOG_INTERVAL_MS, this.log, 'error in a flush callback', (n) => `error in ${n} more flush callbacks`);

    const services: StackServices = {
      mac: this.mac,
      address,
      prefixLength: options.prefixLength,
      clock: this.clock,
      random: this.random,
      counters: this.counters,
      log: this.log,
      transmit: (frame) => this.transmit(frame),
    };
    this.arp = new ArpLayer(services, options.arp);
    this.ip = new Ipv4Layer(services, this.arp, {
      mtu: Math.min(options.mtu ?? link.mtu, link.mtu),
      ...(options.superFrameMtu !== undefined ? { superFrameMtu: options.superFrameMtu } : {}),
      tcpChecksumOffload: link.checksumOffload?.tx ?? false,
      ...(gateway !== undefined ? { gateway } : {}),
      ...(options.reassembly ? { reassembly: options.reassembly } : {}),
    });
    this.icmp = new IcmpLayer(services, this.ip, options.icmp);
    this.ip.icmp = this.icmp;
    this.ip.register(IPPROTO_ICMP, this.icmp);
    this.pinger = new Pinger(services, this.icmp);

    link.onReceive((frames, verdicts) => this.receiveBatch(frames, verdicts));
    this.log.info({ link: link.name, mac: formatMac(this.mac), address: `${formatIpv4(address)}/${options.prefixLength}` }, 'host up');
    if (options.announce !== false) this.arp.announce();
  }

  /** Our IPv4 address. */
  get address(): Ipv4Address {
    return this.ip.address;
  }

  onFlush(callback: () => void): void {
    this.flushCallbacks.push(callback);
  }

  requestFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Send one echo request to `dst` and wait for the reply (see Pinger). */
  ping(dst: Ipv4Address | string, options?: PingOptions): Promise<PingReply> {
    const addr = typeof dst === 'string' ? parseIpv4(dst) : dst;
    if (addr === null) return Promise.reject(new Error(`invalid IPv4 address ${String(dst)}`));
    return this.pinger.ping(addr, options);
  }

  /**
   * Stop: outstanding pings fail, timers stop, nothing more is sent or received. The
   * link stays open (whoever opened it closes it; see Host.close).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.link.onReceive(() => {});
    this.pinger.close();
    this.handlerErrors.cancel();
    this.flushErrors.cancel();
    this.arp.close();
    this.ip.close();
  }

  /** Queue a finished frame for the next sendBatch. */
  private transmit(frame: Uint8Array): void {
    if (this.closed) return;
    this.outbox.push(frame);
    if (!this.inBatch) this.requestFlush();
  }

  /** `verdicts`: the link's checksum verdict per frame (Link.checksumOffload.rx), if it gives them. */
  private receiveBatch(frames: Uint8Array[], verdicts?: Uint8Array): void {
    if (this.closed) return;
    this.inBatch = true;
    try {
      for (let i = 0; i < frames.length; i++) {
        try {
          this.receiveFrame(frames[i]!, verdicts !== undefined && verdicts[i] === RX_CHECKSUM_GOOD);
        } catch (err) {
          // A bug above must not take the host down with the rest of the batch.
          this.counters.inc('host.rx.handler_error');
          this.handlerErrors.note(err);
        }
      }
    } finally {
      this.inBatch = false;
    }
    this.flush();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const wasInBatch = this.inBatch;
    this.inBatch = true; // frames produced by the callbacks join this flush
    try {
      for (const callback of this.flushCallbacks) {
        try {
          callback();
        } catch (err) {
          this.counters.inc('host.flush.callback_error');
          this.flushErrors.note(err);
        }
      }
    } finally {
      this.inBatch = wasInBatch;
    }
    if (this.outbox.length === 0) return;
    const out = this.outbox;
    this.outbox = [];
    this.counters.inc('eth.tx.frames', out.length);
    this.counters.inc('host.tx.batches');
    if (this.ethLog.isLevelEnabled('debug')) this.ethLog.debug({ frames: out.length }, 'batch out');
    // TCP left its checksums to a link that offered to finish them (ipv4.ts, tcp/index.ts).
    this.link.sendBatch(out, this.ip.tcpChecksumOffload);
  }

  /**
   * Ethernet demultiplexing. Protocols we do not speak are dropped first, by
   * EtherType, whatever the destination (so `eth.rx.ipv6` counts the kernel's router
   * solicitations and MLD reports to 33:33:..); then ARP and IPv4 must be addressed to
   * our MAC or to broadcast.
   */
  private receiveFrame(frame: Uint8Array, checksumsVerified: boolean): void {
    const { counters } = this;
    counters.inc('eth.rx.frames');
    const debug = this.ethLog.isLevelEnabled('debug');
    const parsed = parseEthernet(frame);
    if (!parsed.ok) {
      counters.inc(`eth.rx.${parsed.error}`);
      if (debug) this.ethLog.debug({ error: parsed.error, len: frame.length }, 'drop frame');
      return;
    }
    const eth = parsed.value;
    const type = eth.etherType;
    if (eth.vlan !== undefined || (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_ARP)) {
      counters.inc(
        eth.vlan !== undefined
          ? 'eth.rx.vlan'
          : type === ETHERTYPE_IPV6
            ? 'eth.rx.ipv6'
            : type === ETHERTYPE_LLDP
              ? 'eth.rx.lldp'
              : 'eth.rx.unknown_ethertype',
      );
      if (debug) this.ethLog.debug({ src: formatMac(eth.src), type: hex16(type), vlan: eth.vlan }, 'drop frame: not spoken here');
      return;
    }
    const broadcast = isBroadcastMac(eth.dst);
    if (!broadcast && !macEquals(eth.dst, this.mac)) {
      // A real NIC filters these in hardware; on a TAP device we see everything.
      counters.inc(isMulticastMac(eth.dst) ? 'eth.rx.multicast' : 'eth.rx.not_for_us');
      if (debug) this.ethLog.debug({ dst: formatMac(eth.dst), type: hex16(type) }, 'drop frame: not for us');
      return;
    }
    if (debug) this.ethLog.debug({ src: formatMac(eth.src), type: hex16(type), len: frame.length }, 'frame in');
    if (type === ETHERTYPE_IPV4) {
      counters.inc('eth.rx.ipv4');
      this.ip.receive(eth.payload, broadcast, checksumsVerified);
    } else {
      counters.inc('eth.rx.arp');
      this.arp.receive(eth.payload, eth.src);
    }
  }
}

function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
