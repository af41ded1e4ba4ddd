import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcap } from '../../../src/wire/pcap.js';
import {
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodePcapng,
  encodeSectionHeader,
  readCapture,
  readPcapng,
} from '../../../src/wire/pcapng.js';
import { itWith } from '../../support/tools.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/trace/${name}`, import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'tapstack-pcapng-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tshark(args: string[]): string {
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('pcapng writer', () => {
  it('encodes an Enhanced Packet Block with comment, direction flags and 32-bit padding', () => {
    const block = encodeEnhancedPacket({
      timestampNs: 1_234_567_000n, // 1234567 microseconds
      data: Uint8Array.of(1, 2, 3, 4, 5),
      comment: 'hi',
      direction: 'outbound',
    });
    // prettier-ignore
    expect(Array.from(block)).toEqual([
      0x06, 0, 0, 0, 60, 0, 0, 0, // type EPB, total length 60
      0, 0, 0, 0, // interface 0
      0, 0, 0, 0, 0x87, 0xd6, 0x12, 0, // timestamp high, low (0x0012d687)
      5, 0, 0, 0, 5, 0, 0, 0, // captured, original length
      1, 2, 3, 4, 5, 0, 0, 0, // data padded to 8
      1, 0, 2, 0, 0x68, 0x69, 0, 0, // opt_comment "hi", padded
      2, 0, 4, 0, 2, 0, 0, 0, // epb_flags: outbound
      0, 0, 0, 0, // opt_endofopt
      60, 0, 0, 0, // total length again
    ]);
  });

  it('encodes the section header and an interface with if_tsresol', () => {
    const shb = encodeSectionHeader();
    // prettier-ignore
    expect(Array.from(shb)).toEqual([
      0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
    ]);
    const idb = encodeInterfaceDescription({ snaplen: 1514, resolution: 'ns' });
    // prettier-ignore
    expect(Array.from(idb)).toEqual([
      1, 0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 0xea, 0x05, 0, 0,
      9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0,
    ]);
  });

  it('round-trips timestamps, data, comments and directions in both resolutions', () => {
    for (const resolution of ['us', 'ns'] as const) {
      const packets = [
        { timestampNs: 1_700_000_000_123_456_000n, data: new Uint8Array(61).fill(7), comment: 'TCP SYN: ünïcode ✓', direction: 'outbound' as const },
        { timestampNs: 1_700_000_000_123_457_000n, data: new Uint8Array(64).fill(8), direction: 'inbound' as const },
        { timestampNs: 1_700_000_001_000_000_000n, data: new Uint8Array(0) },
      ];
      const r = readPcapng(encodePcapng(packets, { resolution, name: 'tap0', application: 'tapstack' }));
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.truncated).toBe(false);
      expect(r.value.packets.map((p) => ({ ts: p.timestampNs, n: p.data.length, c: p.comment, d: p.direction, fill: p.data[0] }))).toEqual([
        { ts: 1_700_000_000_123_456_000n, n: 61, c: 'TCP SYN: ünïcode ✓', d: 'outbound', fill: 7 },
        { ts: 1_700_000_000_123_457_000n, n: 64, c: undefined, d: 'inbound', fill: 8 },
        { ts: 1_700_000_001_000_000_000n, n: 0, c: undefined, d: undefined, fill: undefined },
      ]);
    }
  });

  itWith('tshark')('writes a file that tshark reads cleanly, with our comments and directions', () => {
    const ping = readPcap(fixture('ping-us.pcap'));
    if (!ping.ok) throw new Error('fixture');
    const comments = ['Echo request: the kernel pings us', 'Echo reply', 'ünïcode comment ✓ with an odd length', undefined];
    const file = encodePcapng(
      ping.value.packets.slice(0, 4).map((p, i) => ({
        timestampNs: p.timestampNs,
        data: p.data,
        comment: comments[i],
        direction: i % 2 === 0 ? ('outbound' as const) : ('inbound' as const),
      })),
      { name: 'veth0', application: 'tapstack test' },
    );
    const path = join(dir, 'ours.pcapng');
    writeFileSync(path, file);
    const fields = tshark(['-r', path, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.comment', '-e', 'frame.packet_flags_direction', '-e', 'icmp.type', '-e', 'frame.time_epoch']);
    expect(fields.trim().split('\n')).toEqual([
      'Echo request: the kernel pings us|0x00000002|8|1795261345.609092000',
      'Echo reply|0x00000001|0|1795261345.609439000',
      'ünïcode comment ✓ with an odd length|0x00000002|8|1795261345.813091000',
      '|0x00000001|0|1795261345.813117000',
    ]);
    const expert = tshark(['-r', path, '-q', '-z', 'expert']);
    expect(expert).not.toMatch(/Malformed|Errors \(/);
  });
});

describe('pcapng reader', () => {
  it('reads a file written by dumpcap (nanosecond if_tsresol) with a comment added by editcap', () => {
    const r = readCapture(fixture('ping.pcapng'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { packets } = r.value;
    expect(r.value.format).toBe('pcapng');
    expect(packets).toHaveLength(4);
    // tshark -e frame.time_epoch
    expect(packets.map((p) => p.timestampNs)).toEqual([
      1795261349_464323098n,
      1795261349_464349038n,
      1795261349_663671454n,
      1795261349_663699027n,
    ]);
    expect(packets.map((p) => p.comment)).toEqual([undefined, 'reply from the kernel', undefined, undefined]);
    expect(packets.every((p) => p.data.length === 98 && p.linktype === 1)).toBe(true);
    expect(Array.from(packets[1]!.data.subarray(26, 30))).toEqual([10, 99, 0, 2]);
  });

  it('reads big-endian files', () => {
    // Hand-made big-endian section: SHB, IDB (us), one EPB with 4 data bytes.
    // prettier-ignore
    const be = Uint8Array.from([
      0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28,
      0, 0, 0, 1, 0, 0, 0, 20, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 20,
      0, 0, 0, 6, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4, 9, 8, 7, 6, 0, 0, 0, 36,
    ]);
    const r = readPcapng(be);
    expect(r.ok && r.value.packets.map((p) => [p.timestampNs, Array.from(p.data)])).toEqual([[2000n, [9, 8, 7, 6]]]);
  });

  it('keeps the packets before a block that a crash cut short', () => {
    const whole = encodePcapng([
      { timestampNs: 1n, data: new Uint8Array(60) },
      { timestampNs: 2n, data: new Uint8Array(60) },
    ]);
    const r = readPcapng(whole.subarray(0, whole.length - 7));
    expect(r.ok && [r.value.truncated, r.value.packets.length]).toEqual([true, 1]);
  });

  it('returns typed errors for impossible blocks', () => {
    const file = encodePcapng([{ timestampNs: 1n, data: new Uint8Array(8) }]);
    const badLength = file.slice();
    badLength[file.length - 4] = 0x99; // trailing length differs
    expect(readPcapng(badLength)).toMatchObject({ ok: false, error: { kind: 'bad_block_length' } });
    const unknownIface = file.slice();
    const epb = encodeSectionHeader().length + encodeInterfaceDescription().length;
    unknownIface[epb + 8] = 3; // interface 3 was never described
    expect(readPcapng(unknownIface)).toMatchObject({ ok: false, error: { kind: 'unknown_interface' } });
    expect(readPcapng(new Uint8Array(40))).toMatchObject({ ok: false, error: { kind: 'bad_magic' } });
  });

  it('never throws on mutated or arbitrary input and never hands out bytes outside the file', () => {
    const valid = encodePcapng(
      [
        { timestampNs: 10n, data: new Uint8Array(61).fill(1), comment: 'a comment', direction: 'inbound' },
        { timestampNs: 11n, data: new Uint8Array(3).fill(2), direction: 'outbound' },
      ],
      { name: 'tap0' },
    );
    const check = (bytes: Uint8Array) => {
      const r = readCapture(bytes);
      if (r.ok) for (const p of r.value.packets) expect(p.data.byteOffset + p.data.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length);
    };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(valid.length), (edits, cut) => {
        const b = valid.slice(0, cut);
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        check(b);
      }),
      { numRuns: 1000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(Uint8Array.from([0x0a, 0x0d, 0x0d, 0x0a, ...b]))), { numRuns: 500 });
  });
});
