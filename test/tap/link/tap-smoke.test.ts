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
