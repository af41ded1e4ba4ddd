import { afterEach, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../src/host.js';
import { FaultLink } from '../../src/link/faults.js';
import { LinkDecorator, RX_CHECKSUM_BAD, RX_CHECKSUM_GOOD, RX_CHECKSUM_NOT_CHECKED, type Link, type ReceiveHandler } from '../../src/link/link.js';
import { MemoryHub } from '../../src/link/memory.js';
import { VirtualClock } from '../../src/stack/clock.js';
import { SeededRandom } from '../../src/stack/random.js';
import { ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { IPPROTO_TCP, parseIpv4Packet } from '../../src/wire/ipv4.js';
import { setTcpChecksum } from '../../src/wire/tcp.js';
import { collect, sha256, testBytes, writeAll } from '../support/tcp-hosts.js';

/**
 * Checksum offload between the stack and its link (Link.checksumOffload), over the
 * memory hub on the virtual clock. The link below host A plays the NIC: it finishes
 * the TCP checksum of what A sends, and gives a verdict on what A receives.
 */

/** Where the TCP checksum of an untagged IPv4/TCP frame sits, or -1. */
function tcpChecksumAt(frame: Uint8Array): number {
  const ip = parseIpv4Packet(frame.subarray(ETHERNET_HEADER_LEN), { verifyChecksum: false });
  if (!ip.ok || ip.value.header.protocol !== IPPROTO_TCP) return -1;
  return ETHERNET_HEADER_LEN + ip.value.header.headerLength + 16;
}

/** The TCP checksum computed from scratch, as a NIC (or the TAP binding) does it. */
function finishTcpChecksum(frame: Uint8Array): void {
  const ip = parseIpv4Packet(frame.subarray(ETHERNET_HEADER_LEN), { verifyChecksum: false });
  if (!ip.ok) return;
  setTcpChecksum(ip.value.payload, ip.value.header);
}

class NicLink implements Link {
  readonly checksumOffload = { tx: true, rx: true };
  /** TCP checksum fields of the frames as the stack handed them over. */
  readonly sentChecksums: number[] = [];
  /** The verdict given to every arriving frame. */
  verdict = RX_CHECKSUM_GOOD;
  /** Spoil the TCP checksum of arriving frames (a corruption below the NIC's check). */
  spoilInbound = false;

  constructor(private readonly inner: Link) {}
  get mtu(): number {
    return this.inner.mtu;
  }
  get name(): string {
    return this.inner.name;
  }
  send(frame: Uint8Array): void {
    this.sendBatch([frame]);
  }
  sendBatch(frames: readonly Uint8Array[], finishChecksums = false): void {
    for (const frame of frames) {
      const at = tcpChecksumAt(frame);
      if (at < 0) continue;
      this.sentChecksums.push((frame[at]! << 8) | frame[at + 1]!);
      if (finishChecksums) finishTcpChecksum(frame);
    }
    this.inner.sendBatch(frames);
  }
  onReceive(handler: ReceiveHandler): void {
    this.inner.onReceive((frames) => {
      if (this.spoilInbound) {
        for (const frame of frames) {
          const at = tcpChecksumAt(frame);
          if (at >= 0) frame[at] ^= 0x5a;
        }
      }
      handler(frames, new Uint8Array(frames.length).fill(this.verdict));
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts) await h.close();
  hosts = [];
});

/**
 * Host A (10.0.0.1) above a NicLink, optionally through middleware `above` it, and
 * host B (10.0.0.2) straight on the hub.
 */
function lab(above?: (nic: NicLink, clock: VirtualClock) => Link): { clock: VirtualClock; nic: NicLink; a: Host; b: Host } {
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock, { latencyMs: 1 });
  const nic = new NicLink(hub.attach('memA'));
  const link = above ? above(nic, clock) : nic;
  const a = createHost({ link, address: '10.0.0.1', prefixLength: 24, mac: '02:00:00:00:00:01', clock, random: new SeededRandom(1) });
  const b = createHost({ link: hub.attach('memB'), address: '10.0.0.2', prefixLength: 24, mac: '02:00:00:00:00:02', clock, random: new SeededRandom(2) });
  hosts = [a, b];
  return { clock, nic, a, b };
}

/** A sends `bytes` test bytes to B and closes; resolves with what B read. */
async function transfer(l: { clock: VirtualClock; a: Host; b: Host }, bytes: number, seed: number): Promise<{ sent: Uint8Array; got: Buffer }> {
  const sent = testBytes(bytes, seed);
  let got: ReturnType<typeof collect> | undefined;
  l.b.tcp.listen({ port: 5001 }, (s) => {
    got = collect(s);
  });
  const client = l.a.tcp.connect({ host: '10.0.0.2', port: 5001 });
  client.on('connect', () => void writeAll(client, sent).then(() => client.end()));
  await l.clock.runUntil(() => got?.ended ?? false, 120_000);
  return { sent, got: Buffer.concat(got!.chunks) };
}

describe('checksum offload to the link', () => {
  it('leaves the TCP checksum to a link that fills it in, and the peer gets every byte', async () => {
    const l = lab();
    const { sent, got } = await transfer(l, 200_000, 5);
    expect(sha256(got)).toBe(sha256(sent));
    // Every segment A sent reached the link with its checksum field zero (B, which
    // verifies, accepted them only because the link finished them).
    expect(l.nic.sentChecksums.length).toBeGreaterThan(100);
    expect(l.nic.sentChecksums.every((c) => c === 0)).toBe(true);
    expect(l.b.counters.get('tcp.rx.bad_checksum')).toBe(0);
  });

  it('skips its own check of a frame the link verified, and checks the others', async () => {
    const { clock, nic, a, b } = lab();
    a.tcp.listen({ port: 21 });
    nic.spoilInbound = true;

    // Verdict GOOD: the stack trusts the link (as Linux trusts CHECKSUM_UNNECESSARY),
    // so even a segment spoiled below that check is taken: the handshake completes.
    nic.verdict = RX_CHECKSUM_GOOD;
    const first = b.tcp.connect({ host: '10.0.0.1', port: 21 });
    let connected = false;
    first.on('connect', () => (connected = true));
    first.on('error', () => {});
    await clock.runUntil(() => connected, 10_000);
    expect(a.counters.get('tcp.rx.bad_checksum')).toBe(0);
    first.destroy();

    // Not checked, or found wrong: the stack sums itself, counts and drops.
    for (const verdict of [RX_CHECKSUM_NOT_CHECKED, RX_CHECKSUM_BAD]) {
      nic.verdict = verdict;
      const before = a.counters.get('tcp.rx.bad_checksum');
      const attempt = b.tcp.connect({ host: '10.0.0.1', port: 21 });
      let ok = false;
      attempt.on('connect', () => (ok = true));
      attempt.on('error', () => {});
      await clock.advanceAsync(2_000);
      expect(ok).toBe(false);
      expect(a.counters.get('tcp.rx.bad_checksum')).toBeGreaterThan(before);
      attempt.destroy();
    }
  });

  it('is not offered through middleware: a capture or fault wrapper gets finished checksums', async () => {
    class Wrapper extends LinkDecorator {}
    const l = lab((nic) => new Wrapper(nic));
    expect((new Wrapper(l.nic) as Link).checksumOffload).toBeUndefined();
    const { sent, got } = await transfer(l, 10_000, 3);
    expect(sha256(got)).toBe(sha256(sent));
    expect(l.nic.sentChecksums.length).toBeGreaterThan(0);
    expect(l.nic.sentChecksums.every((c) => c !== 0)).toBe(true);
  });

  it('never gives a frame corrupted by middleware a fresh checksum: the peer drops it and TCP repairs the loss', async () => {
    const l = lab((nic, clock) => new FaultLink(nic, { outbound: { corrupt: 0.05 }, random: new SeededRandom(9), clock }));
    const { sent, got } = await transfer(l, 300_000, 7);
    expect(sha256(got)).toBe(sha256(sent));
    expect(l.b.counters.get('tcp.rx.bad_checksum') + l.b.counters.get('ipv4.rx.bad_checksum')).toBeGreaterThan(0);
  });
});
