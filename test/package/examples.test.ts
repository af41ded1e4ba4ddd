import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt } from '../tap/support/cli.js';

/**
 * The programs in examples/ that need no TAP device, run as a user runs them:
 * `node examples/X.mjs`, importing 'tapstack' by name (the package refers to itself
 * through the `exports` of package.json, i.e. dist/index.js).
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const example = (name: string) => join(root, 'examples', name);

describe('examples over the in-memory link', () => {
  let dir: string;
  beforeAll(() => {
    ensureCliBuilt(); // dist/ is what 'tapstack' resolves to
    dir = mkdtempSync(join(tmpdir(), 'tapstack-examples-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('echo-memory.mjs: the text comes back, and the side that closed first is in TIME-WAIT', async () => {
    const { stdout } = await run('node', [example('echo-memory.mjs')], { cwd: dir, timeout: 30_000 });
    expect(stdout).toBe('echoed: hello over our own TCP\nthe client closed first, so its socket waits in TIME-WAIT (RFC 9293 3.6)\n');
  });

  it("the README's library example is echo-memory.mjs, line for line", () => {
    // The file's two leading comment lines are not in the README.
    const code = readFileSync(example('echo-memory.mjs'), 'utf8').split('\n').slice(2).join('\n');
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('```js\n' + code + '```\n');
  });

  it('ftp-get-memory.mjs: downloads a file of the folder it serves, byte for byte', async () => {
    // 200 KB: many segments, several windows, so the transfer is more than one burst.
    const content = randomBytes(200_000);
    writeFileSync(join(dir, 'served.bin'), content);
    const { stdout } = await run('node', [example('ftp-get-memory.mjs'), 'served.bin'], { cwd: dir, timeout: 30_000 });
    expect(stdout).toBe(`200000 bytes into ${join(dir, 'downloaded.tmp')}\n`);
    expect(readFileSync(join(dir, 'downloaded.tmp')).equals(content)).toBe(true);
  });
});
