import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../../src/wire/address.js';
import {
  ICMP_DEST_UNREACHABLE,
  TIME_EXCEEDED_TTL,
  UNREACH_PORT,
  encodeIcmp,
  icmpLength,
  isIcmpErrorType,
  parseIcmp,
  writeIcmp,
  type IcmpMessage,
} from '../../../src/wire/icmp.js';
import { parseIpv4HeaderOnly, parseIpv4Packet } from '../../../src/wire/ipv4.js';
import { checkParseIsLocal, mutate } from '../../support/fuzz.js';
import { linuxFrame } from '../../support/linux-frames.js';

/** The ICMP message inside a golden frame. */
function icmpOf(name: string): Uint8Array {
  const r = parseIpv4Packet(linuxFrame(name).subarray(14));
  if (!r.ok) throw new Error(r.error);
  return r.value.payload;
}

function parsed(name: string): IcmpMessage {
  const r = parseIcmp(icmpOf(name));
  if (!r.ok) throw new Error(`${name}: ${r.error}`);
  return r.value;
}

describe('ICMP codec (RFC 792)', () => {
  it('parses the kernel echo request and reply (ping -p 42)', () => {
    const req = parsed('icmp-echo-request');
    expect(req.kind).toBe('echo-request');
    if (req.kind !== 'echo-request') return;
    expect([req.identifier, req.sequence, req.data.length]).toEqual([0x3d11, 1, 56]);
    expect(Array.from(req.data.subarray(16))).toEqual(new Array(40).fill(0x42)); // after iputils' timestamp
    const rep = parsed('icmp-echo-reply');
    expect(rep.kind === 'echo-reply' && [rep.identifier, rep.sequence]).toEqual([0x3d11, 1]);
  });

  it('re-encodes echo messages byte for byte, checksum included', () => {
    for (const name of ['icmp-echo-request', 'icmp-echo-reply', 'icmp-echo-request-ttl1', 'icmp-echo-request-options']) {
      const m = parsed(name);
      expect(encodeIcmp(m), name).toEqual(icmpOf(name));
      const buf = new Uint8Array(icmpLength(m) + 4);
      expect(writeIcmp(buf, 4, m)).toBe(icmpLength(m));
      expect(buf.subarray(4)).toEqual(icmpOf(name));
    }
  });

  it('parses time exceeded from a router, quoting our echo request with TTL 1', () => {
    const m = parsed('icmp-time-exceeded');
    expect(m.kind).toBe('time-exceeded');
    if (m.kind !== 'time-exceeded') return;
    expect(m.code).toBe(TIME_EXCEEDED_TTL);
    const inner = parseIpv4HeaderOnly(m.quoted);
    expect(inner.ok).toBe(true);
    if (!inner.ok) return;
    expect(formatIpv4(inner.value.header.src)).toBe('10.1.0.1');
    expect(formatIpv4(inner.value.header.dst)).toBe('10.2.0.1');
    expect(inner.value.header.ttl).toBe(1);
    expect(inner.value.payload[0]).toBe(8); // the echo request itself
    expect(encodeIcmp(m)).toEqual(icmpOf('icmp-time-exceeded'));
  });

  it('parses port unreachable, quoting the whole UDP datagram', () => {
    const m = parsed('icmp-port-unreachable');
    expect(m.kind === 'dest-unreachable' && m.code).toBe(UNREACH_PORT);
    if (m.kind !== 'dest-unreachable') return;
    const inner = parseIpv4HeaderOnly(m.quoted);
    expect(inner.ok && inner.value.header.protocol).toBe(17);
    expect(inner.ok && Buffer.from(inner.value.payload.subarray(8)).toString()).toBe('hello');
    expect(encodeIcmp(m)).toEqual(icmpOf('icmp-port-unreachable'));
  });

  it('carries the next-hop MTU of "fragmentation needed" (RFC 1191)', () => {
    const bytes = encodeIcmp({ kind: 'dest-unreachable', code: 4, nextHopMtu: 1400, quoted: new Uint8Array(28) });
    const r = parseIcmp(bytes);
    expect(r.ok && r.value.kind === 'dest-unreachable' && r.value.nextHopMtu).toBe(1400);
  });

  it('keeps unknown types as "other" and knows which types are errors', () => {
    const bytes = encodeIcmp({ kind: 'other', type: 13, code: 0, rest: new Uint8Array([0, 1, 0, 2]), data: new Uint8Array(12) });
    const r = parseIcmp(bytes);
    expect(r.ok && r.value.kind).toBe('other');
    expect(r.ok && r.value.kind === 'other' && r.value.type).toBe(13);
    expect([0, 3, 4, 5, 8, 11, 12, 13].map(isIcmpErrorType)).toEqual([false, true, true, true, false, true, true, false]);
    expect(ICMP_DEST_UNREACHABLE).toBe(3);
  });

  it('rejects bad checksums and short messages', () => {
    const m = icmpOf('icmp-echo-request').slice();
    m[20] ^= 0xff;
    expect(parseIcmp(m)).toEqual({ ok: false, error: 'bad_checksum' });
    expect(parseIcmp(m, { verifyChecksum: false }).ok).toBe(true);
    expect(parseIcmp(new Uint8Array(7))).toEqual({ ok: false, error: 'truncated' });
  });

  it('round-trips arbitrary echo messages', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('echo-request' as const, 'echo-reply' as const),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 200 }),
        (kind, identifier, sequence, data) => {
          const r = parseIcmp(encodeIcmp({ kind, identifier, sequence, data }));
          expect(r.ok).toBe(true);
          if (r.ok && r.value.kind === kind) {
            expect([r.value.identifier, r.value.sequence, Array.from(r.value.data)]).toEqual([identifier, sequence, Array.from(data)]);
          }
        },
      ),
    );
  });

  it('never throws or reads past the buffer on arbitrary or mutated bytes', () => {
    const both = (b: Uint8Array) => [parseIcmp(b), parseIcmp(b, { verifyChecksum: false })];
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => checkParseIsLocal(both, b)), { numRuns: 2000 });
    fc.assert(
      fc.property(
        fc.constantFrom('icmp-echo-request', 'icmp-time-exceeded', 'icmp-port-unreachable'),
        fc.array(fc.record({ at: fc.nat({ max: 30 }), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
        fc.nat({ max: 60 }),
        (name, edits, cut) => checkParseIsLocal(both, mutate(icmpOf(name), edits, cut)),
      ),
      { numRuns: 1000 },
    );
  });
});
