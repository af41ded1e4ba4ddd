import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { CLI, ensureCliBuilt } from '../../tap/support/cli.js';
import { itWith } from '../../support/tools.js';

const fixture = new URL('../../fixtures/trace/vsftpd-tnftp-port.pcap', import.meta.url);

/** What the CLI wrote to stderr, without the lines of /usr/bin/time. */
const ownLines = (stderr: string) => stderr.split('\n').filter((l) => l && !l.startsWith('maxrss=') && !l.startsWith('Command exited with'));

/** `tapstack diagram` as users run it (the compiled CLI), on captures of any size. */
describe('tapstack diagram (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapstack-diagram-cli-'));
  beforeAll(() => ensureCliBuilt(), 180_000); // a stale dist/ is rebuilt first: tsc takes a while on a busy machine
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const diagram = (args: string[], env: Record<string, string> = {}) =>
    spawnSync('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, CLI, 'diagram', ...args], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });

  /** The fixture's session, then `filler` x 10,000 ARP frames, then the session's records again `repeat` times. */
  function capture(name: string, opts: { filler?: number; repeat?: number }): string {
    const src = readFileSync(fixture);
    const path = join(dir, name);
    const fd = openSync(path, 'w');
    writeSync(fd, src);
    // An Ethernet broadcast ARP frame of 60 bytes behind a pcap record header.
    const arp = Buffer.alloc(16 + 60);
    arp.writeUInt32LE(60, 8);
    arp.writeUInt32LE(60, 12);
    arp.fill(0xff, 16, 22);
    arp.writeUInt16BE(0x0806, 28);
    const block = Buffer.concat(Array<Buffer>(10_000).fill(arp));
    for (let i = 0; i < (opts.filler ?? 0); i++) writeSync(fd, block);
    for (let i = 0; i < (opts.repeat ?? 0); i++) writeSync(fd, src.subarray(24));
    closeSync(fd);
    return path;
  }

  itWith('/usr/bin/time')('reads a 200 MB capture as a stream: memory stays below the size of the file', () => {
    const path = capture('big.pcap', { filler: 270 });
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(200e6);
    // A small V8 heap makes the garbage collector keep up; a reader that held the
    // whole file (or a string of it) would need more than `size` bytes of memory.
    const r = diagram([path], { NODE_OPTIONS: '--max-old-space-size=48' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('66 messages from 2700066 frames; not drawn: 2700000 ARP.');
    const maxRssBytes = Number(/maxrss=(\d+)/.exec(r.stderr)![1]) * 1024;
    expect(maxRssBytes).toBeLessThan(size * 0.75);
  }, 240_000);

  itWith('/usr/bin/time')('stops with one line and exit code 1 past --max-messages, and refuses what is not a capture with exit code 2', () => {
    const path = capture('many.pcap', { repeat: 20 });
    const r = diagram([path, '--max-messages', '500']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(ownLines(r.stderr)).toEqual([
      `tapstack: ${path} has more than 500 messages to draw (stopped at frame 501); draw a part of it (editcap -r many.pcap part.pcapng 1-500) or raise --max-messages`,
    ]);
    const bad = join(dir, 'bad.pcap');
    closeSync(openSync(bad, 'w'));
    const b = diagram([bad]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/^tapstack: .*bad\.pcap is not a readable capture: /);
    expect(ownLines(b.stderr)).toHaveLength(1);
  }, 120_000);
});
