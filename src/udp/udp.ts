import type { HostContext, IcmpError, IpDatagram, ProtocolHandler } from '../stack/network.js';
import { IPPROTO_UDP } from '../stack/network.js';
import type { Logger } from '../stack/log.js';
import { NetError } from '../stack/net-error.js';
import { formatIpv4, type Ipv4Address } from '../wire/address.js';
import { ICMP_DEST_UNREACHABLE, UNREACH_FRAG_NEEDED, UNREACH_HOST, UNREACH_NET, UNREACH_PORT, UNREACH_PROTOCOL } from '../wire/icmp.js';
import { encodeUdpHeader, parseUdp } from '../wire/udp.js';
import type { UdpApi } from './api.js';
import { UdpSocket, type UdpSocketOwner } from './socket.js';

/** IANA dynamic/private ports (RFC 6335 6): where ephemeral ports come from. */
export const EPHEMERAL_FIRST = 49152;
export const EPHEMERAL_LAST = 65535;

/** The errno a socket sees for each ICMP destination unreachable code (RFC 792), as Linux reports them. */
const UNREACHABLE_ERRNO: Record<number, string> = {
  [UNREACH_NET]: 'ENETUNREACH',
  [UNREACH_HOST]: 'EHOSTUNREACH',
  [UNREACH_PROTOCOL]: 'ECONNREFUSED',
  [UNREACH_PORT]: 'ECONNREFUSED',
  [UNREACH_FRAG_NEEDED]: 'EMSGSIZE',
};

/**
 * UDP for one host (RFC 768): a table of bound ports. Incoming datagrams are
 * checked and handed to the socket of their destination port; a datagram for a port
 * nobody has bound is answered with ICMP port unreachable (RFC 1122 4.1.3.1).
 */
export class Udp implements UdpApi, ProtocolHandler, UdpSocketOwner {
  private readonly sockets = new Map<number, UdpSocket>();
  private readonly log: Logger;

  constructor(private readonly ctx: HostContext) {
    this.log = ctx.log.child({ layer: 'udp' });
    ctx.ip.register(IPPROTO_UDP, this);
  }

  get localAddress(): Ipv4Address {
    return this.ctx.ip.address;
  }

  /** Bind a port (a random ephemeral one when none is given). Throws EADDRINUSE. */
  bind(options: { port?: number } = {}): UdpSocket {
    const port = options.port === undefined || options.port === 0 ? this.ephemeralPort() : options.port;
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`port must be an integer in 1-65535, got ${port}`);
    if (this.sockets.has(port)) throw new NetError('EADDRINUSE', `UDP port ${port} is already bound`);
    const socket = new UdpSocket(this, port);
    this.sockets.set(port, socket);
    this.ctx.counters.inc('udp.bind');
    return socket;
  }

  /**
   * RFC 6056 3.3.1 ("simple port randomization"): a random start in the dynamic range,
   * then the next free one. Random ports make off-path spoofing of answers (DNS above
   * all) a guessing game.
   */
  private ephemeralPort(): number {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    const start = this.ctx.random.int(0, span - 1);
    for (let i = 0; i < span; i++) {
      const port = EPHEMERAL_FIRST + ((start + i) % span);
      if (!this.sockets.has(port)) return port;
    }
    throw new NetError('EADDRINUSE', 'no free ephemeral UDP port');
  }

  receive(datagram: IpDatagram): void {
    const { counters } = this.ctx;
    const parsed = parseUdp(datagram.payload, datagram.src, datagram.dst);
    if (!parsed.ok) {
      counters.inc(`udp.rx.${parsed.error.kind}`);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ src: formatIpv4(datagram.src), reason: parsed.error.message }, 'UDP datagram dropped');
      return;
    }
    const { header, payload } = parsed.value;
    const socket = this.sockets.get(header.dstPort);
    if (!socket) {
      counters.inc('udp.rx.no_port');
      // RFC 1122 4.1.3.1: SHOULD send ICMP port unreachable (the host rate-limits it
      // and never answers broadcasts).
      this.ctx.ip.sendUnreachable(datagram, UNREACH_PORT);
      return;
    }
    counters.inc('udp.rx.datagrams');
    // A Buffer view of the payload: the link hands over frames it will not reuse.
    const data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    socket.deliver(data, { address: formatIpv4(datagram.src), port: header.srcPort, family: 'IPv4', size: payload.length });
  }

  /** RFC 1122 3.2.2.1 / 4.1.3.3: an ICMP error about a datagram we sent goes to its socket. */
  icmpError(error: IcmpError): void {
    const { counters } = this.ctx;
    if (error.quoted.length < 4) {
      counters.inc('udp.icmp.short_quote');
      return;
    }
    const srcPort = (error.quoted[0]! << 8) | error.quoted[1]!;
    const dstPort = (error.quoted[2]! << 8) | error.quoted[3]!;
    const socket = this.sockets.get(srcPort);
    if (!socket) {
      counters.inc('udp.icmp.no_socket');
      return;
    }
    const code = error.type === ICMP_DEST_UNREACHABLE ? UNREACHABLE_ERRNO[error.code] : undefined;
    if (!code) {
      counters.inc('udp.icmp.ignored');
      return;
    }
    counters.inc(`udp.icmp.${code.toLowerCase()}`);
    const err = Object.assign(
      new NetError(code, `ICMP unreachable (code ${error.code}) from ${formatIpv4(error.reporter)} for ${formatIpv4(error.dst)}:${dstPort}`),
      { address: formatIpv4(error.dst), port: dstPort },
    );
    if (!socket.emitError(err)) counters.inc('udp.icmp.unhandled');
  }

  /** @internal Returns false when the IPv4 layer refused the datagram (no route, say). */
  sendDatagram(localPort: number, data: Uint8Array, dst: Ipv4Address, dstPort: number): boolean {
    const header = encodeUdpHeader({ src: this.ctx.ip.address, dst, srcPort: localPort, dstPort, payload: data });
    const sent = this.ctx.ip.send({ dst, protocol: IPPROTO_UDP, payload: [header, data] });
    // No requestFlush here: the host flushes every frame that IPv4 hands it.
    this.ctx.counters.inc(sent ? 'udp.tx.datagrams' : 'udp.tx.dropped');
    return sent;
  }

  /** The host is closing: close every socket ('close' is emitted, later sends fail). */
  close(): void {
    for (const socket of [...this.sockets.values()]) socket.close();
  }

  /** @internal */
  unbind(socket: UdpSocket): void {
    if (this.sockets.get(socket.localPort) === socket) this.sockets.delete(socket.localPort);
  }
}
