import type { Clock, Timer } from '../stack/clock.js';
import type { Counters } from '../stack/counters.js';
import type { Logger } from '../stack/log.js';
import { ThrottledErrorLog } from '../stack/rate-limit.js';
import type { TcpApi, TcpServerLike, TcpSocketLike } from '../tcp/api.js';
import type { UdpApi, UdpRemoteInfo, UdpSocketLike } from '../udp/api.js';
import { isNoHostIpv4, parseIpv4 } from '../wire/address.js';
import {
  DNS_PORT,
  DNS_UDP_MAX,
  DnsClass,
  DnsOpcode,
  DnsRcode,
  DnsType,
  canonicalName,
  emptyHeader,
  encodeDnsMessage,
  frameDnsTcp,
  parseDnsHeader,
  parseDnsMessage,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
} from '../wire/dns.js';
import { DnsTcpDeframer } from './tcp-framing.js';
import type { Zone, ZoneData } from './zone.js';

/**
 * A small authoritative DNS server (RFC 1034 4.3.2, without delegation): it answers
 * from its own zones with AA set, says NXDOMAIN for names in its zones that do not
 * exist, REFUSED for names outside them (it does no recursion), FORMERR for queries
 * it cannot read, and never stops answering whatever it is sent.
 */

export interface ResponderOptions {
  zones: ZoneData;
  udp: UdpApi;
  /** Also serve DNS over TCP (RFC 7766) when given. */
  tcp?: TcpApi;
  clock: Clock;
  counters?: Counters;
  log?: Logger;
  /** Default 53. */
  port?: number;
  /** Close a TCP connection idle this long (RFC 7766 6.2.3 suggests seconds). Default 10 s. */
  tcpIdleMs?: number;
}

/** Longest CNAME chain we follow inside our own data. */
const MAX_CHAIN = 8;

/** At most one "responder failed" log line per this interval (a query can repeat a bug). */
const ERROR_LOG_INTERVAL_MS = 10_000;

export class DnsResponder {
  private udpSocket: UdpSocketLike | null = null;
  private tcpServer: TcpServerLike | null = null;
  private readonly connections = new Set<TcpSocketLike>();
  private readonly errorLog: ThrottledErrorLog;

  constructor(private readonly options: ResponderOptions) {
    this.errorLog = new ThrottledErrorLog(options.clock, ERROR_LOG_INTERVAL_MS, options.log, 'responder failed on a query', (n) => `responder failed on ${n} more queries`);
  }

  /** Bind UDP (and TCP) port 53. Throws EADDRINUSE like the sockets do. */
  start(): void {
    const port = this.options.port ?? DNS_PORT;
    const socket = this.options.udp.bind({ port });
    socket.on('message', (data: Buffer, rinfo: UdpRemoteInfo) => this.receiveUdp(socket, data, rinfo));
    // An ICMP error about one of our replies must not stop the server.
    socket.on('error', (err: Error) => this.options.log?.debug({ err: err.message }, 'udp error'));
    this.udpSocket = socket;
    if (this.options.tcp) {
      this.tcpServer = this.options.tcp.listen({ port }, (conn) => this.serveTcp(conn));
      this.tcpServer.on('error', (err: Error) => this.options.log?.warn({ err: err.message }, 'tcp server error'));
    }
  }

  close(): void {
    this.errorLog.cancel();
    this.udpSocket?.close();
    this.udpSocket = null;
    this.tcpServer?.close();
    this.tcpServer = null;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  /**
   * One datagram from anyone. A source we cannot answer is counted and dropped before
   * the query is read: port 0 (RFC 768: "no port", nowhere to reply) and addresses no
   * host has (0/8, loopback, multicast, broadcast; RFC 1122 3.2.1.3). Nothing here
   * throws into the stack's receive path.
   */
  private receiveUdp(socket: UdpSocketLike, data: Uint8Array, rinfo: UdpRemoteInfo): void {
    if (!Number.isInteger(rinfo.port) || rinfo.port < 1 || rinfo.port > 0xffff) {
      this.count('dns.server.rx.bad_source_port');
      return;
    }
    const src = parseIpv4(rinfo.address);
    if (src === null || isNoHostIpv4(src)) {
      this.count('dns.server.rx.bad_source_address');
      return;
    }
    const reply = this.answer(data, 'udp');
    if (!reply) return;
    try {
      socket.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) this.count('dns.server.tx.error');
      });
    } catch {
      this.count('dns.server.tx.error'); // a closed socket, or a bug: cost one answer
    }
  }

  /** RFC 7766: a stream of length-prefixed queries, answered in order. */
  private serveTcp(conn: TcpSocketLike): void {
    this.connections.add(conn);
    this.count('dns.server.tcp_connections');
    const deframer = new DnsTcpDeframer();
    const idleMs = this.options.tcpIdleMs ?? 10_000;
    let idle: Timer | undefined;
    const arm = (): void => {
      idle?.cancel();
      idle = this.options.clock.setTimer(idleMs, () => conn.destroy());
      idle.unref();
    };
    arm();
    conn.on('data', (chunk: Buffer) => {
      arm();
      for (const query of deframer.push(chunk)) {
        const reply = this.answer(query, 'tcp');
        if (!reply) continue;
        try {
          conn.write(frameDnsTcp(reply));
        } catch {
          // Never into TCP's receive path: the connection goes, the server stays.
          this.count('dns.server.tx.error');
          conn.destroy();
          return;
        }
      }
    });
    conn.on('end', () => conn.end());
    conn.on('error', () => conn.destroy());
    conn.on('close', () => {
      idle?.cancel();
      this.connections.delete(conn);
    });
  }

  /** The reply to one query message, or null when it deserves none. Never throws. */
  answer(query: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array | null {
    try {
      return this.answerUnsafe(query, transport);
    } catch (err) {
      // A bug here must cost one answer, not the server (nor its log: throttled).
      this.count('dns.server.internal_error');
      this.errorLog.note(err);
      return null;
    }
  }

  private answerUnsafe(query: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array | null {
    const head = parseDnsHeader(query);
    if (!head.ok) {
      this.count('dns.server.rx.too_short'); // no ID to answer to
      return null;
    }
    if (head.value.qr) {
      this.count('dns.server.rx.not_a_query'); // never answer answers (no loops)
      return null;
    }
    const parsed = parseDnsMessage(query);
    const base = { ...emptyHeader(head.value.id), qr: true, opcode: head.value.opcode, rd: head.value.rd };
    if (!parsed.ok) {
      this.count(`dns.server.rx.${parsed.error.kind}`);
      return this.encode({ header: { ...base, rcode: DnsRcode.FORMERR }, questions: [], answers: [], authorities: [], additionals: [] }, transport);
    }
    const msg = parsed.value;
    if (msg.header.opcode !== DnsOpcode.QUERY) {
      this.count('dns.server.notimp');
      return this.encode(reply(base, msg.questions, DnsRcode.NOTIMP), transport);
    }
    // RFC 9619: a query has exactly one question.
    if (msg.questions.length !== 1 || msg.answers.length > 0 || msg.authorities.length > 0) {
      this.count('dns.server.formerr');
      return this.encode(reply(base, msg.questions.slice(0, 1), DnsRcode.FORMERR), transport);
    }
    const question = msg.questions[0]!;
    const zone = question.class === DnsClass.IN || question.class === DnsClass.ANY ? this.options.zones.zoneOf(question.name) : undefined;
    if (!zone) {
      this.count('dns.server.refused');
      return this.encode(reply(base, [question], DnsRcode.REFUSED), transport);
    }
    const out = this.lookup(question, zone);
    this.count(`dns.server.${out.rcode === DnsRcode.NXDOMAIN ? 'nxdomain' : out.answers.length > 0 ? 'answer' : 'nodata'}`);
    return this.encode(
      {
        header: { ...base, aa: true, rcode: out.rcode },
        questions: [question],
        answers: out.answers,
        authorities: out.authorities,
        additionals: [],
      },
      transport,
    );
  }

  /** RFC 1034 4.3.2 step 3, for a server with no delegations. */
  private lookup(question: DnsQuestion, zone: Zone): { rcode: number; answers: DnsRecord[]; authorities: DnsRecord[] } {
    const { zones } = this.options;
    const answers: DnsRecord[] = [];
    let name = question.name;
    let currentZone = zone;
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      // The SOA of a zone lives at its apex (synthesized, see soaFor).
      const apexSoa = canonicalName(name) === currentZone.origin ? [soaFor(currentZone)] : [];
      const here = [...zones.recordsAt(name), ...apexSoa];
      const wanted = here.filter((r) => question.type === DnsType.ANY || r.type === question.type);
      if (wanted.length > 0) {
        answers.push(...wanted.map((r) => ({ ...r, name })));
        return { rcode: DnsRcode.NOERROR, answers, authorities: [] };
      }
      const alias = here.find((r) => r.type === DnsType.CNAME);
      if (alias && alias.data.kind === 'CNAME') {
        // Step 3a: answer the CNAME, then go on with its target if it is ours.
        answers.push({ ...alias, name });
        const target = alias.data.target;
        const next = zones.zoneOf(target);
        if (!next) return { rcode: DnsRcode.NOERROR, answers, authorities: [] };
        name = target;
        currentZone = next;
        continue;
      }
      // RFC 2308 3: negative answers carry the zone's SOA so they can be cached.
      const authorities = [soaFor(currentZone)];
      if (zones.exists(name)) return { rcode: DnsRcode.NOERROR, answers, authorities };
      return { rcode: DnsRcode.NXDOMAIN, answers, authorities };
    }
    return { rcode: DnsRcode.NOERROR, answers, authorities: [] };
  }

  /** Encode; over UDP an answer over 512 bytes becomes header + question with TC=1 (RFC 1035 4.2.1). */
  private encode(message: DnsMessage, transport: 'udp' | 'tcp'): Uint8Array {
    const bytes = encodeDnsMessage(message);
    if (transport === 'tcp' || bytes.length <= DNS_UDP_MAX) return bytes;
    this.count('dns.server.truncated');
    return encodeDnsMessage({ header: { ...message.header, tc: true }, questions: message.questions, answers: [], authorities: [], additionals: [] });
  }

  private count(name: string): void {
    this.options.counters?.inc(name);
  }
}

function reply(header: DnsMessage['header'], questions: DnsQuestion[], rcode: number): DnsMessage {
  return { header: { ...header, rcode }, questions, answers: [], authorities: [], additionals: [] };
}

/** A synthesized SOA for a zone (RFC 1035 3.3.13); MINIMUM is the negative TTL (RFC 2308 4). */
export function soaFor(zone: Zone): DnsRecord {
  const apex = zone.origin;
  const under = (label: string): string => (apex === '' ? label : `${label}.${apex}`);
  return {
    name: apex,
    type: DnsType.SOA,
    class: DnsClass.IN,
    ttl: zone.negativeTtl,
    data: { kind: 'SOA', mname: under('ns'), rname: under('hostmaster'), serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: zone.negativeTtl },
  };
}

