import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DnsResponder } from '../../../src/dns/responder.js';
import { ZoneData, parseRecordArgument } from '../../../src/dns/zone.js';
import { createHost, type Host } from '../../../src/host.js';
import { RealClock } from '../../../src/stack/clock.js';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

/**
 * Our DNS responder (10.0.0.2) against hostile datagrams the kernel side writes with a
 * raw IPPROTO_UDP socket (the kernel adds the IP header; the UDP header is ours), then
 * against dig as an honest client.
 */

/** argv: DST N SRCPORT: N copies of one query for ftp.tapstack.test, from SRCPORT to DST:53. */
const RAW_UDP_PY = String.raw`
import socket, struct, sys
dst, n, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
query = bytes.fromhex('4242010000010000000000000366747008746170737461636b04746573740000010001')
udp = struct.pack('!HHHH', sport, 53, 8 + len(query), 0) + query   # checksum 0: none (RFC 768)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
sent = 0
for i in range(n):
    try:
        s.sendto(udp, (dst, 0)); sent += 1
    except OSError:
        pass
print(sent)
`;

describeTap('dns responder against hostile datagrams from the kernel side', () => {
  let net: TestNet;
  let host: Host;
  let responder: DnsResponder;
  const logLines: { level: number; msg: string }[] = [];

  beforeAll(async () => {
    net = await createTestNet('dnsh');
    const log = pino({ level: 'debug' }, { write: (line: string) => logLines.push(JSON.parse(line) as { level: number; msg: string }) });
    const clock = new RealClock();
    host = createHost({ link: net.link, address: '10.0.0.2', prefixLength: 24, clock });
    const zones = new ZoneData();
    const record = parseRecordArgument('ftp.tapstack.test=10.0.0.21');
    if (typeof record === 'string') throw new Error(record);
    zones.add(record);
    responder = new DnsResponder({ zones, udp: host.udp, clock, counters: host.counters, log });
    responder.start();
    // The kernel resolves 10.0.0.2 first: a burst sent before ARP answers waits in its
    // neighbour queue (unres_qlen_bytes, about 256 such datagrams) and the rest is
    // dropped there, which would test the kernel's queue instead of our responder.
    const ping = await net.exec('ping', ['-c', '1', '-W', '2', '10.0.0.2']);
    if (ping.code !== 0) throw new Error(`ping 10.0.0.2 failed: ${ping.stdout}${ping.stderr}`);
  });

  afterAll(async () => {
    responder?.close();
    await host?.close();
    await net?.destroy();
  });

  it('counts and drops 1,000 queries from UDP source port 0 without an error log, and still answers dig', async () => {
    const r = await net.exec('python3', ['-c', RAW_UDP_PY, '10.0.0.2', '1000', '0'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const sent = Number(r.stdout.trim());
    for (let i = 0; i < 50 && host.counters.get('dns.server.rx.bad_source_port') < sent; i++) await new Promise((res) => setTimeout(res, 100));
    expect(host.counters.get('dns.server.rx.bad_source_port')).toBeGreaterThan(sent / 2);
    expect(host.counters.get('dns.server.internal_error')).toBe(0);
    expect(logLines.filter((l) => l.level >= 40)).toEqual([]); // no warning, no error, no stack
    const dig = await net.exec('dig', ['@10.0.0.2', '+tries=1', '+time=3', '+short', 'ftp.tapstack.test']);
    expect(dig.stdout.trim()).toBe('10.0.0.21');
  });

  it('answers the same raw query from a real source port (the bytes above are a valid query)', async () => {
    const before = host.counters.get('dns.server.answer');
    const r = await net.exec('python3', ['-c', RAW_UDP_PY, '10.0.0.2', '1', '40000'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    for (let i = 0; i < 50 && host.counters.get('dns.server.answer') === before; i++) await new Promise((res) => setTimeout(res, 100));
    expect(host.counters.get('dns.server.answer')).toBe(before + 1);
  });
});
