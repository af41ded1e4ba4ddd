import { seqAdd } from '../../../src/tcp/seq.js';
import { encodeIcmp, type IcmpMessage, UNREACH_FRAG_NEEDED, UNREACH_HOST, UNREACH_PORT, UNREACH_PROTOCOL } from '../../../src/wire/icmp.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from '../../../src/wire/ipv4.js';
import { readIpv4 } from '../../../src/wire/address.js';
import { readU16 } from '../../../src/wire/bytes.js';
import { DUT_IP, PROBER } from '../bench.js';
import { describeIcmp, udp, type Seen } from '../frames.js';
import { sleep, verdict, type Probe, type ProbeContext, type Verdict } from '../probe.js';
import type { TcpPeer } from '../peer.js';
import { ACK, alive, bytes, SYN } from './util.js';

/** ICMP: echo, the errors a host sends, and the ones it receives (RFC 792, 1122 3.2.2, 1191). */

/** Send an echo request in a datagram shaped by `ip`; resolves with the reply, if any. */
export async function echo(t: ProbeContext, ip: Parameters<ProbeContext['wire']['ip']>[0] | undefined, opts: { badIcmpChecksum?: boolean; wait?: number } = {}): Promise<Seen | undefined> {
  const id = t.port;
  const data = bytes(32, 0x55);
  const msg = encodeIcmp({ kind: 'echo-request', identifier: id, sequence: 1, data });
  if (opts.badIcmpChecksum) msg[2]! ^= 0x55;
  const inbox = t.wire.watch((s) => s.icmp?.kind === 'echo-reply' && s.icmp.identifier === id);
  t.wire.sendIp(t.wire.ip({ protocol: IPPROTO_ICMP, ...ip }, msg));
  const r = await inbox.next(opts.wait ?? 1000);
  inbox.stop();
  return r;
}

/** Send an ICMP message from the prober to the dut. */
function sendIcmp(t: ProbeContext, message: IcmpMessage): void {
  void t.wire.sendIp(t.wire.ip({ protocol: IPPROTO_ICMP }, encodeIcmp(message)));
}

/** Send `datagram`: the dut must send no ICMP error about it. */
async function noIcmpError(t: ProbeContext, datagram: Uint8Array): Promise<Verdict> {
  const errors = icmpErrors(t);
  void t.wire.sendIp(datagram);
  const r = await errors.next(800);
  return verdict(r === undefined, r?.icmp ? describeIcmp(r.icmp) : 'nothing');
}

/**
 * What an ICMP error about the dut's next pure ACK on this connection quotes: its IP
 * header and the first 8 bytes of TCP (RFC 792), enough for the dut to find the connection.
 */
function quoteOfDutAck(t: ProbeContext, peer: TcpPeer): Uint8Array {
  const ack = { srcPort: t.port, dstPort: t.peerPort, seq: peer.rcvNxt, ack: peer.sndNxt, flags: ACK, window: 0 };
  return t.wire.tcpDatagram(ack, new Uint8Array(0), { src: DUT_IP, dst: PROBER.ip }).subarray(0, 28);
}

/** The ICMP errors the dut sends from now on about this probe's datagrams (their IP identification). */
const icmpErrors = (t: ProbeContext) =>
  t.wire.watch((s) => {
    const m = s.icmp;
    if (!m || (m.kind !== 'dest-unreachable' && m.kind !== 'time-exceeded' && m.kind !== 'other')) return false;
    const quoted = m.kind === 'other' ? m.data : m.quoted;
    return quoted.length >= 20 && readU16(quoted, 4) === t.wire.identification;
  });

/** UDP to a port nobody listens on: the port unreachable must quote our datagram. */
async function udpToClosedPort(t: ProbeContext, checksum: 'good' | 'none'): Promise<Verdict> {
  const errors = icmpErrors(t);
  t.wire.sendIp(t.wire.ip({ protocol: IPPROTO_UDP }, udp(t.peerPort, t.port, bytes(20), PROBER.ip, DUT_IP, checksum)));
  const r = await errors.next(1000);
  const m = r?.icmp;
  if (!m || m.kind !== 'dest-unreachable') return verdict(false, m ? describeIcmp(m) : 'nothing');
  const q = m.quoted;
  const quotesUs = q.length >= 28 && readIpv4(q, 12) === PROBER.ip && readU16(q, 20) === t.peerPort && readU16(q, 22) === t.port;
  return verdict(m.code === UNREACH_PORT && quotesUs, `${describeIcmp(m)}, quotes ${q.length} bytes${quotesUs ? '' : ' (not ours)'}`);
}

export const icmpProbes: Probe[] = [
  {
    name: 'echo request',
    rule: 'RFC 792, RFC 1122 3.2.2.6',
    expected: 'echo reply with the same identifier, sequence and data',
    async run(t) {
      const r = await echo(t, undefined);
      const m = r?.icmp;
      const ok = m?.kind === 'echo-reply' && m.sequence === 1 && m.data.length === 32 && m.data.every((b) => b === 0x55);
      return verdict(ok, m ? `${describeIcmp(m)}${ok ? ', data intact' : ', data differs'}` : 'no reply');
    },
  },
  {
    name: 'echo request with a bad ICMP checksum',
    rule: 'RFC 1122 3.2.2 (checksum), RFC 792',
    expected: 'no reply',
    async run(t) {
      const r = await echo(t, undefined, { badIcmpChecksum: true });
      return verdict(r === undefined, r ? 'replied' : 'no reply');
    },
  },
  {
    name: 'UDP to a closed port',
    rule: 'RFC 1122 4.1.3.1, 3.2.2.1; RFC 792',
    expected: 'ICMP port unreachable quoting our IP header and 8 bytes',
    run: (t) => udpToClosedPort(t, 'good'),
  },
  {
    name: 'UDP without a checksum (0)',
    rule: 'RFC 768, RFC 1122 4.1.3.4 (checksum 0: none sent)',
    expected: 'taken as valid: ICMP port unreachable for the closed port',
    run: (t) => udpToClosedPort(t, 'none'),
  },
  {
    name: 'UDP with a bad checksum',
    rule: 'RFC 1122 4.1.3.4 (MUST silently discard)',
    expected: 'silently dropped: no port unreachable',
    async run(t) {
      return noIcmpError(t, t.wire.ip({ protocol: IPPROTO_UDP }, udp(t.peerPort, t.port, bytes(20), PROBER.ip, DUT_IP, 'bad')));
    },
  },
  {
    name: 'no ICMP error about an ICMP error',
    rule: 'RFC 1122 3.2.2 (MUST NOT)',
    expected: 'no answer',
    async run(t) {
      const quoted = t.wire.ip({ protocol: IPPROTO_UDP, src: DUT_IP, dst: PROBER.ip }, udp(t.port, t.peerPort, new Uint8Array(0), DUT_IP, PROBER.ip)).subarray(0, 28);
      return noIcmpError(t, t.wire.ip({ protocol: IPPROTO_ICMP }, encodeIcmp({ kind: 'dest-unreachable', code: UNREACH_PORT, nextHopMtu: 0, quoted })));
    },
  },
  {
    name: 'no ICMP error for a broadcast datagram',
    rule: 'RFC 1122 3.2.2 (MUST NOT)',
    expected: 'UDP to 10.0.0.255, closed port: no port unreachable',
    async run(t) {
      const bcast = (DUT_IP | 0xff) >>> 0;
      return noIcmpError(t, t.wire.ip({ protocol: IPPROTO_UDP, dst: bcast }, udp(t.peerPort, t.port, bytes(20), PROBER.ip, bcast)));
    },
  },
  {
    name: 'ICMP host unreachable on an open connection',
    rule: 'RFC 1122 4.2.3.9 (soft error), RFC 5927',
    expected: 'the connection carries on',
    async run(t) {
      const { peer } = await t.established();
      const quoted = quoteOfDutAck(t, peer);
      sendIcmp(t, { kind: 'dest-unreachable', code: UNREACH_HOST, nextHopMtu: 0, quoted });
      await sleep(100);
      const still = await alive(peer);
      return verdict(still, still ? 'alive' : 'aborted');
    },
  },
  {
    name: 'unknown IP protocol',
    rule: 'RFC 1122 3.2.2.1 (SHOULD send protocol unreachable)',
    expected: 'ICMP protocol unreachable (code 2)',
    async run(t) {
      const errors = icmpErrors(t);
      t.wire.sendIp(t.wire.ip({ protocol: 253 }, bytes(20)));
      const r = await errors.next(1000);
      const m = r?.icmp;
      return verdict(m?.kind === 'dest-unreachable' && m.code === UNREACH_PROTOCOL, m ? describeIcmp(m) : 'nothing');
    },
  },
  {
    name: 'source quench is ignored',
    rule: 'RFC 6633 (MUST silently discard)',
    expected: 'no answer; the connection carries on',
    async run(t) {
      const { peer } = await t.established();
      const quoted = quoteOfDutAck(t, peer);
      const errors = icmpErrors(t);
      sendIcmp(t, { kind: 'other', type: 4, code: 0, rest: new Uint8Array(4), data: quoted });
      const r = await errors.next(300);
      const still = await alive(peer);
      return verdict(r === undefined && still, `${r?.icmp ? describeIcmp(r.icmp) : 'nothing'}; ${still ? 'alive' : 'aborted'}`);
    },
  },
  {
    name: 'port unreachable for our SYN',
    rule: 'RFC 1122 4.2.3.9 (codes 2-4 are hard errors), RFC 5927 4',
    expected: 'the connection attempt is abandoned: no SYN resent',
    async run(t) {
      const p = t.peer(t.peerPort, t.port);
      const seen = t.wire.watch((s) => s.tcp !== undefined && s.tcp.header.srcPort === t.port && (s.tcp.header.flags & SYN) !== 0);
      await t.dut.connect(t.port, t.peerPort);
      const syn = await seen.next(2000);
      if (!syn) return verdict(false, 'no SYN');
      sendIcmp(t, { kind: 'dest-unreachable', code: UNREACH_PORT, nextHopMtu: 0, quoted: syn.datagram.subarray(0, 28) });
      const again = await seen.next(2500);
      seen.stop();
      p.stop();
      return verdict(again === undefined, again ? 'SYN resent' : 'gave up');
    },
  },
  {
    name: 'fragmentation needed: segments shrink to the MTU',
    rule: 'RFC 1191 (PMTUD), RFC 1122 4.2.3.9',
    expected: 'after "frag needed, MTU 1000" for a 1452-byte datagram, resent in datagrams <= 1000 bytes',
    // The dut remembers MTU 1000 towards the prober (Linux for 10 minutes).
    last: true,
    async run(t) {
      const { peer } = await t.established();
      await t.dut.noDelay(t.port);
      await t.dut.send(t.port, bytes(1400));
      const seen = t.wire.watch((s) => s.tcp !== undefined && s.tcp.header.srcPort === t.port && s.tcp.payload.length > 0);
      const big = await seen.next(1500);
      if (!big) return verdict(false, 'no data');
      const df = big.ip.dontFragment;
      sendIcmp(t, { kind: 'dest-unreachable', code: UNREACH_FRAG_NEEDED, nextHopMtu: 1000, quoted: big.datagram.subarray(0, 28) });
      const small = await seen.next(2000, (s) => s.ip.totalLength <= 1000);
      seen.stop();
      peer.rcvNxt = seqAdd(big.tcp!.header.seq, 1400);
      return verdict(small !== undefined, `${big.ip.totalLength}-byte datagram${df ? ' (DF)' : ''}, then ${small ? `${small.ip.totalLength}-byte ones` : 'nothing smaller in 2 s'}`);
    },
  },
];
