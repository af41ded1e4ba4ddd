import { describe, expect, it } from 'vitest';
import { IPPROTO_UDP } from '../../../src/stack/network.js';
import { EPHEMERAL_FIRST, EPHEMERAL_LAST, Udp } from '../../../src/udp/udp.js';
import type { UdpRemoteInfo } from '../../../src/udp/api.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { encodeUdp } from '../../../src/wire/udp.js';
import { IpNet } from './ip-harness.js';

function pair() {
  const net = new IpNet();
  const ha = net.host('10.0.0.2', 1);
  const hb = net.host('10.0.0.3', 2);
  return { net, ha, hb, a: new Udp(ha), b: new Udp(hb) };
}

describe('udp sockets', () => {
  it('delivers a datagram with data and rinfo, and the reply comes back', async () => {
    const { net, a, b, ha, hb } = pair();
    const server = b.bind({ port: 7 });
    server.on('message', (data: Buffer, rinfo: UdpRemoteInfo) => server.send(data, rinfo.port, rinfo.address));
    const client = a.bind();
    const got: [string, UdpRemoteInfo][] = [];
    client.on('message', (d: Buffer, r: UdpRemoteInfo) => got.push([d.toString(), r]));
    client.send(Buffer.from('ping'), 7, '10.0.0.3');
    await net.clock.runUntil(() => got.length === 1);
    expect(got[0]).toEqual(['ping', { address: '10.0.0.3', port: 7, family: 'IPv4', size: 4 }]);
    expect(ha.counters.get('udp.tx.datagrams')).toBe(1);
    expect(hb.counters.get('udp.rx.datagrams')).toBe(1);
    expect(ha.ip.handlers.get(IPPROTO_UDP)).toBe(a);
  });

  it('picks random ephemeral ports in 49152-65535 from ctx.random', () => {
    const { a } = pair();
    const ports = Array.from({ length: 50 }, () => a.bind().address().port);
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(EPHEMERAL_FIRST);
    for (const p of ports) expect(p).toBeLessThanOrEqual(EPHEMERAL_LAST);
    expect(new Set(ports).size).toBe(50);
    // Not sequential: random starts.
    expect(ports.filter((p, i) => i > 0 && p === ports[i - 1]! + 1).length).toBeLessThan(5);
  });

  it('address() reports the host address and the port', () => {
    const { a } = pair();
    expect(a.bind({ port: 5353 }).address()).toEqual({ address: '10.0.0.2', family: 'IPv4', port: 5353 });
  });

  it('EADDRINUSE for a taken port, free again after close', async () => {
    const { a } = pair();
    const s = a.bind({ port: 53 });
    expect(() => a.bind({ port: 53 })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    let closed = false;
    s.close(() => (closed = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(closed).toBe(true);
    expect(a.bind({ port: 53 }).address().port).toBe(53);
  });

  it('a datagram to a closed port is answered with ICMP port unreachable, and the sender sees ECONNREFUSED', async () => {
    const { net, a, hb } = pair();
    const s = a.bind();
    const errors: NodeJS.ErrnoException[] = [];
    s.on('error', (e: NodeJS.ErrnoException) => errors.push(e));
    s.send(Buffer.from('x'), 9999, '10.0.0.3');
    await net.clock.runUntil(() => errors.length === 1);
    expect(errors[0]!.code).toBe('ECONNREFUSED');
    expect(hb.counters.get('udp.rx.no_port')).toBe(1);
    expect(hb.ip.unreachablesSent).toBe(1);
  });

  it('an ICMP error for a socket without an error listener is counted, not thrown', async () => {
    const { net, a, ha } = pair();
    a.bind().send(Buffer.from('x'), 9999, '10.0.0.3');
    await net.clock.runUntil(() => ha.counters.get('udp.icmp.unhandled') === 1);
  });

  it('counts and drops bad checksums and bad lengths', () => {
    const { b, hb } = pair();
    b.bind({ port: 7 }).on('message', () => expect.unreachable());
    const src = parseIpv4('10.0.0.2')!;
    const dst = parseIpv4('10.0.0.3')!;
    const good = encodeUdp({ src, dst, srcPort: 1000, dstPort: 7, payload: Buffer.from('hello') });
    const corrupt = good.slice();
    corrupt[9]! ^= 0x40;
    const header = new Uint8Array(20);
    b.receive({ src, dst, protocol: 17, ttl: 64, payload: corrupt, header });
    b.receive({ src, dst, protocol: 17, ttl: 64, payload: good.subarray(0, 10), header });
    b.receive({ src, dst, protocol: 17, ttl: 64, payload: good.subarray(0, 5), header });
    expect(hb.counters.snapshot('udp.rx')).toEqual({ 'udp.rx.bad_checksum': 1, 'udp.rx.bad_length': 1, 'udp.rx.truncated': 1 });
    expect(hb.ip.unreachablesSent).toBe(0);
  });

  it('send errors arrive through the callback: closed socket, bad address, too big', async () => {
    const { a } = pair();
    const s = a.bind();
    const codes: (string | undefined)[] = [];
    const cb = (e: Error | null) => codes.push((e as NodeJS.ErrnoException | null)?.code);
    s.send(Buffer.from('x'), 53, 'not-an-ip', cb);
    s.send(new Uint8Array(70000), 53, '10.0.0.3', cb);
    s.close();
    s.send(Buffer.from('x'), 53, '10.0.0.3', cb);
    expect(() => s.send(Buffer.from('x'), 70000, '10.0.0.3')).toThrow(RangeError);
    await new Promise((r) => setImmediate(r));
    expect(codes).toEqual(['EINVAL', 'EMSGSIZE', 'ERR_SOCKET_DGRAM_NOT_RUNNING']);
  });
});
