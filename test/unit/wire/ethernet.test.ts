import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMac } from '../../../src/wire/address.js';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  encodeEthernet,
  isBroadcastMac,
  isMulticastMac,
  parseEthernet,
  writeEthernetHeader,
} from '../../../src/wire/ethernet.js';
import { checkParseIsLocal, mutate } from '../../support/fuzz.js';
import { linuxFrame, linuxFrameNames } from '../../support/linux-frames.js';

describe('Ethernet II codec', () => {
  it('parses a kernel ARP request (broadcast) and an echo request (unicast)', () => {
    const arp = parseEthernet(linuxFrame('arp-request'));
    expect(arp.ok).toBe(true);
    if (!arp.ok) return;
    expect(formatMac(arp.value.dst)).toBe('ff:ff:ff:ff:ff:ff');
    expect(formatMac(arp.value.src)).toBe('02:aa:00:00:00:01');
    expect(arp.value.etherType).toBe(ETHERTYPE_ARP);
    expect(arp.value.payload.length).toBe(28);
    expect(isBroadcastMac(arp.value.dst)).toBe(true);

    const echo = parseEthernet(linuxFrame('icmp-echo-request'));
    expect(echo.ok && echo.value.etherType).toBe(ETHERTYPE_IPV4);
    expect(echo.ok && formatMac(echo.value.dst)).toBe('02:aa:00:00:00:fe');
    expect(echo.ok && echo.value.payload.length).toBe(84);
  });

  it('parses the kernel IPv6 chatter to a 33:33 multicast address', () => {
    const r = parseEthernet(linuxFrame('ipv6'));
    expect(r.ok && r.value.etherType).toBe(ETHERTYPE_IPV6);
    expect(r.ok && isMulticastMac(r.value.dst)).toBe(true);
    expect(r.ok && isBroadcastMac(r.value.dst)).toBe(false);
  });

  it('re-encodes every golden frame header byte for byte', () => {
    for (const name of linuxFrameNames()) {
      const frame = linuxFrame(name);
      const r = parseEthernet(frame);
      expect(r.ok, name).toBe(true);
      if (!r.ok) continue;
      expect(encodeEthernet(r.value, r.value.payload), name).toEqual(frame);
    }
  });

  it('writes the header at an offset of a caller buffer', () => {
    const buf = new Uint8Array(20).fill(0xee);
    const n = writeEthernetHeader(buf, 3, {
      dst: new Uint8Array([1, 2, 3, 4, 5, 6]),
      src: new Uint8Array([7, 8, 9, 10, 11, 12]),
      etherType: 0x0806,
    });
    expect(n).toBe(14);
    expect(Array.from(buf)).toEqual([0xee, 0xee, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x06, 0xee, 0xee, 0xee]);
  });

  it('reports short frames and 802.3 length fields as errors', () => {
    expect(parseEthernet(new Uint8Array(13))).toEqual({ ok: false, error: 'truncated' });
    const llc = linuxFrame('arp-request');
    llc[12] = 0x00;
    llc[13] = 0x2e; // a length (46), not an EtherType
    expect(parseEthernet(llc)).toEqual({ ok: false, error: 'not_ethernet_ii' });
  });

  it('recognises an 802.1Q tag and reports the VLAN and the inner EtherType', () => {
    const plain = linuxFrame('arp-request');
    const tagged = new Uint8Array(plain.length + 4);
    tagged.set(plain.subarray(0, 12), 0);
    tagged.set([0x81, 0x00, 0x20, 0x2a], 12); // PCP 1, VLAN 42
    tagged.set(plain.subarray(12), 16);
    const r = parseEthernet(tagged);
    expect(r.ok && r.value.vlan).toBe(42);
    expect(r.ok && r.value.etherType).toBe(ETHERTYPE_ARP);
    expect(r.ok && r.value.payload.length).toBe(28);
    expect(parseEthernet(tagged.subarray(0, 17))).toEqual({ ok: false, error: 'truncated' });
  });

  it('never throws or reads past the buffer on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        checkParseIsLocal(parseEthernet, bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws or reads past the buffer on mutated golden frames', () => {
    const names = linuxFrameNames();
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
        fc.nat({ max: 60 }),
        (name, edits, cut) => {
          checkParseIsLocal(parseEthernet, mutate(linuxFrame(name), edits, cut));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
