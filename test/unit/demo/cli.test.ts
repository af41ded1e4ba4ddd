import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_NOBODY, CLI, ensureCliBuilt } from '../../tap/support/cli.js';
import { readmeContents } from '../../../src/demo/served-tree.js';
import { itWith } from '../../support/tools.js';

/** `tapstack demo` as a user runs it (the compiled CLI), over the in-memory link. */
describe('tapstack demo (CLI)', () => {
  let out = '';
  beforeAll(() => {
    ensureCliBuilt();
    out = mkdtempSync(join(tmpdir(), 'tapstack-demo-cli-'));
  }, 180_000); // a stale dist/ is rebuilt first: tsc takes a while on a busy machine
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

  it('fails at once with one line when --out cannot be written', () => {
    // As root nothing is unwritable by permission: a path under /proc cannot be created.
    const r = demo(['--link', 'memory', '--out', '/proc/tapstack-demo-nope', '--no-open']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(['tapstack: demo failed: cannot write into /proc/tapstack-demo-nope: ENOENT']);
  });

  itWith('setpriv')('fails at once with one line for a user who may not write into --out', () => {
    const locked = join(out, 'locked');
    mkdirSync(locked, { recursive: true });
    chmodSync(out, 0o755);
    chmodSync(locked, 0o555);
    const r = spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), process.execPath, CLI, 'demo', '--link', 'memory', '--out', join(locked, 'x'), '--no-open'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`tapstack: demo failed: cannot write into ${join(locked, 'x')}: EACCES`]);
  });

  itWith('chromium')('session.html fits a 1024x768 projector: no wider than the screen, details pane folded until a message is chosen', () => {
    const r = demo(['--link', 'memory', '--out', out, '--no-open', '--loss', '0.1', '--reorder', '0.1', '--seed', '7']);
    expect(r.status).toBe(0);
    const page = `file://${join(out, 'session.html')}`;
    const chromium = (url: string) =>
      execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--window-size=1024,768', '--dump-dom', url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
    const dom = chromium(page);
    expect(dom).toMatch(/<body[^>]* class="collapsed"/);
    const width = Number(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="(\d+)"/.exec(dom)![1]);
    expect(width).toBeLessThanOrEqual(1000);
    // The time-sequence plots of the stack's own state are on the page, one per connection that sent data.
    expect(dom.match(/<svg class="state-plot"/g)!.length).toBeGreaterThanOrEqual(3);
    // Choosing a message opens the pane, with what both TCPs believed at that frame.
    const chosen = chromium(`${page}#frame=12`);
    expect(chosen).not.toMatch(/<body[^>]* class="collapsed"/);
    expect(chosen).toMatch(/<h3>TCP state of the (client|server) 192\.168\.0\.\d:\d+ \(not on the wire\)<\/h3>/);
  });

  it('tapstack trace prints each TCP\'s state over the session, the same for the same seed', () => {
    const trace = (args: string[]) => spawnSync(process.execPath, [CLI, 'trace', ...args], { encoding: 'utf8', timeout: 60_000 });
    const text = trace(['--seed', '3', '--loss', '0.1', '--reorder', '0.1']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^client 192\.168\.0\.2:\d+ -> 192\.168\.0\.1:21 \(MSS 1460; sequence numbers relative to the ISS\)$/m);
    expect(text.stdout).toMatch(/^server 192\.168\.0\.1:20 -> 192\.168\.0\.2:5002 /m);
    expect(text.stdout).toMatch(/^ frame +time ms +state +cwnd +ssthresh +RTO ms +SND\.UNA +SND\.NXT +SND\.WND +RCV\.WND$/m);
    expect(text.stdout).toMatch(/ SYN-SENT /);
    expect(text.stdout).toMatch(/ TIME-WAIT /);
    expect(trace(['--seed', '3', '--loss', '0.1', '--reorder', '0.1']).stdout).toBe(text.stdout);
    const csv = trace(['--format', 'csv']);
    expect(csv.stdout.split('\n')[0]).toBe('host,local,remote,frame,time_ms,state,cwnd,ssthresh,rto_ms,in_recovery,snd_una,snd_nxt,snd_wnd,rcv_wnd');
    // The data connection of RETR sent readme.txt in ASCII type (each LF as CRLF) and its
    // FIN: SND.NXT ends at 1 (the SYN) + the bytes on the wire + 1 (the FIN).
    const readme = readmeContents();
    const onTheWire = readme.length + readme.filter((b) => b === 0x0a).length;
    const last = csv.stdout.trim().split('\n').filter((l) => l.startsWith('server,192.168.0.1:20,192.168.0.2:5002,')).pop()!.split(',');
    expect(Number(last[11])).toBe(1 + onTheWire + 1);
    const bad = trace(['--format', 'pdf']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
