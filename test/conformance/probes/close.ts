import { seqAdd } from '../../../src/tcp/seq.js';
import type { TcpPeer } from '../peer.js';
import { sleep, verdict, type Probe, type ProbeContext } from '../probe.js';
import type { Seg } from '../wire.js';
import { ACK, FIN, SYN, ackDesc, bytes, flagNames, gone, pureAck, readSoFar } from './util.js';

/** The dut's application shuts down its sending side: the FIN that follows, if any. */
async function dutCloses(t: ProbeContext, peer: TcpPeer): Promise<Seg | undefined> {
  await t.dut.shutdown(t.port);
  return peer.next(1500, (x) => (x.flags & FIN) !== 0);
}

/**
 * The dut closes first (FIN), we acknowledge and send our FIN, the dut acknowledges
 * it: the dut is in TIME-WAIT. `reached` says how far it got otherwise.
 */
async function intoTimeWait(t: ProbeContext): Promise<{ peer: TcpPeer; reached: string }> {
  const { peer } = await t.established();
  const fin = await dutCloses(t, peer);
  if (!fin) return { peer, reached: 'no FIN' };
  peer.rcvNxt = seqAdd(fin.seq, 1);
  peer.send({ flags: ACK | FIN });
  peer.sndNxt = seqAdd(peer.sndNxt, 1);
  const acked = await peer.next(1500, pureAck(peer.sndNxt));
  if (!acked) return { peer, reached: 'our FIN not acknowledged' };
  peer.rcvNxt = 0; // nothing to reset at the end: the dut is in TIME-WAIT
  return { peer, reached: 'TIME-WAIT' };
}

/** Closing (RFC 9293 3.6, 3.10.7.4 eighth step) and TIME-WAIT. */
export const closeProbes: Probe[] = [
  {
    name: 'data with FIN: FIN acknowledged, app sees EOF',
    rule: 'RFC 9293 3.10.7.4 (eighth: FIN)',
    expected: 'ACK of data + FIN; the reader gets end of stream',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: ACK | FIN, payload: bytes(100) });
      peer.sndNxt = seqAdd(peer.sndNxt, 101);
      const s = await peer.next(1500, (x) => x.ack === peer.sndNxt);
      const got = await readSoFar(t, (r) => r.eof);
      return verdict(s !== undefined && got.eof && got.bytes === 100, `${ackDesc(peer, s)}, ${got.bytes} bytes, ${got.eof ? 'EOF' : 'no EOF'}`);
    },
  },
  {
    name: 'FIN beyond a hole waits for the hole',
    rule: 'RFC 9293 3.10.7.4 (FIN processed in sequence)',
    expected: 'dup ACK first; once filled, ack covers data and FIN',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: ACK | FIN, seq: seqAdd(peer.sndNxt, 100) });
      const dup = await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      const early = await readSoFar(t);
      peer.data(bytes(100));
      peer.sndNxt = seqAdd(peer.sndNxt, 1);
      const s = await peer.next(1500, (x) => x.ack === peer.sndNxt);
      const got = await readSoFar(t, (r) => r.eof);
      const ok = dup !== undefined && dup.ack === seqAdd(peer.sndNxt, -101) && !early.eof && s !== undefined && got.eof;
      return verdict(ok, `first ${dup ? (dup.ack === seqAdd(peer.sndNxt, -101) ? 'dup ACK' : 'ACK moved') : 'nothing'}${early.eof ? ' (EOF early)' : ''}, then ${s ? 'ACK of all' : 'no ACK of all'}${got.eof ? ', EOF' : ''}`);
    },
  },
  {
    name: 'passive close: LAST-ACK, then CLOSED',
    rule: 'RFC 9293 3.6, 3.10.7.4',
    expected: 'our FIN ACKed; the app closes -> FIN; after our ACK, data gets a RST',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: ACK | FIN });
      peer.sndNxt = seqAdd(peer.sndNxt, 1);
      const a = await peer.next(1500, pureAck(peer.sndNxt));
      await t.dut.close(t.port);
      const fin = await peer.next(1500, (x) => (x.flags & FIN) !== 0);
      if (!fin) return verdict(false, `${ackDesc(peer, a)}, no FIN`);
      peer.rcvNxt = seqAdd(fin.seq, 1);
      peer.send();
      await sleep(100);
      const desc = ackDesc(peer, a);
      const reset = await gone(peer);
      return verdict(a !== undefined && reset, `${desc}, ${flagNames(fin)}, then ${reset ? 'RST' : 'no RST'}`);
    },
  },
  {
    name: 'half-close: FIN-WAIT-2 still receives',
    rule: 'RFC 9293 3.10.7.4 (FIN-WAIT-2 processes text)',
    expected: 'data after our ACK of its FIN is acknowledged',
    async run(t) {
      const { peer } = await t.established();
      const fin = await dutCloses(t, peer);
      if (!fin) return verdict(false, 'no FIN');
      peer.rcvNxt = seqAdd(fin.seq, 1);
      peer.send();
      peer.data(bytes(100));
      const s = await peer.next(1500, (x) => x.ack === peer.sndNxt);
      return verdict(s !== undefined, `${flagNames(fin)}, then data -> ${ackDesc(peer, s)}`);
    },
  },
  {
    name: 'FIN resent until acknowledged',
    rule: 'RFC 9293 3.10.4 (FIN is retransmitted), RFC 6298',
    expected: 'the FIN again after an RTO',
    async run(t) {
      const { peer } = await t.established();
      const a = await dutCloses(t, peer);
      const b = await peer.next(3000, (x) => (x.flags & FIN) !== 0);
      if (!a) return verdict(false, 'no FIN');
      if (b) peer.rcvNxt = seqAdd(b.seq, 1);
      return verdict(b !== undefined && b.seq === a.seq, b ? `FIN again after ${Math.round(b.at - a.at)} ms` : 'FIN once');
    },
  },
  {
    name: 'simultaneous close',
    rule: 'RFC 9293 3.6 (CLOSING)',
    expected: 'our crossing FIN is acknowledged',
    async run(t) {
      const { peer } = await t.established();
      const fin = await dutCloses(t, peer);
      if (!fin) return verdict(false, 'no FIN');
      // Our FIN crosses theirs: it does not acknowledge it yet.
      peer.send({ flags: ACK | FIN });
      peer.sndNxt = seqAdd(peer.sndNxt, 1);
      const s = await peer.next(1500, (x) => x.ack === peer.sndNxt);
      peer.rcvNxt = seqAdd(fin.seq, 1);
      peer.send();
      return verdict(s !== undefined, `FIN crossing FIN -> ${ackDesc(peer, s)}`);
    },
  },
  {
    name: 'TIME-WAIT: a retransmitted FIN is acknowledged again',
    rule: 'RFC 9293 3.10.7.4 (TIME-WAIT: ACK, restart 2MSL)',
    expected: 'ACK of the FIN, again',
    async run(t) {
      const { peer, reached } = await intoTimeWait(t);
      if (reached !== 'TIME-WAIT') return verdict(false, reached);
      peer.send({ flags: ACK | FIN, seq: seqAdd(peer.sndNxt, -1) });
      const again = await peer.next(1500, pureAck(peer.sndNxt));
      return verdict(again !== undefined, `ACK, then ${again ? 'ACK again' : 'nothing'}`);
    },
  },
  {
    name: 'TIME-WAIT: a new SYN with higher seq and TSval',
    rule: 'RFC 6191, RFC 9293 3.10.7.4 (TIME-WAIT reuse)',
    expected: 'SYN,ACK: a new connection on the same pair',
    async run(t) {
      const { reached } = await intoTimeWait(t);
      if (reached !== 'TIME-WAIT') return verdict(false, reached);
      await sleep(50);
      const again = t.peer(); // same ports, a higher ISS, a later TSval
      again.syn();
      const s = await again.next(2000, (x) => (x.flags & SYN) !== 0);
      if (s) again.accept(s);
      return verdict(s !== undefined && (s.flags & ACK) !== 0, `new SYN -> ${flagNames(s)}`);
    },
  },
];
