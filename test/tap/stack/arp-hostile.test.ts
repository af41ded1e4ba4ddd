import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHost, type Host } from '../../../src/host.js';
import { RealClock } from '../../../src/stack/clock.js';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

/**
 * Hostile ARP from the kernel side of a TAP device (issue 12): frames written with a
 * raw AF_PACKET socket inside the namespace, and the kernel itself as the honest
 * neighbour. Kernel 10.0.0.1/16, 10.0.0.3/16 ("a new real neighbour") and 10.0.0.4/16
 * (one we resolve), us 10.0.0.2/16: a /16, so that made-up senders can outnumber our
 * 512 cache entries.
 */
const OUR_MAC = '02:54:53:00:00:02';
const FORGED_MAC = '02:66:66:66:66:66';

/**
 * argv: DEV MODE ...
 *   flood N TARGET        N requests for TARGET from random senders in 10.0.1-254.1-254
 *   arp OP SHA SPA THA TPA DST N   N copies of one ARP packet (Ethernet source = SHA)
 * Prints how many the kernel took (a full TAP queue refuses some).
 */
const RAW_ARP_PY = String.raw`
import random, socket, struct, sys
dev, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
mac = lambda t: bytes.fromhex(t.replace(':', ''))
ip = socket.inet_aton
def arp(op, sha, spa, tha, tpa, dst):
    return dst + sha + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa
sent = 0
def send(frame):
    global sent
    try:
        s.send(frame); sent += 1
    except OSError:
        pass
if mode == 'flood':
    n, target = int(sys.argv[3]), ip(sys.argv[4])
    rnd = random.Random(42)
    for i in range(n):
        sha = bytes([0x02, 0x10, rnd.randrange(256), rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)])
        spa = bytes([10, 0, rnd.randrange(1, 255), rnd.randrange(1, 255)])
        send(arp(1, sha, spa, bytes(6), target, b'\xff' * 6))
else:
    op, sha, spa, tha, tpa, dst, n = sys.argv[3:10]
    frame = arp(int(op), mac(sha), ip(spa), mac(tha), ip(tpa), mac(dst))
    for i in range(int(n)):
        send(frame)
print(sent)
`;

let net: TestNet;
let host: Host;
const warnings: { msg: string; count?: number }[] = [];

async function raw(...args: string[]): Promise<number> {
  const r = await net.exec('python3', ['-c', RAW_ARP_PY, net.dev, ...args], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

/** Wait until the stack has read everything the kernel queued (a counter stops moving). */
async function settle(counter: string): Promise<void> {
  let last = -1;
  for (let i = 0; i < 200; i++) {
    const now = host.counters.get(counter);
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeTap('ARP against hostile neighbours, on a TAP device with the kernel as peer', () => {
  beforeAll(async () => {
    net = await createTestNet('arp', { kernelCidr: '10.0.0.1/16' });
    for (const extra of ['10.0.0.3/16', '10.0.0.4/16']) await net.exec('ip', ['addr', 'add', extra, 'dev', net.kernelDev]);
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line) as { msg: string }) });
    host = createHost({ link: net.link, address: '10.0.0.2', prefixLength: 16, mac: OUR_MAC, clock: new RealClock(), log });
  });

  afterAll(async () => {
    await host?.close();
    await net?.destroy();
  });

  it('answers arping from the kernel, and learns it only as STALE', async () => {
    const r = await net.exec('arping', ['-c', '2', '-w', '5', '-I', net.dev, '10.0.0.2']);
    expect(r.stdout, r.stderr).toMatch(/bytes from 02:54:53:00:00:02 \(10\.0\.0\.2\)/);
    expect(host.ip.arp.neighbours.snapshot().find((n) => n.ip === '10.0.0.1')?.state).toBe('stale');
  });

  it('answers nobody and learns nothing from broadcast-MAC, off-subnet or own-address senders', async () => {
    const replies = host.counters.get('arp.tx.reply');
    await raw('arp', '1', 'ff:ff:ff:ff:ff:ff', '10.0.9.9', '00:00:00:00:00:00', '10.0.0.2', 'ff:ff:ff:ff:ff:ff', '1');
    await raw('arp', '1', '02:10:00:00:00:01', '192.168.7.7', '00:00:00:00:00:00', '10.0.0.2', 'ff:ff:ff:ff:ff:ff', '1');
    await raw('arp', '1', '02:10:00:00:00:02', '10.0.255.255', '00:00:00:00:00:00', '10.0.0.2', 'ff:ff:ff:ff:ff:ff', '1');
    await settle('arp.rx.request');
    expect(host.counters.get('arp.rx.bad_sender_mac')).toBe(1);
    expect(host.counters.get('arp.rx.sender_off_subnet')).toBe(1);
    expect(host.counters.get('arp.rx.bad_sender_ip')).toBe(1);
    expect(host.counters.get('arp.tx.reply')).toBe(replies);
    const learned = host.ip.arp.neighbours.snapshot().map((n) => n.ip);
    expect(learned).not.toContain('10.0.9.9');
    expect(learned).not.toContain('192.168.7.7');
  });

  it('one forged reply does not redirect a REACHABLE neighbour; the kernel confirms its own MAC', async () => {
    await host.ping('10.0.0.4', { timeoutMs: 5000 }); // we ask, the kernel answers: REACHABLE
    const kernelMac = host.ip.arp.neighbours.snapshot().find((n) => n.ip === '10.0.0.4')!;
    expect(kernelMac.state).toBe('reachable');
    const confirmed = host.counters.get('arp.cache.confirmed');
    await raw('arp', '2', FORGED_MAC, '10.0.0.4', OUR_MAC, '10.0.0.2', OUR_MAC, '1');
    await settle('arp.rx.reply');
    expect(host.counters.get('arp.cache.override_refused')).toBe(1);
    expect(host.ip.arp.neighbours.snapshot().find((n) => n.ip === '10.0.0.4')).toEqual(kernelMac);
    // Our unicast probe of the old MAC is answered by the kernel.
    for (let i = 0; i < 50 && host.counters.get('arp.cache.confirmed') === confirmed; i++) await new Promise((r) => setTimeout(r, 100));
    expect(host.counters.get('arp.cache.confirmed')).toBeGreaterThan(confirmed);
    await host.ping('10.0.0.4', { timeoutMs: 5000 });
  });

  it('100,000 requests from made-up senders never make a new real neighbour unreachable', async () => {
    const sent = await raw('flood', '100000', '10.0.0.2');
    await settle('arp.rx.request');
    const { counters } = host;
    // (The TAP queue drops part of a burst this fast; what arrived still filled the cache.)
    expect(sent).toBeGreaterThan(50_000);
    expect(counters.get('arp.cache.evicted_stale')).toBeGreaterThan(0);
    expect(host.ip.arp.neighbours.size).toBeLessThanOrEqual(512);
    // The neighbour we resolved before the flood is still there.
    expect(host.ip.arp.neighbours.snapshot().find((n) => n.ip === '10.0.0.4')?.state).toBe('reachable');
    // A neighbour we never talked to is resolved and answers within a second.
    const reply = await host.ping('10.0.0.3', { timeoutMs: 1000 });
    expect(reply.seq).toBeGreaterThan(0);
    expect(host.ip.arp.neighbours.snapshot().find((n) => n.ip === '10.0.0.3')?.state).toBe('reachable');
  });

  it('counts each claim on our address but writes one warning line for a burst', async () => {
    warnings.length = 0;
    const sent = await raw('arp', '1', '02:77:00:00:00:77', '10.0.0.2', '00:00:00:00:00:00', '10.0.0.9', 'ff:ff:ff:ff:ff:ff', '1000');
    await settle('arp.rx.address_conflict');
    expect(host.counters.get('arp.rx.address_conflict')).toBeGreaterThan(sent / 2);
    expect(warnings.map((w) => w.msg)).toEqual(['another host uses our IPv4 address']);
  });
});
