import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';
import { createFtpTapNet, seededBytes, sha256, sha256File, startCapture, type FtpTapNet } from '../../support/ftp-server-tap.js';

/**
 * lftp and wget against our FTP server on our stack: mirroring a tree down and up,
 * mkdir, rm, mv, MLSD listings, a recursive wget; then tshark reads the capture of
 * the whole run and must find FTP and FTP-DATA and nothing malformed.
 */
describeTap('ftp server with lftp and wget', () => {
  let t: FtpTapNet;
  let pcap: string;
  let capture: { stop(): Promise<void> };

  beforeAll(async () => {
    t = await createFtpTapNet('ftplftp');
    pcap = join(t.work, 'ftp.pcap');
    capture = await startCapture(t, pcap);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  async function lftp(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    // lftp's defaults otherwise (it would try AUTH TLS only if FEAT offered it).
    const settings = 'set net:max-retries 1; set net:timeout 15; set cmd:fail-exit yes;';
    const r = await t.net.exec('lftp', ['-c', `${settings} open ftp://10.0.0.2; ${script}`], { timeoutMs: 60_000 });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  it('lftp mirrors a tree down and up (MLSD), and does mkdir, mv, rm', async () => {
    const down = join(t.work, 'down');
    let r = await lftp(`mirror pub ${down}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await readFile(join(down, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(await sha256File(join(down, 'sub', 'b.bin'))).toBe(await sha256File(join(t.root, 'pub', 'sub', 'b.bin')));
    expect(t.server.counters.get('ftp.server.cmd.MLSD')).toBeGreaterThan(0);

    const tree = join(t.work, 'tree');
    await mkdir(join(tree, 'deep', 'er'), { recursive: true });
    const files: Record<string, Buffer> = {
      'one.bin': seededBytes(200_000, 1),
      'deep/two.txt': Buffer.from('two\nlines\n'),
      'deep/er/three.bin': seededBytes(1_000_000, 3),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(join(tree, name), data);
    r = await lftp(`mirror -R ${tree} uploaded`);
    expect(r.stderr).toBe('');
    for (const [name, data] of Object.entries(files)) {
      expect(await sha256File(join(t.root, 'uploaded', name))).toBe(sha256(data));
    }

    r = await lftp('mkdir newdir && mv uploaded/one.bin newdir/moved.bin && rm uploaded/deep/two.txt && cls -l newdir');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/moved\.bin/);
    expect(await readdir(join(t.root, 'newdir'))).toEqual(['moved.bin']);
    expect(await readdir(join(t.root, 'uploaded', 'deep'))).toEqual(['er']);
  });

  it('wget downloads a tree recursively (LIST parsing)', async () => {
    const dest = join(t.work, 'wget');
    const r = await t.net.exec('wget', ['-r', '-nH', '-q', '-P', dest, 'ftp://10.0.0.2/pub/'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(await readFile(join(dest, 'pub', 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(await sha256File(join(dest, 'pub', 'sub', 'b.bin'))).toBe(await sha256File(join(t.root, 'pub', 'sub', 'b.bin')));
  });

  it('wget in active mode (--no-passive-ftp) downloads big.bin', async () => {
    const out = join(t.work, 'wget-active.bin');
    const r = await t.net.exec('wget', ['-q', '--no-passive-ftp', '-O', out, 'ftp://10.0.0.2/big.bin'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(sha256(t.big));
  });

  it('tshark dissects FTP and FTP-DATA in the capture, nothing malformed', async () => {
    await capture.stop();
    const count = async (filter: string): Promise<number> => {
      const r = await t.net.exec('tshark', ['-r', pcap, '-Y', filter], { timeoutMs: 60_000 });
      return r.stdout.split('\n').filter(Boolean).length;
    };
    expect(await count('ftp')).toBeGreaterThan(20);
    expect(await count('ftp-data')).toBeGreaterThan(10);
    expect(await count('_ws.malformed || _ws.expert.severity == error')).toBe(0);
  });
});
