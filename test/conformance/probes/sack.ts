import { seqAdd, seqDiff } from '../../../src/tcp/seq.js';
import type { TcpPeer } from '../peer.js';
import { verdict, type Probe } from '../probe.js';
import type { Seg } from '../wire.js';
import { ACK, AT_ONCE_MS, bytes, firstFlight } from './util.js';

/** Selective acknowledgments (RFC 2018, RFC 2883) and the receiver's immediate ACKs (RFC 5681 4.2). */

/** Blocks relative to our SND.NXT: "[100,200)". */
function blocks(peer: TcpPeer, s: Seg | undefined): string {
  const b = s?.options.sack;
  if (!b || b.length === 0) return 'no SACK';
  return b.map((x) => `[${seqDiff(x.left, peer.sndNxt)},${seqDiff(x.right, peer.sndNxt)})`).join(' ');
}

/** Send 100 bytes at SND.NXT + offset without moving SND.NXT. */
function ahead(peer: TcpPeer, offset: number, n = 100): Promise<number> {
  return peer.send({ seq: seqAdd(peer.sndNxt, offset), payload: bytes(n, 0x41 + (offset % 26)) });
}

export const sackProbes: Probe[] = [
  {
    name: 'out-of-order segment: immediate SACK',
    rule: 'RFC 2018 4, RFC 5681 4.2',
    expected: 'duplicate ACK at once with SACK [100,200)',
    async run(t) {
      const { peer } = await t.established();
      const sent = await ahead(peer, 100);
      const s = await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      const b = s?.options.sack?.[0];
      const ok = s !== undefined && s.ack === peer.sndNxt && b !== undefined && b.left === seqAdd(peer.sndNxt, 100) && b.right === seqAdd(peer.sndNxt, 200) && s.at - sent < AT_ONCE_MS;
      return verdict(ok, s ? `dup ACK after ${Math.round(s.at - sent)} ms, ${blocks(peer, s)}` : 'nothing');
    },
  },
  {
    name: 'two holes: most recent block first',
    rule: 'RFC 2018 4',
    expected: 'SACK [300,400) [100,200)',
    async run(t) {
      const { peer } = await t.established();
      ahead(peer, 100);
      await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      ahead(peer, 300);
      const s = await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      const b = s?.options.sack ?? [];
      const ok = b.length >= 2 && seqDiff(b[0]!.left, peer.sndNxt) === 300 && seqDiff(b[1]!.left, peer.sndNxt) === 100;
      return verdict(ok, blocks(peer, s));
    },
  },
  {
    name: 'no SACK blocks unless SACK-permitted',
    rule: 'RFC 2018 2',
    expected: 'duplicate ACK without SACK option',
    async run(t) {
      const { peer } = await t.established({ synOptions: { mss: 1460, timestamp: { value: 1, echo: 0 }, windowScale: 0 } });
      ahead(peer, 100);
      const s = await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      return verdict(s !== undefined && s.ack === peer.sndNxt && !s.options.sack, s ? blocks(peer, s) : 'nothing');
    },
  },
  {
    name: 'hole filled: ACK at once',
    rule: 'RFC 5681 4.2 (SHOULD ACK immediately)',
    expected: 'ACK covering both segments without delay',
    async run(t) {
      const { peer } = await t.established();
      ahead(peer, 100);
      await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      const sent = await peer.data(bytes(100));
      const end = seqAdd(peer.sndNxt, 100);
      const s = await peer.next(1000, (x) => x.ack === end);
      return verdict(s !== undefined && s.at - sent < AT_ONCE_MS, s ? `ACK of both after ${Math.round(s.at - sent)} ms` : 'no ACK of both');
    },
  },
  {
    name: 'duplicate segment: D-SACK',
    rule: 'RFC 2883 4 (Linux tcp_dsack=1)',
    expected: 'ACK whose first SACK block is the duplicate [-100,0)',
    async run(t) {
      const { peer } = await t.established();
      peer.data(bytes(100));
      await peer.next(1500, (x) => x.ack === peer.sndNxt);
      peer.send({ seq: seqAdd(peer.sndNxt, -100), payload: bytes(100) });
      const s = await peer.next(1000, (x) => (x.flags & ACK) !== 0);
      const b = s?.options.sack?.[0];
      const ok = b !== undefined && b.left === seqAdd(peer.sndNxt, -100) && b.right === peer.sndNxt;
      return verdict(ok, s ? blocks(peer, s) : 'nothing');
    },
  },
  {
    name: 'sender: SACKed loss resends only the hole',
    rule: 'RFC 6675 5, RFC 5681 3.2',
    expected: 'after 3 SACKing dup ACKs, the first segment alone is resent, before the RTO',
    async run(t) {
      const { peer } = await t.established();
      // Take what the dut sends; pretend the first segment was lost.
      const { segs, got } = await firstFlight(t, peer, 8000);
      if (segs.length < 4) return verdict(false, `only ${segs.length} segments in the first flight`);
      const first = segs[0]!;
      const start = seqAdd(first.seq, first.payload.length);
      let sent = 0;
      for (let i = 1; i < segs.length && i <= 3; i++) {
        const right = seqAdd(segs[i]!.seq, segs[i]!.payload.length);
        sent = await peer.send({ ack: first.seq, options: { sack: [{ left: start, right }], timestamp: { value: peer.tsval(), echo: peer.tsRecent } } });
      }
      const re = await peer.next(3000, (x) => x.payload.length > 0 && x.seq === first.seq);
      const ok = re !== undefined && re.seq === first.seq && re.at - sent < 150;
      peer.rcvNxt = seqAdd(first.seq, got);
      return verdict(ok, re ? `resent seq ${re.seq === first.seq ? 'of the hole' : `+${seqDiff(re.seq, first.seq)}`} after ${Math.round(re.at - sent)} ms` : 'nothing resent');
    },
  },
  {
    name: 'receiver: quick ACKs at connection start',
    rule: 'RFC 5681 4.2 / Linux quick-ack (first RTTs)',
    expected: 'first data segment ACKed at once, not after the delayed-ACK timer',
    async run(t) {
      const { peer } = await t.established();
      const sent = await peer.data(bytes(100));
      const s = await peer.next(1000, (x) => x.ack === peer.sndNxt);
      return verdict(s !== undefined && s.at - sent < AT_ONCE_MS, s ? `ACK after ${Math.round(s.at - sent)} ms` : 'no ACK');
    },
  },
];
