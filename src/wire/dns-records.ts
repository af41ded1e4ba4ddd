import type { Ipv4Address } from './address.js';

/**
 * The parts of a DNS message (RFC 1035 4.1) as typed values: header, question,
 * resource record. Only data here; dns.ts reads and writes the bytes.
 */

/** RR TYPE values (RFC 1035 3.2.2, RFC 3596 for AAAA, RFC 6891 for OPT). */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const;

export const DnsClass = { IN: 1, CH: 3, ANY: 255 } as const;

/** RCODE values (RFC 1035 4.1.1). */
export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export const DnsOpcode = { QUERY: 0, IQUERY: 1, STATUS: 2 } as const;

/** Name of a TYPE value for logs and dig-like output ('TYPE99' for the unknown, RFC 3597 5). */
export function typeName(type: number): string {
  for (const [name, value] of Object.entries(DnsType)) if (value === type) return name;
  return `TYPE${type}`;
}

export function rcodeName(rcode: number): string {
  for (const [name, value] of Object.entries(DnsRcode)) if (value === rcode) return name;
  return `RCODE${rcode}`;
}

/** The fixed 12-byte header without its four counts (they follow from the sections). */
export interface DnsHeader {
  id: number;
  /** Response (true) or query. */
  qr: boolean;
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** TrunCation: the answer did not fit (RFC 1035 4.2.1: 512 bytes over UDP). */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  /** The reserved bit; must be zero, kept so a message round-trips. */
  z: boolean;
  /** Authentic data and checking disabled (RFC 4035 3.2). */
  ad: boolean;
  cd: boolean;
  rcode: number;
}

/** The header with its counts, as read from the wire. */
export interface DnsHeaderCounts extends DnsHeader {
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** RDATA decoded for the types we know; anything else stays raw bytes (RFC 3597). */
export type DnsRecordData =
  | { kind: 'A'; address: Ipv4Address }
  | { kind: 'AAAA'; address: Uint8Array }
  | { kind: 'CNAME'; target: string }
  | { kind: 'NS'; target: string }
  | { kind: 'PTR'; target: string }
  | { kind: 'MX'; preference: number; exchange: string }
  | { kind: 'TXT'; strings: Uint8Array[] }
  | {
      kind: 'SOA';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      /** RFC 2308 4: also the TTL of negative answers for the zone. */
      minimum: number;
    }
  | { kind: 'raw'; bytes: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  /** Seconds, as carried (unsigned 32-bit). */
  ttl: number;
  data: DnsRecordData;
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** A header with every flag clear: a starting point for building messages. */
export function emptyHeader(id: number): DnsHeader {
  return { id, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0 };
}

/** IPv6 text (RFC 5952: lower case, longest zero run as ::) of a 16-byte address. */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 1; // a single zero word is not shortened (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
