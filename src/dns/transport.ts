import type { Clock, Timer } from '../stack/clock.js';
import type { Counters } from '../stack/counters.js';
import type { TcpApi, TcpSocketLike } from '../tcp/api.js';
import type { UdpApi, UdpRemoteInfo } from '../udp/api.js';
import {
  canonicalName,
  frameDnsTcp,
  parseDnsHeader,
  parseDnsMessage,
  type DnsMessage,
  type DnsQuestion,
} from '../wire/dns.js';
import { DnsTcpDeframer } from './tcp-framing.js';

/**
 * One query to one server and its answer: the part of the resolver that touches
 * sockets. The rules for accepting an answer (RFC 5452 9.1) are here: it must come
 * from the server's address and port, carry our ID, and repeat our question.
 */

export interface DnsServer {
  address: string;
  port: number;
}

export type ExchangeResult =
  | { kind: 'answer'; message: DnsMessage }
  /** Only the header could be read, and it says TC=1: the answer needs TCP. */
  | { kind: 'truncated' }
  | { kind: 'timeout' }
  /** ICMP port unreachable (nobody serves DNS there) or a refused TCP connection. */
  | { kind: 'unreachable'; code: string };

export interface ExchangeContext {
  udp: UdpApi;
  tcp: TcpApi | undefined;
  clock: Clock;
  counters: Counters | undefined;
}

/** Does `message` answer our query `id` for `question`? */
function answersQuery(message: DnsMessage, id: number, question: DnsQuestion): boolean {
  const q = message.questions[0];
  return (
    message.header.qr &&
    message.header.id === id &&
    message.questions.length === 1 &&
    q !== undefined &&
    q.type === question.type &&
    q.class === question.class &&
    canonicalName(q.name) === canonicalName(question.name)
  );
}

/** Send `query` over UDP from a fresh random port and wait up to `timeoutMs`. */
export function exchangeUdp(
  ctx: ExchangeContext,
  server: DnsServer,
  query: Uint8Array,
  id: number,
  question: DnsQuestion,
  timeoutMs: number,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    // A new socket, so a new random source port, for every query (RFC 5452 9.2).
    const socket = ctx.udp.bind();
    let timer: Timer | undefined;
    let done = false;
    const finish = (result: ExchangeResult): void => {
      if (done) return;
      done = true;
      timer?.cancel();
      socket.close();
      resolve(result);
    };
    socket.on('message', (data: Buffer, rinfo: UdpRemoteInfo) => {
      if (rinfo.address !== server.address || rinfo.port !== server.port) {
        ctx.counters?.inc('dns.rx.wrong_source');
        return;
      }
      const parsed = parseDnsMessage(data);
      if (!parsed.ok) {
        // A message cut short may still say "truncated, ask over TCP" in its header.
        const head = parseDnsHeader(data);
        if (head.ok && head.value.qr && head.value.tc && head.value.id === id) {
          finish({ kind: 'truncated' });
          return;
        }
        ctx.counters?.inc(`dns.rx.${parsed.error.kind}`);
        return;
      }
      if (!answersQuery(parsed.value, id, question)) {
        ctx.counters?.inc('dns.rx.mismatch');
        return;
      }
      finish({ kind: 'answer', message: parsed.value });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish({ kind: 'unreachable', code: err.code ?? 'ECONNREFUSED' });
    });
    timer = ctx.clock.setTimer(timeoutMs, () => finish({ kind: 'timeout' }));
    timer.unref();
    socket.send(query, server.port, server.address, (err) => {
      if (err) finish({ kind: 'unreachable', code: (err as NodeJS.ErrnoException).code ?? 'EINVAL' });
    });
  });
}

/** Send `query` over a new TCP connection (RFC 7766) and wait up to `timeoutMs` in all. */
export function exchangeTcp(
  ctx: ExchangeContext & { tcp: TcpApi },
  server: DnsServer,
  query: Uint8Array,
  id: number,
  question: DnsQuestion,
  timeoutMs: number,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    let socket: TcpSocketLike | undefined;
    let done = false;
    const finish = (result: ExchangeResult): void => {
      if (done) return;
      done = true;
      timer.cancel();
      socket?.destroy();
      resolve(result);
    };
    const timer = ctx.clock.setTimer(timeoutMs, () => finish({ kind: 'timeout' }));
    timer.unref();
    const deframer = new DnsTcpDeframer();
    socket = ctx.tcp.connect({ host: server.address, port: server.port }, () => {
      socket!.write(frameDnsTcp(query));
    });
    socket.on('data', (chunk: Buffer) => {
      for (const bytes of deframer.push(chunk)) {
        const parsed = parseDnsMessage(bytes);
        if (parsed.ok && answersQuery(parsed.value, id, question)) {
          finish({ kind: 'answer', message: parsed.value });
          return;
        }
        ctx.counters?.inc(parsed.ok ? 'dns.rx.mismatch' : `dns.rx.${parsed.error.kind}`);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unreachable', code: err.code ?? 'ECONNRESET' }));
    socket.on('close', () => finish({ kind: 'unreachable', code: 'ECONNRESET' }));
  });
}
