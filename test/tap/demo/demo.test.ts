import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runDemo } from '../../../src/demo/index.js';
import { expectSeedSession } from '../../support/demo-check.js';
import { trafficShape } from '../../support/seed-check.js';
import { describeTap } from '../support/gate.js';

describeTap('tapstack demo over TAP devices', () => {
  let outDir = '';
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('runs the seed session across a kernel bridge in its own namespace, and removes it', async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'tapstack-demo-tap-'));
    const namespace = `tapstack-demo-${process.pid}`;
    const result = await runDemo({ link: 'tap', namespace, outDir: path.join(outDir, 'tap') });
    expectSeedSession(result);
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(namespaces).not.toMatch(new RegExp(`^${namespace}( |$)`, 'm'));

    // Either way the protocol traffic is identical: the same seed over the in-memory
    // link gives the same frames (the kernel bridge adds none of its own).
    const memory = await runDemo({ link: 'memory', outDir: path.join(outDir, 'memory') });
    expect(trafficShape(result.files.pcapng)).toEqual(trafficShape(memory.files.pcapng));
  }, 120_000);
});
