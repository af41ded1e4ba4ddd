import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatMac } from '../../../src/wire/address.js';
import { ARP_REPLY, ARP_REQUEST, encodeArp, parseArp, writeArp } from '../../../src/wire/arp.js';
import { checkParseIsLocal, mutate } from '../../support/fuzz.js';
import { linuxFrame } from '../../support/linux-frames.js';

const payload = (name: string) => linuxFrame(name).subarray(14);

describe('ARP codec (RFC 826, Ethernet/IPv4)', () => {
  it('parses the kernel request and reply', () => {
    const req = parseArp(payload('arp-request'));
    expect(req.ok).toBe(true);
    if (!req.ok) return;
    expect(req.value.operation).toBe(ARP_REQUEST);
    expect(formatMac(req.value.senderMac)).toBe('02:aa:00:00:00:01');
    expect(formatIpv4(req.value.senderIp)).toBe('10.1.0.1');
    expect(formatMac(req.value.targetMac)).toBe('00:00:00:00:00:00');
    expect(formatIpv4(req.value.targetIp)).toBe('10.1.0.254');

    const rep = parseArp(payload('arp-reply'));
    expect(rep.ok && rep.value.operation).toBe(ARP_REPLY);
    expect(rep.ok && formatMac(rep.value.senderMac)).toBe('02:aa:00:00:00:fe');
    expect(rep.ok && formatIpv4(rep.value.targetIp)).toBe('10.1.0.1');
  });

  it('parses a gratuitous ARP from arping -U (sender = target, Ethernet padding ignored)', () => {
    const p = payload('arp-gratuitous');
    expect(p.length).toBeGreaterThan(28); // padded to the 60-byte minimum frame
    const r = parseArp(p);
    expect(r.ok && r.value.senderIp === r.value.targetIp).toBe(true);
    expect(r.ok && formatIpv4(r.value.targetIp)).toBe('10.1.0.1');
  });

  it('re-encodes the kernel packets byte for byte', () => {
    for (const name of ['arp-request', 'arp-reply', 'arp-gratuitous']) {
      const p = payload(name);
      const r = parseArp(p);
      if (!r.ok) throw new Error(r.error);
      expect(encodeArp(r.value), name).toEqual(p.subarray(0, 28));
      const buf = new Uint8Array(40);
      expect(writeArp(buf, 5, r.value)).toBe(28);
      expect(buf.subarray(5, 33)).toEqual(p.subarray(0, 28));
    }
  });

  it('rejects other hardware, protocols and operations, and short packets', () => {
    const hw = payload('arp-request').slice();
    hw[1] = 6; // IEEE 802
    expect(parseArp(hw)).toEqual({ ok: false, error: 'unsupported_hardware' });
    const hlen = payload('arp-request').slice();
    hlen[4] = 8;
    expect(parseArp(hlen)).toEqual({ ok: false, error: 'unsupported_hardware' });
    const proto = payload('arp-request').slice();
    proto[2] = 0x86;
    proto[3] = 0xdd;
    expect(parseArp(proto)).toEqual({ ok: false, error: 'unsupported_protocol' });
    const op = payload('arp-request').slice();
    op[7] = 3; // RARP request
    expect(parseArp(op)).toEqual({ ok: false, error: 'bad_operation' });
    expect(parseArp(payload('arp-request').subarray(0, 27))).toEqual({ ok: false, error: 'truncated' });
  });

  it('round-trips arbitrary packets', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(ARP_REQUEST, ARP_REPLY),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        fc.nat({ max: 0xffffffff }),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        fc.nat({ max: 0xffffffff }),
        (operation, senderMac, senderIp, targetMac, targetIp) => {
          const packet = { operation, senderMac, senderIp, targetMac, targetIp };
          const r = parseArp(encodeArp(packet));
          expect(r.ok).toBe(true);
          if (r.ok) expect({ ...r.value, senderMac: [...r.value.senderMac], targetMac: [...r.value.targetMac] }).toEqual({ ...packet, senderMac: [...senderMac], targetMac: [...targetMac] });
        },
      ),
    );
  });

  it('never throws or reads past the buffer on arbitrary or mutated bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => checkParseIsLocal(parseArp, b)), { numRuns: 2000 });
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
        fc.nat({ max: 30 }),
        (edits, cut) => checkParseIsLocal(parseArp, mutate(payload('arp-request'), edits, cut)),
      ),
      { numRuns: 1000 },
    );
  });
});
