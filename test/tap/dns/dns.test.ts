import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DnsResponder } from '../../../src/dns/responder.js';
import { Resolver } from '../../../src/dns/resolver.js';
import { ZoneData, parseZoneFile } from '../../../src/dns/zone.js';
import { createHost, type Host } from '../../../src/host.js';
import { CaptureLink } from '../../../src/link/capture.js';
import { RealClock } from '../../../src/stack/clock.js';
import { DnsType } from '../../../src/wire/dns.js';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

/**
 * Our UDP and DNS against real peers in a private namespace: dnsmasq (kernel side,
 * 10.0.0.1) serves our resolver; dig and nc (kernel side) ask our responder and our
 * closed ports (10.0.0.2). Every frame is captured and tshark must find no malformed DNS.
 */

// Send one datagram on a connected UDP socket, then read: the kernel reports the ICMP
// port unreachable that came back as ECONNREFUSED on the read.
const PY_UDP_PROBE = String.raw`
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2]))); s.send(b'hello')
try:
    s.recv(100); print('answered')
except OSError as e:
    print(type(e).__name__, e)
`;

const MANY = 40; // A records for many.any-domain.com: about 700 bytes, more than 512
const manyAddress = (i: number): string => `198.51.100.${i + 1}`;

const ZONE = `
$ORIGIN tapstack.test
$TTL 60
ftp     A      10.0.0.21
files   CNAME  ftp
${Array.from({ length: MANY }, (_, i) => `many A ${manyAddress(i)}`).join('\n')}
`;

describeTap('dns and udp against dnsmasq, dig and nc', () => {
  let net: TestNet;
  let host: Host;
  let dir: string;
  let pcap: string;
  let responder: DnsResponder;
  const clock = new RealClock();

  const resolver = (servers: string[], timeoutMs = 1000): Resolver =>
    new Resolver({ udp: host.udp, tcp: host.tcp, servers, clock, random: host.random, counters: host.counters, timeoutMs, cache: false });

  const dig = async (args: string[]): Promise<string> => {
    const r = await net.exec('dig', ['@10.0.0.2', '+tries=1', '+time=3', ...args]);
    return r.stdout;
  };

  beforeAll(async () => {
    net = await createTestNet('dns');
    dir = mkdtempSync(join(tmpdir(), 'tapstack-dns-'));
    pcap = join(dir, 'dns.pcapng');
    const link = new CaptureLink(net.link, { path: pcap, clock });
    host = createHost({ link, address: '10.0.0.2', prefixLength: 24, clock });
    const records = Array.from({ length: MANY }, (_, i) => `--host-record=many.any-domain.com,${manyAddress(i)}`);
    net.spawn('dnsmasq', [
      '--no-daemon',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      '--listen-address=10.0.0.1',
      '--bind-interfaces',
      '--local=/any-domain.com/',
      '--host-record=ftp.any-domain.com,192.0.2.21',
      '--cname=files.any-domain.com,ftp.any-domain.com',
      ...records,
    ]);
    // Wait until dnsmasq answers (it starts in a few ms).
    for (let i = 0; i < 50; i++) {
      const r = await net.exec('dig', ['@10.0.0.1', '+short', '+tries=1', '+time=1', 'ftp.any-domain.com']);
      if (r.stdout.includes('192.0.2.21')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const zones = new ZoneData();
    expect(parseZoneFile(ZONE, zones)).toEqual([]);
    responder = new DnsResponder({ zones, udp: host.udp, tcp: host.tcp, clock, counters: host.counters });
    responder.start();
  });

  afterAll(async () => {
    responder?.close();
    await host?.close();
    await net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('resolves ftp.any-domain.com from dnsmasq', async () => {
    expect(await resolver(['10.0.0.1']).resolve4('ftp.any-domain.com')).toEqual(['192.0.2.21']);
  });

  it('follows the CNAME dnsmasq serves', async () => {
    const r = await resolver(['10.0.0.1']).resolve('files.any-domain.com', DnsType.A);
    expect(r.chain).toEqual(['files.any-domain.com', 'ftp.any-domain.com']);
    expect(r.records).toHaveLength(1);
  });

  it('gets a long answer: dnsmasq truncates over UDP, the resolver asks again over TCP', async () => {
    const before = host.counters.get('dns.query.tcp');
    const addrs = await resolver(['10.0.0.1']).resolve4('many.any-domain.com');
    expect(new Set(addrs)).toEqual(new Set(Array.from({ length: MANY }, (_, i) => manyAddress(i))));
    expect(host.counters.get('dns.query.tcp')).toBe(before + 1);
  });

  it('ENOTFOUND for a name dnsmasq says does not exist', async () => {
    await expect(resolver(['10.0.0.1']).resolve4('nope.any-domain.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('with the first server silent, the second still answers', async () => {
    const t0 = clock.now();
    expect(await resolver(['10.0.0.9', '10.0.0.1'], 300).resolve4('ftp.any-domain.com')).toEqual(['192.0.2.21']);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('dig gets authoritative answers from our responder, over UDP and (after TC) TCP', async () => {
    const a = await dig(['+noedns', 'ftp.tapstack.test', 'A']);
    expect(a).toMatch(/status: NOERROR/);
    expect(a).toMatch(/flags: qr aa rd;/);
    expect(a).toMatch(/ftp\.tapstack\.test\.\s+60\s+IN\s+A\s+10\.0\.0\.21/);
    const c = await dig(['files.tapstack.test', 'A']); // with EDNS: we answer without OPT
    expect(c).toMatch(/files\.tapstack\.test\.\s+60\s+IN\s+CNAME\s+ftp\.tapstack\.test\./);
    expect(c).toMatch(/ftp\.tapstack\.test\.\s+60\s+IN\s+A\s+10\.0\.0\.21/);
    const many = await dig(['+noedns', 'many.tapstack.test', 'A']);
    expect(many).toMatch(/Truncated, retrying in TCP mode/);
    expect(many).toMatch(new RegExp(`ANSWER: ${MANY},`));
    const tcp = await dig(['+tcp', '+noedns', 'ftp.tapstack.test']);
    expect(tcp).toMatch(/10\.0\.0\.21/);
  });

  it('dig gets NXDOMAIN inside our zone and REFUSED outside it', async () => {
    const nx = await dig(['+noedns', 'nope.tapstack.test']);
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(nx).toMatch(/flags: qr aa rd;/);
    expect(nx).toMatch(/tapstack\.test\.\s+60\s+IN\s+SOA/);
    expect(await dig(['+noedns', 'example.org'])).toMatch(/status: REFUSED/);
  });

  it('a closed UDP port of ours is refused: nc -u fails, a kernel socket reads "Connection refused"', async () => {
    const before = host.counters.get('udp.rx.no_port');
    // netcat-openbsd -vzu probes by writing twice: after our ICMP port unreachable the
    // second write fails with ECONNREFUSED and nc exits 1 (it prints only successes).
    const closed = await net.exec('nc', ['-vzu', '-w', '2', '10.0.0.2', '9999'], { timeoutMs: 10_000 });
    expect(closed.code).toBe(1);
    expect(closed.stderr).not.toMatch(/succeeded/);
    const open = await net.exec('nc', ['-vzu', '-w', '2', '10.0.0.2', '53'], { timeoutMs: 10_000 });
    expect(open.code).toBe(0);
    expect(open.stderr).toMatch(/succeeded/);
    // The same through a plain connected UDP socket, which names the error.
    const py = await net.exec('python3', ['-c', PY_UDP_PROBE, '10.0.0.2', '9999'], { timeoutMs: 10_000 });
    expect(py.stdout.trim()).toBe('ConnectionRefusedError [Errno 111] Connection refused');
    expect(host.counters.get('udp.rx.no_port')).toBeGreaterThanOrEqual(before + 2);
  });

  it('tshark reads the capture and finds no malformed DNS', async () => {
    const all = await net.exec('tshark', ['-r', pcap, '-Y', 'dns', '-T', 'fields', '-e', 'frame.number']);
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split('\n').length).toBeGreaterThan(20);
    // nc -vzu probes with a 1-byte "X" (UDP length 9): garbage as DNS by design, so
    // those (and our ICMP errors quoting them) are left out; everything else must parse.
    const filter = '(_ws.malformed || _ws.expert.severity == error) && !(udp.length == 9)';
    const bad = await net.exec('tshark', ['-r', pcap, '-Y', filter, '-T', 'fields', '-e', 'frame.number', '-e', '_ws.col.info']);
    expect(bad.stdout.trim()).toBe('');
  });
});
