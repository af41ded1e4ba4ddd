import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reassembler, type ReassemblyOptions } from '../../../src/stack/reassembly.js';
import { SeededRandom } from '../../../src/stack/random.js';
import { parseIpv4Packet, writeIpv4Header } from '../../../src/wire/ipv4.js';
import { fakeServices } from '../../support/hosts.js';

/** A fragment [start, end) of `data` as it would arrive: parsed header + data view. */
function fragment(data: Uint8Array, start: number, end: number, opts: { id?: number; last?: boolean; src?: number; content?: Uint8Array } = {}) {
  const body = opts.content ?? data.subarray(start, end);
  const buf = new Uint8Array(20 + body.length);
  writeIpv4Header(buf, 0, {
    totalLength: buf.length,
    identification: opts.id ?? 7,
    moreFragments: !(opts.last ?? end >= data.length),
    fragmentOffset: start,
    ttl: 64,
    protocol: 17,
    src: opts.src ?? 0x0a000002,
    dst: 0x0a000001,
  });
  buf.set(body, 20);
  const r = parseIpv4Packet(buf);
  if (!r.ok) throw new Error(r.error);
  return [r.value.header, r.value.headerBytes, r.value.payload] as const;
}

function setup(options: ReassemblyOptions = {}) {
  const env = fakeServices();
  const timeouts: { header: Uint8Array; data: Uint8Array }[] = [];
  const r = new Reassembler(env.services, options, (header, data) => timeouts.push({ header, data }));
  return { ...env, r, timeouts };
}

const payload = (n: number, seed = 1) => new SeededRandom(seed).bytes(n);

describe('IPv4 reassembly (RFC 791 / RFC 815)', () => {
  it('reassembles fragments that arrive in order', () => {
    const { r, counters } = setup();
    const data = payload(3000);
    expect(r.add(...fragment(data, 0, 1480))).toBeNull();
    expect(r.add(...fragment(data, 1480, 2960))).toBeNull();
    const whole = r.add(...fragment(data, 2960, 3000));
    expect(whole?.payload).toEqual(data);
    expect(whole?.header[7]).toBe(0); // the header of fragment 0 (offset 0)
    expect(counters.get('ipv4.reasm.ok')).toBe(1);
    expect(r.pending).toBe(0);
    expect(r.memory).toBe(0);
  });

  it('reassembles any arrival order (last fragment first, holes filled later)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 9, max: 3000 }), fc.integer({ min: 1, max: 60 }), fc.nat(), (size, unit, seed) => {
        const { r } = setup();
        const data = payload(size, seed);
        const step = unit * 8;
        const pieces: [number, number][] = [];
        for (let s = 0; s < size; s += step) pieces.push([s, Math.min(size, s + step)]);
        const order = new SeededRandom(seed).bytes(pieces.length);
        pieces.sort((a, b) => order[a[0] / step]! - order[b[0] / step]! || a[0] - b[0]);
        let whole = null;
        for (const [s, e] of pieces) {
          expect(whole).toBeNull();
          whole = r.add(...fragment(data, s, e));
        }
        expect(whole?.payload).toEqual(data);
      }),
      { numRuns: 100 },
    );
  });

  it('ignores exact duplicates', () => {
    const { r, counters } = setup();
    const data = payload(2000);
    r.add(...fragment(data, 0, 800));
    expect(r.add(...fragment(data, 0, 800))).toBeNull();
    expect(r.add(...fragment(data, 0, 400))).toBeNull(); // wholly inside what we have
    expect(counters.get('ipv4.reasm.duplicate')).toBe(2);
    expect(r.add(...fragment(data, 800, 2000))?.payload).toEqual(data);
  });

  it('accepts overlaps that agree (re-fragmented resend) and yields the right bytes', () => {
    const { r } = setup();
    const data = payload(3000);
    r.add(...fragment(data, 0, 1480));
    r.add(...fragment(data, 1000, 2000)); // overlaps the first by 480 identical bytes
    expect(r.add(...fragment(data, 1480, 3000))?.payload).toEqual(data);
  });

  it('discards the datagram when overlapping bytes disagree (no corrupted delivery)', () => {
    const { r, counters } = setup();
    const data = payload(3000);
    r.add(...fragment(data, 0, 1480));
    const evil = data.slice(1000, 2000);
    evil[100] ^= 0xff; // byte 1100: inside the first fragment
    expect(r.add(...fragment(data, 1000, 2000, { content: evil }))).toBeNull();
    expect(counters.get('ipv4.reasm.overlap_conflict')).toBe(1);
    expect(r.pending).toBe(0);
    // What arrives afterwards starts a new datagram and cannot complete the old one.
    expect(r.add(...fragment(data, 1480, 3000))).toBeNull();
    expect(counters.get('ipv4.reasm.ok')).toBe(0);
  });

  it('rejects datagrams that would exceed 65535 bytes (ping of death)', () => {
    const { r, counters } = setup();
    const data = payload(65_600);
    r.add(...fragment(data, 0, 1480));
    expect(r.add(...fragment(data, 65_512, 65_600))).toBeNull();
    expect(counters.get('ipv4.reasm.oversize')).toBe(1);
    expect(r.pending).toBe(0);
  });

  it('rejects non-final fragments that are not a multiple of 8 bytes, and conflicting ends', () => {
    const { r, counters } = setup();
    const data = payload(3000);
    expect(r.add(...fragment(data, 0, 1001, { last: false }))).toBeNull();
    expect(counters.get('ipv4.reasm.bad_fragment')).toBe(1);
    r.add(...fragment(data, 0, 1480));
    r.add(...fragment(data, 2960, 3000)); // ends at 3000
    expect(r.add(...fragment(data, 1480, 2400, { last: true }))).toBeNull(); // says it ends at 2400
    expect(counters.get('ipv4.reasm.inconsistent')).toBe(1);
    expect(r.pending).toBe(0);
  });

  it('keeps datagrams with different identification apart', () => {
    const { r } = setup();
    const a = payload(2000, 1);
    const b = payload(2000, 2);
    r.add(...fragment(a, 0, 1000, { id: 1 }));
    r.add(...fragment(b, 0, 1000, { id: 2 }));
    expect(r.add(...fragment(b, 1000, 2000, { id: 2 }))?.payload).toEqual(b);
    expect(r.add(...fragment(a, 1000, 2000, { id: 1 }))?.payload).toEqual(a);
  });

  it('gives up after 30 s on the clock, reporting fragment 0 for ICMP time exceeded', () => {
    const { r, clock, counters, timeouts } = setup();
    const data = payload(3000);
    r.add(...fragment(data, 0, 1480));
    clock.advance(29_999);
    expect(r.pending).toBe(1);
    clock.advance(1);
    expect(r.pending).toBe(0);
    expect(r.memory).toBe(0);
    expect(counters.get('ipv4.reasm.timeout')).toBe(1);
    expect(timeouts.length).toBe(1);
    expect(timeouts[0]!.data.subarray(0, 8)).toEqual(data.subarray(0, 8));
    // Without fragment 0 there is nothing to quote: no ICMP (RFC 1122 3.3.2).
    r.add(...fragment(data, 1480, 2960));
    clock.advance(30_000);
    expect(counters.get('ipv4.reasm.timeout')).toBe(2);
    expect(timeouts.length).toBe(1);
  });

  it('stays within its memory bound by evicting the oldest incomplete datagram', () => {
    const { r, counters } = setup({ maxBytes: 8 * 1024 });
    const data = payload(6000);
    for (let id = 1; id <= 10; id++) r.add(...fragment(data, 0, 1480, { id, src: 0x0a000002 }));
    expect(r.memory).toBeLessThanOrEqual(8 * 1024);
    expect(counters.get('ipv4.reasm.evicted')).toBeGreaterThanOrEqual(5);
    // The newest datagram is still there and completes.
    let whole = null;
    for (let s = 1480; s < 6000; s += 1480) whole = r.add(...fragment(data, s, Math.min(6000, s + 1480), { id: 10 }));
    expect(whole?.payload).toEqual(data);
    // A datagram larger than the whole budget cannot be held at all.
    const big = payload(20_000);
    for (let s = 0; s < 20_000; s += 1480) expect(r.add(...fragment(big, s, Math.min(20_000, s + 1480), { id: 99 }))).toBeNull();
    expect(counters.get('ipv4.reasm.memory_drop')).toBeGreaterThan(0);
    expect(r.memory).toBeLessThanOrEqual(8 * 1024);
  });

  it('bounds the number of datagrams held at once', () => {
    const { r, counters } = setup({ maxDatagrams: 4 });
    const data = payload(2000);
    for (let id = 1; id <= 6; id++) r.add(...fragment(data, 0, 1000, { id }));
    expect(r.pending).toBe(4);
    expect(counters.get('ipv4.reasm.evicted')).toBe(2);
  });
});
