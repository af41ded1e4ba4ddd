import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHost, type Host } from '../../../src/host.js';
import { CaptureLink } from '../../../src/link/capture.js';
import { RealClock } from '../../../src/stack/clock.js';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

/**
 * Our host on a real TAP device, with the Linux kernel as its peer inside a fresh
 * namespace: kernel 10.0.0.1/24 on the TAP, us 10.0.0.2 behind it.
 */
const OUR_MAC = '02:54:53:00:00:02';

/** Frames the kernel side injects with a raw packet socket: 4 kinds x 50, all unwanted. */
const GARBAGE_PY = String.raw`
import os, socket, sys, random
dev, ours = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', ''))
kernel = open('/sys/class/net/%s/address' % dev).read().strip()
src = bytes.fromhex(kernel.replace(':', ''))
rnd = random.Random(1234)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
sent = 0
def send(frame):
    global sent
    s.send(frame); sent += 1
for i in range(50):
    # IPv4 to our MAC and address whose header checksum is wrong
    hdr = bytearray(b'\x45\x00\x00\x1c' + bytes([0, i]) + b'\x00\x00\x40\x01\x00\x00' + bytes([10,0,0,1,10,0,0,2]))
    hdr[10:12] = b'\xde\xad'
    send(ours + src + b'\x08\x00' + bytes(hdr) + bytes(8))
    # an EtherType nobody speaks (IEEE local experimental)
    send(ours + src + b'\x88\xb5' + os.urandom(rnd.randint(1, 200)))
    # someone else's unicast MAC
    send(bytes.fromhex('02dead00beef') + src + b'\x08\x00' + os.urandom(rnd.randint(20, 200)))
    # "ARP" with random contents (hardware type is never Ethernet: byte 0 forced non-zero)
    body = bytearray(os.urandom(28)); body[0] |= 0x80
    send(b'\xff' * 6 + src + b'\x08\x06' + bytes(body))
print(sent)
`;

let net: TestNet;
let host: Host;
let captureDir: string;
let capturePath: string;

describeTap('IpHost on a TAP device with the Linux kernel as peer', () => {
  beforeAll(async () => {
    net = await createTestNet('stack');
    captureDir = mkdtempSync(join(tmpdir(), 'tapstack-stack-'));
    capturePath = join(captureDir, 'host.pcapng');
    const clock = new RealClock();
    const link = new CaptureLink(net.link, { path: capturePath, clock, epochMs: performance.timeOrigin + clock.now() });
    host = createHost({ link, address: '10.0.0.2', prefixLength: 24, mac: OUR_MAC, clock });
  });

  afterAll(async () => {
    await host?.close();
    await net?.destroy();
    if (captureDir) rmSync(captureDir, { recursive: true, force: true });
  });

  it("answers the kernel's ping -c 5", async () => {
    const r = await net.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', '10.0.0.2']);
    expect(r.stdout).toContain('5 packets transmitted, 5 received');
    expect(r.code).toBe(0);
    expect(host.counters.get('icmp.tx.echo_reply')).toBeGreaterThanOrEqual(5);
    expect(host.counters.get('arp.tx.reply')).toBeGreaterThanOrEqual(1);
  });

  it('answers ping -s 3000: fragmented both ways', async () => {
    const before = host.counters.get('ipv4.reasm.ok');
    const r = await net.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-s', '3000', '10.0.0.2']);
    expect(r.stdout).toContain('3 packets transmitted, 3 received');
    expect(r.stdout).toContain('3008 bytes from 10.0.0.2');
    expect(host.counters.get('ipv4.reasm.ok') - before).toBe(3);
    expect(host.counters.get('ipv4.tx.fragmented')).toBeGreaterThanOrEqual(3);
  });

  it("puts our MAC in the kernel's neighbour table", async () => {
    const r = await net.exec('ip', ['neigh', 'show', '10.0.0.2', 'dev', net.dev]);
    expect(r.stdout).toContain(`lladdr ${OUR_MAC}`);
  });

  it('pings the kernel with host.ping()', async () => {
    for (let seq = 1; seq <= 3; seq++) {
      const reply = await host.ping(net.kernelIp, { timeoutMs: 2000, seq });
      expect(reply).toMatchObject({ seq, ttl: 64, bytes: 64 });
      expect(reply.rttMs).toBeGreaterThan(0);
    }
    const big = await host.ping(net.kernelIp, { timeoutMs: 2000, size: 3000 });
    expect(big.bytes).toBe(3008);
  });

  it('writes a capture that tshark reads with no malformed frames and no bad checksums', async () => {
    // Snapshot now: the garbage test below adds frames that are malformed on purpose.
    const snapshot = join(captureDir, 'clean.pcapng');
    copyFileSync(capturePath, snapshot);
    const r = await net.exec('tshark', [
      '-r', snapshot, '-o', 'ip.check_checksum:TRUE', '-q', '-z', 'expert',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/malformed|bad checksum|incorrect|Error/i);
    const list = await net.exec('tshark', ['-r', snapshot, '-Y', 'icmp.type == 0 && ip.src == 10.0.0.2']);
    expect(list.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(8); // 5 + 3 echo replies at least
  });

  it('counts and drops a burst of garbage frames while ping keeps working', async () => {
    const before = {
      frames: host.counters.get('eth.rx.frames'),
      badChecksum: host.counters.get('ipv4.rx.bad_checksum'),
      ethertype: host.counters.get('eth.rx.unknown_ethertype'),
      notForUs: host.counters.get('eth.rx.not_for_us'),
      arpBad: host.counters.get('arp.rx.unsupported_hardware'),
      replies: host.counters.get('icmp.tx.echo_reply'),
    };
    const ping = net.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', '10.0.0.2']);
    const garbage = await net.exec('python3', ['-c', GARBAGE_PY, net.dev, OUR_MAC]);
    expect(garbage.stderr).toBe('');
    expect(garbage.stdout.trim()).toBe('200');
    const r = await ping;
    expect(r.stdout).toContain('5 packets transmitted, 5 received');
    const c = host.counters;
    expect(c.get('ipv4.rx.bad_checksum') - before.badChecksum).toBe(50);
    expect(c.get('eth.rx.unknown_ethertype') - before.ethertype).toBe(50);
    expect(c.get('eth.rx.not_for_us') - before.notForUs).toBe(50);
    expect(c.get('arp.rx.unsupported_hardware') - before.arpBad).toBe(50);
    expect(c.get('eth.rx.frames') - before.frames).toBeGreaterThanOrEqual(205);
    expect(c.get('icmp.tx.echo_reply') - before.replies).toBe(5);
    expect(c.get('host.rx.handler_error')).toBe(0);
  });
});

describeTap('IpHost with IPv6 enabled in the namespace and a default gateway', () => {
  let net6: TestNet;
  let host6: Host;

  beforeAll(async () => {
    net6 = await createTestNet('stack6', { disableIpv6: false });
    // An off-link address that the kernel (our gateway) owns, inside the namespace.
    const r = await net6.exec('ip', ['addr', 'add', '198.51.100.1/32', 'dev', 'lo']);
    if (r.code !== 0) throw new Error(r.stderr);
    host6 = createHost({ link: net6.link, address: '10.0.0.2', prefixLength: 24, gateway: '10.0.0.1' });
  });

  afterAll(async () => {
    await host6?.close();
    await net6?.destroy();
  });

  it("counts and drops the kernel's IPv6 chatter (MLD, router solicitations) and still answers ping", async () => {
    const deadline = Date.now() + 10_000;
    while (host6.counters.get('eth.rx.ipv6') === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(host6.counters.get('eth.rx.ipv6')).toBeGreaterThan(0);
    const r = await net6.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.0.2']);
    expect(r.stdout).toContain('2 packets transmitted, 2 received');
    expect(host6.counters.get('host.rx.handler_error')).toBe(0);
  });

  it('reaches an off-link address through the gateway', async () => {
    const reply = await host6.ping('198.51.100.1', { timeoutMs: 2000 });
    expect(reply.from).toBe(0xc6336401);
    expect(host6.ip.arp.neighbours.snapshot().map((n) => n.ip)).toEqual(['10.0.0.1']); // only the gateway was resolved
  });
});
