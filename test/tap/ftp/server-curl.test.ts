import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';
import { createFtpTapNet, seededBytes, sha256, sha256File, type FtpTapNet } from '../../support/ftp-server-tap.js';

/**
 * curl (the kernel's TCP, inside the namespace at 10.0.0.1) against our FTP server on
 * our stack (10.0.0.2 behind the TAP device): passive with EPSV and with PASV, active
 * with EPRT and with PORT from port 20, listings, uploads. Every transfer is checked
 * by sha256.
 */
describeTap('ftp server with curl', () => {
  let t: FtpTapNet;

  beforeAll(async () => {
    t = await createFtpTapNet('ftpcurl');
  });
  afterAll(async () => {
    await t?.destroy();
  });

  async function curl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const r = await t.net.exec('curl', ['-sS', '--max-time', '60', ...args], { timeoutMs: 70_000 });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  it.each([
    ['passive, EPSV', []],
    ['passive, PASV (--disable-epsv)', ['--disable-epsv']],
    ['active, EPRT (--ftp-port -)', ['--ftp-port', '-']],
    ['active, PORT (--ftp-port - --disable-eprt)', ['--ftp-port', '-', '--disable-eprt']],
  ])('downloads big.bin, %s', async (_name, extra) => {
    const out = join(t.work, `big-${extra.join('')}.bin`);
    const r = await curl([...extra, '-o', out, 'ftp://10.0.0.2/big.bin']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(sha256(t.big));
  });

  it('downloads a text file in ASCII mode (--use-ascii) with CRLF line ends', async () => {
    const r = await curl(['--use-ascii', 'ftp://10.0.0.2/readme.txt']);
    expect(r.code).toBe(0);
    // TYPE A: CRLF on the wire, and curl turns it back into LF.
    expect(r.stdout).toBe('Welcome to tapstack.\nThis file has two lines.\n');
  });

  it('lists a directory (LIST) and names only (NLST)', async () => {
    const list = await curl(['ftp://10.0.0.2/pub/']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split(/\r?\n/);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^-rw-r--r-- +1 ftp +ftp +6 \w{3} [ \d]\d [ \d]\d:\d\d a\.txt$/);
    expect(lines[1]).toMatch(/^d[rwx-]{9} .* sub$/);
    const names = await curl(['--list-only', 'ftp://10.0.0.2/']);
    expect(names.stdout.split(/\r?\n/).filter(Boolean).sort()).toEqual(['big.bin', 'pub', 'readme.txt']);
  });

  it('uploads (passive and active), creating directories', async () => {
    const payload = seededBytes(1_500_000, 99);
    const src = join(t.work, 'upload.bin');
    await writeFile(src, payload);
    let r = await curl(['-T', src, '--ftp-create-dirs', 'ftp://10.0.0.2/incoming/new/upload.bin']);
    expect(r.stderr).toBe('');
    expect(await sha256File(join(t.root, 'incoming', 'new', 'upload.bin'))).toBe(sha256(payload));
    r = await curl(['-T', src, '--ftp-port', '-', 'ftp://10.0.0.2/incoming/active.bin']);
    expect(r.code).toBe(0);
    expect(await sha256File(join(t.root, 'incoming', 'active.bin'))).toBe(sha256(payload));
    // Appending (APPE) then resuming (REST + STOR) give the expected bytes too.
    r = await curl(['-T', src, '--append', 'ftp://10.0.0.2/incoming/active.bin']);
    expect(r.code).toBe(0);
    expect(await sha256File(join(t.root, 'incoming', 'active.bin'))).toBe(sha256(Buffer.concat([payload, payload])));
    expect((await readdir(join(t.root, 'incoming'))).filter((n) => n.startsWith('.tapstack-'))).toEqual([]);
  });

  it('resumes a download (REST)', async () => {
    const out = join(t.work, 'resume.bin');
    await writeFile(out, t.big.subarray(0, 1_000_000));
    const r = await curl(['-C', '-', '-o', out, 'ftp://10.0.0.2/big.bin']);
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(sha256(t.big));
  });

  it('refuses traversal and leaves everything outside the root alone', async () => {
    const r = await curl(['-o', join(t.work, 'stolen'), `ftp://10.0.0.2/../outside/secret.txt`]);
    expect(r.code).not.toBe(0);
    const r2 = await curl(['-o', join(t.work, 'stolen2'), `ftp://10.0.0.2/%2e%2e/%2e%2e/%2e%2e/etc/passwd`]);
    expect(r2.code).not.toBe(0);
    const up = await curl(['-T', join(t.work, 'upload.bin'), 'ftp://10.0.0.2/../outside/secret.txt']);
    expect(await readFile(join(t.outside, 'secret.txt'), 'utf8')).toBe('secret\n');
    expect(await readdir(t.outside)).toEqual(['secret.txt']);
    expect(up.code).not.toBe(0);
  });
});
