import { seqAdd, seqDiff } from '../../../src/tcp/seq.js';
import type { TcpPeer } from '../peer.js';
import { verdict, type Probe, type ProbeContext } from '../probe.js';
import type { Seg } from '../wire.js';
import { ACK, bytes, pureAck, secs } from './util.js';

/** Flow control: the windows both ways, zero windows and the persist timer (RFC 9293 3.8.6). */

/** Send full segments into the dut's window until it advertises zero; returns that ACK. */
async function fillWindow(peer: TcpPeer, synAck: Seg): Promise<Seg | undefined> {
  const mss = 1448;
  let rightEdge = seqAdd(peer.sndNxt, synAck.window);
  let last: Seg | undefined;
  for (let round = 0; round < 80; round++) {
    let room = seqDiff(rightEdge, peer.sndNxt);
    while (room > 0) {
      const n = Math.min(mss, room);
      peer.data(bytes(n, 0x30 + (round % 10)));
      room -= n;
    }
    const acks = (await peer.collect(250)).filter((s) => (s.flags & ACK) !== 0);
    if (acks.length === 0) continue;
    last = acks[acks.length - 1]!;
    rightEdge = seqAdd(last.ack, peer.windowOf(last));
    if (last.window === 0 && last.ack === peer.sndNxt) return last;
  }
  return undefined;
}

/**
 * A handshake that offers a zero window from the start (so no data can slip out before
 * the dut learns of it), then `n` bytes for the dut to send: it must hold them.
 */
async function heldByZeroWindow(t: ProbeContext, n: number): Promise<{ peer: TcpPeer; probes: Seg[]; shut: number }> {
  await t.dut.listen(t.port);
  const peer = t.peer();
  peer.window = 0;
  const synAck = await peer.handshake();
  const shut = synAck.at;
  await t.dut.send(t.port, bytes(n, 0x70));
  const probes: Seg[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await peer.next(4000, (x) => (x.flags & ACK) !== 0);
    if (s) probes.push(s);
  }
  return { peer, probes, shut };
}

function probeShape(peer: TcpPeer, s: Seg): string {
  if (s.payload.length === 0 && s.seq === seqAdd(peer.rcvNxt, -1)) return '0 bytes at SND.UNA-1';
  if (s.seq === peer.rcvNxt) return `${s.payload.length} new byte${s.payload.length === 1 ? '' : 's'}`;
  return `${s.payload.length} bytes at ${seqDiff(s.seq, peer.rcvNxt)}`;
}

export const windowProbes: Probe[] = [
  {
    name: 'dut respects our small window',
    rule: 'RFC 9293 3.8.6 (send within the offered window)',
    expected: 'at most 1000 bytes in flight when we offer 1000',
    async run(t) {
      // Offered from the SYN on: Linux ignores a later ACK that only shrinks the window
      // (tcp_may_update_window), and a receiver should not shrink it anyway (RFC 9293 3.8.6).
      await t.dut.listen(t.port);
      const peer = t.peer();
      peer.window = 1000;
      await peer.handshake();
      await t.dut.send(t.port, bytes(5000));
      // Retransmissions (a tail loss probe, the RTO) may come too: count sequence space.
      const segs = await peer.collect(600);
      const reach = Math.max(0, ...segs.map((s) => seqDiff(seqAdd(s.seq, s.payload.length), peer.rcvNxt)));
      return verdict(reach > 0 && reach <= 1000, `${reach} bytes sent before our ACK`);
    },
  },
  {
    name: 'our window scale is applied',
    rule: 'RFC 7323 2.2-2.3 (SYN window unscaled, later ones shifted)',
    expected: 'window field 125 with scale 3 lets exactly 1000 bytes out',
    async run(t) {
      await t.dut.listen(t.port);
      const peer = t.peer();
      peer.window = 125;
      await peer.handshake({ ...peer.synOptions(), windowScale: 3 });
      await t.dut.send(t.port, bytes(5000));
      const segs = await peer.collect(600);
      const reach = Math.max(0, ...segs.map((s) => seqDiff(seqAdd(s.seq, s.payload.length), peer.rcvNxt)));
      return verdict(reach === 1000, `${reach} bytes sent before our ACK`);
    },
  },
  {
    name: 'zero window: persist probes',
    rule: 'RFC 9293 3.8.6.1, RFC 1122 4.2.2.17',
    expected: 'no data sent; probes within ~RTO, then backed off',
    async run(t) {
      const { peer, probes, shut } = await heldByZeroWindow(t, 1000);
      if (probes.length < 2) return verdict(false, `${probes.length} probes in 8 s`);
      const [a, b] = probes as [Seg, Seg];
      const tooMuch = probes.some((s) => s.payload.length > 1);
      const d1 = a.at - shut;
      const d2 = b.at - a.at;
      return verdict(!tooMuch && d1 < 3000 && d2 >= d1 * 0.9, `probes at ${secs(d1)}, +${secs(d2)}: ${probeShape(peer, a)}`);
    },
  },
  {
    name: 'zero window reopened: held data goes at once',
    rule: 'RFC 9293 3.8.6.1 (Linux: at once)',
    expected: 'data within 200 ms of the window update',
    async run(t) {
      const { peer, probes } = await heldByZeroWindow(t, 1000);
      if (probes.length === 0) return verdict(false, 'no persist probe');
      // A probe's new byte was refused (the window was zero): the update acknowledges
      // only what came before it, as a real receiver's would.
      peer.window = 65535;
      const opened = await peer.send();
      const s = await peer.next(5000, (x) => x.payload.length > 1 || (x.payload.length > 0 && x.seq === peer.rcvNxt));
      return verdict(s !== undefined && s.at - opened < 200, s ? `data after ${Math.round(s.at - opened)} ms` : 'no data in 5 s');
    },
  },
  {
    name: 'receiver: window closes when the app does not read',
    rule: 'RFC 9293 3.8.6',
    expected: 'an ACK with window 0 once the buffer is full',
    async run(t) {
      const { peer, synAck } = await t.established({ listen: { read: false } });
      const zero = await fillWindow(peer, synAck);
      return verdict(zero !== undefined, zero ? `window 0 after ${seqDiff(peer.sndNxt, peer.iss) - 1} bytes` : 'window never 0');
    },
  },
  {
    name: 'receiver: probe into a zero window',
    rule: 'RFC 9293 3.10.7.4 (zero window: ACK, take no data)',
    expected: 'ACK with ack unchanged and window 0',
    async run(t) {
      const { peer, synAck } = await t.established({ listen: { read: false } });
      const zero = await fillWindow(peer, synAck);
      if (!zero) return verdict(false, 'window never 0');
      peer.send({ payload: bytes(1) });
      const s = await peer.next(1500, (x) => (x.flags & ACK) !== 0);
      return verdict(s !== undefined && pureAck(peer.sndNxt)(s) && s.window === 0, s ? `ACK ack=${s.ack === peer.sndNxt ? 'unchanged' : 'moved'} win=${s.window}` : 'nothing');
    },
  },
  {
    name: 'receiver: window update when the app reads',
    rule: 'RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3',
    expected: 'an ACK opening the window, unprompted',
    async run(t) {
      const { peer, synAck } = await t.established({ listen: { read: false } });
      const zero = await fillWindow(peer, synAck);
      if (!zero) return verdict(false, 'window never 0');
      await t.dut.read(t.port);
      const s = await peer.next(2000, (x) => (x.flags & ACK) !== 0 && x.window > 0);
      return verdict(s !== undefined, s ? `window update to ${peer.windowOf(s)} bytes` : 'no update in 2 s');
    },
  },
];
