import { BROADCAST_MAC, formatMac, macEquals, parseIpv4, parseMac } from '../../../src/wire/address.js';
import { ARP_REPLY, ARP_REQUEST, encodeArp } from '../../../src/wire/arp.js';
import { encodeEthernet, ETHERTYPE_ARP } from '../../../src/wire/ethernet.js';
import { IPPROTO_ICMP } from '../../../src/wire/ipv4.js';
import { encodeIcmp } from '../../../src/wire/icmp.js';
import { DUT_IP, PROBER } from '../bench.js';
import { verdict, type Probe, type ProbeContext } from '../probe.js';
import { bytes } from './util.js';

/** ARP (RFC 826), as a neighbour on the link sees the dut. */

/** A neighbour of our own making, so the dut has learned nothing about it yet. */
const neighbour = (t: ProbeContext) => ({
  ip: parseIpv4(`10.0.0.${100 + (t.port / 10) % 100}`)!,
  mac: parseMac(`02:00:00:00:01:${((t.port / 10) % 100).toString(16).padStart(2, '0')}`)!,
});

/** "Who has `target`? Tell `from`", broadcast. */
function request(from: { ip: number; mac: Uint8Array }, target: number): Uint8Array {
  const arp = encodeArp({ operation: ARP_REQUEST, senderMac: from.mac, senderIp: from.ip, targetMac: new Uint8Array(6), targetIp: target });
  return encodeEthernet({ dst: BROADCAST_MAC, src: from.mac, etherType: ETHERTYPE_ARP }, arp);
}

export const arpProbes: Probe[] = [
  {
    name: 'ARP request for our address',
    rule: 'RFC 826 (packet reception)',
    expected: 'a reply: our IP at our MAC, to the asker',
    async run(t) {
      const replies = t.wire.watchArp((a) => a.operation === ARP_REPLY && a.targetIp === PROBER.ip);
      await t.wire.sendFrame(request(PROBER, DUT_IP));
      const r = await replies.next(1000);
      const ok = r !== undefined && r.senderIp === DUT_IP && macEquals(r.senderMac, t.dut.mac) && macEquals(r.targetMac, PROBER.mac);
      return verdict(ok, r ? `reply: 10.0.0.1 is at ${formatMac(r.senderMac)}` : 'no reply');
    },
  },
  {
    name: 'ARP request for another address',
    rule: 'RFC 826 (not the target: no reply)',
    expected: 'no reply',
    async run(t) {
      const other = parseIpv4('10.0.0.77')!;
      const replies = t.wire.watchArp((a) => a.operation === ARP_REPLY && a.senderIp === other);
      await t.wire.sendFrame(request(PROBER, other));
      const r = await replies.next(800);
      return verdict(r === undefined, r ? 'replied' : 'no reply');
    },
  },
  {
    name: 'ARP: the asker is learned',
    rule: 'RFC 826 (target of a request: add the sender)',
    expected: 'an echo from the asker is answered straight to its MAC, without an ARP request',
    async run(t) {
      const n = neighbour(t);
      const asks = t.wire.watchArp((a) => a.operation === ARP_REQUEST && a.targetIp === n.ip);
      const replies = t.wire.watch((s) => s.icmp?.kind === 'echo-reply' && s.icmp.identifier === t.port && s.ip.dst === n.ip);
      await t.wire.sendFrame(request(n, DUT_IP));
      const msg = encodeIcmp({ kind: 'echo-request', identifier: t.port, sequence: 1, data: bytes(16) });
      await t.wire.sendIp(t.wire.ip({ protocol: IPPROTO_ICMP, src: n.ip }, msg), n.mac);
      const r = await replies.next(1000);
      const asked = await asks.next(10);
      return verdict(r !== undefined && asked === undefined, `${r ? 'echo reply' : 'no echo reply'}${asked ? ', after an ARP request' : ''}`);
    },
  },
];
