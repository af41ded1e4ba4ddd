import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../../src/trace/render-html.js';
import { renderMermaid } from '../../../src/trace/render-mermaid.js';
import { renderText } from '../../../src/trace/render-text.js';
import { buildSession } from '../../../src/trace/session.js';
import { readCapture } from '../../../src/wire/pcapng.js';

const capture = readCapture(new Uint8Array(readFileSync(new URL('../../fixtures/trace/vsftpd-tnftp-port.pcap', import.meta.url))));
if (!capture.ok) throw new Error('fixture');
const real = capture.value.packets.map((p) => p.data);

/** The whole pipeline on hostile frames: it draws what it can and never throws. */
function drawAll(frames: Uint8Array[]): number {
  const model = buildSession(frames.map((data) => ({ data })));
  renderText(model);
  renderMermaid(model);
  renderHtml(model);
  return model.messages.length + Object.values(model.skipped).reduce((a, b) => a + b, 0) + Object.values(model.malformed).reduce((a, b) => a + b, 0);
}

describe('the diagram on hostile input', () => {
  it('accounts for every frame of arbitrary bytes without throwing', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 20 }), (frames) => {
        expect(drawAll(frames)).toBe(frames.length);
      }),
      { numRuns: 300 },
    );
  });

  it('survives mutated, dropped and shuffled frames of a real FTP session', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(real.length - 1), fc.nat(1600), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
        fc.array(fc.nat(real.length - 1), { minLength: 1, maxLength: 80 }),
        (edits, order) => {
          const frames = order.map((i) => real[i]!.slice());
          for (const [i, at, v] of edits) {
            const f = frames[i % frames.length]!;
            if (at < f.length) f[at] = v;
          }
          expect(drawAll(frames)).toBe(frames.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
