import { seqAdd, seqDiff } from '../../../src/tcp/seq.js';
import { verdict, type Probe } from '../probe.js';
import { AT_ONCE_MS, bytes } from './util.js';

/**
 * Our ACK releases what Nagle held: well before the 200 ms minimum RTO, after which a
 * retransmission would carry it anyway. Not AT_ONCE_MS: the second write itself may
 * come late from a busy dut agent.
 */
const RELEASED_BY_ACK_MS = 150;

/** When segments and ACKs leave: Nagle (RFC 896, RFC 1122 4.2.3.4) and delayed ACKs (RFC 5681 4.2). */
export const segmentProbes: Probe[] = [
  {
    name: 'Nagle: one small segment in flight',
    rule: 'RFC 1122 4.2.3.4, RFC 896',
    expected: 'a second small write waits for the ACK of the first, then leaves on it (not at an RTO)',
    linuxDiffers: 'a Linux tail loss probe sends held data with Nagle off (tcp_send_loss_probe); on a busy machine it can fire within the 100 ms we wait',
    async run(t) {
      const { peer } = await t.established();
      await t.dut.send(t.port, bytes(10, 0x31));
      await t.dut.send(t.port, bytes(10, 0x32));
      const before = (await peer.collect(100)).filter((s) => s.payload.length > 0);
      const starts = new Set(before.map((s) => s.seq));
      const first = before[0];
      if (!first) return verdict(false, 'no data');
      const sent = before.reduce((n, s) => Math.max(n, seqDiff(seqAdd(s.seq, s.payload.length), peer.rcvNxt)), 0);
      if (sent >= 20) return verdict(starts.size === 1, `${starts.size} segment(s) carried both writes before any ACK`);
      peer.rcvNxt = seqAdd(first.seq, first.payload.length);
      const acked = await peer.send();
      const rest = await peer.next(1000, (s) => s.payload.length > 0 && s.seq === peer.rcvNxt);
      if (rest) peer.rcvNxt = seqAdd(rest.seq, rest.payload.length);
      return verdict(starts.size === 1 && rest !== undefined && rest.at - acked < RELEASED_BY_ACK_MS, `1 segment, the second write ${rest ? `${Math.round(rest.at - acked)} ms after our ACK` : 'never'}`);
    },
  },
  {
    name: 'an ACK for every second full segment',
    rule: 'RFC 5681 4.2, RFC 1122 4.2.3.2',
    expected: 'two full-sized segments acknowledged at once',
    linuxDiffers: 'Linux ACKs a second full segment at once only if its window would not shrink (__tcp_ack_snd_check), i.e. only when the reader thread of prober-dut.py was quick',
    async run(t) {
      const { peer } = await t.established();
      peer.data(bytes(1448));
      const sent = await peer.data(bytes(1448));
      const s = await peer.next(1000, (x) => x.ack === peer.sndNxt);
      return verdict(s !== undefined && s.at - sent < AT_ONCE_MS, s ? `ACK of both after ${Math.round(s.at - sent)} ms` : 'no ACK');
    },
  },
];
