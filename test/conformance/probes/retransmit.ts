import { seqAdd } from '../../../src/tcp/seq.js';
import { verdict, type Probe } from '../probe.js';
import type { Seg } from '../wire.js';
import { bytes, firstFlight, secs } from './util.js';

/** The sender's timers and fast retransmit (RFC 6298, RFC 5681). */
export const retransmitProbes: Probe[] = [
  {
    name: 'data RTO: resent, then backed off',
    rule: 'RFC 6298 5.4-5.6 (double the RTO)',
    expected: 'the intervals grow: the last at least twice the first RTO',
    async run(t) {
      const { peer } = await t.established();
      await t.dut.send(t.port, bytes(100));
      const first = await peer.next(1500, (x) => x.payload.length > 0);
      if (!first) return verdict(false, 'no data');
      // A tail loss probe may come first (RFC 8985); the RTO backoff shows in what follows.
      const again = (await peer.collect(3200)).filter((s) => s.payload.length > 0 && s.seq === first.seq);
      const times = [first, ...again].map((s: Seg) => s.at);
      const gaps = times.slice(1).map((x, i) => x - times[i]!);
      if (gaps.length < 3) return verdict(false, `only ${gaps.length} retransmissions in 3.2 s (${gaps.map(secs).join(', ')})`);
      // The first gap may be the tail loss probe; the second is the first RTO. Judged over
      // more than one doubling, so one late timer on a busy machine does not decide it.
      const firstRto = gaps[1]!;
      const last = gaps[gaps.length - 1]!;
      peer.rcvNxt = seqAdd(first.seq, first.payload.length);
      return verdict(last >= 2 * firstRto, `gaps ${gaps.map(secs).join(', ')}`);
    },
  },
  {
    name: 'fast retransmit after 3 duplicate ACKs (no SACK)',
    rule: 'RFC 5681 3.2',
    expected: 'the first segment resent at once, long before the RTO',
    async run(t) {
      const { peer } = await t.established({ synOptions: { mss: 1460, timestamp: { value: 1, echo: 0 }, windowScale: 0 } });
      const { segs, got } = await firstFlight(t, peer, 8000);
      if (segs.length < 4) return verdict(false, `only ${segs.length} segments in the first flight`);
      const first = segs[0]!;
      let sent = 0;
      for (let i = 0; i < 3; i++) sent = await peer.send({ ack: first.seq });
      const re = await peer.next(3000, (x) => x.payload.length > 0 && x.seq === first.seq);
      peer.rcvNxt = seqAdd(first.seq, got);
      const ok = re !== undefined && re.seq === first.seq && re.at - sent < 150;
      return verdict(ok, re ? `resent ${re.seq === first.seq ? 'the first segment' : 'another segment'} after ${Math.round(re.at - sent)} ms` : 'nothing resent');
    },
  },
];
