import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../../src/wire/address.js';
import { internetChecksum } from '../../../src/wire/checksum.js';
import {
  isFragment,
  parseIpv4HeaderOnly,
  parseIpv4Packet,
  reservedFlagSet,
  writeIpv4Header,
  type Ipv4Header,
} from '../../../src/wire/ipv4.js';
import { checkParseIsLocal, mutate } from '../../support/fuzz.js';
import { linuxFrame, linuxFrameNames } from '../../support/linux-frames.js';

const datagram = (name: string) => linuxFrame(name).subarray(14);
const ipNames = () => linuxFrameNames().filter((n) => n.startsWith('icmp') || n.startsWith('frag') || n === 'udp');

function parsed(name: string) {
  const r = parseIpv4Packet(datagram(name));
  if (!r.ok) throw new Error(`${name}: ${r.error}`);
  return r.value;
}

describe('IPv4 codec (RFC 791)', () => {
  it('parses the header of a kernel echo request', () => {
    const { header: h, payload, headerBytes } = parsed('icmp-echo-request');
    expect(h).toMatchObject({
      headerLength: 20,
      dscp: 0,
      ecn: 0,
      totalLength: 84,
      identification: 0xebcb,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 1,
      checksum: 0x39dd,
    });
    expect(formatIpv4(h.src)).toBe('10.1.0.1');
    expect(formatIpv4(h.dst)).toBe('10.1.0.254');
    expect(headerBytes.length).toBe(20);
    expect(payload.length).toBe(64);
    expect(h.options.length).toBe(0);
    expect(isFragment(h)).toBe(false);
  });

  it('reads the fragment fields of ping -s 3000', () => {
    const f0 = parsed('frag-echo-request-0').header;
    const f1 = parsed('frag-echo-request-1480').header;
    const f2 = parsed('frag-echo-request-2960').header;
    expect([f0.moreFragments, f0.fragmentOffset, f0.totalLength]).toEqual([true, 0, 1500]);
    expect([f1.moreFragments, f1.fragmentOffset, f1.totalLength]).toEqual([true, 1480, 1500]);
    expect([f2.moreFragments, f2.fragmentOffset, f2.totalLength]).toEqual([false, 2960, 68]);
    expect(new Set([f0.identification, f1.identification, f2.identification]).size).toBe(1);
    expect([f0, f1, f2].every(isFragment)).toBe(true);
    // 1480 + 1480 + 48 = 3008 = ICMP header + 3000 bytes
    expect(f2.fragmentOffset + f2.totalLength - 20).toBe(3008);
  });

  it('skips options by IHL (ping -R: record route) and hands them over as a view', () => {
    const { header: h, payload } = parsed('icmp-echo-request-options');
    expect(h.headerLength).toBe(60);
    expect(h.options.length).toBe(40);
    expect(h.options[0]).toBe(1); // NOP, then option 7 (record route)
    expect(h.options[1]).toBe(7);
    expect(payload[0]).toBe(8); // the ICMP echo request starts right after the options
    expect(parsed('icmp-echo-reply-options').payload[0]).toBe(0);
  });

  it('re-encodes option-less kernel headers byte for byte, checksum included', () => {
    for (const name of ipNames().filter((n) => !n.includes('options'))) {
      const { header: h, headerBytes } = parsed(name);
      const out = new Uint8Array(24);
      expect(writeIpv4Header(out, 2, h)).toBe(20);
      expect(out.subarray(2, 22), name).toEqual(headerBytes);
    }
  });

  it('cuts Ethernet padding off by total length', () => {
    const padded = new Uint8Array(datagram('udp').length + 12);
    padded.set(datagram('udp'));
    const r = parseIpv4Packet(padded);
    expect(r.ok && r.value.payload.length).toBe(13); // UDP header + "hello"
  });

  it('reports each kind of malformed header', () => {
    const bad = (edit: (b: Uint8Array) => Uint8Array) => {
      const r = parseIpv4Packet(edit(datagram('icmp-echo-request').slice()));
      return r.ok ? 'ok' : r.error;
    };
    expect(bad((b) => b.subarray(0, 19))).toBe('truncated');
    expect(bad((b) => ((b[0] = 0x65), b))).toBe('bad_version');
    expect(bad((b) => ((b[0] = 0x44), b))).toBe('bad_header_length');
    expect(bad((b) => ((b[0] = 0x4f), b.subarray(0, 40)))).toBe('truncated');
    expect(bad((b) => ((b[3] = 85), b))).toBe('bad_total_length');
    expect(bad((b) => ((b[3] = 19), b))).toBe('bad_total_length');
    expect(bad((b) => ((b[10] ^= 0x01), b))).toBe('bad_checksum');
    expect(bad((b) => ((b[8] = 63), b))).toBe('bad_checksum'); // TTL changed, checksum not
    expect(bad((b) => b)).toBe('ok');
    const r = parseIpv4Packet(((b) => ((b[10] ^= 1), b))(datagram('icmp-echo-request').slice()), { verifyChecksum: false });
    expect(r.ok).toBe(true);
  });

  it('parses a quoted header without the total-length check (what ICMP errors carry)', () => {
    const quoted = datagram('icmp-echo-request').subarray(0, 28); // header + 8 bytes
    expect(parseIpv4Packet(quoted).ok).toBe(false);
    const r = parseIpv4HeaderOnly(quoted);
    expect(r.ok && r.value.payload.length).toBe(8);
    expect(r.ok && r.value.header.totalLength).toBe(84);
  });

  it('round-trips arbitrary headers', () => {
    fc.assert(
      fc.property(
        fc.record({
          dscp: fc.integer({ min: 0, max: 63 }),
          ecn: fc.integer({ min: 0, max: 3 }),
          identification: fc.integer({ min: 0, max: 0xffff }),
          dontFragment: fc.boolean(),
          moreFragments: fc.boolean(),
          fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((n) => n * 8),
          ttl: fc.integer({ min: 0, max: 255 }),
          protocol: fc.integer({ min: 0, max: 255 }),
          src: fc.nat({ max: 0xffffffff }),
          dst: fc.nat({ max: 0xffffffff }),
        }),
        fc.integer({ min: 0, max: 100 }),
        (fields, dataLen) => {
          const buf = new Uint8Array(20 + dataLen);
          writeIpv4Header(buf, 0, { ...fields, totalLength: 20 + dataLen });
          expect(internetChecksum(buf.subarray(0, 20))).toBe(0);
          const r = parseIpv4Packet(buf);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          const { options, checksum, headerLength, ...rest } = r.value.header as Ipv4Header;
          expect(rest).toEqual({ ...fields, totalLength: 20 + dataLen });
          expect([options.length, headerLength, reservedFlagSet(buf)]).toEqual([0, 20, false]);
          expect(checksum).toBe((buf[10]! << 8) | buf[11]!);
        },
      ),
    );
  });

  it('never throws or reads past the buffer on arbitrary or mutated bytes', () => {
    const parseBoth = (b: Uint8Array) => [parseIpv4Packet(b), parseIpv4HeaderOnly(b)];
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => checkParseIsLocal(parseBoth, b)), { numRuns: 2000 });
    // Mostly-valid headers: version 4 with a random IHL, so deeper checks are reached.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.integer({ min: 0, max: 15 }), (b, ihl) => {
        b[0] = 0x40 | ihl;
        checkParseIsLocal(parseBoth, b);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...ipNames()),
        fc.array(fc.record({ at: fc.nat({ max: 59 }), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
        fc.nat({ max: 100 }),
        (name, edits, cut) => checkParseIsLocal(parseBoth, mutate(datagram(name), edits, cut)),
      ),
      { numRuns: 2000 },
    );
  });
});
