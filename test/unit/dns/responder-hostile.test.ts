import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DnsResponder } from '../../../src/dns/responder.js';
import { ZoneData, parseRecordArgument } from '../../../src/dns/zone.js';
import { createHost } from '../../../src/host.js';
import { Counters } from '../../../src/stack/counters.js';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';
import type { UdpApi, UdpSocketLike } from '../../../src/udp/api.js';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { encodeDnsQuery } from '../../../src/wire/dns.js';
import { createTestLan, hex } from '../../support/hosts.js';

function zones(): ZoneData {
  const z = new ZoneData();
  const record = parseRecordArgument('ftp.any-domain.com=192.0.2.21');
  if (typeof record === 'string') throw new Error(record);
  z.add(record);
  return z;
}

/** A logger that keeps every line it writes. */
function capturingLogger() {
  const lines: { level: number; msg: string; err?: { stack?: string } }[] = [];
  return { lines, log: pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l) as (typeof lines)[number]) }) };
}

/**
 * A DNS query for ftp.any-domain.com in an Ethernet frame from 10.0.0.9 (02:..:09) to
 * our host 10.0.0.1, UDP source port `srcPort` -> 53, written out byte by byte.
 * UDP checksum 0: "no checksum", allowed over IPv4 (RFC 768).
 */
function queryFrame(dstMac: Uint8Array, srcPort: number): Uint8Array {
  const dns = hex(`
    4242 0100 0001 0000 0000 0000               # ID, RD, one question
    03 667470 0a 616e792d646f6d61696e 03 636f6d 00  # ftp.any-domain.com
    0001 0001                                   # A, IN
  `);
  const udp = Uint8Array.from([srcPort >> 8, srcPort & 0xff, 0, 53, 0, 8 + dns.length, 0, 0]);
  const ipLen = 20 + udp.length + dns.length;
  const ip = Uint8Array.from([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 9, 10, 0, 0, 1]);
  const sum = internetChecksum(ip);
  ip[10] = sum >> 8;
  ip[11] = sum & 0xff;
  return Uint8Array.from([...dstMac, 2, 0, 0, 0, 0, 9, 0x08, 0x00, ...ip, ...udp, ...dns]);
}

describe('DnsResponder on hostile input', () => {
  it('drops a query from UDP source port 0 on the wire: counted, no answer, no error, no stack trace', async () => {
    const lan = createTestLan();
    const { lines, log } = capturingLogger();
    const host = createHost({ link: lan.hub.attach('srv'), address: '10.0.0.1', prefixLength: 24, clock: lan.clock, random: new SeededRandom(1) });
    const responder = new DnsResponder({ zones: zones(), udp: host.udp, clock: lan.clock, counters: host.counters, log });
    responder.start();
    const wire = lan.tap();
    for (let i = 0; i < 1000; i++) wire.send(queryFrame(host.mac, 0));
    await lan.clock.advance(100);
    expect(host.counters.get('dns.server.rx.bad_source_port')).toBe(1000);
    expect(host.counters.get('dns.server.internal_error')).toBe(0);
    expect(host.counters.get('dns.server.answer')).toBe(0);
    expect(lines).toEqual([]);
    // The same query from a real port is answered (the host then asks ARP for 10.0.0.9).
    wire.send(queryFrame(host.mac, 40000));
    await lan.clock.advance(100);
    expect(host.counters.get('dns.server.answer')).toBe(1);
    responder.close();
    await host.close();
  });

  it.each([
    ['port 0', { address: '10.0.0.9', port: 0 }, 'dns.server.rx.bad_source_port'],
    ['port 65536', { address: '10.0.0.9', port: 65536 }, 'dns.server.rx.bad_source_port'],
    ['source 0.0.0.0', { address: '0.0.0.0', port: 5353 }, 'dns.server.rx.bad_source_address'],
    ['a multicast source', { address: '224.0.0.251', port: 5353 }, 'dns.server.rx.bad_source_address'],
    ['the broadcast source', { address: '255.255.255.255', port: 5353 }, 'dns.server.rx.bad_source_address'],
    ['a loopback source', { address: '127.0.0.1', port: 5353 }, 'dns.server.rx.bad_source_address'],
    ['an unparsable source', { address: 'nonsense', port: 5353 }, 'dns.server.rx.bad_source_address'],
  ])('drops a datagram from %s before reading it', (_what, source, counter) => {
    const { socket, counters, sent, lines } = fakeUdpResponder();
    socket.emit('message', Buffer.from(encodeDnsQuery(1, { name: 'ftp.any-domain.com', type: 1, class: 1 })), { ...source, family: 'IPv4', size: 36 });
    expect(counters.get(counter)).toBe(1);
    expect(sent).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('a send that fails costs one answer, counted, and throws nothing into the receive path', () => {
    const { socket, counters, lines } = fakeUdpResponder(() => {
      throw new Error('socket is closed');
    });
    const query = Buffer.from(encodeDnsQuery(1, { name: 'ftp.any-domain.com', type: 1, class: 1 }));
    expect(() => socket.emit('message', query, { address: '10.0.0.9', port: 5353, family: 'IPv4', size: query.length })).not.toThrow();
    expect(counters.get('dns.server.tx.error')).toBe(1);
    expect(lines).toEqual([]);
  });

  it('survives 2,000 datagrams of random bytes from a real source: no internal error, no error log', () => {
    const { socket, counters, lines } = fakeUdpResponder();
    const random = new SeededRandom(7);
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.alloc(random.int(0, 80));
      for (let j = 0; j < junk.length; j++) junk[j] = random.int(0, 255);
      socket.emit('message', junk, { address: '10.0.0.9', port: 5353, family: 'IPv4', size: junk.length });
    }
    expect(counters.get('dns.server.internal_error')).toBe(0);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });
});

describe('DnsResponder over TCP on hostile input', () => {
  it('a zero-length message, junk, then a write that throws: counted, the connection goes, nothing escapes', () => {
    const conn = Object.assign(new EventEmitter(), {
      writes: 0,
      destroyed: false,
      write(): boolean {
        this.writes++;
        throw new Error('write after end');
      },
      end: () => {},
      destroy(): void {
        this.destroyed = true;
      },
    });
    let accept: ((c: typeof conn) => void) | undefined;
    const tcp = { listen: (_o: unknown, cb: (c: typeof conn) => void) => ((accept = cb), new EventEmitter()) };
    const counters = new Counters();
    const fakeUdp = { bind: () => Object.assign(new EventEmitter(), { send: () => {}, close: () => {} }) };
    new DnsResponder({ zones: zones(), udp: fakeUdp as unknown as UdpApi, tcp: tcp as never, clock: new VirtualClock(), counters }).start();
    accept!(conn);
    const query = encodeDnsQuery(7, { name: 'ftp.any-domain.com', type: 1, class: 1 });
    const stream = Buffer.concat([
      Buffer.from([0, 0]), // a zero-length message: no header, no answer
      Buffer.from([0, 3, 1, 2, 3]), // three bytes of junk: too short for a header
      Buffer.from([0, query.length]),
      Buffer.from(query), // a good query, whose answer cannot be written
    ]);
    expect(() => conn.emit('data', stream)).not.toThrow();
    expect(counters.get('dns.server.rx.too_short')).toBe(2);
    expect(counters.get('dns.server.tx.error')).toBe(1);
    expect(conn.destroyed).toBe(true);
  });
});

/** The responder on a stand-in UDP socket, so a test can hand it any source at all. */
function fakeUdpResponder(send: UdpSocketLike['send'] = () => {}) {
  const socket = new EventEmitter() as EventEmitter & UdpSocketLike;
  const sent: unknown[] = [];
  socket.send = (...args) => {
    sent.push(args);
    send(...args);
  };
  socket.close = () => {};
  const udp: UdpApi = { bind: () => socket } as unknown as UdpApi;
  const counters = new Counters();
  const { lines, log } = capturingLogger();
  new DnsResponder({ zones: zones(), udp, clock: new VirtualClock(), counters, log }).start();
  return { socket, counters, sent, lines };
}
