import { seqAdd, seqGe } from '../../../src/tcp/seq.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import type { Received } from '../dut.js';
import type { TcpPeer } from '../peer.js';
import { sleep, type ProbeContext } from '../probe.js';
import type { Seg } from '../wire.js';

/** Small helpers the probe files share. */

export const { FIN, SYN, RST, PSH, ACK, URG } = TcpFlags;

export const bytes = (n: number, fill = 0x61): Uint8Array => new Uint8Array(n).fill(fill);

/** "ACK,SYN", or "nothing" for no segment. */
export function flagNames(s: Seg | undefined): string {
  if (!s) return 'nothing';
  const names = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'].filter((_, i) => s.flags & (1 << i));
  return names.reverse().join(',') || 'none';
}

export const is = (s: Seg | undefined, flags: number): s is Seg => s !== undefined && s.flags === flags;

/** A segment that acknowledges exactly `ack` and carries no data. */
export const pureAck = (ack: number) => (s: Seg): boolean => (s.flags & (SYN | RST | FIN)) === 0 && (s.flags & ACK) !== 0 && s.ack === ack && s.payload.length === 0;

/** "ACK ack=SND.NXT" style, relative to what the peer has sent. */
export function ackDesc(p: TcpPeer, s: Seg | undefined): string {
  if (!s) return 'nothing';
  const d = (s.ack - p.sndNxt) | 0;
  return `${flagNames(s)} ack=${d === 0 ? 'SND.NXT' : `SND.NXT${d > 0 ? '+' : ''}${d}`}`;
}

/** Is the connection still there? 10 bytes of data must be acknowledged. */
export async function alive(p: TcpPeer): Promise<boolean> {
  p.data(bytes(10, 0x7a));
  const s = await p.next(1500, (x) => (x.flags & RST) !== 0 || seqGe(x.ack, p.sndNxt));
  return s !== undefined && (s.flags & RST) === 0;
}

/** Is the connection gone? Data must be answered with a RST. */
export async function gone(p: TcpPeer): Promise<boolean> {
  p.data(bytes(10, 0x7a));
  const s = await p.next(1500, (x) => (x.flags & RST) !== 0 || seqGe(x.ack, p.sndNxt));
  return s !== undefined && (s.flags & RST) !== 0;
}

/** Receive `n` bytes of the dut's data, acknowledging each segment; returns the segments. */
export async function receiveData(p: TcpPeer, n: number, ms = 3000): Promise<Seg[]> {
  const segs: Seg[] = [];
  let got = 0;
  while (got < n) {
    const s = await p.next(ms, (x) => x.payload.length > 0);
    if (!s) break;
    segs.push(s);
    got += s.payload.length;
    p.rcvNxt = seqAdd(s.seq, s.payload.length);
    p.send();
  }
  return segs;
}

/** The data segments of `n` bytes the dut sends, without acknowledging them (a first flight). */
export async function flight(p: TcpPeer, n: number): Promise<Seg[]> {
  const segs: Seg[] = [];
  let got = 0;
  while (got < n) {
    const s = await p.next(2000, (x) => x.payload.length > 0);
    if (!s) break;
    segs.push(s);
    got += s.payload.length;
  }
  return segs;
}

/** Seconds with two decimals. */
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** What the dut's application has read on the probe's port, after a moment for its reader to run. */
export async function readSoFar(t: ProbeContext): Promise<Received> {
  await sleep(100);
  return t.dut.received(t.port);
}
