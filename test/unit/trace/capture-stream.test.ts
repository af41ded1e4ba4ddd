import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureStreamError, openCaptureStream } from '../../../src/trace/capture-stream.js';
import type { CapturedPacket } from '../../../src/wire/pcap.js';
import { encodeEnhancedPacket, encodeInterfaceDescription, encodePcapng, encodeSectionHeader, readCapture } from '../../../src/wire/pcapng.js';

const dir = mkdtempSync(join(tmpdir(), 'tapstack-capture-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Everything a packet carries, its bytes as a digest (a deep compare of 3000 buffers is slow). */
const summary = (p: CapturedPacket) => [p.timestampNs, p.interfaceId, p.linktype, p.originalLength, p.comment, p.direction, createHash('sha1').update(p.data).digest('hex')];

async function streamed(path: string): Promise<{ packets: unknown[][]; truncated: boolean }> {
  const s = await openCaptureStream(path);
  const packets: unknown[][] = [];
  for await (const p of s.packets) packets.push(summary(p));
  return { packets, truncated: s.truncated };
}

function whole(bytes: Uint8Array): unknown[][] {
  const r = readCapture(bytes);
  if (!r.ok) throw new Error(r.error.message);
  return r.value.packets.map(summary);
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('openCaptureStream', () => {
  it('reads the fixtures (pcap in us and ns, pcapng) packet for packet as readCapture does', async () => {
    for (const name of ['vsftpd-tnftp-port.pcap', 'ping-ns.pcap', 'ping.pcapng']) {
      const bytes = new Uint8Array(readFileSync(new URL(`../../fixtures/trace/${name}`, import.meta.url)));
      const s = await streamed(write(name, bytes));
      expect(s.packets, name).toEqual(whole(bytes));
      expect(s.truncated).toBe(false);
    }
  });

  it('crosses many chunks of a 3 MB pcapng with comments, directions and a second section', async () => {
    const packets = Array.from({ length: 3000 }, (_, i) => ({
      timestampNs: 1_790_000_000_000_000_000n + BigInt(i) * 1000n,
      data: new Uint8Array(997 + (i % 7)).fill(i & 0xff),
      comment: i % 3 === 0 ? `frame ${i + 1}` : undefined,
      direction: i % 2 === 0 ? ('inbound' as const) : ('outbound' as const),
    }));
    const first = encodePcapng(packets.slice(0, 2000), { name: 'tap0' });
    // A second section restarts interface numbering: its packets are on interface 0 again, in nanoseconds.
    const second = [encodeSectionHeader(), encodeInterfaceDescription({ resolution: 'ns' }), ...packets.slice(2000).map((p) => encodeEnhancedPacket({ ...p, resolution: 'ns' }))];
    const bytes = new Uint8Array(Buffer.concat([first, ...second]));
    expect(bytes.length).toBeGreaterThan(3e6);
    const s = await streamed(write('big.pcapng', bytes));
    expect(s.packets).toHaveLength(3000);
    expect(s.packets).toEqual(whole(bytes));
  });

  it('says when the file ends inside a packet, and names what is not a capture with its offset', async () => {
    const bytes = new Uint8Array(readFileSync(new URL('../../fixtures/trace/vsftpd-tnftp-port.pcap', import.meta.url)));
    const cut = await streamed(write('cut.pcap', bytes.subarray(0, bytes.length - 10)));
    expect(cut.truncated).toBe(true);
    expect(cut.packets).toEqual(whole(bytes).slice(0, -1));
    await expect(streamed(write('text.pcap', new TextEncoder().encode('not a capture at all')))).rejects.toThrow(CaptureStreamError);
  });

  it('never throws anything but a CaptureStreamError, whatever the bytes', async () => {
    const header = new Uint8Array(readFileSync(new URL('../../fixtures/trace/ping.pcapng', import.meta.url))).subarray(0, 64);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (tail, withHeader) => {
        const path = write('fuzz.bin', withHeader ? new Uint8Array(Buffer.concat([header, tail])) : tail);
        try {
          await streamed(path);
        } catch (err) {
          expect(err).toBeInstanceOf(CaptureStreamError);
        }
      }),
      { numRuns: 200 },
    );
  });
});
