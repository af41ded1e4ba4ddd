import { writeIpv4 } from './address.js';
import { readU16, readU32 } from './bytes.js';
import { parsed, refused, type ParseResult } from './result.js';
import { type DnsError, type DnsErrorKind, nameToLabels, readName } from './dns-name.js';
import {
  DnsType,
  emptyHeader,
  type DnsHeaderCounts,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
  type DnsRecordData,
} from './dns-records.js';

export * from './dns-name.js';
export * from './dns-records.js';

/**
 * DNS messages (RFC 1035 4.1) <-> bytes.
 *
 *  +---------------------+
 *  |        Header       |  12 bytes: ID, flags, four counts
 *  +---------------------+
 *  |       Question      |  QDCOUNT x (name, type, class)
 *  +---------------------+
 *  |        Answer       |  ANCOUNT x resource record
 *  +---------------------+
 *  |      Authority      |  NSCOUNT x resource record
 *  +---------------------+
 *  |      Additional     |  ARCOUNT x resource record
 *  +---------------------+
 *
 * A resource record is: name, TYPE, CLASS, TTL (32 bits), RDLENGTH, RDATA.
 *
 * Parsing treats every byte as hostile (a DNS server reads whatever anyone sends): it
 * never throws and never reads outside the message; it returns the message or a
 * typed error saying what was wrong and where.
 */

export const DNS_HEADER_LENGTH = 12;
/** RFC 1035 4.2.1: the largest message over UDP without EDNS. */
export const DNS_UDP_MAX = 512;
export const DNS_PORT = 53;

export type DnsParseResult = ParseResult<DnsMessage, DnsError>;
export type DnsHeaderResult = ParseResult<DnsHeaderCounts, DnsError>;

/** Read only the 12-byte header (enough to answer FORMERR or to see TC=1). */
export function parseDnsHeader(msg: Uint8Array): DnsHeaderResult {
  if (msg.length < DNS_HEADER_LENGTH) {
    return fail('truncated', 0, `${msg.length} bytes, shorter than the DNS header`);
  }
  const flags = readU16(msg, 2);
  return parsed({
    id: readU16(msg, 0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    z: (flags & 0x0040) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: readU16(msg, 4),
    ancount: readU16(msg, 6),
    nscount: readU16(msg, 8),
    arcount: readU16(msg, 10),
  });
}

/** Parse a whole message. Never throws. */
export function parseDnsMessage(msg: Uint8Array): DnsParseResult {
  const head = parseDnsHeader(msg);
  if (!head.ok) return head;
  const { qdcount, ancount, nscount, arcount, ...header } = head.value;
  // The smallest question is 5 bytes (root name, type, class), the smallest record 11:
  // refuse counts the message cannot possibly hold before allocating anything.
  const least = qdcount * 5 + (ancount + nscount + arcount) * 11;
  if (least > msg.length - DNS_HEADER_LENGTH) {
    return fail('bad_count', 4, `counts ${qdcount}/${ancount}/${nscount}/${arcount} need at least ${least} bytes, message has ${msg.length - DNS_HEADER_LENGTH}`);
  }
  const r = new Reader(msg);
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qdcount; i++) {
    const q = r.question();
    if (!q) return refused(r.error!);
    questions.push(q);
  }
  const sections: DnsRecord[][] = [];
  for (const count of [ancount, nscount, arcount]) {
    const records: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const rr = r.record();
      if (!rr) return refused(r.error!);
      records.push(rr);
    }
    sections.push(records);
  }
  // Bytes after the last record are ignored, as resolvers generally do.
  return parsed({ header, questions, answers: sections[0]!, authorities: sections[1]!, additionals: sections[2]! });
}

function fail(kind: DnsErrorKind, offset: number, message: string): { ok: false; error: DnsError } {
  return refused({ kind, offset, message });
}

/** A cursor over the message; on failure a method returns null and sets `error`. */
class Reader {
  pos = DNS_HEADER_LENGTH;
  error: DnsError | null = null;

  constructor(private readonly msg: Uint8Array) {}

  private bad(kind: DnsErrorKind, offset: number, message: string): null {
    this.error = { kind, offset, message };
    return null;
  }

  private name(end = this.msg.length): string | null {
    const n = readName(this.msg, this.pos, end);
    if (!n.ok) {
      this.error = n.error;
      return null;
    }
    this.pos = n.value.next;
    return n.value.name;
  }

  private u16(): number {
    const v = readU16(this.msg, this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    const v = readU32(this.msg, this.pos);
    this.pos += 4;
    return v;
  }

  question(): DnsQuestion | null {
    const name = this.name();
    if (name === null) return null;
    if (this.pos + 4 > this.msg.length) return this.bad('truncated', this.pos, 'message ends inside a question');
    return { name, type: this.u16(), class: this.u16() };
  }

  record(): DnsRecord | null {
    const start = this.pos;
    const name = this.name();
    if (name === null) return null;
    if (this.pos + 10 > this.msg.length) return this.bad('truncated', this.pos, 'message ends inside a record header');
    const type = this.u16();
    const klass = this.u16();
    const ttl = this.u32();
    const rdlength = this.u16();
    const end = this.pos + rdlength;
    if (end > this.msg.length) return this.bad('truncated', this.pos, `RDLENGTH ${rdlength} runs past the end of the message`);
    const data = this.rdata(type, end);
    if (data === null) return null;
    if (this.pos !== end) return this.bad('bad_rdata', start, `${rdlength}-byte RDATA of type ${type} has ${end - this.pos} bytes left over`);
    return { name, type, class: klass, ttl, data };
  }

  /** RDATA of `type`, ending exactly at `end` (checked by the caller). */
  private rdata(type: number, end: number): DnsRecordData | null {
    const length = end - this.pos;
    const need = (n: number): boolean => this.pos + n <= end;
    switch (type) {
      case DnsType.A: {
        if (length !== 4) return this.bad('bad_rdata', this.pos, `A record with ${length} bytes of RDATA`);
        return { kind: 'A', address: this.u32() };
      }
      case DnsType.AAAA: {
        if (length !== 16) return this.bad('bad_rdata', this.pos, `AAAA record with ${length} bytes of RDATA`);
        const address = this.msg.slice(this.pos, end);
        this.pos = end;
        return { kind: 'AAAA', address };
      }
      case DnsType.CNAME:
      case DnsType.NS:
      case DnsType.PTR: {
        const target = this.name(end);
        if (target === null) return null;
        const kind = type === DnsType.CNAME ? 'CNAME' : type === DnsType.NS ? 'NS' : 'PTR';
        return { kind, target };
      }
      case DnsType.MX: {
        if (!need(3)) return this.bad('bad_rdata', this.pos, 'MX RDATA too short');
        const preference = this.u16();
        const exchange = this.name(end);
        return exchange === null ? null : { kind: 'MX', preference, exchange };
      }
      case DnsType.TXT: {
        // RFC 1035 3.3.14: one or more <character-string>s, each a length byte and data.
        const strings: Uint8Array[] = [];
        while (this.pos < end) {
          const len = this.msg[this.pos]!;
          if (!need(1 + len)) return this.bad('bad_rdata', this.pos, 'TXT string runs past its RDATA');
          strings.push(this.msg.slice(this.pos + 1, this.pos + 1 + len));
          this.pos += 1 + len;
        }
        return { kind: 'TXT', strings };
      }
      case DnsType.SOA: {
        const mname = this.name(end);
        if (mname === null) return null;
        const rname = this.name(end);
        if (rname === null) return null;
        if (!need(20)) return this.bad('bad_rdata', this.pos, 'SOA RDATA too short');
        return { kind: 'SOA', mname, rname, serial: this.u32(), refresh: this.u32(), retry: this.u32(), expire: this.u32(), minimum: this.u32() };
      }
      default: {
        const bytes = this.msg.slice(this.pos, end);
        this.pos = end;
        return { kind: 'raw', bytes };
      }
    }
  }
}

// ---------------------------------------------------------------------------------
// Encoding

export interface DnsEncodeOptions {
  /** Compress names (RFC 1035 4.1.4). Default true. */
  compress?: boolean;
}

/**
 * Encode a message. Throws RangeError for a message that cannot be encoded (an
 * invalid name, a section with more than 65535 entries): that is a programming error
 * of the caller, not hostile input.
 */
export function encodeDnsMessage(message: DnsMessage, options: DnsEncodeOptions = {}): Uint8Array {
  const w = new Writer(options.compress ?? true);
  const { header } = message;
  w.u16(header.id);
  w.u16(
    (header.qr ? 0x8000 : 0) |
      ((header.opcode & 0xf) << 11) |
      (header.aa ? 0x0400 : 0) |
      (header.tc ? 0x0200 : 0) |
      (header.rd ? 0x0100 : 0) |
      (header.ra ? 0x0080 : 0) |
      (header.z ? 0x0040 : 0) |
      (header.ad ? 0x0020 : 0) |
      (header.cd ? 0x0010 : 0) |
      (header.rcode & 0xf),
  );
  for (const section of [message.questions, message.answers, message.authorities, message.additionals]) {
    if (section.length > 0xffff) throw new RangeError('more than 65535 entries in a section');
    w.u16(section.length);
  }
  for (const q of message.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...message.answers, ...message.authorities, ...message.additionals]) w.record(rr);
  return w.finish();
}

/** Encode one question as a standard query: the message a resolver sends. */
export function encodeDnsQuery(id: number, question: DnsQuestion, recursionDesired = true): Uint8Array {
  return encodeDnsMessage({
    header: { ...emptyHeader(id), rd: recursionDesired },
    questions: [question],
    answers: [],
    authorities: [],
    additionals: [],
  });
}

/** Prefix a message with its two-byte length for DNS over TCP (RFC 1035 4.2.2). */
export function frameDnsTcp(message: Uint8Array): Uint8Array {
  if (message.length > 0xffff) throw new RangeError('DNS message longer than 65535 bytes');
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

class Writer {
  private buf = new Uint8Array(512);
  private length = 0;
  /** Canonical suffix text -> offset where it was written, for compression. */
  private readonly suffixes: Map<string, number> | null;

  constructor(compress: boolean) {
    this.suffixes = compress ? new Map() : null;
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v & 0xff;
  }

  u16(v: number): void {
    this.room(2);
    this.buf[this.length++] = (v >>> 8) & 0xff;
    this.buf[this.length++] = v & 0xff;
  }

  u32(v: number): void {
    this.room(4);
    writeIpv4(this.buf, this.length, v >>> 0);
    this.length += 4;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /**
   * Write a name, replacing its longest suffix already in the message by a pointer.
   * Suffixes are matched case-insensitively (RFC 1035 2.3.3) and only those written
   * at offsets below 0x4000 can be pointed to (14 bits).
   */
  name(name: string): void {
    const labels = nameToLabels(name);
    if (labels === null) throw new RangeError(`not a valid domain name: ${JSON.stringify(name)}`);
    const keys = this.suffixes ? suffixKeys(labels) : [];
    for (let i = 0; i < labels.length; i++) {
      if (this.suffixes) {
        const at = this.suffixes.get(keys[i]!);
        if (at !== undefined) {
          this.u16(0xc000 | at);
          return;
        }
        if (this.length < 0x4000) this.suffixes.set(keys[i]!, this.length);
      }
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }

  record(rr: DnsRecord): void {
    this.name(rr.name);
    this.u16(rr.type);
    this.u16(rr.class);
    this.u32(rr.ttl);
    const lengthAt = this.length;
    this.u16(0); // RDLENGTH, patched below
    const d = rr.data;
    switch (d.kind) {
      case 'A':
        this.u32(d.address);
        break;
      case 'AAAA':
        if (d.address.length !== 16) throw new RangeError('AAAA address must be 16 bytes');
        this.bytes(d.address);
        break;
      case 'CNAME':
      case 'NS':
      case 'PTR':
        this.name(d.target);
        break;
      case 'MX':
        this.u16(d.preference);
        this.name(d.exchange);
        break;
      case 'TXT':
        for (const s of d.strings) {
          if (s.length > 255) throw new RangeError('TXT string longer than 255 bytes');
          this.u8(s.length);
          this.bytes(s);
        }
        break;
      case 'SOA':
        this.name(d.mname);
        this.name(d.rname);
        for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) this.u32(v);
        break;
      case 'raw':
        this.bytes(d.bytes);
        break;
    }
    const rdlength = this.length - lengthAt - 2;
    if (rdlength > 0xffff) throw new RangeError('RDATA longer than 65535 bytes');
    this.buf[lengthAt] = rdlength >>> 8;
    this.buf[lengthAt + 1] = rdlength & 0xff;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** For labels [a, b, c]: the case-folded keys of the suffixes a.b.c, b.c, c. */
function suffixKeys(labels: Uint8Array[]): string[] {
  const keys: string[] = new Array<string>(labels.length);
  let key = '';
  for (let i = labels.length - 1; i >= 0; i--) {
    let label = '';
    for (const b of labels[i]!) label += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
    // Length-prefixed so that labels containing dots cannot collide with other splits.
    key = `${label.length}:${label}|${key}`;
    keys[i] = key;
  }
  return keys;
}
