import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FtpClient } from '../../../../src/ftp/client/index.js';
import { FtpServer } from '../../../../src/ftp/server/server.js';
import { createTcpTestNet, testBytes, withSeed, type TcpTestNet } from '../../../support/tcp-hosts.js';

// Simulation: our client (10.0.0.1) and our server (10.0.0.2) on the in-memory link
// with seeded loss, duplication and reordering on the client's link, everything on one
// VirtualClock. A failing run names its seed.

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let net: TcpTestNet | undefined;
let dir: string | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/**
 * Run a client call while the virtual clock moves. The server reads and the client
 * writes real files, which takes real time the virtual clock knows nothing about: so
 * before each jump of virtual time we let real time pass too (longer before a jump of
 * a second or more, the size of the FTP timeouts), or a disk read would look like a
 * stalled transfer.
 */
async function drive<T>(n: TcpTestNet, p: Promise<T>): Promise<T> {
  let done = false;
  const settled = p.finally(() => {
    done = true;
  });
  settled.catch(() => undefined);
  const realLimit = Date.now() + 60_000;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  while (!done) {
    if (Date.now() > realLimit) throw new Error(`not done after 60 s of real time (virtual t=${n.clock.now()} ms)`);
    const due = n.clock.nextDue();
    if (due === undefined) {
      await sleep(1);
      continue;
    }
    const gap = due - n.clock.now();
    if (gap > 0) await sleep(gap >= 1000 ? 50 : 1);
    if (done) break;
    const next = n.clock.nextDue();
    if (next !== undefined) await n.clock.advanceAsync(Math.max(0, next - n.clock.now()));
  }
  return settled;
}

describe('FtpClient and FtpServer over a lossy simulated link', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: active and passive downloads and an upload survive 3% loss, duplicates and reordering`, () =>
      withSeed(seed, async () => {
        const n = (net = createTcpTestNet({ seed, faults: { loss: 0.03, duplicate: 0.01, reorder: 0.02 } }));
        dir = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-sim-'));
        const root = join(dir, 'root');
        await mkdir(join(root, 'pub'), { recursive: true });
        const body = testBytes(200_000, seed);
        writeFileSync(join(root, 'pub', 'data.bin'), body);
        const server = new FtpServer({ tcp: n.b.tcp, clock: n.clock, root, anonymousWritable: true });
        await server.listen();

        const c = new FtpClient({ tcp: n.a.tcp, clock: n.clock, mode: 'active' });
        if (process.env.FTPC_DEBUG) {
          c.on('command', (l: string) => console.log(n.clock.now().toFixed(0), '--->', l));
          c.on('reply', (r: { lines: string[] }) => console.log(n.clock.now().toFixed(0), r.lines.join(' | ')));
          c.on('close', (e: unknown) => console.log(n.clock.now().toFixed(0), 'control closed', String(e)));
          c.on('data', (d: unknown) => console.log(n.clock.now().toFixed(0), 'data', JSON.stringify(d)));
        }
        await drive(n, c.connect('10.0.0.2'));
        await drive(n, c.login('ftp', 'abc@any-domain.com'));
        const active = await drive(n, c.get('pub/data.bin', join(dir, 'active.bin')));
        expect(sha256(readFileSync(active.path))).toBe(sha256(body));
        c.mode = 'passive';
        const passive = await drive(n, c.get('pub/data.bin', join(dir, 'passive.bin')));
        expect(sha256(readFileSync(passive.path))).toBe(sha256(body));
        const up = testBytes(120_000, seed + 100);
        writeFileSync(join(dir, 'up.bin'), up);
        expect((await drive(n, c.put(join(dir, 'up.bin'), 'pub/up.bin'))).verifiedSize).toBe(up.length);
        expect(sha256(readFileSync(join(root, 'pub', 'up.bin')))).toBe(sha256(up));
        await drive(n, c.quit());
        await drive(n, server.close());
        // The faults really happened.
        const st = n.faults!.stats;
        expect(st.inbound.dropped + st.outbound.dropped).toBeGreaterThan(0);
        expect(n.a.counters.sum('tcp.retransmit')).toBeGreaterThan(0);
      }));
  }
});
