import { seqAdd } from '../../../src/tcp/seq.js';
import { verdict, type Probe } from '../probe.js';
import type { TcpPeer } from '../peer.js';
import { RST, ackDesc, bytes, dataAcked, pureAck, readSoFar, receiveData, resetQuietly } from './util.js';

/** Timestamps and PAWS (RFC 7323). */

/** A timestamp option whose TSval is 100 s older than the peer's clock: PAWS must reject it. */
const oldTimestamp = (peer: TcpPeer) => ({ timestamp: { value: (peer.tsval() - 100_000) >>> 0, echo: peer.tsRecent } });

export const pawsProbes: Probe[] = [
  {
    name: 'TSecr echoes our TSval',
    rule: 'RFC 7323 4.3',
    expected: 'the ACK of our data echoes its TSval',
    async run(t) {
      const { peer } = await t.established();
      const tsval = peer.tsval() + 5;
      peer.data(bytes(100), { options: { timestamp: { value: tsval, echo: peer.tsRecent } } });
      const s = await peer.next(1500, pureAck(peer.sndNxt));
      const echo = s?.options.timestamp?.echo;
      return verdict(echo === tsval, s ? `TSecr ${echo === tsval ? '= our TSval' : `${echo} (ours ${tsval})`}` : 'no ACK');
    },
  },
  {
    name: 'timestamps on every segment once agreed',
    rule: 'RFC 7323 3.2 (MUST send TSopt)',
    expected: 'every data segment and ACK carries a timestamp',
    async run(t) {
      const { peer } = await t.established();
      peer.data(bytes(100));
      await t.dut.send(t.port, bytes(3000));
      const segs = await receiveData(peer, 3000);
      const ack = await peer.next(1000, pureAck(peer.sndNxt));
      const all = [...segs, ...(ack ? [ack] : [])];
      const missing = all.filter((s) => !s.options.timestamp).length;
      return verdict(all.length > 1 && missing === 0, `${all.length - missing} of ${all.length} with TS`);
    },
  },
  {
    name: 'no timestamps when the SYN had none',
    rule: 'RFC 7323 3.2 (MUST NOT send TSopt)',
    expected: 'no timestamp in SYN,ACK or data',
    async run(t) {
      const { peer, synAck } = await t.established({ synOptions: { mss: 1460, sackPermitted: true } });
      await t.dut.send(t.port, bytes(500));
      const segs = await receiveData(peer, 500);
      const with_ = [synAck, ...segs].filter((s) => s.options.timestamp).length;
      return verdict(segs.length > 0 && with_ === 0, `${with_} of ${segs.length + 1} with TS`);
    },
  },
  {
    name: 'PAWS: data with an old TSval',
    rule: 'RFC 7323 5.3 (R1-R3)',
    expected: 'dropped; a duplicate ACK is sent',
    async run(t) {
      const { peer } = await t.established();
      await dataAcked(peer);
      peer.send({ payload: bytes(100), options: oldTimestamp(peer) });
      const s = await peer.next(1500);
      const got = await readSoFar(t, (r) => r.bytes >= 100);
      return verdict(s !== undefined && pureAck(peer.sndNxt)(s) && got.bytes === 100, `${ackDesc(peer, s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'PAWS does not apply to RST',
    rule: 'RFC 7323 5.3 (R2 only for non-RST; Linux accepts)',
    expected: 'RST at RCV.NXT with an old TSval resets',
    async run(t) {
      const { peer } = await t.established();
      await dataAcked(peer);
      peer.send({ flags: RST, options: oldTimestamp(peer) });
      return resetQuietly(peer);
    },
  },
  {
    name: 'PAWS: old TSval on a retransmitted duplicate',
    rule: 'RFC 7323 5.3, RFC 9293 3.10.7.4',
    expected: 'duplicate ACK, nothing read twice',
    async run(t) {
      const { peer } = await t.established();
      await dataAcked(peer);
      peer.send({ seq: seqAdd(peer.sndNxt, -100), payload: bytes(100), options: oldTimestamp(peer) });
      const s = await peer.next(1500);
      const got = await readSoFar(t, (r) => r.bytes >= 100);
      return verdict(s !== undefined && pureAck(peer.sndNxt)(s) && got.bytes === 100, `${ackDesc(peer, s)}, ${got.bytes} bytes read`);
    },
  },
];
