import { afterEach, describe, expect, it } from 'vitest';
import type { FaultProfile } from '../../src/link/faults.js';
import type { TcpSocketLike } from '../../src/tcp/api.js';
import { createTcpTestNet, openStream, sha256, testBytes, type TcpTestNet } from '../support/tcp-hosts.js';

/**
 * TcpSocket.setZeroCopy: by default a written buffer is copied (the writer may reuse
 * it as soon as write() called back); with zero-copy it is kept by reference until
 * acknowledged, and the writer waits for bytesAcked before it changes the buffer.
 */
let net: TcpTestNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

async function pair(faults?: FaultProfile): Promise<{ net: TcpTestNet; client: TcpSocketLike; got: () => Buffer; ended: () => boolean }> {
  const n = createTcpTestNet({ seed: 4, ...(faults ? { faults } : {}) });
  const { sender, got } = await openStream(n, 5001);
  return { net: n, client: sender, got: () => Buffer.concat(got.chunks), ended: () => got.ended };
}

describe('zero-copy writes', () => {
  it('copies by default: a buffer changed right after write() still arrives as written', async () => {
    const p = await pair();
    net = p.net;
    const data = testBytes(200_000, 1);
    const buffer = Buffer.from(data);
    p.client.write(buffer, () => buffer.fill(0xff));
    buffer.fill(0xee); // before anything was sent
    p.client.end();
    await net.clock.runUntil(p.ended, 60_000);
    expect(sha256(p.got())).toBe(sha256(data));
  });

  it('keeps the buffer by reference with setZeroCopy: bytes changed before they were sent go out changed', async () => {
    const p = await pair();
    net = p.net;
    p.client.setZeroCopy!(true);
    const buffer = Buffer.from(testBytes(200_000, 2));
    p.client.write(buffer);
    buffer.fill(0x5a); // still unsent (the window holds most of it back): TCP sends these bytes
    p.client.end();
    await net.clock.runUntil(p.ended, 60_000);
    expect(p.got().length).toBe(buffer.length);
    expect(p.got().subarray(100_000).every((b) => b === 0x5a)).toBe(true);
  });

  it('is exact under loss when the writer reuses one buffer only after bytesAcked covers it', async () => {
    // Lost segments are resent from the writer's buffer: it must not have changed.
    const p = await pair({ loss: 0.03 });
    net = p.net;
    const { client } = p;
    client.setZeroCopy!(true);
    const data = testBytes(1_000_000, 3);
    const buffer = Buffer.alloc(64 * 1024);
    let at = 0;
    let waitFor = 0;
    const pump = (): void => {
      if (at >= data.length) return;
      if (client.bytesAcked! < waitFor) return; // the previous chunk may still be resent
      const n = Math.min(buffer.length, data.length - at);
      buffer.set(data.subarray(at, at + n));
      client.write(n === buffer.length ? buffer : buffer.subarray(0, n));
      at += n;
      waitFor = at;
      if (at >= data.length) client.end();
    };
    // The writer looks at bytesAcked every millisecond of virtual time (no event tells it).
    const tick = (): void => {
      pump();
      if (at < data.length) net!.clock.setTimer(1, tick);
    };
    tick();
    await net.clock.runUntil(p.ended, 120_000);
    expect(sha256(p.got())).toBe(sha256(data));
    expect(net.a.counters.get('tcp.retransmit.segments')).toBeGreaterThan(0);
  });
});
