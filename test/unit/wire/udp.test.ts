import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../src/wire/address.js';
import { encodeUdp, parseUdp } from '../../../src/wire/udp.js';

interface Fixture {
  datagrams: { src: string; dst: string; srcPort: number; dstPort: number; udp: string }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/dns/kernel-udp.json', import.meta.url), 'utf8'),
) as Fixture;

const ip = (s: string): number => parseIpv4(s)!;

describe('wire/udp against datagrams the Linux kernel sent', () => {
  for (const d of fixture.datagrams) {
    const bytes = Buffer.from(d.udp, 'hex');
    it(`parses and re-encodes ${d.srcPort} -> ${d.dstPort} byte for byte`, () => {
      const r = parseUdp(bytes, ip(d.src), ip(d.dst));
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.header).toMatchObject({ srcPort: d.srcPort, dstPort: d.dstPort, length: bytes.length });
      expect(Buffer.from(r.value.payload)).toEqual(bytes.subarray(8));
      const again = encodeUdp({ src: ip(d.src), dst: ip(d.dst), srcPort: d.srcPort, dstPort: d.dstPort, payload: r.value.payload });
      expect(Buffer.from(again).toString('hex')).toBe(d.udp);
    });
  }

  it('refuses a flipped payload bit as bad_checksum', () => {
    const d = fixture.datagrams[1]!;
    const bytes = Buffer.from(d.udp, 'hex');
    bytes[bytes.length - 1]! ^= 0x01;
    const r = parseUdp(bytes, ip(d.src), ip(d.dst));
    expect(r.ok ? 'ok' : r.error.kind).toBe('bad_checksum');
  });

  it('refuses the right bytes under the wrong pseudo-header (other destination)', () => {
    const d = fixture.datagrams[0]!;
    const r = parseUdp(Buffer.from(d.udp, 'hex'), ip(d.src), ip('10.0.0.3'));
    expect(r.ok ? 'ok' : r.error.kind).toBe('bad_checksum');
  });

  it('accepts a zero checksum as "none" (RFC 768)', () => {
    const d = fixture.datagrams[1]!;
    const bytes = Buffer.from(d.udp, 'hex');
    bytes[6] = 0;
    bytes[7] = 0;
    bytes[8]! ^= 0xff; // would fail any checksum
    expect(parseUdp(bytes, ip(d.src), ip(d.dst)).ok).toBe(true);
  });
});

describe('wire/udp length checks', () => {
  const src = ip('192.0.2.1');
  const dst = ip('192.0.2.2');
  const good = encodeUdp({ src, dst, srcPort: 1000, dstPort: 2000, payload: new Uint8Array([1, 2, 3]) });

  it('shorter than a header is truncated', () => {
    const r = parseUdp(good.subarray(0, 7), src, dst);
    expect(r.ok ? 'ok' : r.error.kind).toBe('truncated');
  });

  it('a length field promising more than IP delivered is bad_length', () => {
    const r = parseUdp(good.subarray(0, 10), src, dst);
    expect(r.ok ? 'ok' : r.error.kind).toBe('bad_length');
  });

  it('a length field below 8 is bad_length', () => {
    const b = good.slice();
    b[4] = 0;
    b[5] = 4;
    const r = parseUdp(b, src, dst);
    expect(r.ok ? 'ok' : r.error.kind).toBe('bad_length');
  });

  it('sends a computed zero checksum as 0xffff', () => {
    // Find a payload whose checksum computes to zero: adjust the last word until it does.
    const payload = new Uint8Array(2);
    const base = encodeUdp({ src, dst, srcPort: 1, dstPort: 2, payload });
    const cs = (base[6]! << 8) | base[7]!;
    // Adding `cs` to the sum makes the complemented result 0 (ones' complement arithmetic).
    payload[0] = cs >>> 8;
    payload[1] = cs & 0xff;
    const out = encodeUdp({ src, dst, srcPort: 1, dstPort: 2, payload });
    expect((out[6]! << 8) | out[7]!).toBe(0xffff);
    expect(parseUdp(out, src, dst).ok).toBe(true);
  });

  it('round-trips any ports and payload, and never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (sp, dp, payload, a) => {
          const out = encodeUdp({ src: a, dst, srcPort: sp, dstPort: dp, payload });
          const r = parseUdp(out, a, dst);
          expect(r.ok).toBe(true);
          if (r.ok) expect(Buffer.from(r.value.payload)).toEqual(Buffer.from(payload));
        },
      ),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        parseUdp(bytes, src, dst);
      }),
    );
  });
});

describe('wire/udp checksum verification', () => {
  it('refuses a datagram whose checksum does not verify, unless told not to verify it', () => {
    const src = ip('10.0.0.1');
    const dst = ip('10.0.0.2');
    const bytes = encodeUdp({ src, dst, srcPort: 1000, dstPort: 53, payload: new Uint8Array([7, 7]) });
    bytes[7] ^= 0x01;
    const strict = parseUdp(bytes, src, dst);
    expect(strict.ok).toBe(false);
    if (!strict.ok) expect(strict.error.kind).toBe('bad_checksum');
    const lenient = parseUdp(bytes, src, dst, { verifyChecksum: false });
    expect(lenient.ok).toBe(true);
    if (lenient.ok) expect([...lenient.value.payload]).toEqual([7, 7]);
  });
});
