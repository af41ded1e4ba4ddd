import { mkdtemp, readFile, readdir, readlink, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { READ_CHUNK_BYTES, sendFileRange } from '../../src/ftp/server/file-source.js';
import type { FaultProfile } from '../../src/link/faults.js';
import type { TcpSocketLike } from '../../src/tcp/api.js';
import { collect, createTcpTestNet, openStream, runWithIo, sha256, testBytes, type TcpTestNet } from '../support/tcp-hosts.js';

/**
 * file-source.ts (RETR in TYPE I) over our TCP between two simulated hosts, with real
 * file reads: read buffers are reused once bytesAcked covers them while TCP keeps
 * written buffers by reference (zero-copy), so a retransmission must still find the
 * bytes it first sent; and a read that fails part-way must end the transfer as a
 * local error with the file closed.
 */
let net: TcpTestNet | undefined;
let dir: string | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Pair {
  server: TcpSocketLike;
  got: ReturnType<typeof collect>;
  /** The client's socket saw an error or closed without an end. */
  clientFailed: () => boolean;
}

async function pair(faults?: FaultProfile): Promise<Pair> {
  const n = createTcpTestNet({ seed: 9, ...(faults ? { faults } : {}) });
  net = n;
  // Host a sends the file (faults apply to its link) and listens, as the FTP server's
  // passive data port does; host b is the client.
  const { sender, got, receiverFailed } = await openStream(n, 2021);
  return { server: sender, got, clientFailed: receiverFailed };
}

/** The numbers of our open file descriptors that point at `target`. */
async function fdsOn(target: string): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const to = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (to === target) out.push(fd);
  }
  return out;
}

/**
 * An address range of this process that reads fine up to `end` and fails beyond it:
 * a readable mapping of at least 3 chunks with no mapping right after it. Reading
 * /proc/self/mem there is a real read error (EIO) from the kernel, part-way through.
 */
async function memoryEdge(): Promise<{ start: number; end: number }> {
  const maps = (await readFile('/proc/self/maps', 'utf8')).trim().split('\n');
  const ranges = maps.map((line) => {
    const [range, perms] = line.split(' ');
    const [s, e] = range!.split('-').map((x) => parseInt(x, 16));
    return { start: s!, end: e!, readable: perms!.startsWith('r') };
  });
  for (let i = 0; i < ranges.length - 1; i++) {
    const r = ranges[i]!;
    if (r.readable && r.end - r.start >= 3 * READ_CHUNK_BYTES && ranges[i + 1]!.start > r.end) return r;
  }
  throw new Error('no readable mapping followed by a gap');
}

describe('ftp server: file-source over our TCP', () => {
  it('reuses read buffers under 2% loss and zero-copy, and every byte arrives as read', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tapstack-source-'));
    const path = join(dir, 'f');
    const data = testBytes(9 * READ_CHUNK_BYTES + 123, 21);
    await writeFile(path, data);
    const p = await pair({ loss: 0.02 });
    const errors: Error[] = [];
    let settled = false;
    const sending = sendFileRange(path, 0, data.length, p.server, (err) => errors.push(err)).finally(() => (settled = true));
    await runWithIo(net!.clock, () => p.got.ended && settled, 600_000, 60_000);
    await sending;
    expect(errors).toEqual([]);
    expect(sha256(Buffer.concat(p.got.chunks))).toBe(sha256(data));
    expect(net!.a.counters.get('tcp.retransmit.segments')).toBeGreaterThan(0);
    expect(await fdsOn(path)).toEqual([]);
  });

  it('sends from a REST offset to the end', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tapstack-source-'));
    const path = join(dir, 'f');
    const data = testBytes(3 * READ_CHUNK_BYTES + 5, 22);
    await writeFile(path, data);
    const p = await pair();
    const offset = READ_CHUNK_BYTES + 1;
    let settled = false;
    const sending = sendFileRange(path, offset, data.length, p.server, () => {}).finally(() => (settled = true));
    await runWithIo(net!.clock, () => p.got.ended && settled, 600_000, 30_000);
    await sending;
    expect(sha256(Buffer.concat(p.got.chunks))).toBe(sha256(data.subarray(offset)));
  });

  it('a read that fails part-way (EIO) is a local error: the socket is destroyed, the client gets no clean end, the file is closed', async () => {
    const edge = await memoryEdge();
    const p = await pair();
    const errors: NodeJS.ErrnoException[] = [];
    let outcome: Error | 'resolved' | undefined;
    // Two chunks read fine; the read at the end of the mapping fails.
    const from = edge.end - 2 * READ_CHUNK_BYTES;
    sendFileRange('/proc/self/mem', from, edge.end + 4 * READ_CHUNK_BYTES, p.server, (err) => errors.push(err)).then(
      () => (outcome = 'resolved'),
      (err: Error) => (outcome = err),
    );
    await runWithIo(net!.clock, () => outcome !== undefined && p.clientFailed(), 600_000, 30_000);
    expect(outcome).toBeInstanceOf(Error);
    expect(errors.map((e) => e.code)).toEqual(['EIO']);
    // Part-way: what was read before the failure went to TCP.
    expect(p.server.bytesWritten).toBeGreaterThanOrEqual(READ_CHUNK_BYTES);
    expect(p.server.destroyed).toBe(true);
    expect(p.got.ended).toBe(false);
    expect(await fdsOn(`/proc/${process.pid}/mem`)).toEqual([]);
  });

  it('a file that shrinks during the transfer is a local error, never a short success', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tapstack-source-'));
    const path = join(dir, 'f');
    const data = testBytes(4 * READ_CHUNK_BYTES, 23);
    await writeFile(path, data);
    const p = await pair();
    const errors: Error[] = [];
    let outcome: Error | 'resolved' | undefined;
    // The size was taken (as RETR does before 150), then another process truncates it.
    sendFileRange(path, 0, data.length, p.server, (err) => errors.push(err)).then(
      () => (outcome = 'resolved'),
      (err: Error) => (outcome = err),
    );
    await truncate(path, READ_CHUNK_BYTES);
    await runWithIo(net!.clock, () => outcome !== undefined && p.clientFailed(), 600_000, 30_000);
    expect(outcome).toBeInstanceOf(Error);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/shrank/);
    expect(p.server.destroyed).toBe(true);
    expect(p.got.ended).toBe(false); // no clean end: the client cannot take the part for the whole
    expect(await fdsOn(path)).toEqual([]);
  });
});
