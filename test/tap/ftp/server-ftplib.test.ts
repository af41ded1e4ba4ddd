import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';
import { createFtpTapNet, seededBytes, sha256, type FtpTapNet } from '../../support/ftp-server-tap.js';

/**
 * Python's ftplib (inside the namespace, kernel TCP) against our FTP server on our
 * stack: active and passive transfers, listings, file actions, SIZE/MDTM, REST resume,
 * ABOR during a long RETR, and the refusals (PORT to a third party, traversal).
 */

// One script, one JSON line of results; the test asserts on them.
const SCRIPT = String.raw`
import ftplib, hashlib, io, json, sys
work = sys.argv[1]
out = {}
def sha(b): return hashlib.sha256(b).hexdigest()
upload = open(work + '/upload.bin', 'rb').read()

for passive in (True, False):
    key = 'pasv' if passive else 'active'
    f = ftplib.FTP()
    out['welcome'] = f.connect('10.0.0.2', 21, timeout=30)
    out['login'] = f.login('anonymous', 'ftplib@example.com')
    f.set_pasv(passive)
    buf = io.BytesIO()
    out[key + '_retr'] = [f.retrbinary('RETR big.bin', buf.write), sha(buf.getvalue())]
    out[key + '_stor'] = f.storbinary('STOR up_' + key + '.bin', io.BytesIO(upload))
    lines = []
    out[key + '_list_reply'] = f.retrlines('LIST', lines.append)
    out[key + '_list'] = lines
    out[key + '_nlst'] = sorted(f.nlst())
    out[key + '_mlsd'] = sorted([name, facts.get('type'), facts.get('size')] for name, facts in f.mlsd('pub'))
    f.quit()

f = ftplib.FTP()
f.connect('10.0.0.2', 21, timeout=30)
f.login()
out['pwd'] = f.pwd()
# RFC 3659 4: SIZE counts what a RETR in the current TYPE would send.
out['size_ascii'] = f.size('readme.txt')
f.voidcmd('TYPE I')
out['size'] = f.size('big.bin')
out['mdtm'] = f.sendcmd('MDTM big.bin')
out['rename'] = [f.rename('up_pasv.bin', 'renamed.bin')]
out['delete'] = f.delete('up_active.bin')
out['mkd'] = f.mkd('made')
out['cwd'] = f.cwd('made')
out['rmd_busy'] = None
f.cwd('/')
out['rmd'] = f.rmd('made')
# REST: download from an offset, and upload the rest of a file.
buf = io.BytesIO()
f.retrbinary('RETR big.bin', buf.write, rest=1000000)
out['rest_retr'] = sha(buf.getvalue())
f.storbinary('STOR partial.bin', io.BytesIO(upload[:300000]))
f.storbinary('STOR partial.bin', io.BytesIO(upload[300000:]), rest=300000)
out['rest_stor'] = f.size('partial.bin')
# ABOR during a long RETR.
f.voidcmd('TYPE I')
conn = f.transfercmd('RETR huge.bin')
got = conn.recv(65536)
out['abor'] = f.abort()
conn.close()
try:
    out['after_abor'] = f.getresp()
except ftplib.all_errors as e:
    out['after_abor'] = str(e)
out['noop'] = f.voidcmd('NOOP')
# Refusals.
for name, cmd in (('port_third', 'PORT 10,0,0,99,19,137'), ('port_low', 'PORT 10,0,0,1,0,80'), ('eprt_third', 'EPRT |1|10.0.0.99|5001|')):
    try:
        out[name] = f.sendcmd(cmd)
    except ftplib.error_perm as e:
        out[name] = str(e)
for name, path in (('size_trav', '../../../../etc/passwd'), ('retr_outside', '../outside/secret.txt')):
    try:
        out[name] = f.size(path)
    except ftplib.error_perm as e:
        out[name] = str(e)
try:
    f.delete('../outside/secret.txt')
    out['dele_outside'] = 'deleted?!'
except ftplib.error_perm as e:
    out['dele_outside'] = str(e)
out['quit'] = f.quit()
print(json.dumps(out))
`;

describeTap('ftp server with python3 ftplib', () => {
  let t: FtpTapNet;
  let upload: Buffer;

  beforeAll(async () => {
    t = await createFtpTapNet('ftplib');
    upload = seededBytes(700_000, 5);
    await writeFile(join(t.work, 'upload.bin'), upload);
    // A file the client aborts: long enough that the transfer is still running.
    await writeFile(join(t.root, 'huge.bin'), '');
    await truncate(join(t.root, 'huge.bin'), 256 * 1024 * 1024);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  it('runs an ftplib session: active and passive, listings, actions, REST, ABOR, refusals', async () => {
    const r = await t.net.exec('python3', ['-c', SCRIPT, t.work], { timeoutMs: 90_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out.welcome).toBe('220 ANY-DOMAIN.COM FTP Service');
    expect(out.login).toBe('230-Welcome to ftp.any-domain.com\n230 Anonymous user logged in.');
    for (const key of ['pasv', 'active']) {
      expect(out[`${key}_retr`]).toEqual(['226 Transfer complete.', sha256(t.big)]);
      expect(out[`${key}_stor`]).toBe('226 Transfer complete.');
      expect(out[`${key}_list_reply`]).toBe('226 Transfer complete.');
      expect((out[`${key}_list`] as string[]).map((l) => l.split(/\s+/).pop())).toContain('big.bin');
      expect(out[`${key}_nlst`]).toEqual(expect.arrayContaining(['big.bin', 'pub', 'readme.txt']));
      expect(out[`${key}_mlsd`]).toEqual([
        ['a.txt', 'file', '6'],
        ['sub', 'dir', null],
      ]);
    }
    expect(out.pwd).toBe('/');
    expect(out.size).toBe(t.big.length);
    expect(out.size_ascii).toBe('Welcome to tapstack.\r\nThis file has two lines.\r\n'.length);
    expect(out.mdtm).toMatch(/^213 \d{14}$/);
    expect(out.rename).toEqual(['250 Rename successful.']);
    expect(out.delete).toBe('250 File deleted.');
    expect(out.mkd).toBe('/made');
    expect(out.rmd).toBe('250 Directory removed.');
    expect(await readFile(join(t.root, 'renamed.bin'))).toEqual(upload);
    await expect(stat(join(t.root, 'up_active.bin'))).rejects.toThrow();
    expect(out.rest_retr).toBe(sha256(t.big.subarray(1_000_000)));
    expect(out.rest_stor).toBe(upload.length);
    expect(sha256(await readFile(join(t.root, 'partial.bin')))).toBe(sha256(upload));
    expect(out.abor).toBe('426 Connection closed; transfer aborted.');
    expect(out.after_abor).toBe('226 ABOR command successful.');
    expect(out.noop).toBe('200 NOOP ok.');
    expect(out.port_third).toBe("504 PORT to another host than the client's refused.");
    expect(out.port_low).toBe('504 PORT to a port below 1024 refused.');
    expect(out.eprt_third).toBe("504 EPRT to another host than the client's refused.");
    expect(out.size_trav).toBe('550 No such file or directory.');
    expect(out.retr_outside).toBe('550 No such file or directory.');
    expect(out.dele_outside).toMatch(/^550 /);
    expect(out.quit).toBe('221 Thank you for visiting ftp.any-domain.com.');
    expect(await readdir(t.outside)).toEqual(['secret.txt']);
    expect(await readFile(join(t.outside, 'secret.txt'), 'utf8')).toBe('secret\n');
  });
});
