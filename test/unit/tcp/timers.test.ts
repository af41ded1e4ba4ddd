import { describe, expect, it } from 'vitest';
import type { TcpSocketLike } from '../../../src/tcp/api.js';
import type { TcpSocket } from '../../../src/tcp/socket.js';
import { ACK, PEER, SYN, TcpHarness, US, errorCodes } from '../../support/tcp-harness.js';

/** Keepalive, idle timeout, user timeout and ICMP errors, on the virtual clock. */

const established = (h: TcpHarness) => h.passiveOpen();

describe('keepalive (RFC 1122 4.2.3.6)', () => {
  it('probes an idle connection with SEQ = SND.NXT - 1 and fails after the probes go unanswered', async () => {
    const h = new TcpHarness({ keepAliveIntervalMs: 1000, keepAliveProbes: 3 });
    const { socket, iss } = await established(h);
    const errors = errorCodes(socket);
    socket.setKeepAlive(true, 5000);
    await h.advance(4999);
    expect(h.take()).toEqual([]);
    await h.advance(1);
    const probe = h.one();
    expect(probe.header.seq).toBe(iss); // one below SND.NXT
    expect(probe.payload.length).toBe(0);
    // An answer resets the count and the idle time.
    h.inject({ dstPort: 21, seq: 1001, ack: iss + 1, flags: ACK });
    await h.advance(4999);
    expect(h.take()).toEqual([]);
    await h.advance(1 + 1000 + 1000);
    expect(h.take()).toHaveLength(3);
    await h.advance(1000);
    expect(errors).toEqual(['ETIMEDOUT']);
    expect(h.counters.get('tcp.tx.keepalive')).toBe(4);
  });
});

describe('socket.setTimeout', () => {
  it("emits 'timeout' after the idle time, and again only after new activity", async () => {
    const h = new TcpHarness();
    const { socket, iss } = await established(h);
    let timeouts = 0;
    socket.setTimeout(3000, () => timeouts++);
    socket.on('timeout', () => {});
    await h.advance(2999);
    expect(timeouts).toBe(0);
    await h.advance(1);
    expect(timeouts).toBe(1);
    socket.resume();
    h.inject({ dstPort: 21, seq: 1001, ack: iss + 1, flags: ACK, payload: 'x' });
    await h.advance(2000);
    expect(timeouts).toBe(1);
    socket.setTimeout(0);
    await h.advance(10_000);
    expect(socket.destroyed).toBe(false); // a timeout does not close the socket (as in net)
  });
});

describe('user timeout (RFC 5482)', () => {
  it('fails with ETIMEDOUT once data stayed unacknowledged that long', async () => {
    const h = new TcpHarness({ userTimeoutMs: 5000, maxRetries: 100 });
    const { socket } = await established(h);
    const errors = errorCodes(socket);
    socket.write('data');
    await h.advance(4000);
    expect(errors).toEqual([]);
    await h.advance(4000); // next RTO at 7 s is past the 5 s user timeout
    expect(errors).toEqual(['ETIMEDOUT']);
    expect(h.counters.get('tcp.timeout.user_timeout')).toBe(1);
  });
});

describe('ICMP errors (RFC 1122 4.2.3.9, RFC 5927)', () => {
  function quote(srcPort: number, dstPort: number, seq: number): Uint8Array {
    const q = new Uint8Array(8);
    const v = new DataView(q.buffer);
    v.setUint16(0, srcPort);
    v.setUint16(2, dstPort);
    v.setUint32(4, seq);
    return q;
  }

  /** We connect to 10.0.0.1:80: the SYN we sent, and the socket's error codes. */
  async function connecting(h: TcpHarness) {
    const errors = errorCodes(h.tcp.connect({ host: '10.0.0.1', port: 80 }));
    await h.settle();
    return { syn: h.one(), errors };
  }

  it('port unreachable while connecting is ECONNREFUSED; a wrong sequence number is ignored', async () => {
    const h = new TcpHarness();
    const { syn, errors } = await connecting(h);
    const icmp = (seq: number) =>
      h.tcp.icmpError({ type: 3, code: 3, reporter: PEER, src: US, dst: PEER, protocol: 6, quoted: quote(syn.header.srcPort, 80, seq) });
    icmp(syn.header.seq + 12345);
    await h.settle();
    expect(errors).toEqual([]);
    expect(h.counters.get('tcp.rx.icmp.bad_seq')).toBe(1);
    icmp(syn.header.seq);
    await h.settle();
    expect(errors).toEqual(['ECONNREFUSED']);
  });

  it('host unreachable while connecting (e.g. ARP got no answer) is EHOSTUNREACH at once', async () => {
    const h = new TcpHarness();
    const { syn, errors } = await connecting(h);
    h.tcp.icmpError({ type: 3, code: 1, reporter: US, src: US, dst: PEER, protocol: 6, quoted: quote(syn.header.srcPort, 80, syn.header.seq) });
    await h.settle();
    expect(errors).toEqual(['EHOSTUNREACH']);
  });

  it('host unreachable on an established connection is only a soft error', async () => {
    const h = new TcpHarness();
    const { socket, iss } = await established(h);
    socket.write('abc');
    await h.settle();
    h.take();
    h.tcp.icmpError({ type: 3, code: 1, reporter: PEER, src: US, dst: PEER, protocol: 6, quoted: quote(21, 40000, iss + 1) });
    await h.settle();
    expect(socket.destroyed).toBe(false);
    expect(h.counters.get('tcp.rx.icmp.soft_error')).toBe(1);
  });
});

describe('tail loss probe (RFC 8985 7)', () => {
  it('resends the last segment after about two RTTs instead of waiting for the RTO', async () => {
    const h = new TcpHarness();
    const accepted: TcpSocketLike[] = [];
    h.tcp.listen({ port: 21 }, (s) => accepted.push(s));
    h.inject({ dstPort: 21, seq: 1000, flags: SYN, options: { mss: 1460, timestamp: { value: 1, echo: 0 } } });
    const synAck = h.one();
    const iss = synAck.header.seq;
    await h.advance(20); // RTT 20 ms, measured from the timestamp echo
    h.inject({ dstPort: 21, seq: 1001, ack: iss + 1, flags: ACK, options: { timestamp: { value: 2, echo: synAck.header.options.timestamp!.value } } });
    await h.settle();
    const socket = accepted[0] as TcpSocket;
    socket.setNoDelay(true);
    socket.write(Buffer.alloc(3000, 1));
    await h.settle();
    const sent = h.take();
    expect(sent.map((s) => s.payload.length)).toEqual([1448, 1448, 104]);
    await h.advance(39);
    expect(h.take()).toEqual([]);
    await h.advance(2); // PTO = 2 * SRTT = 40 ms
    const probe = h.one();
    expect(probe.header.seq).toBe(sent[2]!.header.seq);
    expect(probe.payload.length).toBe(104);
    expect(h.counters.get('tcp.retransmit.tlp')).toBe(1);
    expect(h.counters.get('tcp.retransmit.rto')).toBe(0);
    // One probe per episode: the next expiry is a real RTO.
    await h.advance(300);
    expect(h.counters.get('tcp.retransmit.rto')).toBe(1);
  });
});
