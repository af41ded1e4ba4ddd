import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { runDemo, type DemoResult } from '../../../src/demo/index.js';
import { messageTitle, type SessionMessage } from '../../../src/trace/session.js';
import { LOST_LABEL } from '../../../src/trace/words.js';
import { mermaidParseErrors, tsharkAnalysisLabels, tsharkDropNotes } from '../../support/demo-check.js';
import { itWith } from '../../support/tools.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The demo under --loss 0.1 --reorder 0.1: every frame is labelled by what really
 * happened, checked against tshark's own TCP analysis of the same file, and the same
 * seed draws the same files, byte for byte.
 */
describe('tapstack demo with loss and reordering', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function demo(seed: number): Promise<DemoResult> {
    const outDir = await mkdtemp(path.join(tmpdir(), 'tapstack-demo-faults-'));
    dirs.push(outDir);
    return runDemo({ link: 'memory', outDir, loss: 0.1, reorder: 0.1, seed });
  }
  const isLoss = (m: SessionMessage) => m.lost !== undefined;
  const analysis = (m: SessionMessage) => m.labels.filter((l) => l !== LOST_LABEL);

  // Seeds that between them lose DNS, handshake, command, reply and data segments in
  // both directions, reorder a handshake ACK behind data (seed 3) and retransmit after SACK (seed 11).
  for (const seed of [2, 3, 7, 11]) {
    itWith('tshark')(`seed ${seed}: labels equal tshark's analysis frame by frame, losses are drawn where they happened`, async () => {
      const result = await demo(seed);
      expect(result.downloadMatches, `seed ${seed}`).toBe(true);
      const capture = result.files.pcapng;

      const theirs = tsharkAnalysisLabels(capture);
      for (const m of result.model.messages) {
        if (m.lost === 'inbound') continue; // a note, not traffic: tshark's analysis never saw it
        expect(analysis(m), `seed ${seed} frame ${m.frame} ${m.name}`).toEqual(theirs.get(m.frame) ?? []);
      }

      // The pcapng comments, written while the session ran, name and label each frame as the diagram does.
      for (const m of result.model.messages.filter((x) => !isLoss(x))) expect(m.captureComment, `seed ${seed} frame ${m.frame}`).toMatch(new RegExp(`^${escapeRegExp(messageTitle(m))}(:|$)`));

      // Every drop the fault injector made is a note in the capture and a lost arrow in the diagram.
      const notes = tsharkDropNotes(capture);
      expect(notes.length, `seed ${seed}`).toBeGreaterThan(0);
      // (A lost ARP frame is a note too, but ARP is not drawn: the model counts it apart.)
      expect(result.model.messages.filter(isLoss)).toHaveLength(notes.length - (result.model.skipped['lost frame'] ?? 0));
      for (const note of notes.filter((n) => n.direction === 'inbound')) {
        const m = result.model.messages.find((x) => x.frame === note.frame);
        expect(m?.lost, `seed ${seed} note frame ${note.frame}`).toBe('inbound');
      }
      for (const m of result.model.messages.filter(isLoss)) expect(m.explanation).toMatch(/^This frame was lost: dropped on the wire by the fault injector (after the client sent it|before it reached the client)/);
      const text = readFileSync(result.files.text, 'utf8');
      expect(text).toMatch(/-X {2,}|X-{2,}/);
      expect(Math.max(...text.split('\n').map((l) => l.length)), 'session.txt fits 120 columns').toBeLessThanOrEqual(120);
      expect(readFileSync(result.files.mermaid, 'utf8')).toMatch(/^ {2}p\d+-xp\d+: \d+\. /m);

      // Replies are explained by the command they answer (by sequence, not by arrival).
      const replies = result.model.messages.filter((m) => !isLoss(m) && /^FTP \d{3}/.test(m.name) && !m.labels.some((l) => /Retransmission/.test(l)));
      for (const m of replies.filter((x) => x.name.includes('FTP 250'))) expect(m.explanation).toContain('Change Working Directory');
      for (const m of replies.filter((x) => x.name === 'FTP 200')) expect(m.explanation).toContain('acknowledges the PORT command');
      const completions = replies.filter((x) => x.name.includes('FTP 226'));
      if (completions.length === 2) {
        expect(completions[0]!.explanation).toContain('directory listing completion');
        expect(completions[1]!.explanation).toContain('FTP transfer has been completed');
      }
      // The whole answer, also past the losses: every command verb's reply names it.
      const retrReply = replies.find((x) => x.name === 'FTP 150' && /readme/.test(x.fields));
      if (retrReply) expect(retrReply.explanation).toContain('RETR');
    }, 180_000);
  }

  itWith('chromium')('the same seed twice writes byte-identical files, and Mermaid parses the diagram', async () => {
    const [a, b] = [await demo(5), await demo(5)];
    for (const file of ['pcapng', 'text', 'mermaid', 'html', 'state'] as const) {
      expect(readFileSync(a.files[file]).equals(readFileSync(b.files[file])), `${file} differs between two runs of seed 5`).toBe(true);
    }
    // A different seed is a different run: the files are not identical by accident.
    const c = await demo(6);
    expect(readFileSync(c.files.pcapng).equals(readFileSync(a.files.pcapng))).toBe(false);
    expect(mermaidParseErrors([readFileSync(a.files.mermaid, 'utf8'), readFileSync(c.files.mermaid, 'utf8')])).toEqual(['', '']);
  }, 180_000);
});
