import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LinkDecorator, type Link } from '../../../src/link/link.js';
import { MemoryHub } from '../../../src/link/memory.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { IpHost, type IpHostOptions } from '../../../src/stack/ip-host.js';
import type { IcmpError } from '../../../src/stack/network.js';
import { SeededRandom } from '../../../src/stack/random.js';
import { formatIpv4 } from '../../../src/wire/address.js';
import { parseEthernet } from '../../../src/wire/ethernet.js';
import { parseIcmp } from '../../../src/wire/icmp.js';
import { parseIpv4Packet, writeIpv4Header } from '../../../src/wire/ipv4.js';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { linuxFrame, linuxFrameNames } from '../../support/linux-frames.js';

/** Records every sendBatch call of the host. */
class Recorder extends LinkDecorator {
  batches: Uint8Array[][] = [];
  override sendBatch(frames: readonly Uint8Array[]): void {
    this.batches.push([...frames]);
    super.sendBatch(frames);
  }
}

/**
 * An IpHost that plays "r" of the golden capture (10.1.0.254, 02:aa:00:00:00:fe) or
 * "a" (10.1.0.1, 02:aa:00:00:00:01), and a raw port that plays the Linux peer.
 */
async function setup(role: 'r' | 'a' = 'r', extra: Partial<IpHostOptions> = {}) {
  const clock = new VirtualClock();
  const hub = new MemoryHub(clock);
  const link = new Recorder(hub.attach('host'));
  const host = new IpHost(link as Link, {
    address: role === 'r' ? '10.1.0.254' : '10.1.0.1',
    prefixLength: 24,
    mac: role === 'r' ? '02:aa:00:00:00:fe' : '02:aa:00:00:00:01',
    clock,
    random: new SeededRandom(7),
    announce: false,
    ...extra,
  });
  const peer = hub.attach('peer');
  const received: Uint8Array[] = [];
  peer.onReceive((frames) => received.push(...frames));
  /** Deliver frames to the host as one batch and let everything settle. */
  const inject = async (...frames: Uint8Array[]) => {
    peer.sendBatch(frames);
    await clock.advanceAsync(1);
  };
  return { clock, host, link, peer, received, inject, counters: host.counters };
}

function ipOf(frame: Uint8Array) {
  const eth = parseEthernet(frame);
  if (!eth.ok) throw new Error(eth.error);
  const ip = parseIpv4Packet(eth.value.payload);
  if (!ip.ok) throw new Error(ip.error);
  return ip.value;
}

describe('IpHost against golden Linux frames', () => {
  it('answers the kernel ARP request with the very bytes Linux answers with', async () => {
    const { inject, received, counters } = await setup();
    await inject(linuxFrame('arp-request'));
    expect(received).toEqual([linuxFrame('arp-reply')]);
    expect(counters.get('arp.rx.request')).toBe(1);
    expect(counters.get('arp.tx.reply')).toBe(1);
  });

  it('ignores ARP whose sender MAC differs from the frame source (damage or spoofing)', async () => {
    const { inject, received, counters, host } = await setup();
    const spoofed = linuxFrame('arp-request');
    spoofed[14 + 8 + 5] ^= 0x01; // sender hardware address, one bit off
    await inject(spoofed);
    expect(counters.get('arp.rx.sender_mismatch')).toBe(1);
    expect(received).toEqual([]);
    expect(host.arp.neighbours.size).toBe(0);
  });

  it('answers an echo request like Linux (same ICMP bytes, TTL 64)', async () => {
    const { inject, received, counters, host } = await setup();
    await inject(linuxFrame('arp-request'), linuxFrame('icmp-echo-request'));
    expect(received.length).toBe(2);
    const ours = ipOf(received[1]!);
    const linux = ipOf(linuxFrame('icmp-echo-reply'));
    expect(received[1]!.subarray(0, 14)).toEqual(linuxFrame('icmp-echo-reply').subarray(0, 14));
    expect(ours.payload).toEqual(linux.payload);
    expect([ours.header.src, ours.header.dst, ours.header.ttl, ours.header.protocol]).toEqual([
      linux.header.src,
      linux.header.dst,
      64,
      1,
    ]);
    expect(counters.get('icmp.rx.echo_request')).toBe(1);
    expect(counters.get('icmp.tx.echo_reply')).toBe(1);
    expect(host.arp.neighbours.snapshot()).toEqual([{ ip: '10.1.0.1', state: 'stale', mac: '02:aa:00:00:00:01' }]); // learned from its request, not confirmed
  });

  it('reassembles the kernel fragmented echo request (out of order) and fragments the reply like Linux', async () => {
    const { inject, received, counters } = await setup();
    await inject(
      linuxFrame('arp-request'),
      linuxFrame('frag-echo-request-2960'),
      linuxFrame('frag-echo-request-0'),
      linuxFrame('frag-echo-request-1480'),
    );
    const replies = received.slice(1).map(ipOf);
    const linux = ['frag-echo-reply-0', 'frag-echo-reply-1480', 'frag-echo-reply-2960'].map((n) => ipOf(linuxFrame(n)));
    expect(replies.map((r) => [r.header.fragmentOffset, r.header.moreFragments, r.header.totalLength])).toEqual(
      linux.map((r) => [r.header.fragmentOffset, r.header.moreFragments, r.header.totalLength]),
    );
    for (let i = 0; i < 3; i++) expect(replies[i]!.payload).toEqual(linux[i]!.payload);
    expect(counters.get('ipv4.reasm.ok')).toBe(1);
    expect(counters.get('ipv4.tx.fragments')).toBe(3);
  });

  it('answers an echo request that carries IP options (options skipped)', async () => {
    const { inject, received } = await setup();
    await inject(linuxFrame('arp-request'), linuxFrame('icmp-echo-request-options'));
    const ours = ipOf(received[1]!);
    expect(ours.header.headerLength).toBe(20);
    expect(ours.payload).toEqual(ipOf(linuxFrame('icmp-echo-reply-options')).payload);
  });

  it('counts and drops every kind of frame it does not want, and still answers ping in the same batch', async () => {
    const { inject, received, counters } = await setup();
    const withDst = (frame: Uint8Array, dst: number[]) => (frame.set(dst, 0), frame);
    const ours = [0x02, 0xaa, 0, 0, 0, 0xfe];
    const ethertype = (type: number) => {
      const f = linuxFrame('arp-request');
      f.set(ours, 0);
      f[12] = type >> 8;
      f[13] = type & 0xff;
      return f;
    };
    const badChecksum = linuxFrame('icmp-echo-request');
    badChecksum[14 + 10] ^= 0x55;
    const notForUs = linuxFrame('icmp-echo-request');
    notForUs[14 + 19] = 77; // 10.1.0.77, checksum fixed below
    fixIpChecksum(notForUs);
    const multicastIp = linuxFrame('icmp-echo-request');
    multicastIp.set([224, 0, 0, 1], 14 + 16);
    fixIpChecksum(multicastIp);
    const badArp = linuxFrame('arp-request');
    badArp[14 + 1] = 6;
    await inject(
      new Uint8Array(10), // runt
      withDst(linuxFrame('icmp-echo-request'), [0x02, 0xaa, 0, 0, 0, 0x33]), // someone else's MAC
      linuxFrame('ipv6'), // MLD to 33:33:00:00:00:16
      withDst(linuxFrame('ipv6'), ours), // IPv6 to our MAC
      withDst(linuxFrame('icmp-echo-request'), [0x01, 0x00, 0x5e, 0, 0, 1]), // IPv4 to a multicast MAC
      ethertype(0x88cc), // LLDP
      ethertype(0x1234), // nobody's EtherType
      badChecksum,
      notForUs,
      multicastIp,
      badArp,
      linuxFrame('arp-request'),
      linuxFrame('icmp-echo-request'),
    );
    expect(counters.snapshot('eth.rx.')).toEqual({
      'eth.rx.arp': 2,
      'eth.rx.frames': 13,
      'eth.rx.ipv4': 4,
      'eth.rx.ipv6': 2,
      'eth.rx.lldp': 1,
      'eth.rx.multicast': 1,
      'eth.rx.not_for_us': 1,
      'eth.rx.truncated': 1,
      'eth.rx.unknown_ethertype': 1,
    });
    expect(counters.get('ipv4.rx.bad_checksum')).toBe(1);
    expect(counters.get('ipv4.rx.not_for_us')).toBe(1);
    expect(counters.get('ipv4.rx.multicast')).toBe(1);
    expect(counters.get('arp.rx.unsupported_hardware')).toBe(1);
    expect(counters.get('icmp.tx.echo_reply')).toBe(1);
    expect(received.length).toBe(2); // ARP reply + echo reply, nothing else
  });

  it('handles a whole batch before sending, and sends what it produced in one sendBatch', async () => {
    const { inject, link, received } = await setup();
    await inject(linuxFrame('arp-request'));
    link.batches = [];
    const req = (seq: number) => {
      const f = linuxFrame('icmp-echo-request');
      f[14 + 20 + 7] = seq; // sequence number
      f[14 + 20 + 2] = 0;
      f[14 + 20 + 3] = 0;
      const sum = internetChecksum(f.subarray(34));
      f[36] = sum >> 8;
      f[37] = sum & 0xff;
      return f;
    };
    await inject(req(1), req(2), req(3));
    expect(link.batches.map((b) => b.length)).toEqual([3]);
    expect(received.slice(1).map((f) => ipOf(f).payload[7])).toEqual([1, 2, 3]);
  });

  it('batches output made outside a receive batch (requestFlush) into one sendBatch', async () => {
    const { inject, link, host, clock } = await setup();
    await inject(linuxFrame('arp-request'));
    link.batches = [];
    for (let i = 0; i < 4; i++) host.ip.send({ dst: 0x0a010001, protocol: 253, payload: new Uint8Array([i]) });
    let flushes = 0;
    host.onFlush(() => flushes++);
    host.requestFlush();
    host.requestFlush();
    await clock.advanceAsync(1);
    expect(link.batches.map((b) => b.length)).toEqual([4]);
    expect(flushes).toBe(1);
  });
});

describe('IpHost ICMP errors', () => {
  it('delivers the kernel port unreachable to the handler of the quoted protocol (UDP)', async () => {
    const { inject, host, counters } = await setup('a');
    const errors: IcmpError[] = [];
    host.ip.register(17, { receive: () => {}, icmpError: (e) => errors.push(e) });
    await inject(linuxFrame('icmp-port-unreachable'));
    expect(errors.length).toBe(1);
    const e = errors[0]!;
    expect([e.type, e.code, formatIpv4(e.reporter), formatIpv4(e.src), formatIpv4(e.dst), e.protocol]).toEqual([
      3,
      3,
      '10.1.0.254',
      '10.1.0.1',
      '10.1.0.254',
      17,
    ]);
    expect([(e.quoted[0]! << 8) | e.quoted[1]!, (e.quoted[2]! << 8) | e.quoted[3]!]).toEqual([0xdeb2, 9]); // UDP ports
    expect(counters.get('icmp.rx.error_delivered')).toBe(1);
  });

  it('routes a time exceeded about an echo request to ICMP (and the ping client)', async () => {
    const { inject, counters } = await setup('a');
    await inject(linuxFrame('icmp-time-exceeded'));
    expect(counters.get('icmp.rx.time_exceeded')).toBe(1);
    expect(counters.get('icmp.rx.error_delivered')).toBe(1);
  });

  it('sends protocol unreachable, but not for broadcasts, and rate-limits errors', async () => {
    const { inject, received, counters, clock } = await setup('r', { icmp: { errorsPerSecond: 10, errorBurst: 5 } });
    await inject(linuxFrame('arp-request'));
    const proto = (dst: number[], id: number) => {
      const f = linuxFrame('udp');
      f[14 + 9] = 253; // an experimental protocol nobody registered
      f[14 + 5] = id;
      f.set(dst, 14 + 16);
      fixIpChecksum(f);
      return f;
    };
    await inject(proto([10, 1, 0, 255], 1), proto([255, 255, 255, 255], 2));
    expect(counters.get('ipv4.rx.unknown_protocol')).toBe(2);
    expect(counters.get('icmp.tx.suppressed')).toBe(2);
    expect(received.length).toBe(1);

    await inject(...Array.from({ length: 8 }, (_, i) => proto([10, 1, 0, 254], 10 + i)));
    expect(counters.get('icmp.tx.dest_unreachable')).toBe(5);
    expect(counters.get('icmp.tx.rate_limited')).toBe(3);
    const err = parseIcmp(ipOf(received[1]!).payload);
    expect(err.ok && err.value.kind === 'dest-unreachable' && err.value.code).toBe(2);
    // Tokens come back with time.
    await clock.advanceAsync(1000);
    await inject(proto([10, 1, 0, 254], 50));
    expect(counters.get('icmp.tx.dest_unreachable')).toBe(6);
  });

  it('never answers an ICMP error with an ICMP error', async () => {
    const { inject, counters, received } = await setup('r');
    // A time exceeded addressed to us that quotes a datagram we did not send.
    const f = linuxFrame('icmp-time-exceeded');
    f.set([0x02, 0xaa, 0, 0, 0, 0xfe], 0);
    f.set([10, 1, 0, 1], 14 + 12);
    f.set([10, 1, 0, 254], 14 + 16);
    fixIpChecksum(f);
    await inject(f);
    expect(counters.get('icmp.rx.time_exceeded')).toBe(1);
    expect(counters.get('icmp.rx.error_not_ours')).toBe(1);
    expect(received).toEqual([]);
  });

  it('sends time exceeded (reassembly) when a fragmented datagram never completes', async () => {
    const { inject, received, counters, clock } = await setup('r');
    await inject(linuxFrame('arp-request'), linuxFrame('frag-echo-request-0'));
    await clock.advanceAsync(30_000);
    expect(counters.get('ipv4.reasm.timeout')).toBe(1);
    expect(counters.get('icmp.tx.time_exceeded')).toBe(1);
    const err = parseIcmp(ipOf(received.at(-1)!).payload);
    expect(err.ok && err.value.kind === 'time-exceeded' && err.value.code).toBe(1);
  });
});

describe('IpHost when a layer above throws', () => {
  it('counts every error but logs one line with the stack, then one count per 10 s', async () => {
    const lines: { msg: string; err?: { stack: string }; count?: number }[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const { inject, host, counters, clock } = await setup('r', { log });
    host.ip.register(17, {
      receive: () => {
        throw new Error('a bug in the UDP handler');
      },
      icmpError: () => {},
    });
    // A peer can send the frame that hits the bug as often as it likes.
    for (let i = 0; i < 50; i++) await inject(linuxFrame('udp'));
    expect(counters.get('host.rx.handler_error')).toBe(50);
    expect(lines.length).toBe(1);
    expect(lines[0]!.msg).toBe('error while handling a frame');
    expect(lines[0]!.err?.stack).toContain('a bug in the UDP handler');

    await clock.advanceAsync(10_000);
    expect(lines.length).toBe(2);
    expect(lines[1]!.count).toBe(49);
    await host.close();
  });

  it('throttles an error in a flush callback the same way (one per batch, a peer sets the pace)', async () => {
    const lines: { msg: string; err?: { stack: string }; count?: number }[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const { inject, host, counters, clock } = await setup('r', { log });
    host.onFlush(() => {
      throw new Error('a bug in a flush callback');
    });
    for (let i = 0; i < 30; i++) await inject(linuxFrame('arp-request'));
    expect(counters.get('host.flush.callback_error')).toBeGreaterThanOrEqual(30);
    expect(lines.map((l) => l.msg)).toEqual(['error in a flush callback']);
    expect(lines[0]!.err?.stack).toContain('a bug in a flush callback');
    await clock.advanceAsync(10_000);
    expect(lines.length).toBe(2);
    expect(lines[1]!.count).toBe(counters.get('host.flush.callback_error') - 1);
    await host.close();
  });
});

function fixIpChecksum(frame: Uint8Array): void {
  const h = frame.subarray(14, 34);
  const fields = parseIpv4Packet(frame.subarray(14), { verifyChecksum: false });
  if (!fields.ok) throw new Error(fields.error);
  writeIpv4Header(h, 0, fields.value.header);
}

describe('IpHost under fuzzing', () => {
  /** Repair the IPv4 header and ICMP checksums so that a mutation is seen above them. */
  function repairChecksums(out: Uint8Array): void {
    if (out.length < 34 || out[12] !== 0x08 || out[13] !== 0x00 || (out[14]! & 0xf0) !== 0x40) return;
    const ihl = (out[14]! & 0x0f) * 4;
    if (ihl < 20 || out.length < 14 + ihl) return;
    out[24] = 0;
    out[25] = 0;
    const sum = internetChecksum(out.subarray(14, 14 + ihl));
    out[24] = sum >> 8;
    out[25] = sum & 0xff;
    if (out[23] !== 1 || out.length < 14 + ihl + 4) return;
    const icmp = out.subarray(14 + ihl);
    icmp[2] = 0;
    icmp[3] = 0;
    const icmpSum = internetChecksum(icmp);
    icmp[2] = icmpSum >> 8;
    icmp[3] = icmpSum & 0xff;
  }

  const mutatedFrame = fc
    .tuple(
      fc.constantFrom(...linuxFrameNames()),
      fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
      fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 40 }) }),
    )
    .map(([name, edits, cut]) => {
      const f = linuxFrame(name);
      const out = f.slice(0, Math.max(14, f.length - cut));
      for (const e of edits) out[e.at % out.length] = e.value;
      repairChecksums(out);
      return out;
    });

  const batch = fc.array(
    fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) }, { weight: 4, arbitrary: mutatedFrame }),
    { minLength: 1, maxLength: 8 },
  );

  it('survives arbitrary and mutated frames (checksums repaired so deeper layers are reached)', async () => {
    for (const role of ['r', 'a'] as const) {
      const { peer, clock, counters, host } = await setup(role);
      host.ip.register(17, { receive: () => {}, icmpError: () => {} });
      let injected = 0;
      fc.assert(
        fc.property(batch, (frames) => {
          peer.sendBatch(frames);
          injected += frames.length;
          clock.advance(1);
        }),
        { numRuns: 300 },
      );
      clock.advance(60_000); // let reassembly and ARP timers run out
      expect(counters.get('host.rx.handler_error')).toBe(0);
      expect(counters.get('host.flush.callback_error')).toBe(0);
      expect(counters.get('eth.rx.frames')).toBe(injected);
      expect(counters.sum('icmp.rx.')).toBeGreaterThan(0); // the mutations reached ICMP
      expect(counters.sum('arp.rx.')).toBeGreaterThan(0);
    }
  });
});
