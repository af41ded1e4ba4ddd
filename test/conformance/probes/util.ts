import { seqAdd, seqDiff, seqGe } from '../../../src/tcp/seq.js';
import { formatTcpFlags, TcpFlags, type TcpOptions } from '../../../src/wire/tcp.js';
import type { Received } from '../dut.js';
import type { SegmentKnobs, TcpPeer } from '../peer.js';
import { sleep, verdict, type ProbeContext, type Verdict } from '../probe.js';
import type { Seg } from '../wire.js';

/** Small helpers the probe files share. */

export const { FIN, SYN, RST, PSH, ACK, URG } = TcpFlags;

/**
 * "At once", in ms from our send to the capture of the answer: below the 40 ms
 * delayed-ACK timer of both duts, with room for a busy machine (an answer can only
 * be measured late, never early).
 */
export const AT_ONCE_MS = 35;

export const bytes = (n: number, fill = 0x61): Uint8Array => new Uint8Array(n).fill(fill);

/** "ACK,SYN", or "nothing" for no segment. */
export function flagNames(s: Seg | undefined): string {
  if (!s) return 'nothing';
  return formatTcpFlags(s.flags) || 'no flags';
}

export const is = (s: Seg | undefined, flags: number): s is Seg => s !== undefined && s.flags === flags;

/** A segment that acknowledges exactly `ack` and carries no data. */
export const pureAck = (ack: number) => (s: Seg): boolean => (s.flags & (SYN | RST | FIN)) === 0 && (s.flags & ACK) !== 0 && s.ack === ack && s.payload.length === 0;

/** "ACK ack=SND.NXT" style, relative to what the peer has sent. */
export function ackDesc(p: TcpPeer, s: Seg | undefined): string {
  if (!s) return 'nothing';
  const d = seqDiff(s.ack, p.sndNxt);
  return `${flagNames(s)} ack=${d === 0 ? 'SND.NXT' : `SND.NXT${d > 0 ? '+' : ''}${d}`}`;
}

/** Send 10 bytes of data: does the dut acknowledge them, reset, or say nothing? */
async function answerToData(p: TcpPeer): Promise<'ACK' | 'RST' | 'nothing'> {
  p.data(bytes(10, 0x7a));
  const s = await p.next(1500, (x) => (x.flags & RST) !== 0 || seqGe(x.ack, p.sndNxt));
  if (!s) return 'nothing';
  return s.flags & RST ? 'RST' : 'ACK';
}

/** Is the connection still there? Data must be acknowledged. */
export const alive = async (p: TcpPeer): Promise<boolean> => (await answerToData(p)) === 'ACK';

/** Is the connection gone? Data must be answered with a RST. */
export const gone = async (p: TcpPeer): Promise<boolean> => (await answerToData(p)) === 'RST';

/** Send 100 bytes and wait for the dut's ACK of them (so RCV.NXT and TS.Recent have moved). */
export function dataAcked(p: TcpPeer, ms = 1500): Promise<Seg | undefined> {
  p.data(bytes(100));
  return p.next(ms, pureAck(p.sndNxt));
}

/** After a segment that must only be challenged: a pure ACK of SND.NXT comes back, and the connection survives. */
export async function challengedAndAlive(p: TcpPeer): Promise<Verdict> {
  const s = await p.next(1000);
  const ok = s !== undefined && pureAck(p.sndNxt)(s);
  const desc = ackDesc(p, s);
  const still = await alive(p);
  return verdict(ok && still, `${desc}; ${still ? 'alive' : 'reset'}`);
}

/** After a RST that must be obeyed: the dut says nothing, and later data gets a RST. */
export async function resetQuietly(p: TcpPeer): Promise<Verdict> {
  const quiet = await p.next(300);
  const reset = await gone(p);
  return verdict(quiet === undefined && reset, `${flagNames(quiet)}; later data -> ${reset ? 'RST' : 'no RST'}`);
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

/**
 * The dut writes `n` bytes with Nagle off: the data segments of its first flight,
 * left unacknowledged, and how many bytes they carry.
 */
export async function firstFlight(t: ProbeContext, p: TcpPeer, n: number): Promise<{ segs: Seg[]; got: number }> {
  await t.dut.noDelay(t.port);
  await t.dut.send(t.port, bytes(n));
  const segs: Seg[] = [];
  let got = 0;
  while (got < n) {
    const s = await p.next(2000, (x) => x.payload.length > 0);
    if (!s) break;
    segs.push(s);
    got += s.payload.length;
  }
  return { segs, got };
}

/** Seconds with two decimals. */
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/**
 * What the dut's application has read on the probe's port: once `enough` says so (its
 * reader may lag on a busy machine; at most 1 s), or after 100 ms when nothing is awaited.
 */
export async function readSoFar(t: ProbeContext, enough?: (r: Received) => boolean): Promise<Received> {
  await sleep(100);
  let r = await t.dut.received(t.port);
  for (let waited = 100; enough && !enough(r) && waited < 1000; waited += 50) {
    await sleep(50);
    r = await t.dut.received(t.port);
  }
  return r;
}

/** Listen on the probe's port, send one SYN (our usual options unless given), and take the answer. */
export async function answerToSyn(t: ProbeContext, options?: TcpOptions, k: SegmentKnobs = {}, ms = 3000): Promise<{ p: TcpPeer; s: Seg | undefined }> {
  await t.dut.listen(t.port);
  const p = t.peer();
  void p.syn(options, k);
  return { p, s: await p.next(ms) };
}
