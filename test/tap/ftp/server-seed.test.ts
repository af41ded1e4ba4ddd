import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';
import { createFtpTapNet, startCapture, type FtpTapNet } from '../../support/ftp-server-tap.js';

/**
 * The seed session (../shared/seeds): login as ftp, PORT + LIST, CWD, PORT + RETR
 * readme.txt (1715 bytes), QUIT, with python's ftplib in active mode. The capture
 * must show what the seed's sequence diagram shows: data connections opened from
 * port 20, the FIN riding on the last data segment, 226 only after the data
 * connection is released, and the server closing the control connection after 221.
 */
const SCRIPT = String.raw`
import ftplib
f = ftplib.FTP()
f.connect('10.0.0.2', 21, timeout=30)
f.login('ftp', 'abc@any-domain.com')
f.set_pasv(False)
lines = []
f.retrlines('LIST', lines.append)
f.cwd('pub')
got = []
f.retrlines('RETR readme.txt', got.append)
print(len(lines), sum(len(l) + 1 for l in got))
f.quit()
`;

interface Segment {
  frame: number;
  src: string;
  sport: number;
  dport: number;
  syn: boolean;
  fin: boolean;
  len: number;
  code?: number;
  text?: string;
}

describeTap('the seed session over TAP', () => {
  let t: FtpTapNet;

  beforeAll(async () => {
    t = await createFtpTapNet('ftpseed', {}, 1024);
    // 1715 bytes of text, as readme.txt in the seed.
    const line = 'tapstack reproduces the seed FTP session segment by segment.\n';
    let text = line.repeat(Math.floor(1715 / line.length));
    text += 'x'.repeat(1715 - text.length - 1) + '\n';
    await writeFile(join(t.root, 'pub', 'readme.txt'), text);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  it('reproduces PORT+LIST, CWD, PORT+RETR and QUIT as in the seed', async () => {
    const pcap = join(t.work, 'seed.pcap');
    const capture = await startCapture(t, pcap);
    const r = await t.net.exec('python3', ['-c', SCRIPT], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('3 1715');
    await capture.stop();

    const fields = ['frame.number', 'ip.src', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.fin', 'tcp.len', 'ftp.response.code', 'ftp.response.arg'];
    const out = await t.net.exec('tshark', ['-r', pcap, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])]);
    const segs: Segment[] = out.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('|'))
      .map(([frame, src, sport, dport, syn, fin, len, code, text]) => ({
        frame: Number(frame),
        src: src!,
        sport: Number(sport),
        dport: Number(dport),
        syn: syn === '1' || syn === 'True',
        fin: fin === '1' || fin === 'True',
        len: Number(len),
        ...(code ? { code: Number(code.split(',')[0]), text: text ?? '' } : {}),
      }));
    const replies = segs.filter((s) => s.code !== undefined && s.sport === 21);
    const texts = replies.map((s) => `${s.code} ${s.text}`);
    expect(texts).toContain('220 ANY-DOMAIN.COM FTP Service');
    expect(texts).toContain('331 Anonymous access allowed, send identity (e-mail name) as password.');
    expect(texts.some((x) => x.startsWith('230 Welcome to ftp.any-domain.com'))).toBe(true);
    expect(texts).toContain('200 PORT command successful.');
    expect(texts).toContain('150 Opening ASCII mode data connection for /bin/ls.');
    expect(texts).toContain('250 CWD command successful.');
    expect(texts).toContain('150 Opening ASCII mode data connection for readme.txt(1715 bytes).');
    expect(texts).toContain('221 Thank you for visiting ftp.any-domain.com.');

    // Two data connections, both opened by the server from port 20.
    const dataSyns = segs.filter((s) => s.syn && s.sport === 20 && s.src === '10.0.0.2');
    expect(dataSyns).toHaveLength(2);
    const completes = replies.filter((s) => s.code === 226);
    expect(completes).toHaveLength(2);
    for (const [i, syn] of dataSyns.entries()) {
      const conn = segs.filter((s) => (s.sport === 20 && s.dport === syn.dport) || (s.dport === 20 && s.sport === syn.dport));
      const fromServer = conn.filter((s) => s.sport === 20);
      const lastData = fromServer.filter((s) => s.len > 0).at(-1)!;
      // The FIN rides on the last data segment (the data fits in the window).
      expect(lastData.fin).toBe(true);
      // The client's FIN comes after ours; 226 only once the connection is released.
      const clientFin = conn.find((s) => s.dport === 20 && s.fin)!;
      expect(clientFin.frame).toBeGreaterThan(lastData.frame);
      expect(completes[i]!.frame).toBeGreaterThan(clientFin.frame);
    }
    // After 221 the server closes the control connection (its FIN from port 21).
    const bye = replies.find((s) => s.code === 221)!;
    expect(segs.some((s) => s.sport === 21 && s.fin && s.frame >= bye.frame)).toBe(true);
  });
});
