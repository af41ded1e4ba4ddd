import type { Ipv4Header } from '../../src/wire/ipv4.js';
import { IPPROTO_TCP } from '../../src/wire/ipv4.js';
import type { TcpOptions } from '../../src/wire/tcp.js';
import { parseArp, type ArpPacket } from '../../src/wire/arp.js';
import { ETHERTYPE_ARP, parseEthernet } from '../../src/wire/ethernet.js';
import type { CapturedFrame } from '../support/prober.js';
import type { BenchSide } from './bench.js';
import { DUT_IP, PROBER } from './bench.js';
import { decode, ethernetIpv4, ipv4, tcp, type Ipv4Knobs, type Seen, type TcpKnobs } from './frames.js';

/**
 * What one probe sees of the wire on one bench side: it sends datagrams to the dut
 * and opens inboxes of the frames the dut sends that it cares about.
 */

/** Frames that arrived for one probe, taken in order. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;

  constructor(private readonly unsubscribe: () => void) {}

  push(item: T): void {
    this.items.push(item);
    this.waiter?.();
  }

  /** The next item that satisfies `pred` (others before it are dropped), or undefined after `ms`. */
  async next(ms = 3000, pred: (item: T) => boolean = () => true): Promise<T | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.items.length > 0) {
        const item = this.items.shift()!;
        if (pred(item)) return item;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Everything that arrives within `ms` (and whatever was waiting already). */
  async collect(ms: number): Promise<T[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.items.splice(0);
  }

  stop(): void {
    this.unsubscribe();
  }
}

// Every watching probe sees the same captured frame object: decode it once, not once
// per inbox (our stack shares this event loop, and a busy loop would show as its delay).
const decoded = new WeakMap<CapturedFrame, Seen | null>();
function decodeOnce(frame: CapturedFrame): Seen | null {
  let seen = decoded.get(frame);
  if (seen === undefined) {
    seen = decode(frame);
    decoded.set(frame, seen);
  }
  return seen;
}

export class Wire {
  private readonly inboxes: { stop(): void }[] = [];

  /**
   * `identification` goes into every datagram the probe sends (unless it sets its
   * own): an ICMP error quotes it, so each probe recognises the errors about its own.
   */
  constructor(
    readonly side: BenchSide,
    readonly identification: number,
  ) {}

  /** Send an IPv4 datagram (already built) to the dut; resolves with the send time. */
  sendIp(datagram: Uint8Array, srcMac: Uint8Array = PROBER.mac): Promise<number> {
    return this.side.prober.send(ethernetIpv4(this.side.dut.mac, srcMac, datagram));
  }

  /** Send a whole Ethernet frame as it is (ARP). */
  sendFrame(frame: Uint8Array): Promise<number> {
    return this.side.prober.send(frame);
  }

  /** A datagram from the prober's address to the dut's. */
  ip(k: Partial<Ipv4Knobs> & { protocol: number }, payload: Uint8Array): Uint8Array {
    return ipv4({ src: PROBER.ip, dst: DUT_IP, identification: this.identification, ...k }, payload);
  }

  /** A TCP segment in a datagram, from the prober to the dut. */
  tcpDatagram(k: TcpKnobs, payload: Uint8Array, ip: Partial<Ipv4Knobs> = {}): Uint8Array {
    const src = ip.src ?? PROBER.ip;
    return this.ip({ protocol: IPPROTO_TCP, ...ip }, tcp(k, payload, src, ip.dst ?? DUT_IP));
  }

  /** An inbox of the IPv4 frames the dut sends that satisfy `pred`, from now on. */
  watch(pred: (s: Seen) => boolean): Inbox<Seen> {
    const inbox: Inbox<Seen> = new Inbox(
      this.side.prober.subscribe((frame) => {
        const seen = decodeOnce(frame);
        if (seen && pred(seen)) inbox.push(seen);
      }),
    );
    this.inboxes.push(inbox);
    return inbox;
  }

  /** An inbox of the ARP packets the dut sends that satisfy `pred`, from now on. */
  watchArp(pred: (a: ArpPacket) => boolean): Inbox<ArpPacket> {
    const inbox: Inbox<ArpPacket> = new Inbox(
      this.side.prober.subscribe((frame) => {
        const eth = parseEthernet(frame.bytes);
        if (!eth.ok || eth.value.etherType !== ETHERTYPE_ARP) return;
        const arp = parseArp(eth.value.payload);
        if (arp.ok && pred(arp.value)) inbox.push(arp.value);
      }),
    );
    this.inboxes.push(inbox);
    return inbox;
  }

  stopAll(): void {
    for (const inbox of this.inboxes) inbox.stop();
  }
}

/** A segment the dut sent, flattened for the probes. */
export interface Seg {
  at: number;
  flags: number;
  seq: number;
  ack: number;
  window: number;
  options: TcpOptions;
  payload: Uint8Array;
  ip: Ipv4Header;
}

export function toSeg(s: Seen): Seg {
  const h = s.tcp!.header;
  return { at: s.at, flags: h.flags, seq: h.seq, ack: h.ack, window: h.window, options: h.options, payload: s.tcp!.payload, ip: s.ip };
}
