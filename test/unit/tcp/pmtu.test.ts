import { describe, expect, it } from 'vitest';
import { ACK, PEER, PEER_ISS, TcpHarness, US } from '../../support/tcp-harness.js';
import { MIN_PATH_MTU, plateauBelow } from '../../../src/tcp/path-mtu.js';

/** ICMP "fragmentation needed" (type 3 code 4) quoting our segment with sequence number `seq`. */
function fragNeeded(h: TcpHarness, seq: number, nextHopMtu: number): void {
  const quoted = new Uint8Array(8);
  const v = new DataView(quoted.buffer);
  v.setUint16(0, 21); // our port
  v.setUint16(2, 40000); // the peer's
  v.setUint32(4, seq >>> 0);
  h.tcp.icmpError({ type: 3, code: 4, reporter: PEER, src: US, dst: PEER, protocol: 6, quoted, nextHopMtu });
  h.flush();
}

async function sending(h: TcpHarness) {
  const { socket, iss } = await h.passiveOpen({ synOptions: { mss: 1460 } });
  socket.write(Buffer.alloc(2920, 7));
  await h.settle();
  expect(h.take().map((s) => s.payload.length)).toEqual([1460, 1460]);
  return iss;
}

describe('path MTU discovery (RFC 1191, RFC 5927)', () => {
  it('"fragmentation needed, MTU 1000" for an outstanding segment: resend at once in 960-byte segments', async () => {
    const h = new TcpHarness();
    const iss = await sending(h);
    fragNeeded(h, iss + 1, 1000);
    expect(h.take().map((s) => [s.header.seq - iss - 1, s.payload.length])).toEqual([
      [0, 960],
      [960, 960],
      [1920, 960],
      [2880, 40],
    ]);
    expect(h.counters.get('tcp.pmtu.lowered')).toBe(1);
    expect(h.tcp.findConnection(21, '10.0.0.1', 40000)!.info().mss).toBe(960);
    // The same report again (one per dropped segment) changes nothing.
    fragNeeded(h, iss + 1461, 1000);
    expect(h.take()).toEqual([]);
    expect(h.counters.get('tcp.pmtu.not_lower')).toBe(1);
  });

  it('a quote outside SND.UNA..SND.NXT is ignored (RFC 5927 4.1): no one can shrink our segments blindly', async () => {
    const h = new TcpHarness();
    const iss = await sending(h);
    fragNeeded(h, iss + 1 + 2920, 1000); // SND.NXT: not sent yet
    fragNeeded(h, iss, 1000); // below SND.UNA
    fragNeeded(h, iss + 100_000, 1000);
    expect(h.take()).toEqual([]);
    expect(h.counters.get('tcp.rx.icmp.bad_seq')).toBe(3);
    expect(h.tcp.findConnection(21, '10.0.0.1', 40000)!.info().mss).toBe(1460);
    // Once acknowledged, a segment is no longer outstanding either.
    h.inject({ dstPort: 21, seq: PEER_ISS + 1, ack: iss + 1 + 2920, flags: ACK });
    fragNeeded(h, iss + 1, 1000);
    expect(h.counters.get('tcp.rx.icmp.bad_seq')).toBe(4);
  });

  it('never below 552 bytes (Linux min_pmtu); a router without the MTU field gets the next plateau (RFC 1191 7)', async () => {
    const h = new TcpHarness();
    const iss = await sending(h);
    fragNeeded(h, iss + 1, 0); // RFC 792 router: plateau below 1500 is 1492
    expect(h.tcp.findConnection(21, '10.0.0.1', 40000)!.info().mss).toBe(1452);
    fragNeeded(h, iss + 1, 300);
    expect(h.counters.get('tcp.pmtu.below_minimum')).toBe(1);
    expect(h.tcp.findConnection(21, '10.0.0.1', 40000)!.info().mss).toBe(MIN_PATH_MTU - 40);
    expect(plateauBelow(1500)).toBe(1492);
    expect(plateauBelow(1006)).toBe(508);
  });
});
