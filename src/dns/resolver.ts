import type { Clock } from '../stack/clock.js';
import type { Counters } from '../stack/counters.js';
import type { Random } from '../stack/random.js';
import type { TcpApi } from '../tcp/api.js';
import type { UdpApi } from '../udp/api.js';
import { formatIpv4, parseIpv4 } from '../wire/address.js';
import {
  DnsClass,
  DnsRcode,
  DnsType,
  canonicalName,
  encodeDnsQuery,
  nameToLabels,
  typeName,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
} from '../wire/dns.js';
import { DnsCache, effectiveTtl } from './cache.js';
import { DnsError, rcodeErrorCode } from './errors.js';
import { exchangeTcp, exchangeUdp, type DnsServer, type ExchangeContext, type ExchangeResult } from './transport.js';

/**
 * A stub resolver (RFC 1034 5.3.1) shaped like Node's dns.promises: it asks the
 * configured recursive servers, follows CNAMEs, caches answers for their TTL
 * (negative ones too, RFC 2308) and retries over TCP when an answer is truncated.
 *
 *   const resolver = new Resolver({ udp: host.udp, tcp: host.tcp, servers: ['10.0.0.1'],
 *                                   clock: host.clock, random: host.random });
 *   await resolver.resolve4('ftp.any-domain.com');   // ['192.0.2.21']
 */

export interface ResolverOptions {
  udp: UdpApi;
  /** For answers that do not fit a UDP datagram (TC=1); without it such answers fail with EBADRESP. */
  tcp?: TcpApi;
  /** Dotted quads, optionally with ':port' (default 53). Asked in order. */
  servers: string[];
  clock: Clock;
  random: Random;
  /** Static names, consulted before any query (like /etc/hosts): name -> addresses. */
  hosts?: Record<string, string | string[]>;
  /** Wait for the first answer from a server this long; doubled each round (default 2000 ms). */
  timeoutMs?: number;
  /** Rounds over the whole server list (default 2, as glibc's `attempts`). */
  tries?: number;
  /** Longest CNAME chain followed (default 8). */
  maxCnameDepth?: number;
  /** Cache answers (default true). */
  cache?: boolean;
  counters?: Counters;
}

export interface ResolveResult {
  /** The name asked for. */
  name: string;
  /** The CNAME chain walked, e.g. ['files.any-domain.com', 'ftp.any-domain.com']. */
  chain: string[];
  /** The final records of the asked type. */
  records: DnsRecord[];
  /** Seconds the answer may still be used. */
  ttl: number;
  /** 'hosts' | 'cache' | the server that answered ('10.0.0.1:53'), for --verbose. */
  source: string;
}

export interface RecordWithTtl {
  address: string;
  ttl: number;
}

const DEFAULT_PORT = 53;

export class Resolver {
  private readonly servers: DnsServer[];
  private readonly cache: DnsCache | null;
  private readonly hosts = new Map<string, string[]>();
  private readonly timeoutMs: number;
  private readonly tries: number;
  private readonly maxCnameDepth: number;
  private readonly exchangeCtx: ExchangeContext;

  constructor(private readonly options: ResolverOptions) {
    this.servers = options.servers.map(parseServer);
    if (this.servers.length === 0) throw new DnsError('EINVAL', '', 'resolver', 'no DNS servers configured');
    this.cache = options.cache === false ? null : new DnsCache(options.clock);
    for (const [name, addrs] of Object.entries(options.hosts ?? {})) {
      this.hosts.set(canonicalName(name), Array.isArray(addrs) ? addrs : [addrs]);
    }
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.tries = options.tries ?? 2;
    this.maxCnameDepth = options.maxCnameDepth ?? 8;
    this.exchangeCtx = { udp: options.udp, tcp: options.tcp, clock: options.clock, counters: options.counters };
  }

  /** IPv4 addresses of `name` (dns.promises.resolve4). With { ttl: true }, with TTLs. */
  resolve4(name: string): Promise<string[]>;
  resolve4(name: string, options: { ttl: true }): Promise<RecordWithTtl[]>;
  async resolve4(name: string, options?: { ttl?: boolean }): Promise<string[] | RecordWithTtl[]> {
    const result = await this.resolve(name, DnsType.A, 'queryA');
    const addrs = result.records.flatMap((r) => (r.data.kind === 'A' ? [formatIpv4(r.data.address)] : []));
    return options?.ttl ? addrs.map((address) => ({ address, ttl: result.ttl })) : addrs;
  }

  /** The CNAME target(s) of `name` (dns.promises.resolveCname). */
  async resolveCname(name: string): Promise<string[]> {
    const result = await this.resolve(name, DnsType.CNAME, 'queryCname');
    return result.records.flatMap((r) => (r.data.kind === 'CNAME' ? [r.data.target] : []));
  }

  /**
   * The address to connect to (dns.promises.lookup, IPv4 only): a literal address as
   * is, then the hosts table, then DNS.
   */
  async lookup(name: string): Promise<{ address: string; family: 4 }>;
  async lookup(name: string, options: { all: true }): Promise<{ address: string; family: 4 }[]>;
  async lookup(name: string, options?: { all?: boolean }): Promise<{ address: string; family: 4 } | { address: string; family: 4 }[]> {
    const addrs = parseIpv4(name) !== null ? [name] : await this.resolve4(name);
    const all = addrs.map((address) => ({ address, family: 4 as const }));
    return options?.all ? all : all[0]!;
  }

  /** Resolve `name` for `type`, following CNAMEs: the detailed answer (--verbose uses it). */
  async resolve(name: string, type: number, syscall = 'query'): Promise<ResolveResult> {
    const fail = (code: string, message: string): never => {
      throw new DnsError(code, name, syscall, message);
    };
    if (nameToLabels(name) === null) fail('EBADNAME', 'not a valid domain name');
    if (type === DnsType.A) {
      const fixed = this.hosts.get(canonicalName(name));
      if (fixed) {
        const records = fixed.map((a) => {
          const address = parseIpv4(a);
          if (address === null) fail('EBADRESP', `hosts entry ${a} is not an IPv4 address`);
          return { name, type: DnsType.A, class: DnsClass.IN, ttl: 0, data: { kind: 'A' as const, address: address! } };
        });
        return { name, chain: [name], records, ttl: 0, source: 'hosts' };
      }
    }

    const chain = [name];
    let current = name;
    let ttl = Number.MAX_SAFE_INTEGER;
    let source = 'cache';
    // Each round either ends with the records or moves `current` along a CNAME.
    for (let depth = 0; depth <= this.maxCnameDepth; depth++) {
      const step = this.fromCache(current, type) ?? (await this.ask(current, type, fail));
      if (step.source !== 'cache') source = step.source;
      ttl = Math.min(ttl, step.ttl);
      for (const hop of step.hops) chain.push(hop);
      const last = chain[chain.length - 1]!;
      if (step.kind === 'nxdomain') fail('ENOTFOUND', `${last} does not exist (NXDOMAIN)`);
      if (step.kind === 'nodata') fail('ENODATA', `${last} has no ${typeName(type)} record`);
      if (step.kind === 'records') {
        return { name, chain, records: step.records, ttl: ttl === Number.MAX_SAFE_INTEGER ? 0 : ttl, source };
      }
      // The answer ended at a CNAME it did not resolve: ask again at its target.
      if (chain.length - 1 > this.maxCnameDepth) break;
      const seen = chain.slice(0, -1).map(canonicalName);
      if (seen.includes(canonicalName(last))) fail('EBADRESP', `CNAME loop at ${last}`);
      current = last;
    }
    return fail('EBADRESP', `CNAME chain longer than ${this.maxCnameDepth}`);
  }

  /** Drop everything cached. */
  clearCache(): void {
    this.cache?.clear();
  }

  /** What the cache knows about (name, type), following CNAMEs one hop at a time. */
  private fromCache(name: string, type: number): Step | undefined {
    if (!this.cache) return undefined;
    const hit = this.cache.get(name, type);
    if (hit) {
      this.options.counters?.inc('dns.cache.hit');
      const ttl = this.cache.remaining(hit);
      if (hit.kind === 'records') return { kind: 'records', hops: [], records: hit.records, ttl, source: 'cache' };
      return { kind: hit.kind, hops: [], ttl, source: 'cache' };
    }
    if (type !== DnsType.CNAME) {
      const alias = this.cache.get(name, DnsType.CNAME);
      const data = alias?.kind === 'records' ? alias.records[0]?.data : undefined;
      if (alias && data?.kind === 'CNAME') {
        this.options.counters?.inc('dns.cache.hit');
        return { kind: 'cname', hops: [data.target], ttl: this.cache.remaining(alias), source: 'cache' };
      }
    }
    this.options.counters?.inc('dns.cache.miss');
    return undefined;
  }

  /** Ask the servers about (name, type) and interpret the answer (RFC 1034 5.3.3). */
  private async ask(name: string, type: number, fail: (code: string, message: string) => never): Promise<Step> {
    const question: DnsQuestion = { name, type, class: DnsClass.IN };
    const { message, server } = await this.query(question, fail);
    const source = `${server.address}:${server.port}`;
    // query() hands over only NOERROR and NXDOMAIN; other RCODEs were errors there.
    // Either may come with a CNAME chain in the answer (RFC 1034 4.3.2 step 3a): the
    // records or the NXDOMAIN are then about the chain's last name.
    const hops = type === DnsType.CNAME ? [] : followCnames(message, name, this.maxCnameDepth);
    const aliases = cnameRecords(message, name, hops);
    for (const alias of aliases) this.cache?.putRecords(alias.name, DnsType.CNAME, [alias]);
    const aliasTtl = Math.min(Number.MAX_SAFE_INTEGER, ...aliases.map((r) => effectiveTtl(r.ttl)));
    const owner = hops.length > 0 ? hops[hops.length - 1]! : name;
    if (message.header.rcode === DnsRcode.NXDOMAIN) {
      const negTtl = negativeTtl(message);
      this.cache?.putNegative(owner, type, 'nxdomain', negTtl);
      return { kind: 'nxdomain', hops, ttl: Math.min(aliasTtl, negTtl), source };
    }
    const records = message.answers.filter(
      (r) => r.type === type && r.class === DnsClass.IN && canonicalName(r.name) === canonicalName(owner),
    );
    if (records.length > 0) {
      this.cache?.putRecords(owner, type, records);
      const ttl = Math.min(aliasTtl, ...records.map((r) => effectiveTtl(r.ttl)));
      return { kind: 'records', hops, records, ttl, source };
    }
    if (hops.length > 0) return { kind: 'cname', hops, ttl: aliasTtl, source };
    // NOERROR with nothing for us: NODATA (RFC 2308 2.2).
    const negTtl = negativeTtl(message);
    this.cache?.putNegative(name, type, 'nodata', negTtl);
    return { kind: 'nodata', hops, ttl: negTtl, source };
  }

  /**
   * Send the question to the servers in turn, `tries` rounds, the timeout doubling
   * each round (RFC 1035 4.2.1 leaves the policy to us; this is what glibc and c-ares
   * do). SERVFAIL, REFUSED and friends move on to the next server; the last such
   * error is reported when no server gives a usable answer.
   */
  private async query(question: DnsQuestion, fail: (code: string, message: string) => never): Promise<{ message: DnsMessage; server: DnsServer }> {
    const counters = this.options.counters;
    let lastError: { code: string; message: string } = { code: 'ETIMEOUT', message: 'no answer from any server' };
    for (let round = 0; round < this.tries; round++) {
      const timeout = this.timeoutMs * 2 ** round;
      for (const server of this.servers) {
        const id = this.options.random.int(0, 0xffff);
        const query = encodeDnsQuery(id, question);
        counters?.inc('dns.query.udp');
        let result: ExchangeResult = await exchangeUdp(this.exchangeCtx, server, query, id, question, timeout);
        const truncated = result.kind === 'truncated' || (result.kind === 'answer' && result.message.header.tc);
        if (truncated) {
          counters?.inc('dns.rx.truncated_answer');
          if (this.options.tcp) {
            // RFC 7766 5: a truncated UDP answer is retried over TCP, same server.
            counters?.inc('dns.query.tcp');
            result = await exchangeTcp({ ...this.exchangeCtx, tcp: this.options.tcp }, server, query, id, question, timeout);
          } else if (result.kind === 'truncated') {
            lastError = { code: 'EBADRESP', message: 'answer truncated and no TCP to ask again' };
            continue;
          }
          // Without TCP, a truncated answer that parsed is used for what it holds.
        }
        if (result.kind === 'timeout') {
          counters?.inc('dns.timeout');
          lastError = { code: 'ETIMEOUT', message: `no answer from ${server.address} after ${timeout} ms` };
          continue;
        }
        if (result.kind === 'unreachable') {
          counters?.inc('dns.unreachable');
          lastError = { code: result.code, message: `${server.address}:${server.port} unreachable (${result.code})` };
          continue;
        }
        if (result.kind === 'truncated') continue; // (TCP never yields this)
        const { rcode } = result.message.header;
        if (rcode === DnsRcode.NOERROR || rcode === DnsRcode.NXDOMAIN) return { message: result.message, server };
        const code = rcodeErrorCode(rcode);
        counters?.inc(`dns.rcode.${code.slice(1).toLowerCase()}`);
        lastError = { code, message: `${server.address} answered ${code.slice(1)}` };
      }
    }
    return fail(lastError.code, lastError.message);
  }
}

/** What one answer (or the cache) says; `hops` are the CNAMEs it walked first. */
type Step =
  | { kind: 'records'; hops: string[]; records: DnsRecord[]; ttl: number; source: string }
  | { kind: 'cname'; hops: string[]; ttl: number; source: string }
  | { kind: 'nxdomain' | 'nodata'; hops: string[]; ttl: number; source: string };

/** Names reached from `name` through CNAME records of the answer section, in order. */
function followCnames(message: DnsMessage, name: string, max: number): string[] {
  const hops: string[] = [];
  let current = canonicalName(name);
  for (let i = 0; i < max; i++) {
    const alias = message.answers.find((r) => r.type === DnsType.CNAME && r.data.kind === 'CNAME' && canonicalName(r.name) === current);
    if (!alias || alias.data.kind !== 'CNAME') break;
    const target = alias.data.target;
    if (hops.some((h) => canonicalName(h) === canonicalName(target)) || canonicalName(target) === canonicalName(name)) break;
    hops.push(target);
    current = canonicalName(target);
  }
  return hops;
}

/** The CNAME records that make up `hops`. */
function cnameRecords(message: DnsMessage, name: string, hops: string[]): DnsRecord[] {
  const owners = [name, ...hops.slice(0, -1)].map(canonicalName);
  return owners.flatMap((owner) => message.answers.filter((r) => r.type === DnsType.CNAME && canonicalName(r.name) === owner).slice(0, 1));
}

/** RFC 2308 5: a negative answer lives for min(SOA TTL, SOA MINIMUM); no SOA, no caching. */
function negativeTtl(message: DnsMessage): number {
  const soa = message.authorities.find((r) => r.data.kind === 'SOA');
  if (!soa || soa.data.kind !== 'SOA') return 0;
  return Math.min(effectiveTtl(soa.ttl), effectiveTtl(soa.data.minimum));
}

function parseServer(text: string): DnsServer {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? DEFAULT_PORT : Number(m[2]);
  if (!m || parseIpv4(m[1]!) === null || port < 1 || port > 0xffff) {
    throw new DnsError('EINVAL', text, 'resolver', 'a DNS server must be an IPv4 address, optionally with :port');
  }
  return { address: m[1]!, port };
}
