import { describe, expect, it } from 'vitest';
import type { TcpSocketLike } from '../../../src/tcp/api.js';
import type { TcpSocket } from '../../../src/tcp/socket.js';
import { ACK, SYN, TcpHarness } from '../../support/tcp-harness.js';

/** Option negotiation as Linux does it (RFC 7323, RFC 2018), driven by hand. */

async function openWith(h: TcpHarness, options: Parameters<TcpHarness['inject']>[0]['options']) {
  const accepted: TcpSocketLike[] = [];
  h.tcp.listen({ port: 21 }, (s) => accepted.push(s));
  h.inject({ dstPort: 21, seq: 100, flags: SYN, window: 64240, options });
  const synAck = h.one();
  return { synAck, accepted };
}

describe('option negotiation', () => {
  it('answers a Linux SYN with MSS, SACK-permitted, timestamps (echoing TSval) and our window scale', async () => {
    const h = new TcpHarness();
    const { synAck } = await openWith(h, { mss: 1460, sackPermitted: true, timestamp: { value: 12345, echo: 0 }, windowScale: 7 });
    const o = synAck.header.options;
    expect(o.mss).toBe(1460);
    expect(o.sackPermitted).toBe(true);
    expect(o.windowScale).toBe(5);
    expect(o.timestamp?.echo).toBe(12345);
    // The window of a SYN is never scaled (RFC 7323 2.2).
    expect(synAck.header.window).toBe(65535);
  });

  it('scales windows both ways once established, and stamps every segment', async () => {
    const h = new TcpHarness();
    const { synAck, accepted } = await openWith(h, { mss: 1460, sackPermitted: true, timestamp: { value: 500, echo: 0 }, windowScale: 7 });
    const iss = synAck.header.seq;
    const ourTs = synAck.header.options.timestamp!.value;
    h.inject({ dstPort: 21, seq: 101, ack: iss + 1, flags: ACK, window: 100, options: { timestamp: { value: 501, echo: ourTs } } });
    await h.settle();
    const socket = accepted[0] as TcpSocket;
    // Peer window 100 << 7 = 12800: eight full segments fit; the 1216-byte runt
    // that would fill the window waits (sender SWS avoidance, RFC 1122 4.2.3.4).
    socket.setNoDelay(true);
    socket.write(Buffer.alloc(20_000));
    await h.settle();
    const out = h.take();
    expect(out.reduce((n, s) => n + s.payload.length, 0)).toBe(8 * 1448);
    // Data segments carry MSS - 12 bytes (timestamps), and each a timestamp echoing 501.
    expect(out[0]!.payload.length).toBe(1448);
    for (const s of out) expect(s.header.options.timestamp?.echo).toBe(501);
    // Our window field is scaled by 5: 1 MB >> 5.
    expect(out[0]!.header.window).toBe((1 << 20) >> 5);
  });

  it('tcpInfo() shows what was negotiated, like ss -ti', async () => {
    const h = new TcpHarness();
    const { synAck, accepted } = await openWith(h, { mss: 1400, sackPermitted: true, timestamp: { value: 500, echo: 0 }, windowScale: 7 });
    h.inject({ dstPort: 21, seq: 101, ack: synAck.header.seq + 1, flags: ACK, window: 1000, options: { timestamp: { value: 501, echo: synAck.header.options.timestamp!.value } } });
    await h.settle();
    const info = (accepted[0] as TcpSocket).tcpInfo();
    expect(info).toMatchObject({
      state: 'ESTABLISHED',
      mss: 1400,
      advmss: 1460,
      wscale: [7, 5],
      sack: true,
      timestamps: true,
      cwnd: 10 * 1388,
      sndWnd: 1000 << 7,
      rcvWnd: 65535,
      unacked: 0,
    });
  });

  it('PAWS drops a segment with an old timestamp and answers with an ACK', async () => {
    const h = new TcpHarness();
    const { synAck, accepted } = await openWith(h, { mss: 1460, timestamp: { value: 1000, echo: 0 } });
    const iss = synAck.header.seq;
    h.inject({ dstPort: 21, seq: 101, ack: iss + 1, flags: ACK, options: { timestamp: { value: 1001, echo: 1 } } });
    await h.settle();
    const got: Buffer[] = [];
    accepted[0]!.on('data', (d: Buffer) => got.push(d));
    h.inject({ dstPort: 21, seq: 101, ack: iss + 1, flags: ACK, payload: 'stale', options: { timestamp: { value: 900, echo: 1 } } });
    expect(h.one().header.ack).toBe(101);
    await h.settle();
    expect(got).toEqual([]);
    expect(h.counters.get('tcp.rx.drop.paws')).toBe(1);
    h.inject({ dstPort: 21, seq: 101, ack: iss + 1, flags: ACK, payload: 'fresh', options: { timestamp: { value: 1002, echo: 1 } } });
    await h.settle();
    expect(Buffer.concat(got).toString()).toBe('fresh');
  });

  it('RTT from timestamp echoes sets the RTO', async () => {
    const h = new TcpHarness();
    const { synAck, accepted } = await openWith(h, { mss: 1460, timestamp: { value: 1, echo: 0 } });
    const iss = synAck.header.seq;
    h.inject({ dstPort: 21, seq: 101, ack: iss + 1, flags: ACK, options: { timestamp: { value: 2, echo: synAck.header.options.timestamp!.value } } });
    await h.settle();
    const socket = accepted[0] as TcpSocket;
    socket.write('ping');
    await h.settle();
    const data = h.one();
    await h.advance(30);
    h.inject({ dstPort: 21, seq: 101, ack: iss + 5, flags: ACK, options: { timestamp: { value: 3, echo: data.header.options.timestamp!.value } } });
    const conn = h.tcp.findConnection(21, '10.0.0.1', 40000)!;
    // Two samples: 0 ms for the SYN,ACK (echoed at once), then 30 ms.
    expect(conn.rto.srtt).toBe(0.875 * 0 + 0.125 * 30);
    expect(conn.rto.rttvar).toBe(0.25 * 30);
    expect(conn.rto.rto).toBe(200); // 3.75 + 30, clamped to the 200 ms minimum
  });

  it('without options from the peer: MSS 536 assumed, no scaling, no timestamps, no SACK', async () => {
    const h = new TcpHarness();
    const { synAck, accepted } = await openWith(h, undefined);
    expect(synAck.header.options).toEqual({ mss: 1460 });
    h.inject({ dstPort: 21, seq: 101, ack: synAck.header.seq + 1, flags: ACK, window: 65535 });
    await h.settle();
    accepted[0]!.write(Buffer.alloc(1000));
    await h.settle();
    const out = h.take();
    expect(out.map((s) => s.payload.length)).toEqual([536, 464]);
    expect(out[0]!.header.options).toEqual({});
    expect(out[0]!.header.window).toBe(65535);
  });
});
