import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocketLike } from '../../src/tcp/api.js';
import { collect, createTcpTestNet, sha256, testBytes, writeAll, type TcpTestNet } from '../support/tcp-hosts.js';

let net: TcpTestNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

describe('tcp between two hosts on the memory hub', () => {
  it('connects, moves data both ways, closes', async () => {
    net = createTcpTestNet({ seed: 1 });
    const { a, b, clock } = net;
    const fromA = testBytes(300_000, 11);
    const fromB = testBytes(200_000, 12);
    let serverSide: TcpSocketLike | undefined;
    let got: ReturnType<typeof collect> | undefined;
    b.tcp.listen({ port: 5001 }, (s) => {
      serverSide = s;
      got = collect(s);
      void writeAll(s, fromB);
    });
    const client = a.tcp.connect({ host: '10.0.0.2', port: 5001 });
    const back = collect(client);
    let connected = false;
    client.on('connect', () => {
      connected = true;
      void writeAll(client, fromA);
    });
    let closed = 0;
    client.on('close', () => closed++);
    await clock.runUntil(() => back.ended && (got?.ended ?? false) && closed === 1, 120_000);
    expect(connected).toBe(true);
    expect(sha256(Buffer.concat(got!.chunks))).toBe(sha256(fromA));
    expect(sha256(Buffer.concat(back.chunks))).toBe(sha256(fromB));
    expect(serverSide!.remotePort).toBe(client.localPort);
    expect(client.bytesWritten).toBe(fromA.length);
    expect(client.bytesRead).toBe(fromB.length);
  });
});
