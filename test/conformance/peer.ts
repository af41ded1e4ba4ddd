import { seqAdd } from '../../src/tcp/seq.js';
import { TcpFlags, type TcpOptions } from '../../src/wire/tcp.js';
import { DUT_IP } from './bench.js';
import type { Ipv4Knobs, Seen, TcpKnobs } from './frames.js';
import { toSeg, type Inbox, type Seg, type Wire } from './wire.js';

const { ACK, SYN } = TcpFlags;

/** What a probe may set on a segment; the rest comes from the peer's state. */
export type SegmentKnobs = Partial<TcpKnobs> & { payload?: Uint8Array; ip?: Partial<Ipv4Knobs> };

/**
 * The prober's end of one TCP connection, crafted segment by segment: it keeps
 * SND.NXT and RCV.NXT as a real peer would and fills them in unless the probe says
 * otherwise; timestamps ride on every segment once negotiated (TSval in ms).
 */
export class TcpPeer {
  /** Our (the prober's) initial sequence number. */
  readonly iss: number;
  sndNxt: number;
  /** What we acknowledge: the dut's next sequence number. */
  rcvNxt = 0;
  dutIss = 0;
  /** Negotiated in the handshake: timestamps, and the dut's window scale. */
  ts = false;
  dutWindowScale = 0;
  /** The latest TSval the dut sent (our TS.Recent, echoed in TSecr). */
  tsRecent = 0;
  /** The window we advertise (we offer window scale 0, so this is in bytes). */
  window = 65535;
  private readonly inbox: Inbox<Seen>;

  constructor(
    private readonly wire: Wire,
    readonly localPort: number,
    readonly remotePort: number,
    seed: number,
  ) {
    // A later peer of the same probe starts 1 MB higher (seeds stay below 3000: no wrap),
    // as a new incarnation of a connection must (RFC 6191).
    this.iss = (0x1000_0000 + seed * 0x10_0000) >>> 0;
    this.sndNxt = this.iss;
    this.inbox = wire.watch((s) => s.tcp !== undefined && s.tcp.header.srcPort === remotePort && s.tcp.header.dstPort === localPort && s.ip.src === DUT_IP);
  }

  /** Our TSval: one millisecond clock for every peer, so a later peer's is higher. */
  tsval(): number {
    return Math.floor(performance.now() + 1_000_000) >>> 0;
  }

  /** Send one segment (defaults: ACK at SND.NXT/RCV.NXT, timestamps if negotiated); resolves with its send time. */
  send(k: SegmentKnobs = {}): Promise<number> {
    const { payload = new Uint8Array(0), ip = {}, ...fields } = k;
    const flags = fields.flags ?? ACK;
    let options = fields.options;
    if (options === undefined && fields.rawOptions === undefined && this.ts && !(flags & SYN)) {
      options = { timestamp: { value: this.tsval(), echo: this.tsRecent } };
    }
    const knobs: TcpKnobs = {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: this.sndNxt,
      ack: flags & ACK ? this.rcvNxt : 0,
      window: this.window,
      ...fields,
      flags,
      options,
    };
    return this.wire.sendIp(this.wire.tcpDatagram(knobs, payload, ip));
  }

  /** Send data at SND.NXT and advance it. */
  data(payload: Uint8Array, k: SegmentKnobs = {}): Promise<number> {
    const at = this.send({ flags: ACK | TcpFlags.PSH, ...k, payload });
    this.sndNxt = seqAdd(this.sndNxt, payload.length);
    return at;
  }

  /** The next segment from the dut (matching `pred`), or undefined after `ms`. */
  async next(ms = 3000, pred: (s: Seg) => boolean = () => true): Promise<Seg | undefined> {
    const seen = await this.inbox.next(ms, (s) => pred(toSeg(s)));
    if (!seen) return undefined;
    const seg = toSeg(seen);
    if (seg.options.timestamp) this.tsRecent = seg.options.timestamp.value;
    return seg;
  }

  /** All segments within `ms`. */
  async collect(ms: number): Promise<Seg[]> {
    const segs = (await this.inbox.collect(ms)).map(toSeg);
    for (const s of segs) if (s.options.timestamp) this.tsRecent = s.options.timestamp.value;
    return segs;
  }

  /** Our SYN; the options Linux's connect() sends, but window scale 0 so our window is literal. */
  syn(options?: TcpOptions, k: SegmentKnobs = {}): Promise<number> {
    return this.send({
      flags: SYN,
      seq: this.iss,
      ack: 0,
      options: options ?? this.synOptions(),
      ...k,
    });
  }

  synOptions(): TcpOptions {
    return { mss: 1460, sackPermitted: true, timestamp: { value: this.tsval(), echo: 0 }, windowScale: 0 };
  }

  /** Take the dut's SYN,ACK into the state (RCV.NXT, options); SND.NXT passes our SYN. */
  accept(synAck: Seg): void {
    this.dutIss = synAck.seq;
    this.rcvNxt = seqAdd(synAck.seq, 1);
    this.sndNxt = seqAdd(this.iss, 1);
    this.ts = synAck.options.timestamp !== undefined;
    this.dutWindowScale = synAck.options.windowScale ?? 0;
  }

  /** SYN -> SYN,ACK -> ACK. Throws when the dut does not answer with a SYN,ACK. */
  async handshake(options?: TcpOptions): Promise<Seg> {
    this.syn(options);
    const synAck = await this.next(4000, (s) => (s.flags & (SYN | ACK)) === (SYN | ACK));
    if (!synAck) throw new Error('no SYN,ACK');
    this.accept(synAck);
    this.send();
    return synAck;
  }

  /** The dut's window in bytes (its scale applied). */
  windowOf(s: Seg): number {
    return s.flags & SYN ? s.window : s.window * 2 ** this.dutWindowScale;
  }

  /** End the connection quietly (a RST at SND.NXT), so the dut does not retransmit for minutes. */
  reset(): void {
    void this.send({ flags: TcpFlags.RST, options: {} });
  }

  stop(): void {
    this.inbox.stop();
  }
}
