import { parseIpv4 } from '../wire/address.js';
import {
  DnsClass,
  DnsType,
  canonicalName,
  isSubdomain,
  nameToLabels,
  splitName,
  type DnsRecord,
} from '../wire/dns.js';

/**
 * The data an authoritative responder serves: zones (the names it is the authority
 * for) and their records.
 *
 * Zone file format (a small, line-based cousin of the RFC 1035 master file):
 *
 *   # comments start with '#' or ';' and run to the end of the line
 *   $ORIGIN any-domain.com     ; declares a zone; later relative names are below it
 *   $TTL 300                   ; TTL of the records that follow (default 300)
 *   @        A      192.0.2.20 ; '@' is the origin itself
 *   ftp      A      192.0.2.21 ; relative name: ftp.any-domain.com
 *   ftp      A      192.0.2.22 ; several records of a name make one RRset
 *   files    CNAME  ftp        ; the target is relative too unless it ends with '.'
 *   www 60   CNAME  example.org.   ; an optional TTL between name and type
 *   @        MX     10 mail
 *   @        NS     ns1
 *   @        TXT    "v=spf1 -all" "more text"
 *   mail.other-zone.org.  A  192.0.2.30   ; absolute name (trailing dot)
 *
 * Types: A, CNAME, NS, MX, TXT, PTR. Every $ORIGIN is a zone: names in it that have
 * no record get NXDOMAIN, names outside every zone get REFUSED. An absolute name
 * outside all declared zones creates a zone of its parent domain (as --record does).
 * Each zone gets a synthesized SOA (serial 1, MINIMUM = the last $TTL given in the
 * zone, default 300) used in negative answers (RFC 2308 3).
 */

export interface Zone {
  /** The zone apex, canonical (lower case, no trailing dot). */
  origin: string;
  /** TTL of negative answers (SOA MINIMUM, RFC 2308 4). */
  negativeTtl: number;
}

export const DEFAULT_TTL = 300;

export class ZoneData {
  readonly zones: Zone[] = [];
  /** Canonical owner name -> its records. */
  private readonly byName = new Map<string, DnsRecord[]>();

  addZone(origin: string, negativeTtl = DEFAULT_TTL): Zone {
    const canonical = canonicalName(origin);
    const existing = this.zones.find((z) => z.origin === canonical);
    if (existing) return existing;
    const zone = { origin: canonical, negativeTtl };
    this.zones.push(zone);
    // Longest origin first, so the deepest enclosing zone is found first.
    this.zones.sort((a, b) => splitName(b.origin).length - splitName(a.origin).length);
    return zone;
  }

  /** Add a record; a name outside every zone creates the zone of its parent domain. */
  add(record: DnsRecord): void {
    if (nameToLabels(record.name) === null) throw new Error(`invalid name ${JSON.stringify(record.name)}`);
    if (!this.zoneOf(record.name)) this.addZone(defaultZoneFor(record.name));
    const key = canonicalName(record.name);
    const list = this.byName.get(key) ?? [];
    list.push(record);
    this.byName.set(key, list);
  }

  /** The deepest zone that contains `name`, or undefined (then we are not authoritative). */
  zoneOf(name: string): Zone | undefined {
    return this.zones.find((z) => isSubdomain(name, z.origin));
  }

  /** The records owned by `name` (any type). */
  recordsAt(name: string): DnsRecord[] {
    return this.byName.get(canonicalName(name)) ?? [];
  }

  /**
   * Does the name exist? It does when it owns records, or when some name below it
   * does (an "empty non-terminal": NODATA, not NXDOMAIN, RFC 8020), or when it is
   * a zone apex.
   */
  exists(name: string): boolean {
    const key = canonicalName(name);
    if (this.byName.has(key) || this.zones.some((z) => z.origin === key)) return true;
    for (const owner of this.byName.keys()) if (owner !== key && isSubdomain(owner, key)) return true;
    return false;
  }

  get recordCount(): number {
    let n = 0;
    for (const list of this.byName.values()) n += list.length;
    return n;
  }
}

/** The parent domain of a name ('ftp.any-domain.com' -> 'any-domain.com'); a single label is its own zone. */
export function defaultZoneFor(name: string): string {
  const labels = splitName(name);
  return labels.length >= 2 ? labels.slice(1).join('.') : labels.join('.');
}

/** `NAME=IPV4` from --record. */
export function parseRecordArgument(text: string, ttl = DEFAULT_TTL): DnsRecord | string {
  const eq = text.indexOf('=');
  if (eq <= 0) return `--record wants NAME=IPV4, got "${text}"`;
  const name = text.slice(0, eq).trim();
  const address = parseIpv4(text.slice(eq + 1).trim());
  if (nameToLabels(name) === null || splitName(name).length === 0) return `--record: "${name}" is not a valid domain name`;
  if (address === null) return `--record: "${text.slice(eq + 1)}" is not an IPv4 address`;
  return { name: canonicalName(name), type: DnsType.A, class: DnsClass.IN, ttl, data: { kind: 'A', address } };
}

/** Parse a zone file (format above) into `into`. Returns the errors, one per bad line. */
export function parseZoneFile(text: string, into: ZoneData): string[] {
  const errors: string[] = [];
  let origin: string | null = null;
  let ttl = DEFAULT_TTL;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const where = `line ${index + 1}`;
    const tokens = tokenize(raw);
    if (tokens === null) {
      errors.push(`${where}: unterminated quoted string`);
      return;
    }
    if (tokens.length === 0) return;
    const first = tokens[0]!;
    const rest = tokens.slice(1);
    if (first === '$ORIGIN') {
      const o = rest[0];
      if (rest.length !== 1 || o === undefined || nameToLabels(o) === null) {
        errors.push(`${where}: $ORIGIN wants one domain name`);
        return;
      }
      origin = canonicalName(o);
      into.addZone(origin, ttl);
      return;
    }
    if (first === '$TTL') {
      const t = rest[0];
      if (rest.length !== 1 || t === undefined || !/^\d{1,10}$/.test(t) || Number(t) > 0x7fffffff) {
        errors.push(`${where}: $TTL wants a number of seconds`);
        return;
      }
      ttl = Number(t);
      // The current zone's negative answers live as long as its records ($TTL).
      if (origin !== null) into.addZone(origin).negativeTtl = ttl;
      return;
    }
    const absolute = (n: string): string | null => {
      if (n === '@') return origin;
      if (n.endsWith('.') && !n.endsWith('\\.')) return canonicalName(n);
      if (origin === null) return canonicalName(n); // no $ORIGIN: names are absolute
      return origin === '' ? canonicalName(n) : `${canonicalName(n)}.${origin}`;
    };
    const name = absolute(first);
    if (name === null || nameToLabels(name) === null) {
      errors.push(`${where}: bad owner name "${first}"`);
      return;
    }
    let i = 0;
    let recordTtl = ttl;
    if (rest[i] && /^\d{1,10}$/.test(rest[i]!)) recordTtl = Number(rest[i++]!);
    if (rest[i]?.toUpperCase() === 'IN') i++;
    const type = rest[i++]?.toUpperCase();
    const args = rest.slice(i);
    const nameArg = (k: number): string | null => {
      const t = args[k];
      if (t === undefined) return null;
      const n = absolute(t);
      return n !== null && nameToLabels(n) !== null ? n : null;
    };
    const base = { name, class: DnsClass.IN, ttl: recordTtl };
    switch (type) {
      case 'A': {
        const address = args.length === 1 ? parseIpv4(args[0]!) : null;
        if (address === null) return void errors.push(`${where}: A wants one IPv4 address`);
        return void into.add({ ...base, type: DnsType.A, data: { kind: 'A', address } });
      }
      case 'CNAME':
      case 'NS':
      case 'PTR': {
        const target = args.length === 1 ? nameArg(0) : null;
        if (target === null) return void errors.push(`${where}: ${type} wants one domain name`);
        const t = type === 'CNAME' ? DnsType.CNAME : type === 'NS' ? DnsType.NS : DnsType.PTR;
        return void into.add({ ...base, type: t, data: { kind: type, target } });
      }
      case 'MX': {
        const pref = args[0];
        const exchange = args.length === 2 ? nameArg(1) : null;
        if (pref === undefined || !/^\d{1,5}$/.test(pref) || Number(pref) > 0xffff || exchange === null) {
          return void errors.push(`${where}: MX wants a preference and a domain name`);
        }
        return void into.add({ ...base, type: DnsType.MX, data: { kind: 'MX', preference: Number(pref), exchange } });
      }
      case 'TXT': {
        const strings = args.map((a) => new TextEncoder().encode(a));
        if (strings.length === 0 || strings.some((s) => s.length > 255)) {
          return void errors.push(`${where}: TXT wants one or more strings of at most 255 bytes`);
        }
        return void into.add({ ...base, type: DnsType.TXT, data: { kind: 'TXT', strings } });
      }
      default:
        errors.push(`${where}: unknown or missing record type${type ? ` "${type}"` : ''}`);
    }
  });
  return errors;
}

/** Split a line into words and "quoted strings", dropping comments. Null if a quote is left open. */
function tokenize(line: string): string[] | null {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '#' || c === ';') {
      break;
    } else if (c === '"') {
      let text = '';
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        text += line[i++];
      }
      if (i >= line.length) return null;
      i++;
      tokens.push(text);
    } else {
      let text = '';
      while (i < line.length && !' \t#;"'.includes(line[i]!)) text += line[i++];
      tokens.push(text);
    }
  }
  return tokens;
}
