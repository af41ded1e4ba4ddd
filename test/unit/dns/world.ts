import { createHost, type Host } from '../../../src/host.js';
import { MemoryHub } from '../../../src/link/memory.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';
import type { UdpRemoteInfo } from '../../../src/udp/api.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import {
  DnsClass,
  DnsType,
  emptyHeader,
  encodeDnsMessage,
  parseDnsMessage,
  type DnsMessage,
  type DnsRecord,
} from '../../../src/wire/dns.js';

/**
 * A client host and DNS server hosts on the in-memory hub, on one VirtualClock. Each
 * server is scripted: `script(query, n)` returns the reply (or null: stay silent).
 */
export interface Received {
  message: DnsMessage;
  rinfo: UdpRemoteInfo;
  server: string;
}

export type Script = (query: DnsMessage, n: number) => DnsMessage | Uint8Array | null | (DnsMessage | Uint8Array)[];

export class DnsWorld {
  readonly clock = new VirtualClock();
  readonly hub = new MemoryHub(this.clock, { latencyMs: 1 });
  readonly client: Host;
  readonly servers = new Map<string, Host>();
  /** Every query any scripted server received, in order. */
  readonly received: Received[] = [];

  constructor(seed = 1) {
    this.client = this.host('10.0.0.2', seed);
  }

  host(address: string, seed: number): Host {
    return createHost({ link: this.hub.attach(), address, prefixLength: 24, clock: this.clock, random: new SeededRandom(seed), announce: false });
  }

  /** A host at `address` whose UDP port 53 runs `script`. */
  server(address: string, script: Script, port = 53): Host {
    const host = this.servers.get(address) ?? this.host(address, (parseIpv4(address)! & 0xff) + 100);
    this.servers.set(address, host);
    const socket = host.udp.bind({ port });
    let n = 0;
    socket.on('message', (data: Buffer, rinfo: UdpRemoteInfo) => {
      const parsed = parseDnsMessage(data);
      if (!parsed.ok) throw new Error(`scripted server got a bad query: ${parsed.error.message}`);
      this.received.push({ message: parsed.value, rinfo, server: address });
      const out = script(parsed.value, n++);
      for (const r of out === null ? [] : Array.isArray(out) ? out : [out]) {
        socket.send(r instanceof Uint8Array ? r : encodeDnsMessage(r), rinfo.port, rinfo.address);
      }
    });
    return host;
  }

  /** Run the clock until `promise` settles; returns its outcome. */
  async settle<T>(promise: Promise<T>, maxMs = 120_000): Promise<{ value?: T; error?: NodeJS.ErrnoException; elapsed: number }> {
    const start = this.clock.now();
    let done = false;
    let value: T | undefined;
    let error: NodeJS.ErrnoException | undefined;
    promise.then(
      (v) => {
        value = v;
        done = true;
      },
      (e: NodeJS.ErrnoException) => {
        error = e;
        done = true;
      },
    );
    await this.clock.runUntil(() => done, maxMs);
    return { value, error, elapsed: this.clock.now() - start };
  }
}

/** A reply to `q` from an authoritative-looking server. */
export function reply(q: DnsMessage, answers: DnsRecord[], extra: Partial<DnsMessage['header']> = {}, authorities: DnsRecord[] = []): DnsMessage {
  return {
    header: { ...emptyHeader(q.header.id), qr: true, rd: q.header.rd, ra: true, ...extra },
    questions: q.questions,
    answers,
    authorities,
    additionals: [],
  };
}

export const a = (name: string, ip: string, ttl = 300): DnsRecord => ({
  name,
  type: DnsType.A,
  class: DnsClass.IN,
  ttl,
  data: { kind: 'A', address: parseIpv4(ip)! },
});

export const cname = (name: string, target: string, ttl = 300): DnsRecord => ({
  name,
  type: DnsType.CNAME,
  class: DnsClass.IN,
  ttl,
  data: { kind: 'CNAME', target },
});

export const soa = (zone: string, minimum: number, ttl = 3600): DnsRecord => ({
  name: zone,
  type: DnsType.SOA,
  class: DnsClass.IN,
  ttl,
  data: { kind: 'SOA', mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
});
