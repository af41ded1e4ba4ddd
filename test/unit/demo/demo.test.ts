import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo, type DemoResult } from '../../../src/demo/index.js';
import { expectHtmlRenders, expectSeedSession, mermaidParseErrors } from '../../support/demo-check.js';
import { itWith } from '../../support/tools.js';

describe('tapstack demo over the in-memory link', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function demo(extra: { loss?: number; reorder?: number; seed?: number } = {}): Promise<{ result: DemoResult; lines: string[] }> {
    const outDir = await mkdtemp(path.join(tmpdir(), 'tapstack-demo-'));
    dirs.push(outDir);
    const lines: string[] = [];
    const result = await runDemo({ link: 'memory', outDir, print: (l) => lines.push(l), ...extra });
    return { result, lines };
  }

  itWith('tshark', 'chromium')('reproduces every step of the seed session in the capture and the diagram', async () => {
    const { result, lines } = await demo();
    expectSeedSession(result);
    // The console reads like BSD ftp in verbose mode.
    expect(lines).toContain('---> PORT 192,168,0,2,19,137');
    expect(lines).toContain('---> PORT 192,168,0,2,19,138');
    expect(lines).toContain('150 Opening ASCII mode data connection for readme.txt(1715 bytes).');
    expect(lines.indexOf('---> QUIT')).toBeLessThan(lines.findIndex((l) => l.startsWith('221 ')));
    expectHtmlRenders(result);
    // session.mmd is valid Mermaid: Mermaid's own parser accepts it.
    expect(mermaidParseErrors([readFileSync(result.files.mermaid, 'utf8')])).toEqual(['']);
  }, 120_000);

  it('still completes with loss and reordering, and the diagram labels the recovery', async () => {
    const { result } = await demo({ loss: 0.1, reorder: 0.1, seed: 7 });
    expect(result.downloadMatches).toBe(true);
    const labels = result.model.messages.flatMap((m) => m.labels);
    expect(labels.some((l) => /Retransmission|Dup ACK|Out-Of-Order/i.test(l)), `labels: ${labels.join(', ')}`).toBe(true);
  }, 120_000);
});
