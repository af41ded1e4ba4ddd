import { describe, expect, it } from 'vitest';
import { Resolver, type ResolverOptions } from '../../../src/dns/resolver.js';
import type { UdpSocketLike } from '../../../src/udp/api.js';
import { DnsTcpDeframer } from '../../../src/dns/tcp-framing.js';
import { DnsRcode, DnsType, encodeDnsMessage, frameDnsTcp, parseDnsMessage, type DnsMessage } from '../../../src/wire/dns.js';
import { DnsWorld, a, cname, reply, soa } from './world.js';

const NAME = 'ftp.any-domain.com';

function resolverFor(w: DnsWorld, servers: string[], extra: Partial<ResolverOptions> = {}): Resolver {
  const c = w.client;
  return new Resolver({ udp: c.udp, servers, clock: w.clock, random: c.random, counters: c.counters, ...extra });
}

describe('Resolver over the memory hub (scripted servers, virtual clock)', () => {
  it('asks one A question with RD=1 from random ports and IDs, and returns the addresses', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) => reply(q, [a(NAME, '192.0.2.21'), a(NAME, '192.0.2.22')]));
    const r = resolverFor(w, ['10.0.0.53'], { cache: false });
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['192.0.2.21', '192.0.2.22']);
    await w.settle(r.resolve4(NAME));
    const [q1, q2] = w.received;
    expect(q1!.message.header).toMatchObject({ qr: false, rd: true, opcode: 0 });
    expect(q1!.message.questions).toEqual([{ name: NAME, type: DnsType.A, class: 1 }]);
    expect(q1!.rinfo.port).toBeGreaterThanOrEqual(49152);
    expect(q2!.rinfo.port).not.toBe(q1!.rinfo.port);
    expect(q2!.message.header.id).not.toBe(q1!.message.header.id);
  });

  it('ignores answers with the wrong ID, the wrong question or from the wrong port; takes the right one', async () => {
    const w = new DnsWorld();
    let forger: UdpSocketLike | undefined;
    const host = w.server('10.0.0.53', (q) => {
      // Same ID and question, but from another port of the server's host: not the server.
      forger!.send(encodeDnsMessage(reply(q, [a(NAME, '6.6.6.8')])), w.received.at(-1)!.rinfo.port, '10.0.0.2');
      const wrongId = reply(q, [a(NAME, '6.6.6.6')], { id: (q.header.id + 1) & 0xffff });
      const wrongQ = { ...reply(q, [a('evil.example', '6.6.6.7')]), questions: [{ name: 'evil.example', type: 1, class: 1 }] };
      return [wrongId, wrongQ, reply(q, [a(NAME, '192.0.2.21')])];
    });
    forger = host.udp.bind({ port: 5353 });
    const r = resolverFor(w, ['10.0.0.53']);
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['192.0.2.21']);
    expect(w.client.counters.get('dns.rx.wrong_source')).toBe(1);
    expect(w.client.counters.get('dns.rx.mismatch')).toBe(2);
  });

  it('retries after a timeout, doubling it each round', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q, n) => (n < 2 ? null : reply(q, [a(NAME, '192.0.2.21')])));
    const r = resolverFor(w, ['10.0.0.53'], { timeoutMs: 1000, tries: 3 });
    const out = await w.settle(r.resolve4(NAME));
    expect(out.value).toEqual(['192.0.2.21']);
    // 1000 ms + 2000 ms of silence, then the answer (a few ms of wire).
    expect(out.elapsed).toBeGreaterThanOrEqual(3000);
    expect(out.elapsed).toBeLessThan(3100);
    expect(w.received).toHaveLength(3);
    expect(w.client.counters.get('dns.timeout')).toBe(2);
  });

  it('with the first server silent, the second answers', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', () => null);
    w.server('10.0.0.54', (q) => reply(q, [a(NAME, '192.0.2.21')]));
    const r = resolverFor(w, ['10.0.0.53', '10.0.0.54'], { timeoutMs: 500 });
    const out = await w.settle(r.resolve4(NAME));
    expect(out.value).toEqual(['192.0.2.21']);
    expect(w.received.map((x) => x.server)).toEqual(['10.0.0.53', '10.0.0.54']);
  });

  it('a server that does not exist at all (no ARP answer) is skipped after its timeout', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.54', (q) => reply(q, [a(NAME, '192.0.2.21')]));
    const r = resolverFor(w, ['10.0.0.99', '10.0.0.54'], { timeoutMs: 500 });
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['192.0.2.21']);
  });

  it('a host with no DNS server answers port unreachable: next server at once, no timeout', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', () => null, 5353); // host exists, port 53 closed
    w.server('10.0.0.54', (q) => reply(q, [a(NAME, '192.0.2.21')]));
    const r = resolverFor(w, ['10.0.0.53', '10.0.0.54'], { timeoutMs: 2000 });
    const out = await w.settle(r.resolve4(NAME));
    expect(out.value).toEqual(['192.0.2.21']);
    expect(out.elapsed).toBeLessThan(100);
    expect(w.client.counters.get('dns.unreachable')).toBe(1);
  });

  it('ETIMEOUT when nobody answers: tries rounds over all servers', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', () => null);
    w.server('10.0.0.54', () => null);
    const r = resolverFor(w, ['10.0.0.53', '10.0.0.54'], { timeoutMs: 1000, tries: 2 });
    const out = await w.settle(r.resolve4(NAME));
    expect(out.error?.code).toBe('ETIMEOUT');
    expect((out.error as unknown as { hostname: string }).hostname).toBe(NAME);
    expect(w.received).toHaveLength(4);
    expect(out.elapsed).toBe(1000 + 1000 + 2000 + 2000);
  });

  it('ENOTFOUND for NXDOMAIN, cached for min(SOA TTL, MINIMUM) (RFC 2308)', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) => reply(q, [], { rcode: DnsRcode.NXDOMAIN, aa: true }, [soa('any-domain.com', 60)]));
    const r = resolverFor(w, ['10.0.0.53']);
    expect((await w.settle(r.resolve4('nope.any-domain.com'))).error?.code).toBe('ENOTFOUND');
    await w.clock.advanceAsync(59_000);
    expect((await w.settle(r.resolve4('nope.any-domain.com'))).error?.code).toBe('ENOTFOUND');
    // NXDOMAIN is about the name, not the type: a CNAME question is answered from cache too.
    expect((await w.settle(r.resolveCname('nope.any-domain.com'))).error?.code).toBe('ENOTFOUND');
    expect(w.received).toHaveLength(1);
    await w.clock.advanceAsync(2_000);
    expect((await w.settle(r.resolve4('nope.any-domain.com'))).error?.code).toBe('ENOTFOUND');
    expect(w.received).toHaveLength(2);
  });

  it('NODATA (NOERROR, no answer) is ENODATA and cached too', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) => reply(q, [], { aa: true }, [soa('any-domain.com', 30)]));
    const r = resolverFor(w, ['10.0.0.53']);
    expect((await w.settle(r.resolve4(NAME))).error?.code).toBe('ENODATA');
    expect((await w.settle(r.resolve4(NAME))).error?.code).toBe('ENODATA');
    expect(w.received).toHaveLength(1);
  });

  it('SERVFAIL and REFUSED: ESERVFAIL / EREFUSED after trying every server', async () => {
    for (const [rcode, code] of [
      [DnsRcode.SERVFAIL, 'ESERVFAIL'],
      [DnsRcode.REFUSED, 'EREFUSED'],
    ] as const) {
      const w = new DnsWorld();
      w.server('10.0.0.53', (q) => reply(q, [], { rcode }));
      const r = resolverFor(w, ['10.0.0.53'], { tries: 2 });
      expect((await w.settle(r.resolve4(NAME))).error?.code).toBe(code);
      expect(w.received).toHaveLength(2);
    }
  });

  it('SERVFAIL from the first server, an answer from the second', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) => reply(q, [], { rcode: DnsRcode.SERVFAIL }));
    w.server('10.0.0.54', (q) => reply(q, [a(NAME, '192.0.2.21')]));
    const r = resolverFor(w, ['10.0.0.53', '10.0.0.54']);
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['192.0.2.21']);
  });

  it('follows a CNAME chain inside one answer and reports it', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) =>
      reply(q, [cname('files.any-domain.com', 'www.any-domain.com'), cname('www.any-domain.com', NAME), a(NAME, '192.0.2.21')]),
    );
    const r = resolverFor(w, ['10.0.0.53']);
    const out = await w.settle(r.resolve('files.any-domain.com', DnsType.A));
    expect(out.value?.chain).toEqual(['files.any-domain.com', 'www.any-domain.com', NAME]);
    expect(out.value?.records.map((x) => x.data)).toEqual([{ kind: 'A', address: 0xc0000215 }]);
    expect((await w.settle(r.resolveCname('files.any-domain.com'))).value).toEqual(['www.any-domain.com']);
  });

  it('follows a CNAME across queries when the answer stops at the alias', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) =>
      q.questions[0]!.name === 'files.any-domain.com' ? reply(q, [cname('files.any-domain.com', 'ftp.other.org')]) : reply(q, [a('ftp.other.org', '198.51.100.7')]),
    );
    const r = resolverFor(w, ['10.0.0.53']);
    const out = await w.settle(r.resolve('files.any-domain.com', DnsType.A));
    expect(out.value?.chain).toEqual(['files.any-domain.com', 'ftp.other.org']);
    expect(w.received.map((x) => x.message.questions[0]!.name)).toEqual(['files.any-domain.com', 'ftp.other.org']);
  });

  it('refuses CNAME loops and over-long chains', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) => {
      const n = q.questions[0]!.name;
      if (n === 'loop1.test') return reply(q, [cname('loop1.test', 'loop2.test')]);
      if (n === 'loop2.test') return reply(q, [cname('loop2.test', 'loop1.test')]);
      const m = /^c(\d+)\.test$/.exec(n);
      return reply(q, [cname(n, `c${Number(m![1]) + 1}.test`)]);
    });
    const r = resolverFor(w, ['10.0.0.53'], { maxCnameDepth: 4 });
    expect((await w.settle(r.resolve4('loop1.test'))).error?.code).toBe('EBADRESP');
    const long = await w.settle(r.resolve4('c0.test'));
    expect(long.error?.code).toBe('EBADRESP');
    expect(w.received.filter((x) => x.message.questions[0]!.name.startsWith('c')).length).toBeLessThanOrEqual(5);
  });

  it('caches answers for their TTL, then asks again', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q, n) => reply(q, [a(NAME, n === 0 ? '192.0.2.21' : '192.0.2.99', 30)]));
    const r = resolverFor(w, ['10.0.0.53']);
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['192.0.2.21']);
    await w.clock.advanceAsync(20_000);
    expect((await w.settle(r.resolve4(NAME, { ttl: true }))).value).toEqual([{ address: '192.0.2.21', ttl: 10 }]);
    expect(w.received).toHaveLength(1);
    await w.clock.advanceAsync(10_001);
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['192.0.2.99']);
    expect(w.received).toHaveLength(2);
  });

  it('caches the CNAME and the target separately (RFC 1034 5.3.3)', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) => reply(q, [cname('files.any-domain.com', NAME, 600), a(NAME, '192.0.2.21', 60)]));
    const r = resolverFor(w, ['10.0.0.53']);
    await w.settle(r.resolve4('files.any-domain.com'));
    await w.clock.advanceAsync(61_000);
    // The CNAME is still cached; only the A of the target is asked again.
    const out = await w.settle(r.resolve('files.any-domain.com', DnsType.A));
    expect(out.value?.chain).toEqual(['files.any-domain.com', NAME]);
    expect(w.received.map((x) => x.message.questions[0]!.name)).toEqual(['files.any-domain.com', NAME]);
  });

  it('the hosts table is consulted first, and lookup() passes literals through', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', () => null);
    const r = resolverFor(w, ['10.0.0.53'], { hosts: { 'FTP.any-domain.com': '10.9.9.9' } });
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['10.9.9.9']);
    expect((await w.settle(r.lookup(NAME))).value).toEqual({ address: '10.9.9.9', family: 4 });
    expect((await w.settle(r.lookup('192.0.2.1'))).value).toEqual({ address: '192.0.2.1', family: 4 });
    expect(w.received).toHaveLength(0);
  });

  it('EBADNAME for a name that cannot be asked; EINVAL for a bad server', async () => {
    const w = new DnsWorld();
    const r = resolverFor(w, ['10.0.0.53']);
    expect((await w.settle(r.resolve4('a..b'))).error?.code).toBe('EBADNAME');
    expect(() => resolverFor(w, ['dns.example'])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => resolverFor(w, [])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('a truncated answer without TCP is used for what it holds', async () => {
    const w = new DnsWorld();
    w.server('10.0.0.53', (q) => reply(q, [a(NAME, '192.0.2.21')], { tc: true }));
    const r = resolverFor(w, ['10.0.0.53']);
    expect((await w.settle(r.resolve4(NAME))).value).toEqual(['192.0.2.21']);
    expect(w.client.counters.get('dns.rx.truncated_answer')).toBe(1);
  });
});

describe('Resolver TC=1 -> TCP with a scripted TCP server', () => {
  it('a UDP answer cut short with TC=1 is asked again over TCP, length-prefixed', async () => {
    const w = new DnsWorld(5);
    const addrs = Array.from({ length: 50 }, (_, i) => `198.51.100.${i + 1}`);
    const full = (q: DnsMessage) => encodeDnsMessage(reply(q, addrs.map((x) => a(NAME, x))));
    // Over UDP: the first 512 bytes of the full answer with TC set (cut mid-record,
    // as some servers do), which only the header of can be read.
    const host = w.server('10.0.0.53', (q) => {
      const cut = full(q).slice(0, 512);
      cut[2]! |= 0x02;
      return cut;
    });
    const tcpQueries: DnsMessage[] = [];
    host.tcp.listen({ port: 53 }, (conn) => {
      const deframer = new DnsTcpDeframer();
      conn.on('data', (chunk: Buffer) => {
        for (const bytes of deframer.push(chunk)) {
          const parsed = parseDnsMessage(bytes);
          if (!parsed.ok) throw new Error(parsed.error.message);
          tcpQueries.push(parsed.value);
          // Write the answer in two pieces to exercise reassembly of the frame.
          const framed = frameDnsTcp(full(parsed.value));
          conn.write(framed.subarray(0, 100));
          conn.write(framed.subarray(100));
        }
      });
      conn.on('end', () => conn.end());
    });
    const c = w.client;
    const r = new Resolver({ udp: c.udp, tcp: c.tcp, servers: ['10.0.0.53'], clock: w.clock, random: c.random, counters: c.counters });
    const out = await w.settle(r.resolve4(NAME));
    expect(out.error).toBeUndefined();
    expect(out.value).toEqual(addrs);
    expect(tcpQueries).toHaveLength(1);
    // The same question and ID over TCP as over UDP (RFC 7766 5).
    expect(tcpQueries[0]!.header.id).toBe(w.received[0]!.message.header.id);
    expect(tcpQueries[0]!.questions).toEqual(w.received[0]!.message.questions);
  });
});

describe('Resolver with a server it cannot route to', () => {
  it('fails at once with ENETUNREACH instead of waiting for timeouts', async () => {
    const w = new DnsWorld(9);
    const c = w.client;
    const r = new Resolver({ udp: c.udp, servers: ['192.0.2.53'], clock: w.clock, random: c.random, timeoutMs: 2000 });
    const out = await w.settle(r.resolve4(NAME));
    expect(out.error?.code).toBe('ENETUNREACH');
    expect(out.elapsed).toBe(0);
  });
});
