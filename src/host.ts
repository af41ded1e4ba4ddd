import type { Link } from './link/link.js';
import type { Clock } from './stack/clock.js';
import type { Counters } from './stack/counters.js';
import { IpHost, type IpHostOptions } from './stack/ip-host.js';
import type { Logger } from './stack/log.js';
import type { PingOptions, PingReply } from './stack/ping.js';
import type { Random } from './stack/random.js';
import type { Ipv4Address, MacAddress } from './wire/address.js';
import { Udp } from './udp/index.js';
import { Tcp, type TcpOptions } from './tcp/index.js';

/**
 * The composition root of one full host: the IP layers of stack/ plus the transports.
 * stack/ must not import tcp/ or udp/ (imports point down), so the pieces are put
 * together here, at the top of src/, and the CLI and tests build hosts with
 * `createHost`.
 */

export interface HostOptions extends IpHostOptions {
  /** The link the host sends and receives on; `Host.close()` closes it. */
  link: Link;
  /** TCP tunables (TIME-WAIT length, buffers, RTO bounds...). */
  tcp?: TcpOptions;
}

export class Host {
  /** The IPv4/ARP/ICMP layers; also the HostContext the transports attach to. */
  readonly ip: IpHost;
  readonly link: Link;
  readonly udp: Udp;
  readonly tcp: Tcp;

  private closing: Promise<void> | undefined;

  constructor(options: HostOptions) {
    const { link, tcp, ...ipOptions } = options;
    this.link = link;
    this.ip = new IpHost(link, ipOptions);
    // Each transport registers its IP protocol number with this.ip.
    this.udp = new Udp(this.ip);
    this.tcp = new Tcp(this.ip, tcp);
  }

  get address(): Ipv4Address {
    return this.ip.address;
  }

  get mac(): MacAddress {
    return this.ip.mac;
  }

  get counters(): Counters {
    return this.ip.counters;
  }

  get clock(): Clock {
    return this.ip.clock;
  }

  get random(): Random {
    return this.ip.random;
  }

  get log(): Logger {
    return this.ip.log;
  }

  /** Send one ICMP echo request and wait for the reply. */
  ping(dst: Ipv4Address | string, options?: PingOptions): Promise<PingReply> {
    return this.ip.ping(dst, options);
  }

  /** Close the transports, then the IP layers, then the link. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // TCP first, while IP can still carry its RSTs (closing UDP sends nothing).
      await this.tcp.close();
      this.udp.close();
      await this.ip.close();
      await this.link.close();
    })();
    return this.closing;
  }
}

/**
 * One host on one link: our ARP, IPv4, ICMP, UDP and TCP with `address/prefixLength`.
 *
 * ```ts
 * const host = createHost({ link: TapLink.open({ name: 'tap0' }), address: '10.0.0.2', prefixLength: 24 });
 * host.tcp.connect({ host: '10.0.0.1', port: 80 }); // or connect(host, ...) from 'tapstack'
 * await host.close(); // closes the link too
 * ```
 */
export function createHost(options: HostOptions): Host {
  return new Host(options);
}
