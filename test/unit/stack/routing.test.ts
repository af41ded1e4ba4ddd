import { describe, expect, it } from 'vitest';
import { formatIpv4, parseIpv4 } from '../../../src/wire/address.js';
import { parseArp } from '../../../src/wire/arp.js';
import { parseEthernet } from '../../../src/wire/ethernet.js';
import { parseIpv4Packet } from '../../../src/wire/ipv4.js';
import { createTestLan } from '../../support/hosts.js';

function describeFrame(frame: Uint8Array): string {
  const eth = parseEthernet(frame);
  if (!eth.ok) return 'bad';
  if (eth.value.etherType === 0x0806) {
    const arp = parseArp(eth.value.payload);
    return arp.ok ? `arp ${arp.value.operation === 1 ? 'who-has' : 'is-at'} ${formatIpv4(arp.value.targetIp)}` : 'bad arp';
  }
  const ip = parseIpv4Packet(eth.value.payload);
  return ip.ok ? `ip ${formatIpv4(ip.value.header.dst)} len ${ip.value.header.totalLength}${ip.value.header.moreFragments ? ' MF' : ''}` : 'bad ip';
}

describe('IPv4 output: routing and fragmentation', () => {
  it('sends off-link destinations to the gateway MAC, with the final destination in the header', async () => {
    const lan = createTestLan();
    const a = lan.host(1, { gateway: '10.0.0.254', announce: false });
    const gw = lan.host(254, { announce: false });
    const wire = lan.tap();
    expect(a.ip.send({ dst: parseIpv4('192.0.2.7')!, protocol: 253, payload: new Uint8Array(10) })).toBe(true);
    await lan.clock.advanceAsync(10);
    expect(wire.received.map(describeFrame)).toEqual(['arp who-has 10.0.0.254', 'arp is-at 10.0.0.1', 'ip 192.0.2.7 len 30']);
    const last = parseEthernet(wire.received[2]!);
    expect(last.ok && Array.from(last.value.dst)).toEqual(Array.from(gw.mac));
  });

  it('refuses what it cannot route or may not fragment, with counters', () => {
    const lan = createTestLan();
    const a = lan.host(1, { announce: false });
    expect(a.ip.send({ dst: parseIpv4('192.0.2.7')!, protocol: 253, payload: new Uint8Array(10) })).toBe(false);
    expect(a.counters.get('ipv4.tx.no_route')).toBe(1);
    expect(a.ip.send({ dst: parseIpv4('10.0.0.2')!, protocol: 253, payload: new Uint8Array(1481), dontFragment: true })).toBe(false);
    expect(a.counters.get('ipv4.tx.dont_fragment')).toBe(1);
    expect(a.ip.send({ dst: parseIpv4('10.0.0.2')!, protocol: 253, payload: new Uint8Array(1480), dontFragment: true })).toBe(true);
    expect(a.ip.send({ dst: parseIpv4('10.0.0.2')!, protocol: 253, payload: new Uint8Array(65_516) })).toBe(false);
    expect(a.counters.get('ipv4.tx.too_big')).toBe(1);
  });

  it('sends broadcasts without ARP and fragments to the link MTU in multiples of 8', async () => {
    const lan = createTestLan({ mtu: 576 });
    const a = lan.host(1, { announce: false });
    const wire = lan.tap();
    const parts = [new Uint8Array(500).fill(1), new Uint8Array(700).fill(2)];
    expect(a.ip.send({ dst: parseIpv4('10.0.0.255')!, protocol: 253, payload: parts })).toBe(true);
    await lan.clock.advanceAsync(10);
    expect(wire.received.map(describeFrame)).toEqual(['ip 10.0.0.255 len 572 MF', 'ip 10.0.0.255 len 572 MF', 'ip 10.0.0.255 len 116']);
    // The fragments carry the two parts in order: 552 + 552 + 96 bytes.
    const data = wire.received.map((f) => {
      const ip = parseIpv4Packet(f.subarray(14));
      return ip.ok ? Array.from(ip.value.payload) : [];
    });
    expect(data.flat()).toEqual([...new Array(500).fill(1), ...new Array(700).fill(2)]);
  });
});
