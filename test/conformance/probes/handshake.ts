import { seqAdd } from '../../../src/tcp/seq.js';
import { describeOptions } from '../frames.js';
import type { TcpPeer } from '../peer.js';
import { verdict, type Probe, type Verdict } from '../probe.js';
import { ACK, FIN, RST, SYN, answerToSyn, bytes, flagNames, is, readSoFar, receiveData, secs } from './util.js';

/**
 * Three sendings of an unanswered handshake segment: the first RTO ~1 s, then doubled
 * (RFC 6298 2.1, 5.5). Each gap is judged on its own, with room for a late timer on a
 * busy machine: 0.8-1.6 s, then 1.6-3 s.
 */
async function backoff(p: TcpPeer, flags: number): Promise<Verdict> {
  const a = await p.next(2000, (s) => s.flags === flags);
  const b = await p.next(3000, (s) => s.flags === flags);
  const c = await p.next(5000, (s) => s.flags === flags);
  if (!a || !b || !c) return verdict(false, `sent only ${[a, b, c].filter(Boolean).length} times`);
  const d1 = b.at - a.at;
  const d2 = c.at - b.at;
  return verdict(d1 > 800 && d1 < 1600 && d2 > 1600 && d2 < 3000, `resent after ${secs(d1)}, then ${secs(d2)}`);
}

/** Opening a connection (RFC 9293 3.5) and the SYN's options. */
export const handshakeProbes: Probe[] = [
  {
    name: 'SYN to a listening port',
    rule: 'RFC 9293 3.10.7.2',
    expected: 'SYN,ACK with ack = ISN+1',
    async run(t) {
      const { p, s } = await answerToSyn(t);
      return verdict(is(s, SYN | ACK) && s.ack === seqAdd(p.iss, 1), `${flagNames(s)}${s ? ` ack=ISN${s.ack === seqAdd(p.iss, 1) ? '+1' : '?'}` : ''}`);
    },
  },
  {
    name: 'SYN,ACK options answer the SYN\'s',
    rule: 'RFC 9293 3.7.1, 7323 2-3, 2018 2',
    expected: 'MSS, SACK-permitted, timestamps (TSecr = our TSval), window scale',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      const options = p.synOptions();
      p.syn(options);
      const s = await p.next();
      const o = s?.options;
      const ok = is(s, SYN | ACK) && o!.mss !== undefined && o!.sackPermitted === true && o!.timestamp?.echo === options.timestamp!.value && o!.windowScale !== undefined;
      return verdict(ok, s ? `${flagNames(s)}${describeOptions(s.options)}${o!.timestamp && o!.timestamp.echo !== options.timestamp!.value ? ' (TSecr wrong)' : ''}` : 'nothing');
    },
  },
  {
    name: 'SYN without options',
    rule: 'RFC 7323 1.3, RFC 2018 2',
    expected: 'SYN,ACK with MSS only (no WS, TS, SACK)',
    async run(t) {
      const { s } = await answerToSyn(t, {});
      const o = s?.options ?? {};
      const ok = is(s, SYN | ACK) && o.mss !== undefined && o.windowScale === undefined && !o.timestamp && !o.sackPermitted;
      return verdict(ok, s ? `${flagNames(s)}${describeOptions(o)}` : 'nothing');
    },
  },
  {
    name: 'SYN to a closed port',
    rule: 'RFC 9293 3.10.7.1',
    expected: 'RST,ACK seq=0 ack=ISN+1',
    async run(t) {
      const p = t.peer();
      p.syn();
      const s = await p.next();
      return verdict(is(s, RST | ACK) && s.seq === 0 && s.ack === seqAdd(p.iss, 1), `${flagNames(s)}${s ? ` seq=${s.seq} ack=ISN${s.ack === seqAdd(p.iss, 1) ? '+1' : '?'}` : ''}`);
    },
  },
  {
    name: 'ACK to a closed port',
    rule: 'RFC 9293 3.10.7.1',
    expected: 'RST seq=SEG.ACK, no ACK bit',
    async run(t) {
      const p = t.peer();
      p.send({ flags: ACK, seq: 1000, ack: 777_777 });
      const s = await p.next();
      return verdict(is(s, RST) && s.seq === 777_777, `${flagNames(s)}${s ? ` seq=${s.seq === 777_777 ? 'SEG.ACK' : s.seq}` : ''}`);
    },
  },
  {
    name: 'RST to a closed port',
    rule: 'RFC 9293 3.10.7.1',
    expected: 'no answer',
    async run(t) {
      const p = t.peer();
      p.send({ flags: RST, seq: 1000, ack: 0 });
      const s = await p.next(1000);
      return verdict(s === undefined, flagNames(s));
    },
  },
  {
    name: 'ACK to a listening port',
    rule: 'RFC 9293 3.10.7.2',
    expected: 'RST seq=SEG.ACK',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      p.send({ flags: ACK, seq: 1000, ack: 555_555 });
      const s = await p.next();
      return verdict(is(s, RST) && s.seq === 555_555, `${flagNames(s)}${s ? ` seq=${s.seq === 555_555 ? 'SEG.ACK' : s.seq}` : ''}`);
    },
  },
  {
    name: 'RST to a listening port',
    rule: 'RFC 9293 3.10.7.2',
    expected: 'ignored; a SYN is still answered',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      p.send({ flags: RST, seq: 1000, ack: 0 });
      const quiet = await p.next(500);
      p.syn();
      const s = await p.next();
      return verdict(quiet === undefined && is(s, SYN | ACK), `${flagNames(quiet)}, then SYN -> ${flagNames(s)}`);
    },
  },
  {
    name: 'SYN,FIN to a listening port',
    rule: 'RFC 9293 3.10.7.2 (Linux drops)',
    expected: 'dropped, no SYN,ACK',
    async run(t) {
      const { s } = await answerToSyn(t, undefined, { flags: SYN | FIN }, 1000);
      return verdict(s === undefined, flagNames(s));
    },
  },
  {
    name: 'SYN,RST to a listening port',
    rule: 'RFC 9293 3.10.7.2 (RST first)',
    expected: 'dropped',
    async run(t) {
      const { s } = await answerToSyn(t, undefined, { flags: SYN | RST }, 1000);
      return verdict(s === undefined, flagNames(s));
    },
  },
  {
    name: 'SYN with an unknown option',
    rule: 'RFC 9293 3.1 (MUST-68: ignore unknown options)',
    expected: 'SYN,ACK',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      // MSS 1460, then kind 99 length 4 (unassigned), then SACK-permitted.
      p.syn(undefined, { rawOptions: Uint8Array.from([2, 4, 0x05, 0xb4, 99, 4, 0xab, 0xcd, 4, 2]) });
      const s = await p.next();
      return verdict(is(s, SYN | ACK), `${flagNames(s)}${s ? describeOptions(s.options) : ''}`);
    },
  },
  {
    name: 'handshake completes; data is acknowledged',
    rule: 'RFC 9293 3.5, 3.10.7.4',
    expected: 'ACK of the data within 500 ms (delayed ACK)',
    async run(t) {
      const { peer } = await t.established();
      const sent = await peer.data(new Uint8Array(100).fill(0x61));
      const s = await peer.next(2000, (x) => x.ack === peer.sndNxt);
      return verdict(s !== undefined && s.at - sent < 500, s ? `ACK after ${Math.round(s.at - sent)} ms` : 'no ACK');
    },
  },
  {
    name: 'dut\'s segments respect our MSS',
    rule: 'RFC 9293 3.7.1 (MUST-14)',
    expected: 'data segments of at most 536 bytes after MSS 536',
    async run(t) {
      const { peer } = await t.established({ synOptions: { mss: 536 } });
      await t.dut.send(t.port, new Uint8Array(3000).fill(0x62));
      const segs = await receiveData(peer, 3000);
      const got = segs.reduce((n, s) => n + s.payload.length, 0);
      const biggest = Math.max(0, ...segs.map((s) => s.payload.length));
      return verdict(got === 3000 && biggest <= 536, `${segs.length} segments, largest ${biggest}, ${got} bytes`);
    },
  },
  {
    name: 'duplicate SYN in SYN-RECEIVED',
    rule: 'RFC 9293 3.10.7.4 / 3.8.1',
    expected: 'SYN,ACK again',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      p.syn();
      const first = await p.next();
      p.syn();
      const second = await p.next(900, (s) => (s.flags & SYN) !== 0);
      return verdict(is(first, SYN | ACK) && is(second, SYN | ACK) && second.seq === first.seq, `${flagNames(first)}, then ${flagNames(second)}${second && first && second.seq !== first.seq ? ' (new ISN)' : ''}`);
    },
  },
  {
    name: 'SYN,ACK retransmitted when the ACK is lost',
    rule: 'RFC 6298 2.1, 5.5 (initial RTO 1 s, doubled)',
    expected: 'resent after ~1 s, then ~2 s later',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      p.syn();
      return backoff(p, SYN | ACK);
    },
  },
  {
    name: 'active open: SYN options',
    rule: 'RFC 9293 3.7.1, 7323, 2018',
    expected: 'SYN with MSS 1460, SACK-permitted, timestamps, window scale',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      await t.dut.connect(t.port, t.peerPort);
      const s = await p.next();
      const o = s?.options ?? {};
      return verdict(is(s, SYN) && o.mss === 1460 && o.sackPermitted === true && o.timestamp !== undefined && o.windowScale !== undefined, `${flagNames(s)}${describeOptions(o)}`);
    },
  },
  {
    name: 'SYN retransmission timing',
    rule: 'RFC 6298 2.1, 5.5 (initial RTO 1 s, doubled)',
    expected: 'SYN resent after ~1 s, then ~2 s later',
    linuxDiffers: 'Linux 6.x resends the first SYNs at linear 1 s intervals (net.ipv4.tcp_syn_linear_timeouts)',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      await t.dut.connect(t.port, t.peerPort);
      return backoff(p, SYN);
    },
  },
  {
    name: 'SYN-SENT: SYN,ACK with a wrong ACK',
    rule: 'RFC 9293 3.10.7.3',
    expected: 'RST seq=SEG.ACK; the SYN is sent again',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      await t.dut.connect(t.port, t.peerPort);
      const syn = await p.next(2000, (s) => s.flags === SYN);
      if (!syn) return verdict(false, 'no SYN');
      const bad = seqAdd(syn.seq, 5000);
      p.send({ flags: SYN | ACK, seq: p.iss, ack: bad, options: { mss: 1460 } });
      const rst = await p.next(1000, (s) => (s.flags & RST) !== 0);
      const again = await p.next(3000, (s) => s.flags === SYN);
      return verdict(is(rst, RST) && rst.seq === bad && again !== undefined, `${flagNames(rst)}${rst ? ` seq=${rst.seq === bad ? 'SEG.ACK' : rst.seq}` : ''}, SYN ${again ? 'resent' : 'not resent'}`);
    },
  },
  {
    name: 'SYN-SENT: RST with a wrong ACK',
    rule: 'RFC 9293 3.10.7.3',
    expected: 'ignored; the SYN is sent again',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      await t.dut.connect(t.port, t.peerPort);
      const syn = await p.next(2000, (s) => s.flags === SYN);
      if (!syn) return verdict(false, 'no SYN');
      p.send({ flags: RST | ACK, seq: 0, ack: seqAdd(syn.seq, 77), options: {} });
      const again = await p.next(3000);
      return verdict(is(again, SYN), `then ${flagNames(again)}`);
    },
  },
  {
    name: 'SYN-SENT: RST,ACK for our SYN',
    rule: 'RFC 9293 3.10.7.3',
    expected: 'connection refused: no more SYNs',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      await t.dut.connect(t.port, t.peerPort);
      const syn = await p.next(2000, (s) => s.flags === SYN);
      if (!syn) return verdict(false, 'no SYN');
      p.send({ flags: RST | ACK, seq: 0, ack: seqAdd(syn.seq, 1), options: {} });
      const again = await p.next(2500);
      return verdict(again === undefined, again ? `then ${flagNames(again)}` : 'silent');
    },
  },
  {
    name: 'SYN cookies when the SYN queue is full',
    rule: 'RFC 4987 3.6 (Linux tcp_syncookies=1)',
    expected: 'with backlog 1 and a stray half-open SYN, a new SYN still gets a SYN,ACK',
    async run(t) {
      await t.dut.listen(t.port, { backlog: 1 });
      const stray = t.peer(t.peerPort + 1, t.port);
      stray.syn();
      await stray.next(2000);
      const stray2 = t.peer(t.peerPort + 2, t.port);
      stray2.syn();
      await stray2.next(1000);
      const p = t.peer();
      p.syn();
      const s = await p.next(2000);
      return verdict(is(s, SYN | ACK), `third SYN -> ${flagNames(s)}`);
    },
  },
  {
    name: 'SYN cookie: the ACK opens the connection',
    rule: 'RFC 4987 3.6',
    expected: 'the handshake completed on a cookie carries data (ACKed, read)',
    async run(t) {
      await t.dut.listen(t.port, { backlog: 1 });
      const stray = t.peer(t.peerPort + 1, t.port);
      stray.syn();
      await stray.next(2000);
      const p = t.peer();
      await p.handshake();
      p.data(bytes(100));
      const s = await p.next(1500, (x) => x.ack === p.sndNxt || (x.flags & RST) !== 0);
      const got = await readSoFar(t, (r) => r.bytes >= 100);
      return verdict(s !== undefined && (s.flags & RST) === 0 && got.bytes === 100, `data -> ${flagNames(s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'active open completes',
    rule: 'RFC 9293 3.5, 3.10.7.3',
    expected: 'our SYN,ACK is acknowledged: ACK with ack = our ISN+1',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      await t.dut.connect(t.port, t.peerPort);
      const syn = await p.next(2000, (s) => s.flags === SYN);
      if (!syn) return verdict(false, 'no SYN');
      p.dutIss = syn.seq;
      p.rcvNxt = seqAdd(syn.seq, 1);
      p.send({ flags: SYN | ACK, seq: p.iss, options: { mss: 1460 } });
      p.sndNxt = seqAdd(p.iss, 1);
      const s = await p.next(1500);
      return verdict(is(s, ACK) && s.ack === p.sndNxt && s.seq === p.rcvNxt, `${flagNames(s)}${s ? ` ack=ISN${s.ack === p.sndNxt ? '+1' : '?'}` : ''}`);
    },
  },
  {
    name: 'simultaneous open',
    rule: 'RFC 9293 3.5 (figure 7)',
    expected: 'our bare SYN crossing its SYN: SYN,ACK with its ISS and ack = our ISN+1',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      await t.dut.connect(t.port, t.peerPort);
      const syn = await p.next(2000, (s) => s.flags === SYN);
      if (!syn) return verdict(false, 'no SYN');
      p.syn({ mss: 1460 });
      const s = await p.next(1500);
      if (s) p.accept(s);
      return verdict(is(s, SYN | ACK) && s.seq === syn.seq && s.ack === seqAdd(p.iss, 1), `${flagNames(s)}${s && s.seq === syn.seq ? ' seq=ISS' : ''}`);
    },
  },
  {
    name: 'SYN-RECEIVED: RST',
    rule: 'RFC 9293 3.10.7.4 (SYN-RECEIVED from LISTEN: back to LISTEN)',
    expected: 'the half-open connection is gone: no more SYN,ACKs',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      p.syn();
      const synAck = await p.next(1500, (s) => s.flags === (SYN | ACK));
      if (!synAck) return verdict(false, 'no SYN,ACK');
      p.send({ flags: RST, seq: seqAdd(p.iss, 1), ack: 0, options: {} });
      const again = await p.next(2000, (s) => (s.flags & SYN) !== 0);
      return verdict(again === undefined, again ? 'SYN,ACK resent' : 'no SYN,ACK resent');
    },
  },
  {
    name: 'SYN-RECEIVED: unacceptable ACK',
    rule: 'RFC 9293 3.10.7.4 (SYN-RECEIVED, fifth)',
    expected: 'RST seq=SEG.ACK',
    async run(t) {
      await t.dut.listen(t.port);
      const p = t.peer();
      p.syn();
      const synAck = await p.next(1500, (s) => s.flags === (SYN | ACK));
      if (!synAck) return verdict(false, 'no SYN,ACK');
      const bad = seqAdd(synAck.seq, 1000);
      p.send({ seq: seqAdd(p.iss, 1), ack: bad, options: {} });
      const s = await p.next(1000, (x) => (x.flags & SYN) === 0);
      return verdict(is(s, RST) && s.seq === bad, `${flagNames(s)}${s ? ` seq=${s.seq === bad ? 'SEG.ACK' : s.seq}` : ''}`);
    },
  },
  {
    name: 'no MSS option: send at most 536 bytes',
    rule: 'RFC 9293 3.7.1 (MUST-15: default 536), RFC 1122 4.2.2.6',
    expected: 'data segments of at most 536 bytes',
    async run(t) {
      const { peer } = await t.established({ synOptions: {} });
      await t.dut.send(t.port, bytes(3000, 0x62));
      const segs = await receiveData(peer, 3000);
      const got = segs.reduce((n, s) => n + s.payload.length, 0);
      const biggest = Math.max(0, ...segs.map((s) => s.payload.length));
      return verdict(got === 3000 && biggest <= 536, `${segs.length} segments, largest ${biggest}`);
    },
  },
];
