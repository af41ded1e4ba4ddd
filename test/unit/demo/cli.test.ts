import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureCliBuilt } from '../../tap/support/cli.js';

/** `tapstack demo` as a user runs it (the compiled CLI), over the in-memory link. */
describe('tapstack demo (CLI)', () => {
  let out = '';
  beforeAll(() => {
    ensureCliBuilt();
    out = mkdtempSync(join(tmpdir(), 'tapstack-demo-cli-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  const demo = (args: string[]) => spawnSync(process.execPath, [CLI, 'demo', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('prints the BSD ftp -v transcript, then with --explain who sent each frame and why, and the counters', () => {
    const r = demo(['--link', 'memory', '--out', out, '--no-open', '--explain']);
    expect(r.status).toBe(0);
    const text = r.stdout;
    expect(text).toContain('---> PORT 192,168,0,2,19,137');
    expect(text).toContain('226 Transfer complete.');
    expect(text).toContain('How the session went, frame by frame');
    expect(text).toMatch(/FTP DATA\+FIN\n\s+fields: srcport = 20, dstport = 5002, ack = 1, fin = 1\n\s+sent by the server: the data transfer/);
    expect(text).toMatch(/DNS Query\n.*\n\s+sent by the client: the resolver/);
    expect(text).toMatch(/Counters of the client host \(192\.168\.0\.2\):\n(\s+\S+\s+\d+\n)+/);
    expect(text).toContain('identical to the served one');
  });

  it('refuses a bad argument with one line and exit code 2', () => {
    const r = demo(['--link', 'memory', '--out', out, '--loss', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['tapstack: --loss: 2 is out of range 0..0.5']);
    const bad = demo(['--link', 'wire']);
    expect(bad.status).toBe(2);
  });
});
