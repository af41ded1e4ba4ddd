import { seqAdd } from '../../../src/tcp/seq.js';
import { verdict, type Probe } from '../probe.js';
import { ACK, AT_ONCE_MS, RST, SYN, URG, ackDesc, alive, bytes, challengedAndAlive, dataAcked, flagNames, pureAck, readSoFar, resetQuietly } from './util.js';

/** Which segments a synchronized connection accepts (RFC 9293 3.10.7.4, RFC 5961). */
export const acceptabilityProbes: Probe[] = [
  {
    name: 'RST at exactly RCV.NXT',
    rule: 'RFC 5961 3.2, RFC 9293 3.10.7.4',
    expected: 'connection reset (later data gets a RST)',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: RST, options: {} });
      return resetQuietly(peer);
    },
  },
  {
    name: 'RST in the window, not at RCV.NXT',
    rule: 'RFC 5961 3.2',
    expected: 'challenge ACK (ack=RCV.NXT); connection survives',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: RST, seq: seqAdd(peer.sndNxt, 100), options: {} });
      return challengedAndAlive(peer);
    },
  },
  {
    name: 'RST outside the window',
    rule: 'RFC 5961 3.2, RFC 9293 3.10.7.4',
    expected: 'silently dropped; connection survives',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: RST, seq: seqAdd(peer.sndNxt, 0x4000_0000), options: {} });
      const s = await peer.next(800);
      const still = await alive(peer);
      return verdict(s === undefined && still, `${flagNames(s)}; ${still ? 'alive' : 'reset'}`);
    },
  },
  {
    name: 'SYN in ESTABLISHED, in the window',
    rule: 'RFC 5961 4.2, RFC 9293 3.10.7.4',
    expected: 'challenge ACK; connection survives',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: SYN, seq: seqAdd(peer.sndNxt, 10), ack: 0, options: { mss: 1460 } });
      return challengedAndAlive(peer);
    },
  },
  {
    name: 'SYN in ESTABLISHED, outside the window',
    rule: 'RFC 5961 4.2',
    expected: 'challenge ACK; connection survives',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: SYN, seq: seqAdd(peer.sndNxt, 0x4000_0000), ack: 0, options: { mss: 1460 } });
      return challengedAndAlive(peer);
    },
  },
  {
    name: 'challenge ACKs are rate-limited',
    rule: 'RFC 5961 7 (Linux: 1 per 0.5 s per socket)',
    expected: 'at most 2 challenge ACKs for 20 in-window RSTs',
    async run(t) {
      const { peer } = await t.established();
      for (let i = 1; i <= 20; i++) peer.send({ flags: RST, seq: seqAdd(peer.sndNxt, 100 * i), options: {} });
      const acks = (await peer.collect(1000)).filter(pureAck(peer.sndNxt));
      return verdict(acks.length <= 2, `${acks.length} challenge ACKs`);
    },
  },
  {
    name: 'ACK of data never sent',
    rule: 'RFC 9293 3.10.7.4 (SEG.ACK > SND.NXT), RFC 5961 5.2',
    expected: 'segment dropped (its data not acknowledged), an ACK sent',
    async run(t) {
      const { peer } = await t.established();
      const before = peer.sndNxt;
      peer.send({ ack: seqAdd(peer.rcvNxt, 5000), payload: bytes(10) });
      const s = await peer.next(1000);
      const ok = s !== undefined && pureAck(before)(s);
      return verdict(ok, ackDesc(peer, s));
    },
  },
  {
    name: 'ACK older than SND.UNA - MAX.SND.WND',
    rule: 'RFC 5961 5.2',
    expected: 'segment dropped, an ACK sent',
    async run(t) {
      const { peer } = await t.established();
      const before = peer.sndNxt;
      peer.send({ ack: seqAdd(peer.rcvNxt, -0x2000_0000), payload: bytes(10) });
      const s = await peer.next(1000);
      const ok = s !== undefined && pureAck(before)(s);
      return verdict(ok, ackDesc(peer, s));
    },
  },
  {
    name: 'data beyond the receive window',
    rule: 'RFC 9293 3.10.7.4 (unacceptable segment)',
    expected: 'ACK with ack=RCV.NXT, data not taken',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ seq: seqAdd(peer.sndNxt, 0x1000_0000), payload: bytes(100) });
      const s = await peer.next(1000);
      const got = await readSoFar(t);
      return verdict(s !== undefined && pureAck(peer.sndNxt)(s) && got.bytes === 0, `${ackDesc(peer, s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'old duplicate data',
    rule: 'RFC 9293 3.10.7.4',
    expected: 'immediate ACK with ack=RCV.NXT',
    async run(t) {
      const { peer } = await t.established();
      await dataAcked(peer, 1000);
      const sent = await peer.send({ seq: seqAdd(peer.sndNxt, -100), payload: bytes(100) });
      const s = await peer.next(1000);
      return verdict(s !== undefined && pureAck(peer.sndNxt)(s) && s.at - sent < AT_ONCE_MS, `${ackDesc(peer, s)}${s ? ` after ${Math.round(s.at - sent)} ms` : ''}`);
    },
  },
  {
    name: 'data overlapping RCV.NXT',
    rule: 'RFC 9293 3.10.7.4 (trim to the window)',
    expected: 'new part taken: ack covers the end',
    async run(t) {
      const { peer } = await t.established();
      await dataAcked(peer, 1000);
      peer.send({ seq: seqAdd(peer.sndNxt, -50), payload: bytes(150) });
      peer.sndNxt = seqAdd(peer.sndNxt, 100);
      const s = await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      const got = await readSoFar(t, (r) => r.bytes >= 200);
      return verdict(s !== undefined && s.ack === peer.sndNxt && got.bytes === 200, `${ackDesc(peer, s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'urgent data',
    rule: 'RFC 9293 3.8.5, RFC 6093 6 (deliver inline)',
    expected: 'all acknowledged; all 100 bytes read inline',
    linuxDiffers: 'without SO_OOBINLINE, Linux takes the last urgent byte out of the stream (BSD out-of-band semantics)',
    async run(t) {
      const { peer } = await t.established();
      peer.data(bytes(100), { flags: ACK | URG, urgent: 100 });
      const s = await peer.next(1500, (x) => x.ack === peer.sndNxt);
      const got = await readSoFar(t, (r) => r.bytes >= 100);
      return verdict(s !== undefined && got.bytes === 100, `${ackDesc(peer, s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'data without the ACK bit',
    rule: 'RFC 9293 3.10.7.4 (fifth: ACK off -> drop)',
    expected: 'dropped silently',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ flags: 0, payload: bytes(100) });
      const s = await peer.next(800);
      const got = await readSoFar(t);
      return verdict(s === undefined && got.bytes === 0, `${flagNames(s)}, ${got.bytes} bytes read`);
    },
  },
];
