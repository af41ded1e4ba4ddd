import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHost } from '../../../src/host.js';
import { CaptureLink } from '../../../src/link/capture.js';
import { FaultLink } from '../../../src/link/faults.js';
import { MemoryHub } from '../../../src/link/memory.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';
import { buildSession, createFrameExplainer } from '../../../src/trace/session.js';
import { readPcapng } from '../../../src/wire/pcapng.js';
import { tsharkFrameNumbers } from '../../support/seed-check.js';
import { itWith } from '../../support/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'tapstack-faults-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Our own two stacks on the memory hub, host A behind a capture that sits above a
 * seeded fault injector: the capture sees what A sends (before the faults) and what
 * A receives (after them), like tcpdump on a host behind a lossy network.
 */
describe('a capture of our TCP through seeded faults, drawn by the diagram', () => {
  const seed = 20261121;
  const path = join(dir, 'faults.pcapng');

  itWith('tshark')('shows retransmissions, duplicate ACKs and out-of-order segments where tshark sees them', async () => {
    const clock = new VirtualClock();
    const hub = new MemoryHub(clock, { latencyMs: 5 });
    const faults = new FaultLink(hub.attach('memA'), {
      random: new SeededRandom(seed),
      clock,
      inbound: { loss: 0.05, reorder: 0.05 },
      outbound: { loss: 0.05 },
    });
    const capture = new CaptureLink(faults, { path, clock, epochMs: 1_790_000_000_000, comment: createFrameExplainer() });
    const a = createHost({ link: capture, address: '10.0.0.1', prefixLength: 24, mac: '02:00:00:00:00:01', clock, random: new SeededRandom(seed + 1) });
    const b = createHost({ link: hub.attach('memB'), address: '10.0.0.2', prefixLength: 24, mac: '02:00:00:00:00:02', clock, random: new SeededRandom(seed + 2) });
    const payload = new Uint8Array(200_000).map((_, i) => i & 0xff);
    b.tcp.listen({ port: 5001 }, (s) => {
      s.end(payload);
    });
    let received = 0;
    let ended = false;
    const client = a.tcp.connect({ host: '10.0.0.2', port: 5001 });
    client.on('data', (c: Buffer) => (received += c.length));
    client.on('end', () => {
      ended = true;
      client.end();
    });
    await clock.runUntil(() => ended, 600_000);
    await clock.advanceAsync(2_000);
    await a.close();
    await b.close();
    expect(received, `seed ${seed}`).toBe(payload.length);
    expect(faults.stats.inbound.dropped + faults.stats.outbound.dropped, `seed ${seed}`).toBeGreaterThan(0);
    expect(faults.stats.inbound.reordered, `seed ${seed}`).toBeGreaterThan(0);

    const file = readPcapng(new Uint8Array(readFileSync(path)));
    if (!file.ok) throw new Error(file.error.message);
    const model = buildSession(file.value.packets);
    const labelled = (prefix: string) => model.messages.filter((m) => m.labels.some((l) => l.startsWith(prefix))).map((m) => m.frame);

    const ours = { retransmission: labelled('TCP Retransmission'), dupAck: labelled('TCP Dup ACK'), outOfOrder: labelled('TCP Out-Of-Order') };
    expect(ours.retransmission.length, `seed ${seed}`).toBeGreaterThan(0);
    expect(ours.dupAck.length, `seed ${seed}`).toBeGreaterThan(0);
    expect(ours.outOfOrder.length, `seed ${seed}`).toBeGreaterThan(0);

    // tshark's TCP analysis on the same file finds the very same frames.
    expect(ours.dupAck).toEqual(tsharkFrameNumbers(path, 'tcp.analysis.duplicate_ack'));
    expect(labelled('TCP Window Update')).toEqual(tsharkFrameNumbers(path, 'tcp.analysis.window_update'));
    expect(ours.retransmission).toEqual(tsharkFrameNumbers(path, 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission'));
    expect(ours.outOfOrder).toEqual(tsharkFrameNumbers(path, 'tcp.analysis.out_of_order'));
    expect(labelled('TCP Previous segment not captured')).toEqual(tsharkFrameNumbers(path, 'tcp.analysis.lost_segment'));

    // Every frame carries the explainer's comment, and tshark reads the file cleanly.
    expect(file.value.packets.every((p) => p.comment && p.comment.length > 5)).toBe(true);
    const expert = execFileSync('tshark', ['-r', path, '-q', '-z', 'expert'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(expert).not.toMatch(/Malformed/);
  }, 60_000);
});
