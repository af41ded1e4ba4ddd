import { describe, expect, it } from 'vitest';
import { TcpFlags } from '../../../src/wire/tcp.js';
import { ACK, PEER_ISS, PSH, TcpHarness } from '../../support/tcp-harness.js';

describe('quick-ACK at connection start (as Linux, TCP_MAX_QUICKACKS = 16)', () => {
  it('the first 16 data segments are ACKed at once, the 17th waits for the delayed-ACK timer', async () => {
    const h = new TcpHarness();
    const { iss } = await h.passiveOpen({ synOptions: { mss: 1460 } });
    let seq = PEER_ISS + 1;
    const acked: number[] = [];
    for (let i = 0; i < 17; i++) {
      h.inject({ dstPort: 21, seq, ack: iss + 1, flags: ACK | PSH, payload: 'x' });
      seq += 1;
      await h.advance(100); // far apart: without quick-ACK, every one would wait 40 ms
      for (const s of h.take()) acked.push(s.header.ack);
    }
    expect(h.counters.get('tcp.tx.quick_ack')).toBe(16);
    expect(h.counters.get('tcp.tx.delayed_ack')).toBe(1);
    expect(acked).toHaveLength(17);
  });

  it('a quick ACK goes out in the same flush as the segment', async () => {
    const h = new TcpHarness();
    const { iss } = await h.passiveOpen({ synOptions: { mss: 1460 } });
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK | PSH, payload: 'hello' });
    expect(h.one().header.ack).toBe(PEER_ISS + 6);
  });
});

describe('D-SACK (RFC 2883)', () => {
  const sackOpen = (h: TcpHarness) => h.passiveOpen({ synOptions: { mss: 1460, sackPermitted: true } });

  it('data that arrives twice is reported in the first SACK block of the next ACK, once', async () => {
    const h = new TcpHarness({ quickAcks: 0 });
    const { iss } = await sackOpen(h);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, payload: 'abcdef' });
    await h.advance(50);
    expect(h.one().header.options.sack).toBeUndefined();
    // The peer retransmits it (our ACK was lost): an immediate ACK with a D-SACK block.
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, payload: 'abcdef' });
    const dup = h.one();
    expect(dup.header.ack).toBe(PEER_ISS + 7);
    expect(dup.header.options.sack).toEqual([{ left: PEER_ISS + 1, right: PEER_ISS + 7 }]);
    expect(h.counters.get('tcp.tx.dsack')).toBe(1);
    // Said once: the next ACK has no D-SACK.
    h.inject({ dstPort: 21, seq: PEER_ISS + 7, ack: iss + 1, flags: ACK, payload: Buffer.alloc(1460) });
    h.inject({ dstPort: 21, seq: PEER_ISS + 1467, ack: iss + 1, flags: ACK, payload: Buffer.alloc(1460) });
    expect(h.one().header.options.sack).toBeUndefined();
  });

  it('a segment that is partly old: the old part is D-SACKed, the new part delivered', async () => {
    const h = new TcpHarness({ quickAcks: 0 });
    const { iss } = await sackOpen(h);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, payload: 'abcd' });
    await h.advance(50);
    h.take();
    h.inject({ dstPort: 21, seq: PEER_ISS + 3, ack: iss + 1, flags: ACK, payload: 'cdefgh' });
    const ack = h.one();
    expect(ack.header.ack).toBe(PEER_ISS + 9);
    expect(ack.header.options.sack).toEqual([{ left: PEER_ISS + 3, right: PEER_ISS + 5 }]);
  });

  it('a duplicate of out-of-order data: D-SACK first, then the SACK block that holds it (RFC 2883 4)', async () => {
    const h = new TcpHarness({ quickAcks: 0 });
    const { iss } = await sackOpen(h);
    h.inject({ dstPort: 21, seq: PEER_ISS + 101, ack: iss + 1, flags: ACK, payload: 'zzzz' });
    expect(h.one().header.options.sack).toEqual([{ left: PEER_ISS + 101, right: PEER_ISS + 105 }]);
    h.inject({ dstPort: 21, seq: PEER_ISS + 101, ack: iss + 1, flags: ACK, payload: 'zzzz' });
    expect(h.one().header.options.sack).toEqual([
      { left: PEER_ISS + 101, right: PEER_ISS + 105 },
      { left: PEER_ISS + 101, right: PEER_ISS + 105 },
    ]);
  });

  it('without SACK negotiated there is no D-SACK', async () => {
    const h = new TcpHarness({ quickAcks: 0 });
    const { iss } = await h.passiveOpen({ synOptions: { mss: 1460 } });
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, payload: 'abcdef' });
    await h.advance(50);
    h.take();
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, payload: 'abcdef' });
    expect(h.one().header.options.sack).toBeUndefined();
    expect(h.counters.get('tcp.tx.dsack')).toBe(0);
  });
});

describe('urgent data (RFC 6093: no urgent mode)', () => {
  it('URG data is delivered inline, in order, the pointer ignored; counted', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await h.passiveOpen({ synOptions: { mss: 1460 } });
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    // A Telnet "Synch" as FTP's ABOR sends it: IAC IP IAC DM, the DM marked urgent.
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK | PSH | TcpFlags.URG, payload: Buffer.from([255, 244, 255, 242]) });
    h.inject({ dstPort: 21, seq: PEER_ISS + 5, ack: iss + 1, flags: ACK | PSH, payload: 'ABOR\r\n' });
    await h.settle();
    expect([...Buffer.concat(got)]).toEqual([255, 244, 255, 242, ...Buffer.from('ABOR\r\n')]);
    expect(h.counters.get('tcp.rx.urgent')).toBe(1);
  });
});

describe('FIN beyond a hole', () => {
  it('is answered at once with a duplicate ACK, and processed when the hole fills (RFC 9293 3.10.7.4, RFC 5681 4.2)', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await h.passiveOpen({ synOptions: { mss: 1460 } });
    let ended = false;
    socket.on('end', () => (ended = true));
    socket.resume();
    // Bytes 1..5 are missing; the FIN comes after byte 10.
    h.inject({ dstPort: 21, seq: PEER_ISS + 11, ack: iss + 1, flags: ACK | TcpFlags.FIN });
    const dup = h.one();
    expect(dup.header.ack).toBe(PEER_ISS + 1);
    expect(h.counters.get('tcp.rx.fin_out_of_order')).toBe(1);
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1, flags: ACK, payload: '0123456789' });
    await h.settle();
    expect(h.take().at(-1)!.header.ack).toBe(PEER_ISS + 12);
    expect(ended).toBe(true);
  });
});
