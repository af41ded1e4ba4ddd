import { IPPROTO_ICMP } from '../../../src/wire/ipv4.js';
import { encodeIcmp } from '../../../src/wire/icmp.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { readU16 } from '../../../src/wire/bytes.js';
import { DUT_IP } from '../bench.js';
import type { Ipv4Knobs, Seen } from '../frames.js';
import { verdict, type Probe, type ProbeContext, type Verdict } from '../probe.js';
import { echo } from './icmp.js';
import { bytes } from './util.js';

/** IPv4 input checks (RFC 791, RFC 1122 3.2.1 and 3.3.2), seen through echo requests. */

const answered = (r: unknown): string => (r ? 'echo reply' : 'no reply');

/** The broken echo request gets no reply, while a well-formed one right after does (the dut is alive). */
async function dropped(t: ProbeContext, ip: Partial<Ipv4Knobs> & { protocol: number }): Promise<Verdict> {
  const r = await echo(t, ip);
  const good = await echo(t, undefined);
  return verdict(r === undefined && good !== undefined, `${answered(r)}${good ? '' : ' (and none to a good one either)'}`);
}

/**
 * An echo request of 64 data bytes cut in two fragments (32 + 40 bytes of ICMP), sent
 * in the order given; resolves with the echo reply, if one comes within a second.
 */
async function fragmentedEcho(t: ProbeContext, order: ('first' | 'second')[]): Promise<Seen | undefined> {
  const id = t.port;
  const msg = encodeIcmp({ kind: 'echo-request', identifier: id, sequence: 1, data: bytes(64, 0x66) });
  const fragments = {
    first: t.wire.ip({ protocol: IPPROTO_ICMP, identification: id, moreFragments: true }, msg.subarray(0, 32)),
    second: t.wire.ip({ protocol: IPPROTO_ICMP, identification: id, fragmentOffset: 32 }, msg.subarray(32)),
  };
  const inbox = t.wire.watch((s) => s.icmp?.kind === 'echo-reply' && s.icmp.identifier === id);
  for (const which of order) t.wire.sendIp(fragments[which]);
  const reply = await inbox.next(1000);
  inbox.stop();
  return reply;
}

export const ipv4Probes: Probe[] = [
  {
    name: 'IPv4 header with a bad checksum',
    rule: 'RFC 1122 3.2.1.2 (MUST discard)',
    expected: 'dropped',
    async run(t) {
      return dropped(t, { protocol: IPPROTO_ICMP, badChecksum: true });
    },
  },
  {
    name: 'IP version 6 in an IPv4 frame',
    rule: 'RFC 1122 3.2.1.1 (MUST discard)',
    expected: 'dropped',
    async run(t) {
      return dropped(t, { protocol: IPPROTO_ICMP, version: 6 });
    },
  },
  {
    name: 'IHL below 5',
    rule: 'RFC 791 3.1',
    expected: 'dropped',
    async run(t) {
      return dropped(t, { protocol: IPPROTO_ICMP, ihlWords: 4 });
    },
  },
  {
    name: 'total length beyond the frame',
    rule: 'RFC 791 3.1, RFC 1122 3.2.1',
    expected: 'dropped',
    async run(t) {
      return dropped(t, { protocol: IPPROTO_ICMP, totalLength: 1400 });
    },
  },
  {
    name: 'IP options are accepted',
    rule: 'RFC 1122 3.2.1.8 (MUST pass options)',
    expected: 'echo reply to a datagram with NOP options',
    async run(t) {
      const r = await echo(t, { protocol: IPPROTO_ICMP, options: Uint8Array.from([1, 1, 1, 0]) });
      return verdict(r !== undefined, answered(r));
    },
  },
  {
    name: 'TTL 1 to us is delivered',
    rule: 'RFC 1122 3.2.1.7 (MUST NOT discard for TTL < 2)',
    expected: 'echo reply, with TTL >= 64 (RFC 1700 default 64)',
    async run(t) {
      const r = await echo(t, { protocol: IPPROTO_ICMP, ttl: 1 });
      return verdict(r !== undefined && r.ip.ttl >= 64, r ? `echo reply, TTL ${r.ip.ttl}` : 'no reply');
    },
  },
  {
    name: 'datagram for another address',
    rule: 'RFC 1122 3.3.1 (a host does not forward)',
    expected: 'dropped (no reply, no forwarding)',
    async run(t) {
      return dropped(t, { protocol: IPPROTO_ICMP, dst: parseIpv4('10.0.0.99')! });
    },
  },
  {
    name: 'broadcast source address',
    rule: 'RFC 1122 3.2.1.3 (MUST discard)',
    expected: 'dropped',
    async run(t) {
      return dropped(t, { protocol: IPPROTO_ICMP, src: 0xffffffff });
    },
  },
  {
    name: 'fragments in order',
    rule: 'RFC 791 3.2, RFC 1122 3.3.2 (MUST reassemble)',
    expected: 'echo reply with all 64 data bytes',
    async run(t) {
      const r = await fragmentedEcho(t, ['first', 'second']);
      const ok = r?.icmp?.kind === 'echo-reply' && r.icmp.data.length === 64;
      return verdict(ok, r ? `echo reply, ${r.icmp?.kind === 'echo-reply' ? r.icmp.data.length : 0} data bytes` : 'no reply');
    },
  },
  {
    name: 'fragments out of order',
    rule: 'RFC 791 3.2, RFC 1122 3.3.2',
    expected: 'echo reply',
    async run(t) {
      const r = await fragmentedEcho(t, ['second', 'first']);
      return verdict(r !== undefined, answered(r));
    },
  },
  {
    name: 'a lone first fragment',
    rule: 'RFC 791 3.2 (wait for the rest)',
    expected: 'no reply',
    async run(t) {
      const r = await fragmentedEcho(t, ['first']);
      return verdict(r === undefined, answered(r));
    },
  },
  {
    name: 'echo larger than the MTU',
    rule: 'RFC 1122 3.2.2.6 (same data back), RFC 791 2.3 (fragment to fit)',
    expected: 'the reply comes in fragments of at most 1500 bytes that reassemble to our 2000 data bytes',
    async run(t) {
      const id = t.port;
      const data = Uint8Array.from({ length: 2000 }, (_, i) => i & 0xff);
      const msg = encodeIcmp({ kind: 'echo-request', identifier: id, sequence: 1, data });
      const fromDut = t.wire.watch((s) => s.ip.protocol === IPPROTO_ICMP && s.ip.src === DUT_IP);
      t.wire.sendIp(t.wire.ip({ protocol: IPPROTO_ICMP, identification: id, moreFragments: true }, msg.subarray(0, 1480)));
      t.wire.sendIp(t.wire.ip({ protocol: IPPROTO_ICMP, identification: id, fragmentOffset: 1480 }, msg.subarray(1480)));
      const seen = await fromDut.collect(1000);
      fromDut.stop();
      // The first fragment names the reply (type 0, our identifier); the others share its IP identification.
      const payloadOf = (s: Seen): Uint8Array => s.datagram.subarray(s.ip.headerLength);
      const head = seen.find((s) => s.ip.fragmentOffset === 0 && s.ip.moreFragments && payloadOf(s)[0] === 0 && readU16(payloadOf(s), 4) === id);
      if (!head) return verdict(false, seen.some((s) => s.icmp?.kind === 'echo-reply' && s.icmp.identifier === id) ? 'one unfragmented reply' : 'no reply');
      const parts = seen.filter((s) => s.ip.identification === head.ip.identification).sort((a, b) => a.ip.fragmentOffset - b.ip.fragmentOffset);
      // Each fragment must start where the one before it ended.
      let end = 0;
      let contiguous = true;
      for (const part of parts) {
        if (part.ip.fragmentOffset !== end) contiguous = false;
        end += payloadOf(part).length;
      }
      const whole = Buffer.concat(parts.map(payloadOf));
      const last = parts[parts.length - 1]!;
      const fits = parts.every((s) => s.ip.totalLength <= 1500);
      const same = whole.length === msg.length && whole.subarray(8).every((b, i) => b === data[i]);
      return verdict(contiguous && !last.ip.moreFragments && fits && same, `${parts.length} fragments (${parts.map((s) => s.ip.totalLength).join(' + ')} bytes), data ${same ? 'intact' : 'differs'}`);
    },
  },
];
