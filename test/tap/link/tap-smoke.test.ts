import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

// The smallest proof that the binding works: a frame the kernel sends reaches JS.
describeTap('TAP binding smoke test', () => {
  let net: TestNet;
  beforeAll(async () => {
    net = await createTestNet('smoke');
  });
  afterAll(async () => {
    await net?.destroy();
  });

  it('delivers the kernel ARP request for 10.0.0.2 to JavaScript', async () => {
    const frames: Uint8Array[] = [];
    net.link.onReceive((batch) => frames.push(...batch));
    // Nobody answers, so ping fails; its ARP request is what we are after.
    await net.exec('ping', ['-c', '1', '-W', '1', '10.0.0.2']);
    const arp = frames.find((f) => f[12] === 0x08 && f[13] === 0x06);
    expect(arp, `frames seen: ${frames.length}`).toBeDefined();
    expect([...arp!.subarray(0, 6)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    // ARP target protocol address (RFC 826): 10.0.0.2
    expect([...arp!.subarray(38, 42)]).toEqual([10, 0, 0, 2]);
    expect(net.link.stats.rxFrames).toBeGreaterThanOrEqual(1);
  });
});

// The demo's layout: one namespace, a bridge with the kernel address, two TAPs.
describeTap('createTestNet with two TAPs on a bridge', () => {
  let net: TestNet;
  beforeAll(async () => {
    net = await createTestNet('bridge', { taps: 2, bridge: true });
  });
  afterAll(async () => {
    await net?.destroy();
  });

  it('enslaves both TAPs to br0, which carries the kernel address', async () => {
    expect(net.links).toHaveLength(2);
    expect(net.bridge).toBe('br0');
    expect(net.kernelDev).toBe('br0');
    for (const dev of net.devs) {
      const r = await net.exec('ip', ['-o', 'link', 'show', 'dev', dev]);
      expect(r.stdout).toMatch(/master br0/);
    }
    const addr = await net.exec('ip', ['-o', '-4', 'addr', 'show', 'dev', 'br0']);
    expect(addr.stdout).toContain('10.0.0.1/24');
  });

  it('floods a broadcast frame written into one TAP out of the other', async () => {
    const seen: Uint8Array[] = [];
    net.links[1]!.onReceive((frames) => seen.push(...frames));
    const frame = Uint8Array.from([
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x0a, 0x88, 0xb5, // local experimental EtherType
      ...Array.from({ length: 46 }, (_, i) => i),
    ]);
    expect(net.links[0]!.send(frame)).toBe(true);
    const until = Date.now() + 3000;
    while (!seen.some((f) => f[12] === 0x88 && f[13] === 0xb5) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const copy = seen.find((f) => f[12] === 0x88 && f[13] === 0xb5);
    expect(copy && [...copy]).toEqual([...frame]);
  });
});

describeTap('createTestNet cleanup', () => {
  it('destroy() kills spawned peers, removes the namespace, and may be called twice', async () => {
    const net = await createTestNet('cleanup');
    const peer = net.spawn('sleep', ['60']);
    const exited = new Promise<string | null>((resolve) => peer.once('exit', (_code, signal) => resolve(signal)));
    const inside = await net.exec('ip', ['-o', 'link', 'show', 'dev', net.dev]);
    expect(inside.code).toBe(0);
    await net.destroy();
    await net.destroy();
    expect(await exited).toBe('SIGTERM');
    expect(net.link.isClosed).toBe(true);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(net.ns);
  });
});
