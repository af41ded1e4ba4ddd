import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHost, type Host } from '../../../src/host.js';
import { formatMac } from '../../../src/wire/address.js';
import { describeTap } from '../support/gate.js';
import { createTestNet, type TestNet } from '../support/netns.js';

/**
 * A SYN flood against our stack from the Linux side of a TAP device (RFC 4987): a raw
 * AF_PACKET socket in the test's namespace sends 100,000 SYNs from spoofed 172.16/12
 * addresses over 10 s, while a real kernel client (python3 socket) connects halfway
 * through and after the flood, to a listener with backlog 511 (as ftp-server) and one
 * with backlog 1 (as `nc -l`). Our SYN,ACKs for the spoofed sources go to the
 * kernel, our gateway, which does not forward them.
 */

const FLOOD = join(dirname(fileURLToPath(import.meta.url)), 'synflood.py');
const COUNT = Number(process.env.TAPSTACK_SYNFLOOD_COUNT ?? 100_000);

interface ClientResult {
  port: number;
  connect_ms: number;
  echo: string;
}

describeTap('SYN flood against our stack, kernel client connecting', () => {
  let net: TestNet;
  let host: Host;

  beforeAll(async () => {
    net = await createTestNet('synflood');
    host = createHost({ link: net.link, address: '10.0.0.2', prefixLength: 24, gateway: '10.0.0.1' });
  });

  afterAll(async () => {
    await host?.close();
    await net?.destroy();
  });

  it(`${COUNT} spoofed SYNs in 10 s: the kernel connects within 1 s during and after, to backlog 511 and backlog 1`, async () => {
    for (const [port, backlog] of [
      [21, 511],
      [5000, 1],
    ] as const) {
      host.tcp.listen({ port, backlog }, (s) => s.on('data', (d: Buffer) => s.end(d)));
    }
    const r = await net.exec('python3', [FLOOD, net.dev, formatMac(host.mac), '10.0.0.2', '21,5000', String(COUNT), '10'], { timeoutMs: 110_000 });
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as { sent: number; during_at: number; during: ClientResult[]; after: ClientResult[] };
    const c = host.counters;
    console.log(
      `SYN flood over TAP: ${report.sent} SYNs; connect during (after ${report.during_at} SYNs) ${report.during.map((x) => `${x.port}: ${x.connect_ms} ms`).join(', ')}; ` +
        `after ${report.after.map((x) => `${x.port}: ${x.connect_ms} ms`).join(', ')}; ` +
        `tcp.syncookie.sent ${c.get('tcp.syncookie.sent')}, .ok ${c.get('tcp.syncookie.ok')}, tcp.listen.syn_queue_evicted ${c.get('tcp.listen.syn_queue_evicted')}, tcp.rx.segments ${c.get('tcp.rx.segments')}`,
    );
    expect(report.sent).toBe(COUNT);
    expect(report.during_at).toBeGreaterThan(COUNT / 4);
    expect(report.during_at).toBeLessThan(COUNT);
    for (const x of [...report.during, ...report.after]) {
      expect(x.echo).toBe('hello\n');
      expect(x.connect_ms).toBeLessThan(1000);
    }
    expect(c.get('tcp.syncookie.sent')).toBeGreaterThan(COUNT / 2);
    expect(c.get('tcp.syncookie.ok')).toBeGreaterThanOrEqual(1);
    expect(host.tcp.connectionCount).toBeLessThanOrEqual(511 + 1 + 4);
  });
});
