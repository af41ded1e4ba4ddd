import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePcapHeader, encodePcapRecord, readPcap } from '../../../src/wire/pcap.js';
import { readCapture } from '../../../src/wire/pcapng.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/trace/${name}`, import.meta.url)));

describe('pcap reader on files written by tcpdump', () => {
  it('reads microsecond timestamps and the Ethernet frames of a ping', () => {
    const r = readPcap(fixture('ping-us.pcap'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { packets, truncated } = r.value;
    expect(truncated).toBe(false);
    expect(packets).toHaveLength(6);
    // tshark -T fields -e frame.time_epoch: 1795261345.609092000
    expect(packets[0]!.timestampNs).toBe(1795261345_609092000n);
    expect(packets[5]!.timestampNs).toBe(1795261346_017133000n);
    for (const p of packets) {
      expect(p.linktype).toBe(1);
      expect(p.data.length).toBe(98);
      expect(p.originalLength).toBe(98);
      expect([p.data[12], p.data[13]]).toEqual([0x08, 0x00]); // EtherType IPv4
    }
    // eth.src of the first request is 2a:ad:5e:36:5b:7b, IPv4 source 10.99.0.1
    expect(Array.from(packets[0]!.data.subarray(6, 12))).toEqual([0x2a, 0xad, 0x5e, 0x36, 0x5b, 0x7b]);
    expect(Array.from(packets[0]!.data.subarray(26, 30))).toEqual([10, 99, 0, 1]);
  });

  it('reads nanosecond timestamps (magic a1b23c4d)', () => {
    const r = readCapture(fixture('ping-ns.pcap'));
    expect(r.ok && r.value.format).toBe('pcap');
    if (!r.ok) return;
    expect(r.value.packets.map((p) => p.timestampNs)).toEqual([1795261347_638806414n, 1795261347_638829845n]);
  });

  it('returns what it has and truncated=true when the file is cut inside a record', () => {
    const bytes = fixture('ping-us.pcap');
    const r = readPcap(bytes.subarray(0, bytes.length - 10));
    expect(r.ok && r.value.truncated).toBe(true);
    expect(r.ok && r.value.packets.length).toBe(5);
  });
});

describe('pcap writer', () => {
  it('writes the 24-byte header and 16-byte records in the documented layout', () => {
    const header = encodePcapHeader({ snaplen: 65535 });
    expect(Array.from(header)).toEqual([
      0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ]);
    const record = encodePcapRecord({ timestampNs: 1_000_000_002_500_000n, data: Uint8Array.of(0xde, 0xad, 0xbe) });
    // ts_sec 1000000 (0x000f4240), ts_usec 2500, incl_len 3, orig_len 3
    expect(Array.from(record)).toEqual([0x40, 0x42, 0x0f, 0, 0xc4, 0x09, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0xde, 0xad, 0xbe]);
  });

  it('round-trips records, cutting frames to the snaplen', () => {
    const frames = [new Uint8Array(60).fill(1), new Uint8Array(1514).fill(2)];
    const file = Buffer.concat([
      encodePcapHeader({ snaplen: 100, resolution: 'ns' }),
      ...frames.map((data, i) => encodePcapRecord({ timestampNs: 5_000_000_123n + BigInt(i), data, snaplen: 100, resolution: 'ns' })),
    ]);
    const r = readPcap(file);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.packets.map((p) => [p.timestampNs, p.data.length, p.originalLength])).toEqual([
      [5_000_000_123n, 60, 60],
      [5_000_000_124n, 100, 1514],
    ]);
  });

  it('reports a typed error for something that is not a capture', () => {
    const r = readCapture(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(r).toMatchObject({ ok: false, error: { kind: 'bad_magic', offset: 0 } });
    expect(readPcap(new Uint8Array(3))).toMatchObject({ ok: false, error: { kind: 'too_short' } });
  });

  it('never throws on arbitrary or mutated input, and packets stay inside the buffer', () => {
    const valid = fixture('ping-us.pcap');
    const check = (bytes: Uint8Array) => {
      const r = readCapture(bytes);
      if (r.ok) for (const p of r.value.packets) expect(p.data.buffer).toBe(bytes.buffer);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(Uint8Array.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, ...b]))), { numRuns: 500 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(valid.length), (edits, cut) => {
        const b = valid.slice(0, cut);
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        check(b);
      }),
      { numRuns: 500 },
    );
  });
});
