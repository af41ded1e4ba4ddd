import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureLink } from '../../../src/link/capture.js';
import { MemoryHub } from '../../../src/link/memory.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { readPcap } from '../../../src/wire/pcap.js';
import { readPcapng } from '../../../src/wire/pcapng.js';
import { itWith } from '../../support/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'tapstack-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Real frames: the kernel's ping request (even) and reply (odd), captured by tcpdump.
const ping = readPcap(new Uint8Array(readFileSync(new URL('../../fixtures/trace/ping-us.pcap', import.meta.url))));
if (!ping.ok) throw new Error('fixture');
const frames = ping.value.packets.map((p) => p.data.slice());

function setup(name: string, comment?: (f: Uint8Array, d: 'inbound' | 'outbound') => string | undefined) {
  const clock = new VirtualClock(1000);
  const hub = new MemoryHub(clock, { latencyMs: 2 });
  const path = join(dir, name);
  const a = new CaptureLink(hub.attach('a'), { path, clock, epochMs: 1_700_000_000_000, comment });
  const b = hub.attach('b');
  const atA: Uint8Array[] = [];
  a.onReceive((fs) => atA.push(...fs));
  b.onReceive((fs) => b.sendBatch(fs.map((_, i) => frames[1 + 2 * i]!))); // answer each request
  return { clock, a, b, path, atA };
}

describe('CaptureLink', () => {
  it('records both directions with timestamps from the clock, and still carries the frames', async () => {
    const { clock, a, path, atA } = setup('both.pcapng');
    a.send(frames[0]!);
    clock.advance(10);
    a.sendBatch([frames[2]!, frames[4]!]);
    clock.advance(10);
    expect(atA.map((f) => f[23])).toEqual([1, 1, 1]); // the replies reached the stack (ICMP proto in IPv4)
    await a.close();

    const r = readPcapng(new Uint8Array(readFileSync(path)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.packets.map((p) => [p.direction, Number(p.timestampNs / 1000n) - 1_700_000_000_000_000])).toEqual([
      ['outbound', 0],
      ['inbound', 4000], // 2 ms hub latency each way
      ['outbound', 10_000],
      ['outbound', 10_000],
      ['inbound', 14_000],
      ['inbound', 14_000],
    ]);
    expect(Array.from(r.value.packets[1]!.data)).toEqual(Array.from(frames[1]!));
    expect(a.stats).toMatchObject({ frames: 6, inbound: 3, outbound: 3, writeErrors: 0 });
  });

  it('writes each frame as it passes, so the file is readable before close (as after a crash)', () => {
    const { clock, a, path } = setup('crash.pcapng');
    a.send(frames[0]!);
    clock.advance(5);
    const r = readPcapng(new Uint8Array(readFileSync(path)));
    expect(r.ok && [r.value.truncated, r.value.packets.map((p) => p.direction)]).toEqual([false, ['outbound', 'inbound']]);
    return a.close();
  });

  itWith('tshark')('attaches the commenter text to each frame, and tshark shows it without errors', async () => {
    let n = 0;
    const { clock, a, path } = setup('comments.pcapng', (frame, direction) => `#${++n} ${direction} ICMP type ${frame[34]}`);
    a.send(frames[0]!);
    clock.advance(5);
    a.setCommenter(undefined);
    a.send(frames[2]!);
    clock.advance(5);
    await a.close();
    await a.close(); // twice is harmless
    const out = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.comment', '-e', 'frame.packet_flags_direction'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(out.trim().split('\n').map((l) => l.trimEnd())).toEqual([
      '#1 outbound ICMP type 8\t0x00000002',
      '#2 inbound ICMP type 0\t0x00000001',
      '\t0x00000002',
      '\t0x00000001',
    ]);
    const expert = execFileSync('tshark', ['-r', path, '-q', '-z', 'expert'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(expert).not.toMatch(/Malformed|Errors \(/);
  });

  it('keeps the link working when the commenter throws', async () => {
    const { clock, a, path, atA } = setup('throw.pcapng', () => {
      throw new Error('explainer bug');
    });
    a.send(frames[0]!);
    clock.advance(5);
    await a.close();
    expect(atA).toHaveLength(1);
    expect(a.stats.commentErrors).toBe(2);
    const r = readPcapng(new Uint8Array(readFileSync(path)));
    expect(r.ok && r.value.packets.length).toBe(2);
  });
});
