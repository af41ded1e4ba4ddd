import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import type { DemoResult } from '../../src/demo/index.js';
import { checkSeedCapture, expertErrors, seedSections, tsharkLines } from './seed-check.js';
import { chromiumDom } from './tools.js';

/**
 * The seed's messages, in order, as session.txt names them (with the field lines
 * that vary matched by pattern).
 */
export const SEED_MESSAGES: RegExp[] = [
  /DNS Query/, /recdesired = 1, queries = 1, name = ftp\.any-domain\.com, type = A, class = IN/,
  /DNS Response/, /recdesired = 1, answers = 1, IP Address/,
  /TCP SYN\b/, /srcport = \d+, dstport = 21, syn = 1/,
  /TCP SYN\+ACK/, /TCP ACK/,
  /FTP 220/, /code = 220, arg = ANY-DOMAIN\.COM FTP Service/,
  /USER ftp/, /FTP 331/, /PASS abc@any-domain\.com/, /FTP 230/,
  /PORT 192\.168\.0\.2 Port 5001/, /FTP 200/, /LIST/, /FTP 150/,
  /srcport = 20, dstport = 5001, syn = 1/, /srcport = 5001, dstport = 20, syn = 1, ack = 1/,
  /FTP DATA\+FIN/, /TCP FIN\+ACK/, /FTP 226/,
  /CWD pub/, /FTP 250/,
  /PORT 192\.168\.0\.2 Port 5002/, /RETR readme\.txt/, /readme\.txt\(1715 bytes\)/,
  /srcport = 20, dstport = 5002, syn = 1/, /FTP DATA\b/, /FTP DATA\+FIN/, /TCP FIN\+ACK/, /FTP 226/,
  /QUIT/, /FTP 221/,
];

/** Everything the demo promises about its outputs, for either link. */
export function expectSeedSession(result: DemoResult): void {
  expect(result.downloadMatches).toBe(true);
  expect(readFileSync(result.files.download).length).toBe(1715);

  const { frames, problems } = checkSeedCapture(result.files.pcapng);
  expect(problems).toEqual([]);
  expect(frames.length).toBeGreaterThan(40);
  expect(expertErrors(result.files.pcapng)).toEqual([]);

  const text = readFileSync(result.files.text, 'utf8');
  let at = 0;
  for (const heading of seedSections()) {
    const i = text.indexOf(heading, at);
    expect(i, `heading "${heading}" in order`).toBeGreaterThanOrEqual(0);
    at = i + heading.length;
  }
  at = 0;
  for (const pattern of SEED_MESSAGES) {
    const rest = text.slice(at);
    const m = pattern.exec(rest);
    expect(m, `message ${pattern} in order (after offset ${at})`).not.toBeNull();
    at += m!.index + m![0].length;
  }

  expect(readFileSync(result.files.mermaid, 'utf8')).toMatch(/^sequenceDiagram/m);
}

/** session.html loads in headless Chromium without errors and draws one SVG group per message. */
export function expectHtmlRenders(result: DemoResult): void {
  const dom = chromiumDom(`file://${result.files.html}`);
  const messages = result.model.messages.length;
  expect(dom).toContain(`data-ready="${messages}"`);
  expect(dom.match(/<g class="message[^"]*" data-index=/g)).toHaveLength(messages);
}

/**
 * Mermaid's own parser on our diagrams: Mermaid needs a DOM, so this loads its browser
 * bundle from node_modules into headless Chromium (no network) and runs
 * `mermaid.parse()` on each text. Returns one entry per text: '' when it parsed, else
 * Mermaid's error message.
 */
export function mermaidParseErrors(texts: string[]): string[] {
  const bundle = pathToFileURL(createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js')).href;
  const dir = mkdtempSync(join(tmpdir(), 'tapstack-mermaid-'));
  try {
    const page = join(dir, 'parse.html');
    // Each result goes into the page as text, which --dump-dom prints once the budget of
    // virtual time has let mermaid.parse's promises settle.
    writeFileSync(
      page,
      `<!DOCTYPE html><html><body><pre id="out"></pre>
<script src="${bundle}"></script>
<script>
(async function () {
  var texts = ${JSON.stringify(texts).replace(/</g, '\\u003c')};
  var results = [];
  for (var i = 0; i < texts.length; i++) {
    try { await mermaid.parse(texts[i]); results.push(''); }
    catch (e) { results.push(String(e && e.message || e) || 'error'); }
  }
  document.getElementById('out').textContent = 'RESULTS' + JSON.stringify(results) + 'END';
})();
</script></body></html>`,
    );
    const dom = chromiumDom(pathToFileURL(page).href, ['--allow-file-access-from-files', '--virtual-time-budget=20000'], 120_000);
    const m = /<pre id="out">RESULTS(.*?)END<\/pre>/s.exec(dom);
    if (!m) throw new Error(`Mermaid did not run in Chromium (is node_modules/mermaid installed?): ${dom.slice(0, 300)}`);
    return JSON.parse(m[1]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')) as string[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** tshark's TCP analysis, frame by frame, in our label names ("TCP Dup ACK #2", ...). */
export function tsharkAnalysisLabels(capture: string): Map<number, string[]> {
  const fields = [
    'frame.number', 'tcp.analysis.retransmission', 'tcp.analysis.fast_retransmission', 'tcp.analysis.spurious_retransmission',
    'tcp.analysis.out_of_order', 'tcp.analysis.lost_segment', 'tcp.analysis.duplicate_ack_num', 'tcp.analysis.window_update',
    'tcp.analysis.ack_lost_segment',
  ];
  const out = new Map<number, string[]>();
  for (const line of tsharkLines(capture, fields)) {
    const [frame, retrans, fast, spurious, ooo, lost, dup, window, ackedUnseen] = line.split('\t');
    const labels: string[] = [];
    if (spurious) labels.push('TCP Spurious Retransmission');
    else if (retrans || fast) labels.push('TCP Retransmission');
    if (ooo) labels.push('TCP Out-Of-Order');
    if (lost) labels.push('TCP Previous segment not captured');
    if (dup) labels.push(`TCP Dup ACK #${dup}`);
    if (window) labels.push('TCP Window Update');
    if (ackedUnseen) labels.push('TCP ACKed unseen segment');
    out.set(Number(frame), labels);
  }
  return out;
}

/** The frames of a demo capture that are drop notes (the capture's second interface). */
export function tsharkDropNotes(capture: string): { frame: number; direction: string }[] {
  return tsharkLines(capture, ['frame.number', 'frame.comment'], { filter: 'frame.interface_id == 1' }).map((line) => {
    const [frame, comment] = line.split('\t');
    return { frame: Number(frame), direction: /after the client sent it/.test(comment ?? '') ? 'outbound' : 'inbound' };
  });
}
