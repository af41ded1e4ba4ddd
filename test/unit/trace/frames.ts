/** Builds Ethernet/IPv4/TCP|UDP frames with the project's encoders, for trace tests. */
import { parseIpv4, parseMac } from '../../../src/wire/address.js';
import { encodeEthernet, ETHERTYPE_IPV4 } from '../../../src/wire/ethernet.js';
import { writeIpv4Header } from '../../../src/wire/ipv4.js';
import { encodeTcp, TcpFlags } from '../../../src/wire/tcp.js';
import { encodeUdp } from '../../../src/wire/udp.js';

export const CLIENT = '192.168.0.2';
export const SERVER = '192.168.0.1';
const MAC: Record<string, Uint8Array> = { [CLIENT]: parseMac('02:00:00:00:00:02')!, [SERVER]: parseMac('02:00:00:00:00:01')! };

function ip(text: string): number {
  const a = parseIpv4(text);
  if (a === null) throw new Error(text);
  return a;
}

function frame(src: string, dst: string, protocol: number, segment: Uint8Array): Uint8Array {
  const packet = new Uint8Array(20 + segment.length);
  writeIpv4Header(packet, 0, { totalLength: packet.length, identification: 1, ttl: 64, protocol, src: ip(src), dst: ip(dst), dontFragment: true });
  packet.set(segment, 20);
  return encodeEthernet({ dst: MAC[dst] ?? MAC[SERVER]!, src: MAC[src] ?? MAC[CLIENT]!, etherType: ETHERTYPE_IPV4 }, packet);
}

export const F = TcpFlags;

export interface Seg {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  data?: string | Uint8Array;
}

export function tcp(s: Seg): Uint8Array {
  const payload = typeof s.data === 'string' ? new TextEncoder().encode(s.data) : (s.data ?? new Uint8Array(0));
  const header = encodeTcp(
    { srcPort: s.sport, dstPort: s.dport, seq: s.seq >>> 0, ack: (s.ack ?? 0) >>> 0, flags: s.flags, window: s.window ?? 65535 },
    payload,
    { src: ip(s.src), dst: ip(s.dst) },
  );
  const seg = new Uint8Array(header.length + payload.length);
  seg.set(header);
  seg.set(payload, header.length);
  return frame(s.src, s.dst, 6, seg);
}

export function udp(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  return frame(src, dst, 17, encodeUdp({ src: ip(src), dst: ip(dst), srcPort: sport, dstPort: dport, payload }));
}

/**
 * A TCP conversation between two endpoints that keeps the sequence numbers: each
 * call sends from one side and advances that side's SND.NXT (unless told not to).
 */
export class Conversation {
  readonly frames: Uint8Array[] = [];
  private nxt: Record<'a' | 'b', number>;
  constructor(
    private readonly a: { addr: string; port: number },
    private readonly b: { addr: string; port: number },
    isnA = 1000,
    isnB = 5000,
  ) {
    this.nxt = { a: isnA, b: isnB };
  }

  /** Send from side `from`; `seq` overrides (for retransmissions); returns the frame. */
  send(from: 'a' | 'b', flags: number, data = '', opts: { seq?: number; ack?: number; advance?: boolean; window?: number } = {}): Uint8Array {
    const to = from === 'a' ? 'b' : 'a';
    const me = from === 'a' ? this.a : this.b;
    const peer = from === 'a' ? this.b : this.a;
    const seq = opts.seq ?? this.nxt[from];
    const f = tcp({
      src: me.addr,
      dst: peer.addr,
      sport: me.port,
      dport: peer.port,
      seq,
      ack: flags & F.ACK ? (opts.ack ?? this.nxt[to]) : 0,
      flags,
      window: opts.window,
      data,
    });
    if (opts.advance !== false && opts.seq === undefined) this.nxt[from] = seq + data.length + (flags & F.SYN ? 1 : 0) + (flags & F.FIN ? 1 : 0);
    this.frames.push(f);
    return f;
  }

  /** The three-way handshake, opened by side a: SYN, SYN+ACK, ACK. */
  handshake(): void {
    this.send('a', F.SYN);
    this.send('b', F.SYN | F.ACK);
    this.send('a', F.ACK);
  }

  next(side: 'a' | 'b'): number {
    return this.nxt[side];
  }
}
