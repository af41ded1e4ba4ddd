import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Resolver } from '../../../src/dns/resolver.js';
import { DnsResponder } from '../../../src/dns/responder.js';
import { ZoneData, parseRecordArgument, parseZoneFile } from '../../../src/dns/zone.js';
import { Counters } from '../../../src/stack/counters.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { formatIpv4, parseIpv4 } from '../../../src/wire/address.js';
import {
  DnsRcode,
  DnsType,
  emptyHeader,
  encodeDnsMessage,
  encodeDnsQuery,
  parseDnsMessage,
  type DnsMessage,
  type DnsRecord,
} from '../../../src/wire/dns.js';
import type { UdpApi } from '../../../src/udp/api.js';
import { DnsWorld } from './world.js';

const ZONE = `
# test zone
$ORIGIN any-domain.com
$TTL 120
@        A      192.0.2.20
ftp      A      192.0.2.21
files    CNAME  ftp            ; alias inside the zone
www 60   CNAME  example.org.   ; alias to a name we do not serve
mail     MX     10 ftp
@        TXT    "v=spf1 -all" "two words"
deep.below  A   192.0.2.40
`;

function zoneWithMany(n: number): ZoneData {
  const zones = new ZoneData();
  expect(parseZoneFile(ZONE, zones)).toEqual([]);
  const lines = ['$ORIGIN any-domain.com'];
  for (let i = 1; i <= n; i++) lines.push(`many A 198.51.100.${i}`);
  expect(parseZoneFile(lines.join('\n'), zones)).toEqual([]);
  return zones;
}

function responder(zones = zoneWithMany(40)) {
  const counters = new Counters();
  const r = new DnsResponder({ zones, udp: null as unknown as UdpApi, clock: new VirtualClock(), counters });
  const ask = (name: string, type: number = DnsType.A, transport: 'udp' | 'tcp' = 'udp'): DnsMessage => {
    const out = r.answer(encodeDnsQuery(0x4242, { name, type, class: 1 }), transport);
    const p = parseDnsMessage(out!);
    if (!p.ok) throw new Error(p.error.message);
    return p.value;
  };
  return { r, ask, counters };
}

const addr = (rr: DnsRecord): string => (rr.data.kind === 'A' ? formatIpv4(rr.data.address) : `${rr.data.kind}`);

describe('DnsResponder answers', () => {
  it('authoritative A answer with AA set, ID and RD echoed', () => {
    const { ask } = responder();
    const m = ask('FTP.any-domain.com');
    expect(m.header).toMatchObject({ id: 0x4242, qr: true, aa: true, rd: true, ra: false, rcode: DnsRcode.NOERROR, tc: false });
    expect(m.answers.map((x) => [x.name, x.ttl, addr(x)])).toEqual([['FTP.any-domain.com', 120, '192.0.2.21']]);
  });

  it('a CNAME inside the zone comes with its target; one outside the zone alone', () => {
    const { ask } = responder();
    expect(ask('files.any-domain.com').answers.map((x) => [x.name, x.data])).toEqual([
      ['files.any-domain.com', { kind: 'CNAME', target: 'ftp.any-domain.com' }],
      ['ftp.any-domain.com', { kind: 'A', address: parseIpv4('192.0.2.21') }],
    ]);
    const www = ask('www.any-domain.com');
    expect(www.answers.map((x) => [x.ttl, x.data])).toEqual([[60, { kind: 'CNAME', target: 'example.org' }]]);
  });

  it('NXDOMAIN inside the zone, with the SOA for negative caching', () => {
    const { ask } = responder();
    const m = ask('nope.any-domain.com');
    expect(m.header).toMatchObject({ aa: true, rcode: DnsRcode.NXDOMAIN });
    expect(m.authorities[0]).toMatchObject({ name: 'any-domain.com', type: DnsType.SOA, data: { minimum: 120 } });
  });

  it('NODATA for a name that exists with another type, and for an empty non-terminal', () => {
    const { ask } = responder();
    for (const m of [ask('ftp.any-domain.com', DnsType.MX), ask('below.any-domain.com')]) {
      expect(m.header.rcode).toBe(DnsRcode.NOERROR);
      expect(m.answers).toEqual([]);
      expect(m.authorities[0]!.type).toBe(DnsType.SOA);
    }
  });

  it('MX, TXT, and the SOA at the apex', () => {
    const { ask } = responder();
    expect(ask('mail.any-domain.com', DnsType.MX).answers[0]!.data).toEqual({ kind: 'MX', preference: 10, exchange: 'ftp.any-domain.com' });
    const txt = ask('any-domain.com', DnsType.TXT).answers[0]!.data;
    expect(txt.kind === 'TXT' && txt.strings.map((s) => Buffer.from(s).toString())).toEqual(['v=spf1 -all', 'two words']);
    expect(ask('any-domain.com', DnsType.SOA).answers[0]!.type).toBe(DnsType.SOA);
  });

  it('REFUSED outside its zones, without AA', () => {
    const { ask } = responder();
    const m = ask('example.org');
    expect(m.header).toMatchObject({ aa: false, rcode: DnsRcode.REFUSED });
    expect(m.questions[0]!.name).toBe('example.org');
  });

  it('TC over UDP when the answer exceeds 512 bytes; the whole answer over TCP', () => {
    const { ask, counters } = responder();
    const udp = ask('many.any-domain.com');
    expect(udp.header.tc).toBe(true);
    expect(udp.answers).toEqual([]);
    const tcp = ask('many.any-domain.com', DnsType.A, 'tcp');
    expect(tcp.header.tc).toBe(false);
    expect(tcp.answers).toHaveLength(40);
    expect(counters.get('dns.server.truncated')).toBe(1);
  });

  it('FORMERR for malformed queries; NOTIMP for other opcodes; silence for answers and scraps', () => {
    const { r } = responder();
    const q = encodeDnsQuery(7, { name: 'ftp.any-domain.com', type: 1, class: 1 });
    const cut = r.answer(q.subarray(0, q.length - 3), 'udp')!;
    const m = parseDnsMessage(cut);
    expect(m.ok && m.value.header).toMatchObject({ id: 7, qr: true, rcode: DnsRcode.FORMERR });
    const two: DnsMessage = {
      header: { ...emptyHeader(8) },
      questions: [
        { name: 'a.any-domain.com', type: 1, class: 1 },
        { name: 'b.any-domain.com', type: 1, class: 1 },
      ],
      answers: [],
      authorities: [],
      additionals: [],
    };
    const f = parseDnsMessage(r.answer(encodeDnsMessage(two), 'udp')!);
    expect(f.ok && f.value.header.rcode).toBe(DnsRcode.FORMERR);
    const status = encodeDnsMessage({ ...two, header: { ...emptyHeader(9), opcode: 2 }, questions: [] });
    const n = parseDnsMessage(r.answer(status, 'udp')!);
    expect(n.ok && n.value.header.rcode).toBe(DnsRcode.NOTIMP);
    expect(r.answer(new Uint8Array(5), 'udp')).toBeNull();
    const answer = Uint8Array.from(q);
    answer[2]! |= 0x80;
    expect(r.answer(answer, 'udp')).toBeNull();
  });

  it('fuzz: never throws, answers every query-shaped message with something that parses', () => {
    const { r, counters } = responder();
    const seed = encodeDnsQuery(1, { name: 'ftp.any-domain.com', type: 1, class: 1 });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }).map((edits) => {
            const b = Uint8Array.from(seed);
            for (const [at, v] of edits) b[at % b.length] = v;
            return b;
          }),
        ),
        (bytes) => {
          const out = r.answer(bytes, 'udp');
          if (bytes.length >= 12 && (bytes[2]! & 0x80) === 0) {
            expect(out).not.toBeNull();
            expect(parseDnsMessage(out!).ok).toBe(true);
            expect(out!.length).toBeLessThanOrEqual(512);
          }
        },
      ),
      { numRuns: 3000 },
    );
    expect(counters.get('dns.server.internal_error')).toBe(0);
  });
});

describe('zone data', () => {
  it('--record NAME=IPV4 makes the parent domain a zone', () => {
    const zones = new ZoneData();
    const rec = parseRecordArgument('ftp.any-domain.com=192.0.2.21');
    expect(typeof rec).not.toBe('string');
    zones.add(rec as DnsRecord);
    expect(zones.zoneOf('nope.any-domain.com')?.origin).toBe('any-domain.com');
    expect(zones.zoneOf('example.org')).toBeUndefined();
    expect(parseRecordArgument('ftp.any-domain.com')).toMatch(/NAME=IPV4/);
    expect(parseRecordArgument('ftp=1.2.3.999')).toMatch(/not an IPv4/);
    expect(parseRecordArgument('a..b=1.2.3.4')).toMatch(/not a valid/);
  });

  it('reports bad zone file lines by number', () => {
    const errors = parseZoneFile('$ORIGIN x.test\nftp A 1.2.3\nbad FOO 1\n@ TXT "open\n$TTL abc\n@ MX ten mail', new ZoneData());
    expect(errors.map((e) => e.split(':')[0])).toEqual(['line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
  });
});

describe('resolver against our responder on the memory hub', () => {
  it('UDP answers, and a long answer: TC=1 over UDP, then the whole RRset over TCP', async () => {
    const w = new DnsWorld(3);
    const server = w.host('10.0.0.53', 77);
    const dns = new DnsResponder({ zones: zoneWithMany(40), udp: server.udp, tcp: server.tcp, clock: w.clock, counters: server.counters });
    dns.start();
    const c = w.client;
    const resolver = new Resolver({ udp: c.udp, tcp: c.tcp, servers: ['10.0.0.53'], clock: w.clock, random: c.random, counters: c.counters });
    expect((await w.settle(resolver.resolve4('ftp.any-domain.com'))).value).toEqual(['192.0.2.21']);
    const chain = await w.settle(resolver.resolve('files.any-domain.com', DnsType.A));
    expect(chain.value?.chain).toEqual(['files.any-domain.com', 'ftp.any-domain.com']);
    expect((await w.settle(resolver.resolve4('nope.any-domain.com'))).error?.code).toBe('ENOTFOUND');
    expect((await w.settle(resolver.resolve4('example.org'))).error?.code).toBe('EREFUSED');

    const many = await w.settle(resolver.resolve4('many.any-domain.com'), 60_000);
    expect(many.error).toBeUndefined();
    expect(many.value).toHaveLength(40);
    expect(new Set(many.value)).toEqual(new Set(Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`)));
    expect(c.counters.get('dns.query.tcp')).toBe(1);
    expect(server.counters.get('dns.server.tcp_connections')).toBe(1);
    dns.close();
  });
});
