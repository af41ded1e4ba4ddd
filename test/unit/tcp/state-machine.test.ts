import { describe, expect, it } from 'vitest';
import type { TcpSocketLike } from '../../../src/tcp/api.js';
import type { TcpSocket } from '../../../src/tcp/socket.js';
import { encodeTcp } from '../../../src/wire/tcp.js';
import { ACK, FIN, PEER, PEER_ISS, PSH, RST, SYN, TcpHarness, US, errorCodes } from '../../support/tcp-harness.js';

/**
 * RFC 9293 3.10 event processing, driven segment by segment: we play the peer
 * (10.0.0.1:40000) by hand and look at every segment the stack answers with.
 */

/** Peer (ISS PEER_ISS) opens to our port 21 offering MSS 1460; returns the accepted socket and our ISS. */
function passiveOpen(h: TcpHarness, extra: { allowHalfOpen?: boolean } = {}) {
  return h.passiveOpen({ synOptions: { mss: 1460 }, allowHalfOpen: extra.allowHalfOpen });
}

describe('opening', () => {
  it('passive open: SYN -> SYN,ACK with our options -> ACK -> ESTABLISHED', async () => {
    const h = new TcpHarness();
    const { socket, iss, synAck } = await passiveOpen(h);
    expect(synAck.flags).toBe('SYN,ACK');
    expect(synAck.header.ack).toBe(PEER_ISS + 1);
    // The peer offered only MSS: we answer with MSS only (no WS/SACK/TS it did not offer).
    expect(synAck.header.options).toEqual({ mss: 1460 });
    expect(socket.state).toBe('ESTABLISHED');
    expect(socket.remoteAddress).toBe('10.0.0.1');
    expect(socket.remotePort).toBe(40000);
    expect(socket.localPort).toBe(21);
    expect(iss).toBeGreaterThanOrEqual(0);
    expect(h.take()).toEqual([]); // the final ACK needs no answer
  });

  it('active open: SYN offers MSS from the MTU, SACK, timestamps and window scale', async () => {
    const h = new TcpHarness({}, 1500);
    let connected = false;
    const socket = h.tcp.connect({ host: '10.0.0.1', port: 80 }, () => {
      connected = true;
    }) as TcpSocket;
    await h.settle();
    const syn = h.one();
    expect(syn.flags).toBe('SYN');
    expect(syn.header.options.mss).toBe(1460);
    expect(syn.header.options.sackPermitted).toBe(true);
    expect(syn.header.options.windowScale).toBe(5); // 1 MB buffer
    expect(syn.header.options.timestamp?.echo).toBe(0);
    expect(syn.header.srcPort).toBeGreaterThanOrEqual(49152);
    expect(socket.state).toBe('SYN-SENT');
    h.inject({ srcPort: 80, dstPort: syn.header.srcPort, seq: 5000, ack: syn.header.seq + 1, flags: SYN | ACK, options: { mss: 1400 } });
    await h.settle();
    const ack = h.one();
    expect(ack.flags).toBe('ACK');
    expect(ack.header.ack).toBe(5001);
    expect(ack.header.seq).toBe(syn.header.seq + 1);
    expect(socket.state).toBe('ESTABLISHED');
    expect(connected).toBe(true);
  });

  it('a MTU of 1280 announces MSS 1240; data is cut at the peer MSS', async () => {
    const h = new TcpHarness({}, 1280);
    const socket = h.tcp.connect({ host: '10.0.0.1', port: 80 }) as TcpSocket;
    await h.settle();
    const syn = h.one();
    expect(syn.header.options.mss).toBe(1240);
    h.inject({ srcPort: 80, dstPort: syn.header.srcPort, seq: 1, ack: syn.header.seq + 1, flags: SYN | ACK, options: { mss: 1000 } });
    await h.settle();
    h.take();
    socket.write(Buffer.alloc(2500, 1));
    await h.settle();
    expect(h.take().map((s) => s.payload.length)).toEqual([1000, 1000, 500]);
  });

  it('simultaneous open: SYN crosses SYN -> SYN,ACK -> ESTABLISHED', async () => {
    const h = new TcpHarness();
    const socket = h.tcp.connect({ host: '10.0.0.1', port: 80, localPort: 7000 }) as TcpSocket;
    await h.settle();
    const syn = h.one();
    h.inject({ srcPort: 80, dstPort: 7000, seq: PEER_ISS, flags: SYN, options: { mss: 1460 } });
    await h.settle();
    expect(socket.state).toBe('SYN-RECEIVED');
    const synAck = h.one();
    expect(synAck.flags).toBe('SYN,ACK');
    expect(synAck.header.seq).toBe(syn.header.seq);
    expect(synAck.header.ack).toBe(PEER_ISS + 1);
    h.inject({ srcPort: 80, dstPort: 7000, seq: PEER_ISS, ack: syn.header.seq + 1, flags: SYN | ACK });
    await h.settle();
    expect(socket.state).toBe('ESTABLISHED');
    expect(h.counters.get('tcp.simultaneous_open')).toBe(1);
  });

  it('SYN-SENT: RST with an acceptable ACK is ECONNREFUSED; a bad ACK gets a RST', async () => {
    const h = new TcpHarness();
    const socket = h.tcp.connect({ host: '10.0.0.1', port: 80 });
    const errors: (Error & { code?: string })[] = [];
    socket.on('error', (e) => errors.push(e));
    await h.settle();
    const syn = h.one();
    const port = syn.header.srcPort;
    // An ACK for something we never sent: RST with SEQ = SEG.ACK (RFC 9293 3.10.7.3).
    h.inject({ srcPort: 80, dstPort: port, seq: 1, ack: syn.header.seq + 99, flags: ACK });
    const rst = h.one();
    expect(rst.flags).toBe('RST');
    expect(rst.header.seq).toBe(syn.header.seq + 99);
    // RST without an acceptable ACK is ignored.
    h.inject({ srcPort: 80, dstPort: port, seq: 0, ack: syn.header.seq + 5, flags: RST | ACK });
    await h.settle();
    expect(errors).toEqual([]);
    h.inject({ srcPort: 80, dstPort: port, seq: 0, ack: syn.header.seq + 1, flags: RST | ACK });
    await h.settle();
    expect(errors.map((e) => e.code)).toEqual(['ECONNREFUSED']);
    expect(h.tcp.connectionCount).toBe(0);
  });

  it('SYN retransmissions back off and end in ETIMEDOUT', async () => {
    const h = new TcpHarness({ synRetries: 3 });
    const socket = h.tcp.connect({ host: '10.0.0.1', port: 80 });
    const errors: (Error & { code?: string })[] = [];
    socket.on('error', (e) => errors.push(e));
    await h.settle();
    h.take();
    const times: number[] = [];
    const start = h.clock.now();
    for (let i = 0; i < 60 && errors.length === 0; i++) {
      await h.advance(500);
      for (const s of h.take()) {
        expect(s.flags).toBe('SYN');
        times.push(h.clock.now() - start);
      }
    }
    expect(times).toEqual([1000, 3000, 7000]); // RTO 1 s, doubled each time (RFC 6298 5.5)
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
  });

  it('connect timeout option gives ETIMEDOUT', async () => {
    const h = new TcpHarness();
    const socket = h.tcp.connect({ host: '10.0.0.1', port: 80, timeout: 2500 });
    const errors = errorCodes(socket);
    await h.advance(2400);
    expect(errors).toEqual([]);
    await h.advance(200);
    expect(errors).toEqual(['ETIMEDOUT']);
  });

  it('a retransmitted SYN in SYN-RECEIVED gets the SYN,ACK again', async () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21 });
    h.inject({ dstPort: 21, seq: PEER_ISS, flags: SYN });
    const first = h.one();
    h.inject({ dstPort: 21, seq: PEER_ISS, flags: SYN });
    const again = h.one();
    expect(again.flags).toBe('SYN,ACK');
    expect(again.header.seq).toBe(first.header.seq);
  });

  it('SYN-RECEIVED: an ACK that acknowledges nothing we sent gets a RST; RST returns to LISTEN', async () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21 });
    h.inject({ dstPort: 21, seq: PEER_ISS, flags: SYN });
    const synAck = h.one();
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: synAck.header.seq + 50, flags: ACK });
    const rst = h.one();
    expect(rst.flags).toBe('RST');
    expect(rst.header.seq).toBe(synAck.header.seq + 50);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, flags: RST });
    expect(h.tcp.connectionCount).toBe(0);
    // The listener still answers new SYNs.
    h.inject({ dstPort: 21, seq: 9000, flags: SYN, srcPort: 40001 });
    expect(h.one().flags).toBe('SYN,ACK');
  });

  it('the SYN queue is bounded by the backlog: extra SYNs get a SYN cookie and no state (RFC 4987)', async () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21, backlog: 2 });
    for (let i = 0; i < 5; i++) h.inject({ dstPort: 21, srcPort: 41000 + i, seq: 1, flags: SYN });
    expect(h.take().filter((s) => s.flags === 'SYN,ACK')).toHaveLength(5);
    expect(h.tcp.connectionCount).toBe(2);
    expect(h.counters.get('tcp.syncookie.sent')).toBe(3);
  });

  it('listen on a taken port throws EADDRINUSE; the same four-tuple twice is EADDRINUSE', async () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21 });
    expect(() => h.tcp.listen({ port: 21 })).toThrow(/EADDRINUSE/);
    const a = h.tcp.connect({ host: '10.0.0.1', port: 5001, localPort: 20 });
    const b = h.tcp.connect({ host: '10.0.0.1', port: 5001, localPort: 20 });
    const c = h.tcp.connect({ host: '10.0.0.1', port: 5002, localPort: 20 });
    const errs: string[] = [];
    for (const s of [a, b, c]) s.on('error', (e: Error & { code?: string }) => errs.push(e.code!));
    await h.settle();
    expect(errs).toEqual(['EADDRINUSE']);
    const syns = h.take();
    expect(syns.map((s) => [s.header.srcPort, s.header.dstPort])).toEqual([
      [20, 5001],
      [20, 5002],
    ]);
  });
});

describe('segments for no connection (RFC 9293 3.10.7.1)', () => {
  it('SYN to a closed port: RST,ACK acking the SYN', () => {
    const h = new TcpHarness();
    h.inject({ dstPort: 9, seq: 777, flags: SYN });
    const rst = h.one();
    expect(rst.flags).toBe('RST,ACK');
    expect(rst.header.seq).toBe(0);
    expect(rst.header.ack).toBe(778);
    expect(h.counters.get('tcp.tx.rst_closed_port')).toBe(1);
  });

  it('ACK to a closed port: RST with SEQ = SEG.ACK; a RST gets nothing', () => {
    const h = new TcpHarness();
    h.inject({ dstPort: 9, seq: 777, ack: 4242, flags: ACK, payload: 'abc' });
    const rst = h.one();
    expect(rst.flags).toBe('RST');
    expect(rst.header.seq).toBe(4242);
    h.inject({ dstPort: 9, seq: 777, flags: RST });
    expect(h.take()).toEqual([]);
  });

  it('an ACK to a listening port gets a RST', () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21 });
    h.inject({ dstPort: 21, seq: 5, ack: 99, flags: ACK });
    const rst = h.one();
    expect(rst.flags).toBe('RST');
    expect(rst.header.seq).toBe(99);
  });

  it('a segment with a bad checksum is counted and dropped', () => {
    const h = new TcpHarness();
    // A valid SYN with one bit flipped, delivered straight to the handler.
    const syn = encodeTcp({ srcPort: 1, dstPort: 9, seq: 1, ack: 0, flags: SYN, window: 100 }, new Uint8Array(0), { src: PEER, dst: US });
    syn[5] ^= 0x10;
    h.tcp.receive({ src: PEER, dst: US, protocol: 6, ttl: 64, payload: syn, header: new Uint8Array(20) });
    expect(h.counters.get('tcp.rx.bad_checksum')).toBe(1);
    expect(h.take()).toEqual([]);
  });
});

describe('RST and SYN in synchronized states (RFC 9293 3.10.7.4, RFC 5961)', () => {
  it('RST with SEQ = RCV.NXT resets the connection: ECONNRESET', async () => {
    const h = new TcpHarness();
    const { socket } = await passiveOpen(h);
    const errors = errorCodes(socket);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, flags: RST });
    await h.settle();
    expect(errors).toEqual(['ECONNRESET']);
    expect(socket.destroyed).toBe(true);
    expect(h.tcp.connectionCount).toBe(0);
  });

  it('RST in the window but not exact: challenge ACK; outside the window: dropped', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    h.inject({ dstPort: 21, seq: PEER_ISS + 100, flags: RST });
    const challenge = h.one();
    expect(challenge.flags).toBe('ACK');
    expect(challenge.header.seq).toBe(iss + 1);
    expect(challenge.header.ack).toBe(PEER_ISS + 1);
    expect(socket.state).toBe('ESTABLISHED');
    h.inject({ dstPort: 21, seq: PEER_ISS - 5000, flags: RST });
    expect(h.take()).toEqual([]);
    expect(socket.state).toBe('ESTABLISHED');
    expect(h.counters.get('tcp.tx.challenge_ack')).toBe(1);
  });

  it('SYN in ESTABLISHED: challenge ACK, at most one per connection per 500 ms (RFC 5961 7, as Linux)', async () => {
    const h = new TcpHarness();
    const { socket } = await passiveOpen(h);
    for (let i = 0; i < 5; i++) h.inject({ dstPort: 21, seq: PEER_ISS + 1, flags: SYN });
    expect(h.take().map((s) => s.flags)).toEqual(['ACK']);
    expect(h.counters.get('tcp.tx.challenge_ack')).toBe(1);
    expect(h.counters.get('tcp.tx.challenge_ack_suppressed.connection')).toBe(4);
    expect(socket.state).toBe('ESTABLISHED');
    await h.advance(500);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, flags: SYN });
    expect(h.take().map((s) => s.flags)).toEqual(['ACK']);
  });

  it('an unacceptable (old) segment is answered with an ACK and dropped', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    const data: Buffer[] = [];
    socket.on('data', (d: Buffer) => data.push(d));
    h.inject({ dstPort: 21, seq: PEER_ISS - 10, ack: iss + 1, flags: ACK, payload: 'old' });
    const ack = h.one();
    expect(ack.header.ack).toBe(PEER_ISS + 1);
    await h.settle();
    expect(data).toEqual([]);
    expect(h.counters.get('tcp.rx.drop.unacceptable')).toBe(1);
  });

  it('an ACK for data never sent is answered with an ACK and dropped', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    const data: Buffer[] = [];
    socket.on('data', (d: Buffer) => data.push(d));
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 500, flags: ACK, payload: 'x' });
    expect(h.one().header.ack).toBe(PEER_ISS + 1);
    expect(h.counters.get('tcp.rx.drop.ack_unsent')).toBe(1);
  });
});

describe('closing', () => {
  it('active close: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2 MSL', async () => {
    const h = new TcpHarness({ timeWaitMs: 4000 });
    const { socket, iss } = await passiveOpen(h);
    socket.resume();
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    socket.end();
    await h.settle();
    const fin = h.one();
    expect(fin.flags).toBe('FIN,ACK');
    expect(fin.header.seq).toBe(iss + 1);
    expect(socket.state).toBe('FIN-WAIT-1');
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 2, flags: ACK });
    expect(socket.state).toBe('FIN-WAIT-2');
    expect(h.take()).toEqual([]);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 2, flags: FIN | ACK });
    expect(socket.state).toBe('TIME-WAIT');
    const last = h.one();
    expect(last.flags).toBe('ACK');
    expect(last.header.ack).toBe(PEER_ISS + 2);
    await h.settle();
    expect(closed).toBe(true);
    // A retransmitted FIN in TIME-WAIT is acked again.
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 2, flags: FIN | ACK });
    expect(h.one().header.ack).toBe(PEER_ISS + 2);
    await h.advance(3999);
    expect(socket.state).toBe('TIME-WAIT');
    await h.advance(2);
    expect(socket.state).toBe('CLOSED');
    expect(h.tcp.connectionCount).toBe(0);
  });

  it('passive close: CLOSE-WAIT, then LAST-ACK, then CLOSED', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h, { allowHalfOpen: true });
    let ended = false;
    socket.on('end', () => {
      ended = true;
    });
    socket.resume();
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: FIN | ACK });
    await h.settle();
    expect(ended).toBe(true);
    expect(socket.state).toBe('CLOSE-WAIT');
    expect(h.one().header.ack).toBe(PEER_ISS + 2);
    // Half-open: we may still send.
    socket.end('bye');
    await h.settle();
    const fin = h.one();
    expect(fin.flags).toBe('FIN,PSH,ACK');
    expect(fin.payload.toString()).toBe('bye');
    expect(socket.state).toBe('LAST-ACK');
    h.inject({ dstPort: 21, seq: PEER_ISS + 2, ack: iss + 5, flags: ACK });
    expect(socket.state).toBe('CLOSED');
    expect(h.tcp.connectionCount).toBe(0);
  });

  it('without allowHalfOpen the peer FIN makes us end too (as net.Socket)', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.resume();
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: FIN | ACK });
    await h.settle();
    const out = h.take();
    expect(out.at(-1)!.flags).toBe('FIN,ACK');
    expect(socket.state).toBe('LAST-ACK');
  });

  it('simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.resume();
    socket.end();
    await h.settle();
    expect(h.one().flags).toBe('FIN,ACK');
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: FIN | ACK }); // does not ack our FIN
    expect(socket.state).toBe('CLOSING');
    expect(h.one().header.ack).toBe(PEER_ISS + 2);
    h.inject({ dstPort: 21, seq: PEER_ISS + 2, ack: iss + 2, flags: ACK });
    expect(socket.state).toBe('TIME-WAIT');
  });

  it('the FIN rides on the last data segment when end() came with the data', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.write(Buffer.alloc(2000, 7));
    socket.end(Buffer.alloc(500, 8));
    await h.settle();
    const out = h.take();
    expect(out.map((s) => [s.flags, s.payload.length])).toEqual([
      ['ACK', 1460],
      ['FIN,PSH,ACK', 1040],
    ]);
    expect(out[1]!.header.seq).toBe(iss + 1 + 1460);
  });

  it('TIME-WAIT ignores RST (RFC 1337) and a new SYN with a higher sequence reuses the pair', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.resume();
    socket.end();
    await h.settle();
    h.take();
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 2, flags: FIN | ACK });
    h.take();
    expect(socket.state).toBe('TIME-WAIT');
    h.inject({ dstPort: 21, seq: PEER_ISS + 2, flags: RST });
    expect(socket.state).toBe('TIME-WAIT');
    h.inject({ dstPort: 21, seq: PEER_ISS + 100_000, flags: SYN });
    const synAck = h.one();
    expect(synAck.flags).toBe('SYN,ACK');
    expect(synAck.header.ack).toBe(PEER_ISS + 100_001);
    expect(h.counters.get('tcp.time_wait.reused')).toBe(1);
    // The replaced connection is gone with its timer: nothing expires 2*MSL later.
    expect(socket.state).toBe('CLOSED');
    h.clock.advance(10 * 60_000);
    expect(h.counters.get('tcp.time_wait.expired')).toBe(0);
  });

  it('destroy() aborts with RST', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.destroy();
    await h.settle();
    const rst = h.one();
    expect(rst.flags).toBe('RST,ACK');
    expect(rst.header.seq).toBe(iss + 1);
    expect(h.tcp.connectionCount).toBe(0);
  });

  it('writes queued before the handshake go out with the FIN once established', async () => {
    const h = new TcpHarness();
    const socket = h.tcp.connect({ host: '10.0.0.1', port: 80 });
    socket.end('early');
    await h.settle();
    const syn = h.one();
    h.inject({ srcPort: 80, dstPort: syn.header.srcPort, seq: 1, ack: syn.header.seq + 1, flags: SYN | ACK });
    await h.settle();
    const out = h.one();
    expect(out.flags).toBe('FIN,PSH,ACK');
    expect(out.payload.toString()).toBe('early');
  });
});

describe('data and acknowledgments', () => {
  it('delayed ACK (past the quick-ACK start): one segment is acked after 40 ms, two at once', async () => {
    const h = new TcpHarness({ quickAcks: 0 });
    const { socket, iss } = await passiveOpen(h);
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK | PSH, payload: 'hello' });
    expect(h.take()).toEqual([]);
    await h.advance(39);
    expect(h.take()).toEqual([]);
    await h.advance(2);
    expect(h.one().header.ack).toBe(PEER_ISS + 6);
    h.inject({ dstPort: 21, seq: PEER_ISS + 6, ack: iss + 1, flags: ACK, payload: Buffer.alloc(1460) });
    h.inject({ dstPort: 21, seq: PEER_ISS + 1466, ack: iss + 1, flags: ACK, payload: Buffer.alloc(1460) });
    expect(h.one().header.ack).toBe(PEER_ISS + 2926);
    await h.settle();
    expect(Buffer.concat(got).length).toBe(2925);
    expect(socket.bytesRead).toBe(2925);
  });

  it('out-of-order data: immediate duplicate ACK with a SACK block, then one ACK for the filled hole', async () => {
    const h = new TcpHarness();
    const accepted: TcpSocketLike[] = [];
    h.tcp.listen({ port: 21 }, (s) => accepted.push(s));
    h.inject({ dstPort: 21, seq: PEER_ISS, flags: SYN, options: { mss: 1460, sackPermitted: true } });
    const iss = h.one().header.seq;
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK });
    await h.settle();
    const got: Buffer[] = [];
    accepted[0]!.on('data', (d: Buffer) => got.push(d));
    const base = PEER_ISS + 1;
    h.inject({ dstPort: 21, seq: base + 100, ack: iss + 1, flags: ACK, payload: Buffer.alloc(100, 2) });
    const dup = h.one();
    expect(dup.header.ack).toBe(base);
    expect(dup.header.options.sack).toEqual([{ left: base + 100, right: base + 200 }]);
    // Overlapping duplicate: trimmed, nothing new stored.
    h.inject({ dstPort: 21, seq: base + 150, ack: iss + 1, flags: ACK, payload: Buffer.alloc(100, 2) });
    expect(h.one().header.options.sack).toEqual([{ left: base + 100, right: base + 250 }]);
    h.inject({ dstPort: 21, seq: base, ack: iss + 1, flags: ACK, payload: Buffer.alloc(100, 1) });
    const fill = h.one();
    expect(fill.header.ack).toBe(base + 250);
    expect(fill.header.options.sack).toBeUndefined();
    await h.settle();
    const all = Buffer.concat(got);
    expect(all.length).toBe(250);
    expect(all[99]).toBe(1);
    expect(all[100]).toBe(2);
    expect(h.counters.get('tcp.rx.out_of_order_bytes')).toBe(150);
  });

  it('retransmission timeout: resend, back off, Karn; new ACK stops the timer', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.write('abc');
    await h.settle();
    expect(h.one().payload.toString()).toBe('abc');
    await h.advance(999);
    expect(h.take()).toEqual([]);
    await h.advance(1);
    const r1 = h.one();
    expect(r1.payload.toString()).toBe('abc');
    expect(r1.header.seq).toBe(iss + 1);
    await h.advance(2000);
    expect(h.one().payload.toString()).toBe('abc');
    expect(h.counters.get('tcp.retransmit.rto')).toBe(2);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 4, flags: ACK });
    await h.advance(10_000);
    expect(h.take()).toEqual([]);
  });

  it('retransmissions give up with ETIMEDOUT after maxRetries', async () => {
    const h = new TcpHarness({ maxRetries: 3 });
    const { socket } = await passiveOpen(h);
    const errors = errorCodes(socket);
    socket.write('abc');
    await h.advance(1 + 2 + 4 + 8 + 1000);
    await h.advance(20_000);
    expect(errors).toEqual(['ETIMEDOUT']);
    expect(h.counters.get('tcp.retransmit.rto')).toBe(3);
  });

  it('three duplicate ACKs trigger a fast retransmit of the first unacked segment', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.write(Buffer.alloc(1460 * 6, 3));
    await h.settle();
    expect(h.take()).toHaveLength(6);
    const ack = iss + 1 + 1460;
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack, flags: ACK }); // new data acked (cwnd grows: new segments)
    h.take();
    for (let i = 0; i < 3; i++) h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack, flags: ACK });
    const out = h.take();
    expect(out).toHaveLength(1);
    expect(out[0]!.header.seq).toBe(ack);
    expect(h.counters.get('tcp.retransmit.fast')).toBe(1);
    expect(h.counters.get('tcp.rx.dup_ack')).toBe(3);
  });

  it('Nagle holds a small segment while data is in flight; setNoDelay sends it', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.write('a');
    await h.settle();
    expect(h.one().payload.toString()).toBe('a');
    socket.write('b');
    await h.settle();
    expect(h.take()).toEqual([]);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 2, flags: ACK });
    await h.settle();
    expect(h.one().payload.toString()).toBe('b');
    socket.setNoDelay(true);
    socket.write('c');
    await h.settle();
    socket.write('d');
    await h.settle();
    expect(h.take().map((s) => s.payload.toString())).toEqual(['c', 'd']);
  });

  it('a zero window stops the sender; the persist timer probes like Linux (0 bytes at SND.UNA-1); an opening window resumes at once, Nagle or not', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, window: 0 });
    socket.write('hello');
    await h.settle();
    expect(h.take()).toEqual([]);
    await h.advance(1000);
    const probe = h.one();
    expect(probe.payload.length).toBe(0);
    expect(probe.header.seq).toBe(iss); // SND.UNA - 1: the peer must answer with its window
    expect(probe.flags).toBe('ACK');
    expect(h.counters.get('tcp.tx.window_probe')).toBe(1);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, window: 0 });
    await h.advance(1999);
    expect(h.take()).toEqual([]);
    await h.advance(1);
    expect(h.one().header.seq).toBe(iss); // backed-off probe, 2 s later
    // The window opens: all five bytes go at once (Nagle has nothing in flight to wait for).
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, window: 1000 });
    await h.settle();
    const data = h.one();
    expect(data.payload.toString()).toBe('hello');
    expect(data.header.seq).toBe(iss + 1);
  });

  it('a reader that stops reading closes the window; reading again sends a window update', async () => {
    const h = new TcpHarness({ receiveBufferBytes: 8192 });
    const { socket, iss } = await passiveOpen(h);
    socket.pause();
    let seq = PEER_ISS + 1;
    const windows: number[] = [];
    for (let i = 0; i < 6; i++) {
      h.inject({ dstPort: 21, seq, ack: iss + 1, flags: ACK, payload: Buffer.alloc(1460, i) });
      seq += 1460;
      await h.settle();
      await h.advance(50);
      for (const s of h.take()) windows.push(s.header.window);
    }
    expect(windows.at(-1)).toBe(0);
    // Exactly the advertised 8192 bytes were taken; the rest was beyond the window.
    expect(socket.readableLength).toBe(8192);
    socket.resume();
    await h.settle();
    const update = h.take();
    expect(update.length).toBeGreaterThan(0);
    expect(update.at(-1)!.header.window).toBeGreaterThan(4000);
    expect(h.counters.get('tcp.tx.window_update')).toBeGreaterThan(0);
  });
});

describe('silly window syndrome avoidance (RFC 1122 4.2.3.3, 4.2.3.4)', () => {
  it('receiver: the window does not open in small steps while the reader nibbles', async () => {
    const h = new TcpHarness({ receiveBufferBytes: 8192 });
    const { socket, iss } = await passiveOpen(h);
    socket.pause();
    let seq = PEER_ISS + 1;
    for (let i = 0; i < 6; i++) {
      h.inject({ dstPort: 21, seq, ack: iss + 1, flags: ACK, payload: Buffer.alloc(Math.min(1460, 8192 - (seq - PEER_ISS - 1))) });
      seq += 1460;
    }
    await h.advance(50);
    expect(h.take().at(-1)!.header.window).toBe(0);
    // Read 100 bytes: opening the window by 100 would be silly; nothing is sent.
    socket.read(100);
    await h.settle();
    expect(h.take()).toEqual([]);
    // A probe from the peer is answered with the window still closed.
    h.inject({ dstPort: 21, seq: PEER_ISS + 1 + 8192, ack: iss + 1, flags: ACK, payload: 'z' });
    await h.settle();
    expect(h.one().header.window).toBe(0);
    // Read a full MSS worth more: now the window opens (by at least one MSS).
    socket.read(2000);
    await h.settle();
    const update = h.one();
    expect(update.header.window).toBeGreaterThanOrEqual(1460);
  });

  it('sender: a small usable window is not filled with a runt while data is in flight', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await passiveOpen(h);
    socket.setNoDelay(true);
    // The peer once offered 30000 bytes, then 3000 (2 full segments + 80 bytes).
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, window: 30_000 });
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, window: 3000 });
    socket.write(Buffer.alloc(10_000));
    await h.settle();
    expect(h.take().map((s) => s.payload.length)).toEqual([1460, 1460]);
    // Once everything is acknowledged, a window of 80 bytes is used (nothing in flight).
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1 + 2920, flags: ACK, window: 80 });
    await h.settle();
    expect(h.take().map((s) => s.payload.length)).toEqual([80]);
  });
});

describe('persist', () => {
  it('a peer that keeps answering zero-window probes is never given up on', async () => {
    const h = new TcpHarness({ maxRetries: 3 });
    const { socket, iss } = await passiveOpen(h);
    const errors = errorCodes(socket);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, window: 0 });
    socket.write('hello');
    // Answer every probe at once, still with a zero window, for 20 virtual minutes.
    for (let t = 0; t < 1200; t++) {
      await h.clock.advanceAsync(1000);
      for (const probe of h.take()) {
        expect(probe.payload.length).toBe(0);
        h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, window: 0 });
      }
    }
    expect(errors).toEqual([]);
    expect(h.counters.get('tcp.tx.window_probe')).toBeGreaterThanOrEqual(10);
  });
});

describe('listen on port 0', () => {
  it('picks a free ephemeral port, as net does', async () => {
    const h = new TcpHarness();
    const a = h.tcp.listen({ port: 0 });
    const b = h.tcp.listen({ port: 0 });
    const pa = a.address()!.port;
    const pb = b.address()!.port;
    expect(pa).toBeGreaterThanOrEqual(49152);
    expect(pb).toBeGreaterThanOrEqual(49152);
    expect(pa).not.toBe(pb);
    h.inject({ dstPort: pa, seq: 1, flags: SYN });
    expect(h.one().flags).toBe('SYN,ACK');
    expect(() => h.tcp.listen({ port: -1 })).toThrow(/ERR_SOCKET_BAD_PORT/);
  });
});
