import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../../src/trace/render-html.js';
import { renderMermaid } from '../../../src/trace/render-mermaid.js';
import { renderText } from '../../../src/trace/render-text.js';
import { buildSession, type SessionModel } from '../../../src/trace/session.js';
import { readCapture } from '../../../src/wire/pcapng.js';
import { seedSections } from '../../support/seed-check.js';
import { CLIENT, Conversation, F, SERVER } from './frames.js';
import { mermaidParseErrors } from '../../support/demo-check.js';
import { chromiumDom, itWith } from '../../support/tools.js';

// Captures of the Linux ftp client (tnftp) against vsftpd, made by
// test/fixtures/trace/make-ftp-fixture.sh in its own network namespaces.
function load(name: string): SessionModel {
  const r = readCapture(new Uint8Array(readFileSync(new URL(`../../fixtures/trace/${name}`, import.meta.url))));
  if (!r.ok) throw new Error(r.error.message);
  return buildSession(r.value.packets);
}

const dir = mkdtempSync(join(tmpdir(), 'tapstack-diagram-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tapstack diagram on real captures of tnftp and vsftpd', () => {
  const port = load('vsftpd-tnftp-port.pcap');

  it('finds the seed sections in a PORT session, an EPRT session and a passive EPSV session', () => {
    const sections = (m: SessionModel) => m.items.flatMap((i) => (i.type === 'section' ? [i.title] : []));
    expect(sections(port)).toEqual(seedSections('PORT'));
    expect(sections(load('vsftpd-tnftp.pcap'))).toEqual(seedSections('EPRT'));
    expect(sections(load('vsftpd-tnftp-epsv.pcap'))).toEqual(seedSections('EPSV'));
  });

  it('shows the messages of the seed in order (tshark lists the same frames)', () => {
    expect(port.messages).toHaveLength(66);
    const names = port.messages.map((m) => m.name);
    // Frames 1-12 and the two data connections, as tshark shows them.
    expect(names.slice(0, 12)).toEqual([
      'DNS Query', 'DNS Response', 'TCP SYN', 'TCP SYN+ACK', 'TCP ACK', 'FTP 220', 'TCP ACK', 'USER ftp', 'TCP ACK', 'FTP 331',
      'PASS abc@any-domain.com', 'FTP 230',
    ]);
    expect(names.slice(25, 39)).toEqual([
      'PORT 192.168.0.2 Port 38981', 'FTP 200', 'LIST', 'TCP SYN', 'TCP SYN+ACK', 'TCP ACK', 'FTP 150', 'FTP DATA', 'TCP ACK',
      'TCP FIN+ACK', 'TCP FIN+ACK', 'TCP ACK', 'FTP 226', 'TCP ACK',
    ]);
    expect(names.slice(45, 58)).toEqual([
      'PORT 192.168.0.2 Port 51211', 'FTP 200', 'RETR readme.txt', 'TCP SYN', 'TCP SYN+ACK', 'TCP ACK', 'FTP 150', 'FTP DATA', 'TCP ACK',
      'TCP FIN+ACK', 'TCP FIN+ACK', 'TCP ACK', 'FTP 226',
    ]);
    expect(names.slice(-5)).toEqual(['QUIT', 'FTP 221', 'TCP FIN+ACK', 'TCP FIN+ACK', 'TCP ACK']);
    expect(port.messages[28]!.fields).toBe('srcport = 20, dstport = 38981, syn = 1');
    expect(port.messages.every((m) => m.explanation.length > 0 && m.labels.length === 0)).toBe(true);
  });

  it('renders text with every heading and message in order, matching the golden file', () => {
    const text = renderText(port, { title: 'Sequence diagram of vsftpd-tnftp-port.pcap' });
    const golden = readFileSync(new URL('../../fixtures/trace/vsftpd-tnftp-port.txt', import.meta.url), 'utf8');
    expect(text).toBe(golden);
    // Independently of the golden file: headings and message names appear in model order.
    let at = 0;
    for (const item of port.items) {
      const needle = item.type === 'message' ? item.message.name : item.title;
      const found = text.indexOf(needle, at);
      expect(found, needle).toBeGreaterThanOrEqual(at);
      at = found;
    }
    expect(text).toMatch(/^Port\s+47162\/udp\s+59004\s+38981\s+51211\s+53\/udp\s+21\s+20$/m);
    // It fits a 120-column terminal.
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
  });

  it('renders a Mermaid sequenceDiagram with one arrow per message', () => {
    const mmd = renderMermaid(port);
    const lines = mmd.split('\n');
    expect(lines[0]).toBe('sequenceDiagram');
    expect(lines.filter((l) => /^ {2}p\d+->>p\d+: /.test(l))).toHaveLength(66);
    expect(lines.filter((l) => l.startsWith('    participant '))).toHaveLength(7);
    expect(mmd).toContain('  p1->>p5: 3. TCP SYN<br/>srcport = 59004, dstport = 21, syn = 1');
    // No raw ';' or '#' (Mermaid syntax) inside labels: they are written as entities.
    expect(lines.filter((l) => l.includes('->>')).every((l) => !/[;#]/.test(l.replace(/#\w+;/g, '')))).toBe(true);
  });

  itWith('chromium')("writes Mermaid that Mermaid's own parser accepts, titles with colons included", () => {
    const texts = [renderMermaid(port, { title: 'Sequence diagram of vsftpd-tnftp-port.pcap: PORT' }), renderMermaid(load('vsftpd-tnftp-epsv.pcap'), { title: 'a "quoted": title' })];
    expect(mermaidParseErrors(texts)).toEqual(['', '']);
    // The check can fail: the unquoted colon that session.mmd once had is refused.
    expect(mermaidParseErrors(['---\ntitle: tapstack demo: the seed FTP session\n---\nsequenceDiagram\n  A->>B: hi\n'])[0]).toMatch(/mapping entry|YAML|indentation/i);
  }, 120_000);

  itWith('chromium')('renders a self-contained HTML page that headless Chromium loads, with one SVG element per message', () => {
    const html = renderHtml(port, { title: 'vsftpd-tnftp-port.pcap' });
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/); // nothing fetched from anywhere
    const file = join(dir, 'session.html');
    writeFileSync(file, html);
    const dom = chromiumDom(`file://${file}`);
    // The page's script ran to the end (it marks the body) and saw every message.
    expect(dom).toContain('data-ready="66"');
    expect(dom.match(/<g class="message[^"]*" data-index=/g)).toHaveLength(66);
    expect(dom.match(/<g class="section"/g)).toHaveLength(6);

    // What a click shows: open the page at frame 29 (the data connection's SYN) and
    // read the side panel that the page's own script filled in.
    const selected = chromiumDom(`file://${file}#frame=29`);
    const panel = selected.slice(selected.indexOf('<aside id="details">'), selected.indexOf('</aside>'));
    expect(panel).toContain('Frame 29: TCP SYN');
    expect(panel).toContain('<h3>Transmission Control Protocol</h3>');
    expect(panel).toMatch(/<td>Source port<\/td><td>20<\/td>/);
    expect(panel).toMatch(/<td>Option MSS<\/td><td>1460<\/td>/);
    expect(selected).toMatch(/<g class="message selected" data-index="28" data-frame="29"/);
  }, 90_000);
});

describe('a capture with many data connections', () => {
  // A passive-mode client that lists 40 directories: 40 data connections, each from a new port of each side.
  const ctl = new Conversation({ addr: CLIENT, port: 40000 }, { addr: SERVER, port: 21 });
  ctl.handshake();
  const frames: Uint8Array[] = [...ctl.frames];
  for (let i = 0; i < 40; i++) {
    ctl.frames.length = 0;
    ctl.send('a', F.PSH | F.ACK, 'PASV\r\n');
    const port = 30000 + i;
    ctl.send('b', F.PSH | F.ACK, `227 Entering Passive Mode (192,168,0,1,${port >> 8},${port & 0xff}).\r\n`);
    ctl.send('a', F.PSH | F.ACK, 'LIST\r\n');
    frames.push(...ctl.frames);
    const data = new Conversation({ addr: CLIENT, port: 41000 + i }, { addr: SERVER, port });
    data.handshake();
    data.send('b', F.PSH | F.ACK, 'drwxr-xr-x 2 ftp ftp 4096 Jan 01 2000 pub\r\n');
    frames.push(...data.frames);
  }
  const model = buildSession(frames.map((data) => ({ data })));

  it('folds each side\'s data connections into one column, and the text still fits 120 columns', () => {
    expect(model.participants.map((p) => [p.label, p.columns.map((c) => c.label ?? String(c.endpoint.port))])).toEqual([
      ['FTP Client', ['40000', 'data']],
      ['FTP Server', ['21', 'data']],
    ]);
    expect(model.participants[0]!.columns[1]!.members).toHaveLength(40);
    const text = renderText(model);
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
    // The fields of each arrow still name its ports.
    expect(text).toContain('srcport = 30039, dstport = 41039');
    expect(text).toMatch(/Folded into one "data" column/);
    expect(renderMermaid(model).split('\n').filter((l) => l.startsWith('    participant '))).toHaveLength(4);
  });
});
