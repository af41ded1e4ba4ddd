import { describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../../src/tcp/socket.js';
import { encodeTcp } from '../../../src/wire/tcp.js';
import type { IpDatagram } from '../../../src/stack/network.js';
import { ACK, FIN, PEER, PEER_ISS, RST, SYN, TcpHarness, US } from '../../support/tcp-harness.js';

/** Deliver a segment whose option bytes are given raw (possibly malformed). */
function injectRaw(h: TcpHarness, f: { dstPort: number; seq: number; ack?: number; flags: number }, optionBytes: number[], payload = ''): void {
  const options = Uint8Array.from(optionBytes);
  const data = Buffer.from(payload);
  const header = encodeTcp({ srcPort: 40000, dstPort: f.dstPort, seq: f.seq, ack: f.ack ?? 0, flags: f.flags, window: 65535 }, new Uint8Array(0), { src: PEER, dst: US });
  const seg = new Uint8Array(20 + options.length + data.length);
  seg.set(header.subarray(0, 20));
  seg.set(options, 20);
  seg.set(data, 20 + options.length);
  seg[12] = ((20 + options.length) / 4) << 4;
  seg[16] = seg[17] = 0;
  // Checksum over the pseudo-header and the segment (RFC 9293 3.1).
  let sum = (PEER >>> 16) + (PEER & 0xffff) + (US >>> 16) + (US & 0xffff) + 6 + seg.length;
  for (let i = 0; i < seg.length; i += 2) sum += (seg[i]! << 8) | (seg[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const cs = ~sum & 0xffff;
  seg[16] = cs >>> 8;
  seg[17] = cs & 0xff;
  const dg: IpDatagram = { src: PEER, dst: US, protocol: 6, ttl: 64, payload: seg, header: new Uint8Array(20) };
  (h.tcp as unknown as { receive(d: IpDatagram): void }).receive(dg);
  h.flush();
}

describe('malformed options (RFC 9293 MUST-6/7: robustness, as Linux)', () => {
  it('a SYN whose option list ends in a bad length is answered, with the options read before it', () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21 });
    // MSS 1400, SACK-permitted, then kind 8 with length 1.
    injectRaw(h, { dstPort: 21, seq: PEER_ISS, flags: SYN }, [2, 4, 0x05, 0x78, 4, 2, 8, 1]);
    const synAck = h.one();
    expect(synAck.flags).toBe('SYN,ACK');
    expect(synAck.header.options).toEqual({ mss: 1460, sackPermitted: true });
    expect(h.counters.get('tcp.rx.options_malformed')).toBe(1);
    expect(h.counters.get('tcp.rx.bad_option_length')).toBe(1);
  });

  it('a SYN whose option runs past the header is answered too', () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21 });
    injectRaw(h, { dstPort: 21, seq: PEER_ISS, flags: SYN }, [2, 4, 0x05, 0xb4, 3, 8, 7, 0]);
    expect(h.one().flags).toBe('SYN,ACK');
    expect(h.counters.get('tcp.rx.option_overrun')).toBe(1);
  });

  it('an established segment with a length-0 option keeps its data', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await h.passiveOpen({ synOptions: { mss: 1460 } });
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    injectRaw(h, { dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK }, [1, 1, 30, 0], 'data survives');
    await h.settle();
    expect(Buffer.concat(got).toString()).toBe('data survives');
    expect(h.counters.get('tcp.rx.options_malformed')).toBe(1);
    expect(h.counters.get('tcp.rx.drop.malformed')).toBe(0);
  });
});

describe('SYN+FIN', () => {
  it('to a listener: dropped and counted, no SYN,ACK (as Linux)', () => {
    const h = new TcpHarness();
    h.tcp.listen({ port: 21 });
    h.inject({ dstPort: 21, seq: PEER_ISS, flags: SYN | FIN });
    expect(h.take()).toEqual([]);
    expect(h.counters.get('tcp.rx.drop.syn_fin')).toBe(1);
    expect(h.tcp.connectionCount).toBe(0);
  });
});

describe('challenge ACK budget (RFC 5961 7)', () => {
  it('20 in-window RSTs get one challenge ACK, as Linux', async () => {
    const h = new TcpHarness();
    const { socket } = await h.passiveOpen({ synOptions: { mss: 1460 } });
    for (let i = 0; i < 20; i++) h.inject({ dstPort: 21, seq: PEER_ISS + 100 + i, flags: RST });
    expect(h.take().map((s) => s.flags)).toEqual(['ACK']);
    expect(h.counters.get('tcp.tx.challenge_ack_suppressed')).toBe(19);
    expect((socket as TcpSocket).state).toBe('ESTABLISHED');
  });

  it('the whole stack has a randomized budget per second across connections', async () => {
    const h = new TcpHarness({ challengeAckPerSecond: 10 });
    h.tcp.listen({ port: 21 });
    // 40 connections, each sent one in-window RST in the same second.
    const isses: number[] = [];
    for (let p = 0; p < 40; p++) {
      h.inject({ srcPort: 30000 + p, dstPort: 21, seq: PEER_ISS, flags: SYN });
      isses.push(h.one().header.seq);
      h.inject({ srcPort: 30000 + p, dstPort: 21, seq: PEER_ISS + 1, ack: isses[p]! + 1, flags: ACK });
    }
    await h.settle();
    h.take();
    for (let p = 0; p < 40; p++) h.inject({ srcPort: 30000 + p, dstPort: 21, seq: PEER_ISS + 50, flags: RST });
    const sent = h.take().length;
    expect(sent).toBeGreaterThanOrEqual(5);
    expect(sent).toBeLessThan(15);
    expect(h.counters.get('tcp.tx.challenge_ack_suppressed.global')).toBe(40 - sent);
  });
});
