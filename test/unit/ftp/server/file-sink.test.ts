import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSink, type SinkFile } from '../../../../src/ftp/server/file-sink.js';
import { SeededRandom } from '../../../../src/stack/random.js';
import { sha256 } from '../../../support/tcp-hosts.js';

// file-sink.ts copies small chunks into 1 MiB batches, writes big chunks as they are,
// pauses its source while too much waits for the disk, and syncs in the background.
// Every byte must land at its place, and every failure must surface.

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** `total` bytes cut into pieces of the given sizes, in turn (a segment, a batch, ...). */
function pieces(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** A stand-in file: writes land in `data` after `delayMs`; a write or sync may be told to fail. */
class FakeFile implements SinkFile {
  data = Buffer.alloc(0);
  writes = 0;
  failWriteAt = -1;
  datasyncError: Error | undefined;
  datasyncs = 0;
  syncs = 0;
  constructor(private readonly delayMs = 0) {}

  writev: SinkFile['writev'] = async (buffers, position) => {
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.writes++ === this.failWriteAt) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
    const all = Buffer.concat(buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    const end = (position ?? 0) + all.length;
    if (this.data.length < end) this.data = Buffer.concat([this.data, Buffer.alloc(end - this.data.length)]);
    all.copy(this.data, position ?? 0);
    return { bytesWritten: all.length, buffers };
  };
  datasync: SinkFile['datasync'] = async () => {
    this.datasyncs++;
    if (this.datasyncError) throw this.datasyncError;
  };
  sync: SinkFile['sync'] = async () => {
    this.syncs++;
  };
}

describe('ftp server: FileSink', () => {
  it('writes segment-sized, odd and big chunks into a real file, each byte at its place, after a start offset', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tapstack-sink-'));
    const path = join(dir, 'f');
    const file = await open(path, 'w+');
    const head = Buffer.from('kept head|');
    await file.write(head, 0, head.length, 0);
    const data = Buffer.from(new SeededRandom(3).bytes(5 * 1024 * 1024 + 17));
    const source = new PassThrough();
    const sink = new FileSink(file, head.length);
    const done = sink.receive(source);
    // 1448-byte segments, a 1-byte chunk, a big chunk (written without a copy), more segments.
    for (const p of pieces(data, [1448, 1448, 1, 300_000, 1448, 65_535, 65_536, 7])) source.write(p);
    source.end();
    await done;
    await sink.sync();
    await file.close();
    expect(sink.written).toBe(data.length);
    expect(sha256(await readFile(path))).toBe(sha256(Buffer.concat([head, data])));
  });

  it('12 MiB of segments onto a slow disk arrive intact, in a few big writes', async () => {
    const file = new FakeFile(3);
    const source = new PassThrough({ highWaterMark: 16 * 1024 });
    const done = new FileSink(file, 0).receive(source);
    const data = Buffer.from(new SeededRandom(11).bytes(12 * 1024 * 1024 + 5));
    for (const p of pieces(data, [1448, 1448, 1448, 536])) {
      if (!source.write(p)) await new Promise((r) => source.once('drain', r));
    }
    source.end();
    await done;
    expect(file.writes).toBeGreaterThanOrEqual(3);
    expect(sha256(file.data)).toBe(sha256(data));
  });

  it('an empty source leaves an empty file', async () => {
    const file = new FakeFile();
    const source = new PassThrough();
    const done = new FileSink(file, 0).receive(source);
    source.end();
    await done;
    expect(file.writes).toBe(0);
    expect(file.data.length).toBe(0);
  });

  it('pauses the source while too much waits for a slow disk, and resumes it', async () => {
    const file = new FakeFile(20);
    const source = new PassThrough({ highWaterMark: 1024 });
    const done = new FileSink(file, 0).receive(source);
    const data = Buffer.from(new SeededRandom(5).bytes(20 * 1024 * 1024));
    let sawPause = false;
    for (const p of pieces(data, [64 * 1024])) {
      if (!source.write(p)) {
        if (source.isPaused()) sawPause = true;
        await new Promise((r) => source.once('drain', r));
      }
    }
    source.end();
    await done;
    expect(sawPause).toBe(true);
    expect(sha256(file.data)).toBe(sha256(data));
  });

  it('a failed write rejects, is reported as a write error, destroys the source, and waits for no more writes', async () => {
    const file = new FakeFile(1);
    file.failWriteAt = 1;
    const source = new PassThrough();
    const writeErrors: Error[] = [];
    const done = new FileSink(file, 0, (err) => writeErrors.push(err)).receive(source);
    const data = Buffer.alloc(4 * 1024 * 1024, 1);
    for (const p of pieces(data, [1448])) source.write(p);
    await expect(done).rejects.toThrow('no space left');
    expect(writeErrors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOSPC']);
    expect(source.destroyed).toBe(true);
    const writes = file.writes;
    await new Promise((r) => setTimeout(r, 10));
    expect(file.writes).toBe(writes);
  });

  it('a source that fails (a reset connection) rejects without calling it a write error', async () => {
    const file = new FakeFile(1);
    const source = new PassThrough();
    const writeErrors: Error[] = [];
    const done = new FileSink(file, 0, (err) => writeErrors.push(err)).receive(source);
    source.write(Buffer.alloc(3 * 1024 * 1024, 2));
    setTimeout(() => source.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 5);
    await expect(done).rejects.toThrow('reset');
    expect(writeErrors).toEqual([]);
  });

  it('a source that fails while a write is under way rejects once that write is done, and writes nothing more', async () => {
    const file = new FakeFile(30);
    const source = new PassThrough();
    const done = new FileSink(file, 0).receive(source);
    source.write(Buffer.alloc(2 * 1024 * 1024, 4));
    // The first write (the first MiB) is at the disk for 30 ms; the connection resets meanwhile.
    setTimeout(() => source.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 5);
    await expect(done).rejects.toThrow('reset');
    expect(file.writes).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(file.writes).toBe(1);
  });

  it('a source closed before its end (no FIN: a killed client, ABOR) rejects', async () => {
    const source = new PassThrough();
    const done = new FileSink(new FakeFile(), 0).receive(source);
    source.write(Buffer.alloc(1000));
    source.destroy();
    await expect(done).rejects.toThrow();
  });

  it('syncs in the background while data arrives; a failed background sync fails the final sync', async () => {
    const file = new FakeFile();
    const source = new PassThrough();
    const sink = new FileSink(file, 0);
    const done = sink.receive(source);
    file.datasyncError = Object.assign(new Error('I/O error'), { code: 'EIO' });
    for (const p of pieces(Buffer.alloc(40 * 1024 * 1024), [256 * 1024])) {
      if (!source.write(p)) await new Promise((r) => source.once('drain', r));
    }
    source.end();
    await done;
    expect(file.datasyncs).toBeGreaterThan(0);
    await expect(sink.sync()).rejects.toThrow('I/O error');
    expect(file.syncs).toBe(0);
  });

  it('the final sync is an fsync after every write, also when background syncs succeeded', async () => {
    const file = new FakeFile();
    const source = new PassThrough();
    const sink = new FileSink(file, 0);
    const done = sink.receive(source);
    for (const p of pieces(Buffer.alloc(40 * 1024 * 1024, 3), [256 * 1024])) {
      if (!source.write(p)) await new Promise((r) => source.once('drain', r));
    }
    source.end();
    await done;
    await sink.sync();
    expect(file.datasyncs).toBeGreaterThan(0);
    expect(file.syncs).toBe(1);
    expect(file.data.length).toBe(40 * 1024 * 1024);
  });
});
