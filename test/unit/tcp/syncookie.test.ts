import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';
import type { TcpSocket } from '../../../src/tcp/socket.js';
import { COOKIE_MSS_TABLE, cookieOptions, cookieTsval, SynCookies } from '../../../src/tcp/syncookie.js';
import { ACK, PEER, SYN, TcpHarness, US } from '../../support/tcp-harness.js';

const TUPLE = { localAddr: US, localPort: 21, remoteAddr: PEER, remotePort: 40002 };

describe('SYN cookie encoding (RFC 4987 3.6, as Linux)', () => {
  it('an ACK of the cookie gives back the MSS, rounded down to the table', () => {
    const clock = new VirtualClock(5 * 60_000);
    const cookies = new SynCookies(clock, new SeededRandom(1));
    for (const [mss, expected] of [[1460, 1460], [1448, 1440], [1400, 1300], [536, 536], [100, 536], [9000, 1460]] as const) {
      const iss = cookies.encode(TUPLE, 7777, mss);
      expect(cookies.decode(TUPLE, 7778, (iss + 1) >>> 0)).toBe(expected);
    }
    expect([...COOKIE_MSS_TABLE]).toEqual([536, 1300, 1440, 1460]);
  });

  it('the top 8 bits count minutes: a cookie from the previous minute passes, one 2 minutes old does not', () => {
    const clock = new VirtualClock(10 * 60_000 + 59_000);
    const cookies = new SynCookies(clock, new SeededRandom(2));
    const iss = cookies.encode(TUPLE, 1, 1460);
    clock.advance(2_000); // next minute
    expect(cookies.decode(TUPLE, 2, (iss + 1) >>> 0)).toBe(1460);
    clock.advance(60_000); // two minutes after
    expect(cookies.decode(TUPLE, 2, (iss + 1) >>> 0)).toBeUndefined();
  });

  it('a forged ACK or another four-tuple does not pass', () => {
    const clock = new VirtualClock(0);
    const cookies = new SynCookies(clock, new SeededRandom(3));
    const iss = cookies.encode(TUPLE, 1000, 1460);
    let passed = 0;
    for (let guess = 0; guess < 2000; guess++) if (cookies.decode(TUPLE, 1001, (iss + 2 + guess * 7919) >>> 0) !== undefined) passed++;
    expect(passed).toBe(0);
    expect(cookies.decode({ ...TUPLE, remotePort: 40003 }, 1001, (iss + 1) >>> 0)).toBeUndefined();
    expect(cookies.decode({ ...TUPLE, remoteAddr: PEER + 1 }, 1001, (iss + 1) >>> 0)).toBeUndefined();
  });

  it('window scale and SACK ride in the low 6 bits of TSval, never ahead of the clock', () => {
    // 0x12345678 & ~0x3f = 0x12345640; wscale 7 | SACK (0x10) = 0x17.
    expect(cookieTsval(0x12345678, { windowScale: 7, sackPermitted: true })).toBe(0x12345657);
    // 0x12345640 | 0x1f (no window scale = 15, SACK) would be ahead of 0x12345650: one 64 ms step back.
    expect(cookieTsval(0x12345650, { windowScale: undefined, sackPermitted: true })).toBe(0x1234561f);
    // No window scale: 15.
    expect(cookieTsval(0x1000, { windowScale: undefined, sackPermitted: false }) & 0x3f).toBe(0x0f);
    expect(cookieOptions(0x12345657)).toEqual({ windowScale: 7, sackPermitted: true });
    expect(cookieOptions(0x1234560f)).toEqual({ windowScale: undefined, sackPermitted: false });
  });
});

describe('a full SYN queue (backlog 1)', () => {
  const fullOptions = { mss: 1460, windowScale: 7, sackPermitted: true, timestamp: { value: 5000, echo: 0 } };

  it('answers the next SYN with a cookie; its ACK makes an established connection with the options', async () => {
    const h = new TcpHarness();
    const accepted: TcpSocket[] = [];
    h.tcp.listen({ port: 21, backlog: 1 }, (s) => accepted.push(s as TcpSocket));
    // A stray SYN that will never be answered takes the one SYN queue slot.
    h.inject({ srcPort: 40001, dstPort: 21, seq: 1, flags: SYN, options: { mss: 1460 } });
    expect(h.one().flags).toBe('SYN,ACK');
    expect(h.tcp.connectionCount).toBe(1);

    h.inject({ srcPort: 40002, dstPort: 21, seq: 9000, flags: SYN, options: fullOptions });
    const cookie = h.one();
    expect(cookie.flags).toBe('SYN,ACK');
    expect(h.counters.get('tcp.syncookie.sent')).toBe(1);
    expect(h.tcp.connectionCount).toBe(1); // no state for the cookie
    const o = cookie.header.options;
    expect(o.mss).toBe(1460);
    expect(o.sackPermitted).toBe(true);
    expect(o.windowScale).toBe(5);
    expect(o.timestamp!.echo).toBe(5000);
    expect(o.timestamp!.value & 0x3f).toBe(0x17); // wscale 7, SACK

    h.inject({
      srcPort: 40002,
      dstPort: 21,
      seq: 9001,
      ack: cookie.header.seq + 1,
      flags: ACK,
      window: 1000, // scaled by 7: 128000 bytes
      options: { timestamp: { value: 5010, echo: o.timestamp!.value } },
      payload: 'hello',
    });
    await h.settle();
    expect(h.counters.get('tcp.syncookie.ok')).toBe(1);
    expect(accepted).toHaveLength(1);
    const conn = h.tcp.findConnection(21, '10.0.0.1', 40002)!;
    expect(conn.state).toBe('ESTABLISHED');
    expect(conn.info()).toMatchObject({ mss: 1460, wscale: [7, 5], sack: true, timestamps: true, sndWnd: 128000, rcvNxt: 9006 });
    const got: Buffer[] = [];
    accepted[0]!.on('data', (d: Buffer) => got.push(d));
    await h.settle();
    expect(Buffer.concat(got).toString()).toBe('hello');
  });

  it('a forged cookie ACK is reset and counted', () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21, backlog: 1 });
    h.inject({ srcPort: 40001, dstPort: 21, seq: 1, flags: SYN });
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9000, flags: SYN });
    const cookie = h.take()[1]!;
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9001, ack: cookie.header.seq + 0x123457, flags: ACK });
    expect(h.one().flags).toBe('RST');
    expect(h.counters.get('tcp.syncookie.bad')).toBe(1);
    expect(h.tcp.connectionCount).toBe(1);
  });

  it('without timestamps the cookie keeps only the MSS (no window scale, no SACK), as Linux', async () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21, backlog: 1 });
    h.inject({ srcPort: 40001, dstPort: 21, seq: 1, flags: SYN });
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9000, flags: SYN, options: { mss: 1400, windowScale: 7, sackPermitted: true } });
    const cookie = h.take()[1]!;
    expect(cookie.header.options).toEqual({ mss: 1460 });
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9001, ack: cookie.header.seq + 1, flags: ACK });
    const conn = h.tcp.findConnection(21, '10.0.0.1', 40002)!;
    expect(conn.info()).toMatchObject({ state: 'ESTABLISHED', mss: 1300, wscale: undefined, sack: false, timestamps: false });
  });

  it('an ACK to a listener that never sent cookies is reset without checking (tcp.syncookie.bad stays 0)', () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21, backlog: 1 });
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9001, ack: 1234, flags: ACK });
    expect(h.one().flags).toBe('RST');
    expect(h.counters.get('tcp.syncookie.bad')).toBe(0);
  });

  it('a half-open entry whose SYN,ACK went unanswered is evicted for a new SYN', async () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21, backlog: 1 });
    h.inject({ srcPort: 40001, dstPort: 21, seq: 1, flags: SYN });
    h.take();
    await h.advance(1_100); // the SYN,ACK is retransmitted: nobody is there
    expect(h.take().map((s) => s.flags)).toEqual(['SYN,ACK']);
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9000, flags: SYN });
    const synAck = h.one();
    expect(h.counters.get('tcp.listen.syn_queue_evicted')).toBe(1);
    expect(h.counters.get('tcp.syncookie.sent')).toBe(0);
    expect(h.tcp.findConnection(21, '10.0.0.1', 40001)).toBeUndefined();
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9001, ack: synAck.header.seq + 1, flags: ACK });
    expect(h.tcp.findConnection(21, '10.0.0.1', 40002)!.state).toBe('ESTABLISHED');
  });

  it('with synCookies off, the oldest half-open entry is evicted at once', () => {
    const h = new TcpHarness({ synCookies: false });
    h.tcp.listen({ port: 21, backlog: 1 });
    h.inject({ srcPort: 40001, dstPort: 21, seq: 1, flags: SYN });
    h.inject({ srcPort: 40002, dstPort: 21, seq: 9000, flags: SYN });
    expect(h.take().map((s) => s.flags)).toEqual(['SYN,ACK', 'SYN,ACK']);
    expect(h.counters.get('tcp.listen.syn_queue_evicted')).toBe(1);
    expect(h.tcp.connectionCount).toBe(1);
  });
});
