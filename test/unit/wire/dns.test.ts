import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../src/wire/address.js';
import {
  DnsClass,
  DnsRcode,
  DnsType,
  type DnsMessage,
  type DnsRecord,
  canonicalName,
  emptyHeader,
  encodeDnsMessage,
  encodeDnsQuery,
  formatIpv6,
  frameDnsTcp,
  isSubdomain,
  nameToLabels,
  parseDnsHeader,
  parseDnsMessage,
  readName,
} from '../../../src/wire/dns.js';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/dns/dnsmasq-dig.json', import.meta.url), 'utf8')) as {
  messages: Record<string, string>;
};
const bytes = (key: string): Uint8Array => {
  const hex = fixture.messages[key];
  if (!hex) throw new Error(`no fixture ${key}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
};
const parse = (b: Uint8Array): DnsMessage => {
  const r = parseDnsMessage(b);
  if (!r.ok) throw new Error(`${r.error.kind} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ip = (s: string): number => parseIpv4(s)!;

describe('wire/dns golden bytes from dig and dnsmasq', () => {
  it('dig +noedns query for ftp.any-domain.com A: RD set, one question, re-encodes byte for byte', () => {
    const b = bytes('query-a-noedns');
    const m = parse(b);
    expect(m.header).toMatchObject({ id: 0x3aed, qr: false, opcode: 0, rd: true, ad: true, tc: false, rcode: 0 });
    expect(m.questions).toEqual([{ name: 'ftp.any-domain.com', type: DnsType.A, class: DnsClass.IN }]);
    expect(m.answers).toEqual([]);
    expect(hex(encodeDnsMessage(m))).toBe(hex(b));
  });

  it('our own query builder produces what dig sends (same ID and flags but AD)', () => {
    const ours = encodeDnsQuery(0x3aed, { name: 'ftp.any-domain.com', type: DnsType.A, class: DnsClass.IN });
    const dig = bytes('query-a-noedns');
    dig[3] = dig[3]! & ~0x20; // dig sets AD=1 in queries (RFC 6840 5.7); we do not
    expect(hex(ours)).toBe(hex(dig));
  });

  it('A answer: AA, RD, RA, a compressed owner name, 192.0.2.21, byte for byte', () => {
    const b = bytes('response-a');
    const m = parse(b);
    expect(m.header).toMatchObject({ qr: true, aa: true, rd: true, ra: true, rcode: DnsRcode.NOERROR });
    expect(m.answers).toEqual([
      { name: 'ftp.any-domain.com', type: DnsType.A, class: DnsClass.IN, ttl: 0, data: { kind: 'A', address: ip('192.0.2.21') } },
    ]);
    expect(hex(encodeDnsMessage(m))).toBe(hex(b));
  });

  it('CNAME chain: the A owner points into the CNAME RDATA', () => {
    const m = parse(bytes('response-cname-chain'));
    expect(m.answers.map((a) => [a.name, a.data])).toEqual([
      ['files.any-domain.com', { kind: 'CNAME', target: 'ftp.any-domain.com' }],
      ['ftp.any-domain.com', { kind: 'A', address: ip('192.0.2.21') }],
    ]);
    // We compress the CNAME target too, so our bytes are shorter but mean the same.
    const again = encodeDnsMessage(m);
    expect(again.length).toBeLessThan(bytes('response-cname-chain').length);
    expect(parse(again)).toEqual(m);
  });

  it('NXDOMAIN and REFUSED', () => {
    expect(parse(bytes('response-nxdomain')).header.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(parse(bytes('response-refused')).header.rcode).toBe(DnsRcode.REFUSED);
  });

  it('MX, TXT and AAAA records', () => {
    expect(parse(bytes('response-mx')).answers[0]!.data).toEqual({ kind: 'MX', preference: 10, exchange: 'mail.any-domain.com' });
    const txt = parse(bytes('response-txt')).answers[0]!.data;
    expect(txt.kind === 'TXT' && txt.strings.map((s) => Buffer.from(s).toString())).toEqual(['v=spf1 -all', 'second string']);
    const aaaa = parse(bytes('response-aaaa')).answers[0]!.data;
    expect(aaaa.kind === 'AAAA' && formatIpv6(aaaa.address)).toBe('2001:db8::21');
    for (const key of ['response-mx', 'response-txt', 'response-aaaa']) expect(parse(encodeDnsMessage(parse(bytes(key))))).toEqual(parse(bytes(key)));
  });

  it('EDNS OPT record in the additional section is kept raw and round-trips byte for byte', () => {
    for (const key of ['query-a-edns', 'response-a-edns']) {
      const m = parse(bytes(key));
      const opt = m.additionals[0]!;
      expect(opt).toMatchObject({ name: '', type: DnsType.OPT });
      expect(opt.data.kind).toBe('raw');
      expect(hex(encodeDnsMessage(m))).toBe(hex(bytes(key)));
    }
  });

  it('DNS over TCP: the two-byte length prefix', () => {
    for (const key of ['tcp-query-a', 'tcp-response-a']) {
      const framed = bytes(key);
      const inner = framed.subarray(2);
      expect((framed[0]! << 8) | framed[1]!).toBe(inner.length);
      expect(hex(frameDnsTcp(encodeDnsMessage(parse(inner))))).toBe(hex(framed));
    }
  });

  it('SOA and PTR/NS records round-trip with compression', () => {
    const soa: DnsRecord = {
      name: 'any-domain.com',
      type: DnsType.SOA,
      class: DnsClass.IN,
      ttl: 3600,
      data: { kind: 'SOA', mname: 'ns.any-domain.com', rname: 'hostmaster.any-domain.com', serial: 2026112101, refresh: 7200, retry: 900, expire: 1209600, minimum: 300 },
    };
    const m: DnsMessage = {
      header: { ...emptyHeader(7), qr: true, aa: true },
      questions: [{ name: 'x.any-domain.com', type: DnsType.A, class: DnsClass.IN }],
      answers: [],
      authorities: [soa, { name: 'any-domain.com', type: DnsType.NS, class: 1, ttl: 5, data: { kind: 'NS', target: 'ns.any-domain.com' } }],
      additionals: [{ name: '21.2.0.192.in-addr.arpa', type: DnsType.PTR, class: 1, ttl: 5, data: { kind: 'PTR', target: 'ftp.any-domain.com' } }],
    };
    const b = encodeDnsMessage(m);
    expect(parse(b)).toEqual(m);
    expect(b.length).toBeLessThan(encodeDnsMessage(m, { compress: false }).length);
    expect(parse(encodeDnsMessage(m, { compress: false }))).toEqual(m);
  });
});

describe('wire/dns hostile input', () => {
  const header = (qd: number, an = 0): number[] => [0x12, 0x34, 0x01, 0x00, 0, qd, 0, an, 0, 0, 0, 0];
  const kind = (b: number[] | Uint8Array): string => {
    const r = parseDnsMessage(Uint8Array.from(b));
    return r.ok ? 'ok' : r.error.kind;
  };

  it('a pointer to itself is refused, not followed forever', () => {
    expect(kind([...header(1), 0xc0, 12, 0, 1, 0, 1])).toBe('bad_pointer');
  });

  it('a forward pointer is refused', () => {
    expect(kind([...header(1), 0xc0, 20, 0, 1, 0, 1, 0, 0, 0, 0, 0])).toBe('bad_pointer');
  });

  it('two names pointing at each other (a loop through an earlier name) are refused', () => {
    // Question 1 at 12: label "a" then a pointer to 17 (forward: refused on its own).
    // Construct a loop that only backward pointers could build: name at 12 = "a" + ptr(12+...)
    // Record owner at 18 points to 12; name at 12 = "a" then a pointer to 14 (inside itself).
    const b = [...header(1), 1, 0x61, 0xc0, 12, 0, 1, 0, 1];
    expect(kind(b)).toBe('pointer_loop');
    // Pointer at 30 -> 20; at 20 a label runs on to a pointer at 24 -> 22 (inside the
    // label run that we reached by jumping, i.e. not below the previous target).
    const c = new Uint8Array(40);
    c.set(header(1));
    c.set([2, 0x61, 0x61, 0xc0, 21], 20);
    c[30] = 0xc0;
    c[31] = 20;
    // Question name at 12 is a pointer to 30? That is forward; so put the question at 32.
    const m = new Uint8Array(38);
    m.set(c.subarray(0, 32));
    m.set([0xc0, 30, 0, 1, 0, 1], 32);
    // The question starts at 12 in a real parse, so check readName directly at 32.
    const r = readName(m, 32);
    expect(r.ok ? 'ok' : r.error.kind).toBe('pointer_loop');
  });

  it('label type bits 01 and 10 are refused', () => {
    expect(kind([...header(1), 0x41, 0, 0, 1, 0, 1])).toBe('bad_label_type');
    expect(kind([...header(1), 0x81, 0, 0, 1, 0, 1])).toBe('bad_label_type');
  });

  it('a name longer than 255 bytes is refused, also when built with pointers', () => {
    const long: number[] = [];
    for (let i = 0; i < 5; i++) long.push(63, ...new Array<number>(63).fill(0x61));
    expect(kind([...header(1), ...long, 0, 0, 1, 0, 1])).toBe('name_too_long');
    // 4 x 63-byte labels = 256 bytes with the root: one over.
    const four: number[] = [];
    for (let i = 0; i < 4; i++) four.push(63, ...new Array<number>(63).fill(0x62));
    expect(kind([...header(1), ...four, 0, 0, 1, 0, 1])).toBe('name_too_long');
    // 3 x 63 + one 61-byte label = 255: accepted.
    const ok = [...four.slice(0, 192), 61, ...new Array<number>(61).fill(0x63), 0];
    expect(kind([...header(1), ...ok, 0, 1, 0, 1])).toBe('ok');
  });

  it('counts promising more than the message holds: bad_count, before parsing', () => {
    expect(kind([...header(1, 0xffff), 0, 0, 1, 0, 1])).toBe('bad_count');
    expect(kind(header(1))).toBe('bad_count');
  });

  it('counts that fit the size check but run out of records: truncated', () => {
    const b = bytes('response-a');
    const m = Uint8Array.from(b);
    m[7] = 2; // ANCOUNT 2, only one record present (16 bytes: the check passes)
    expect(kind(m)).toBe('truncated');
  });

  it('every truncation of real messages is an error, never an exception', () => {
    for (const key of Object.keys(fixture.messages)) {
      const b = bytes(key);
      for (let n = 0; n < b.length; n++) {
        const r = parseDnsMessage(b.subarray(0, n));
        // Cutting only bytes the message does not need is impossible: each ends with data.
        expect(r.ok, `${key} cut at ${n}`).toBe(false);
      }
    }
  });

  it('RDATA that does not fit its type: A of 5 bytes, CNAME name running past RDLENGTH', () => {
    const a = Uint8Array.from([...bytes('response-a'), 0]);
    a[a.length - 6] = 5; // RDLENGTH 4 -> 5
    expect(kind(a)).toBe('bad_rdata');
    const c = Uint8Array.from(bytes('response-cname-chain'));
    const rdlenAt = 12 + 26 + 2 + 2 + 2 + 4; // header, question, owner pointer, type, class, TTL
    expect((c[rdlenAt]! << 8) | c[rdlenAt + 1]!).toBe(20);
    c[rdlenAt + 1] = 10;
    expect(kind(c)).not.toBe('ok');
  });

  it('header alone is readable from 12 bytes (to answer FORMERR or see TC)', () => {
    const h = parseDnsHeader(Uint8Array.from([0xab, 0xcd, 0x83, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]));
    expect(h.ok && h.value).toMatchObject({ id: 0xabcd, qr: true, tc: true, rd: true, qdcount: 1 });
    expect(parseDnsHeader(new Uint8Array(11)).ok).toBe(false);
  });

  it('fuzz: random bytes and mutated real messages never throw', () => {
    const seeds = Object.keys(fixture.messages).map(bytes);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        parseDnsMessage(b);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (which, edits) => {
          const b = Uint8Array.from(seeds[which]!);
          for (const [at, v] of edits) b[at % b.length] = v;
          const r = parseDnsMessage(b);
          // Whatever parses must survive our encoder and parse to the same thing.
          // (Uncompressed for exact equality: compression matches suffixes without
          // regard to case, so it may fold "Com" into an earlier "com".)
          if (r.ok) {
            expect(parse(encodeDnsMessage(r.value, { compress: false }))).toEqual(r.value);
            expect(parseDnsMessage(encodeDnsMessage(r.value)).ok).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('wire/dns names', () => {
  it('escapes dots and odd bytes in labels, and text -> wire -> text is lossless', () => {
    const m: DnsMessage = {
      header: emptyHeader(1),
      questions: [{ name: 'a\\.b.c\\\\d.\\000\\255x', type: 1, class: 1 }],
      answers: [],
      authorities: [],
      additionals: [],
    };
    const b = encodeDnsMessage(m);
    expect(Array.from(b.subarray(12, 12 + 4))).toEqual([3, 0x61, 0x2e, 0x62]);
    expect(parse(b).questions[0]!.name).toBe('a\\.b.c\\\\d.\\000\\255x');
  });

  it('rejects invalid names on encode', () => {
    expect(nameToLabels('a..b')).toBeNull();
    expect(nameToLabels('x'.repeat(64))).toBeNull();
    expect(nameToLabels('x'.repeat(63))).not.toBeNull();
    expect(nameToLabels('ü.com')).toBeNull();
    expect(nameToLabels('a.b.')).toEqual(nameToLabels('a.b'));
    expect(() => encodeDnsQuery(1, { name: 'a..b', type: 1, class: 1 })).toThrow(RangeError);
  });

  it('compression matches suffixes case-insensitively', () => {
    const m: DnsMessage = {
      header: emptyHeader(1),
      questions: [{ name: 'FTP.Any-Domain.COM', type: 1, class: 1 }],
      answers: [{ name: 'ftp.any-domain.com', type: 1, class: 1, ttl: 1, data: { kind: 'A', address: 1 } }],
      authorities: [],
      additionals: [],
    };
    const b = encodeDnsMessage(m);
    expect(Array.from(b.subarray(36, 38))).toEqual([0xc0, 12]);
  });

  it('canonical names and zone membership', () => {
    expect(canonicalName('FTP.Any-Domain.com.')).toBe('ftp.any-domain.com');
    expect(isSubdomain('ftp.any-domain.com', 'any-domain.com')).toBe(true);
    expect(isSubdomain('any-domain.com', 'ANY-domain.com.')).toBe(true);
    expect(isSubdomain('many-domain.com', 'any-domain.com')).toBe(false);
    expect(isSubdomain('a\\.any-domain.com', 'any-domain.com')).toBe(false);
    expect(isSubdomain('a\\..any-domain.com', 'any-domain.com')).toBe(true);
    expect(isSubdomain('x.a\\.b', 'b')).toBe(false);
    expect(isSubdomain('anything', '')).toBe(true);
  });

  it('fuzz: any valid name survives encode and parse', () => {
    const label = fc.uint8Array({ minLength: 1, maxLength: 63 });
    fc.assert(
      fc.property(fc.array(label, { maxLength: 4 }), (labels) => {
        const wire = [...labels.flatMap((l) => [l.length, ...l]), 0];
        const msg = Uint8Array.from([...new Array<number>(12).fill(0), ...wire]);
        const r = readName(msg, 12);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.next).toBe(msg.length);
        const back = nameToLabels(r.value.name);
        expect(back?.map((l) => Array.from(l))).toEqual(labels.map((l) => Array.from(l)));
      }),
    );
  });
});
