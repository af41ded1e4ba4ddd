import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHost, type Host } from '../../../src/host.js';
import { Namespace } from '../../../src/netns/index.js';
import type { TcpSocketLike } from '../../../src/tcp/api.js';
import type { TcpSocket } from '../../../src/tcp/socket.js';
import { sha256, testBytes } from '../../support/tcp-hosts.js';
import { describeTap } from '../support/gate.js';

/**
 * Path MTU discovery against a real Linux router (RFC 1191). Two namespaces of our
 * own: "router" holds the kernel side of our TAP (10.0.0.1/24, MTU 1500) and forwards
 * to "far" over a veth with MTU 1000 (10.0.1.1 -> 10.0.1.2). Our stack (10.0.0.2,
 * gateway 10.0.0.1) sends 1500-byte datagrams with DF set; the router answers
 * "fragmentation needed, MTU 1000" and a python3 socket in "far" must still get every
 * byte.
 */

// Receive everything on one connection, print its length and sha256.
const SINK = String.raw`
import socket, hashlib
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.0.1.2', 5001)); l.listen(1); print('listening', flush=True)
s, _ = l.accept(); s.settimeout(60)
h = hashlib.sha256(); n = 0
while True:
    b = s.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
s.close()
print('received', n, h.hexdigest(), flush=True)
`;

describeTap('path MTU discovery through a Linux router with a 1000-byte next hop', () => {
  let router: Namespace;
  let far: Namespace;
  let host: Host;

  beforeAll(async () => {
    router = await Namespace.create('pmtu');
    far = await Namespace.create('pmtufar');
    const link = await router.openTap({ name: router.deviceName(0), mtu: 1500 });
    await router.addAddress(link.name, '10.0.0.1/24');
    await router.setUp(link.name);
    await router.addVeth(far, { dev: 'vrouter', cidr: '10.0.1.1/24' }, { dev: 'vfar', cidr: '10.0.1.2/24' }, { mtu: 1000 });
    // The far host announces MSS 1460 although its own link is 1000 (advmss), as a host
    // behind a larger LAN would: only the router in between knows the path is smaller.
    await far.ip(['route', 'add', 'default', 'via', '10.0.1.1', 'advmss', '1460']);
    await router.sysctl('net.ipv4.ip_forward', '1');
    host = createHost({ link, address: '10.0.0.2', prefixLength: 24, gateway: '10.0.0.1' });
  });

  afterAll(async () => {
    await host?.close();
    await far?.remove();
    await router?.remove();
  });

  it('all data arrives: the router says "MTU 1000", our segments shrink to fit at once', async () => {
    const data = testBytes(2_000_000, 1191);
    const sink = far.spawn('python3', ['-c', SINK]);
    let out = '';
    sink.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    // Wait for the sink's 'listening' line (an event, not a poll).
    await new Promise<void>((resolve) => sink.stdout!.on('data', () => out.includes('listening') && resolve()));
    const socket: TcpSocketLike = host.tcp.connect({ host: '10.0.1.2', port: 5001 });
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('connect', () => socket.end(data, () => resolve()));
    });
    await new Promise<void>((resolve) => sink.on('exit', () => resolve()));
    expect(out).toContain(`received ${data.length} ${sha256(data)}`);
    const c = host.counters;
    expect(c.get('tcp.rx.icmp.frag_needed')).toBeGreaterThanOrEqual(1);
    expect(c.get('tcp.pmtu.lowered')).toBe(1);
    // Resent on the ICMP, not after a retransmission timeout.
    expect(c.get('tcp.retransmit.rto')).toBe(0);
    expect((socket as TcpSocket).tcpInfo().mss).toBe(960);
  });
});
