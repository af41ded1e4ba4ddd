import { LinkDecorator, type Link } from '../../src/link/link.js';
import type { Ipv4Address } from '../../src/wire/address.js';
import { encodeEthernet, ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, parseEthernet } from '../../src/wire/ethernet.js';
import { encodeIcmp } from '../../src/wire/icmp.js';
import { parseIpv4Packet, writeIpv4Header } from '../../src/wire/ipv4.js';

/**
 * A tiny "router" in front of one host's link, for path MTU discovery tests (RFC
 * 1191): a datagram the host sends that is larger than `nextHopMtu` with DF set is
 * dropped, and the host gets ICMP "fragmentation needed" (type 3 code 4) carrying
 * the next-hop MTU and quoting the IP header and the first 8 bytes of the dropped
 * datagram (RFC 792), from the router's address `routerIp`. Datagrams that fit, and
 * everything inbound, pass unchanged. `tooBig` counts the drops, `largestPassed`
 * the largest datagram let through.
 */
export class FragNeededRouter extends LinkDecorator {
  tooBig = 0;
  largestPassed = 0;
  private handler: ((frames: Uint8Array[]) => void) | null = null;

  constructor(
    inner: Link,
    private readonly nextHopMtu: number,
    private readonly routerIp: Ipv4Address,
  ) {
    super(inner);
    inner.onReceive((frames) => this.handler?.(frames));
  }

  override onReceive(handler: (frames: Uint8Array[]) => void): void {
    this.handler = handler;
  }

  override send(frame: Uint8Array): void {
    this.sendBatch([frame]);
  }

  override sendBatch(frames: readonly Uint8Array[]): void {
    const pass: Uint8Array[] = [];
    const errors: Uint8Array[] = [];
    for (const frame of frames) {
      const error = this.check(frame);
      if (error) errors.push(error);
      else pass.push(frame);
    }
    if (pass.length > 0) this.inner.sendBatch(pass);
    // The router answers on the wire a moment later; a microtask keeps the host's send path re-entrancy free.
    if (errors.length > 0) queueMicrotask(() => this.handler?.(errors));
  }

  /** The ICMP error for a frame that does not fit, or undefined to let it pass. */
  private check(frame: Uint8Array): Uint8Array | undefined {
    const eth = parseEthernet(frame);
    if (!eth.ok || eth.value.etherType !== ETHERTYPE_IPV4) return undefined;
    const datagram = frame.subarray(ETHERNET_HEADER_LEN);
    const ip = parseIpv4Packet(datagram, { verifyChecksum: false });
    if (!ip.ok) return undefined;
    const h = ip.value.header;
    if (h.totalLength <= this.nextHopMtu || !h.dontFragment) {
      this.largestPassed = Math.max(this.largestPassed, h.totalLength);
      return undefined;
    }
    this.tooBig++;
    const quoted = datagram.subarray(0, h.headerLength + 8);
    const icmp = encodeIcmp({ kind: 'dest-unreachable', code: 4, nextHopMtu: this.nextHopMtu, quoted });
    const packet = new Uint8Array(20 + icmp.length);
    writeIpv4Header(packet, 0, { totalLength: packet.length, identification: this.tooBig & 0xffff, ttl: 64, protocol: 1, src: this.routerIp, dst: h.src });
    packet.set(icmp, 20);
    const { src, dst } = eth.value;
    return encodeEthernet({ dst: src, src: dst, etherType: ETHERTYPE_IPV4 }, packet);
  }
}
