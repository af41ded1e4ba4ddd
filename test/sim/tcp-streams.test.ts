import { TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocketLike } from '../../src/tcp/api.js';
import { collect, createTcpTestNet, runWithIo, sha256, testBytes, type TcpTestNet } from '../support/tcp-hosts.js';

// A self-signed test certificate (P-256, CN tapstack.test, valid until 2126), made
// with `openssl req -x509 -newkey ec ...` for this test only.
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTmIyR7EOefIjJ8bZ
lfcRNLIw4Rbf7uvo8456pTptlvihRANCAATEHaSh8Q70A7YwyQtz0wJ+eKD/DJF3
+bSouQSgY937yAjau078DjTm5yAO9kN9ePXUkyOx7/8Plr1Ov4t3Yl/n
-----END PRIVATE KEY-----
`;
const CERT = `-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUKPpycEx5LeZsvy/zYbB0djPxRYYwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNdGFwc3RhY2sudGVzdDAgFw0yNjExMjExMjA4MzBaGA8yMTI2
MTAyODEyMDgzMFowGDEWMBQGA1UEAwwNdGFwc3RhY2sudGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABMQdpKHxDvQDtjDJC3PTAn54oP8MkXf5tKi5BKBj3fvI
CNq7TvwONObnIA72Q3149dSTI7Hv/w+WvU6/i3diX+ejUzBRMB0GA1UdDgQWBBRb
hKReVHAPNRfM4/xR1sBt6WexeDAfBgNVHSMEGDAWgBRbhKReVHAPNRfM4/xR1sBt
6WexeDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCyEPFtA3rH
JpL4JgrK81KuByXa/jZu1/iGb2q354RWWQIgAmGF7P0mqRYMGhYx1fTsR97jUerO
3HPsqTSm0chbdvc=
-----END CERTIFICATE-----
`;

let net: TcpTestNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

describe('tcp sockets under other Node APIs', () => {
  it('tls.connect({ socket }) runs TLS over our TCP', async () => {
    net = createTcpTestNet({ seed: 8, latencyMs: 1 });
    const { a, b, clock } = net;
    const payload = testBytes(200_000, 9);
    let serverGot: ReturnType<typeof collect> | undefined;
    b.tcp.listen({ port: 443 }, (raw) => {
      const secure = new TLSSocket(raw, { isServer: true, key: KEY, cert: CERT });
      serverGot = collect(secure as unknown as TcpSocketLike);
      secure.on('end', () => secure.end('thanks'));
    });
    const raw = a.tcp.connect({ host: '10.0.0.2', port: 443 });
    const secure = tlsConnect({ socket: raw, ca: CERT, servername: 'tapstack.test' });
    const reply = collect(secure as unknown as TcpSocketLike);
    let authorized: boolean | undefined;
    secure.on('secureConnect', () => {
      authorized = secure.authorized;
      secure.end(payload);
    });
    await runWithIo(clock, () => reply.ended);
    expect(authorized).toBe(true);
    expect(sha256(Buffer.concat(serverGot!.chunks))).toBe(sha256(payload));
    expect(Buffer.concat(reply.chunks).toString()).toBe('thanks');
  });

  it('FTP active mode: connect from port 20 to the same client port again and again (TIME-WAIT reuse)', async () => {
    net = createTcpTestNet({ seed: 10, latencyMs: 1, tcp: { timeWaitMs: 60_000 } });
    const { a, b, clock } = net;
    const received: string[] = [];
    // The client (B) listens on 5001 for each data connection.
    b.tcp.listen({ port: 5001 }, (s) => {
      const got = collect(s);
      s.on('end', () => received.push(Buffer.concat(got.chunks).toString()));
    });
    for (let i = 0; i < 3; i++) {
      // The server (A) sends a listing from port 20 and closes first (DATA+FIN).
      const data = a.tcp.connect({ host: '10.0.0.2', port: 5001, localPort: 20 });
      const errors: Error[] = [];
      data.on('error', (e) => errors.push(e));
      data.resume();
      data.on('connect', () => data.end(`listing ${i}\r\n`));
      let closed = false;
      data.on('close', () => (closed = true));
      await clock.runUntil(() => closed && received.length === i + 1, 10_000);
      expect(errors).toEqual([]);
      expect(data.localPort).toBe(20);
      expect((data as TcpSocketLike).state).toBe('TIME-WAIT');
    }
    expect(received).toEqual(['listing 0\r\n', 'listing 1\r\n', 'listing 2\r\n']);
    expect(a.counters.get('tcp.time_wait.reused')).toBe(2);
  });
});
