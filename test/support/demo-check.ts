import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { DemoResult } from '../../src/demo/index.js';
import { checkSeedCapture, expertErrors, seedSections } from './seed-check.js';
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
