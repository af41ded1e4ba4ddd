import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm run docs`: TypeDoc reads the TSDoc comments of everything src/index.ts exports
 * (typedoc.json treats warnings as errors: a broken {@link}, a type used in the API
 * but not exported, a malformed tag). Here it writes into a temporary folder.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const typedoc = join(root, 'node_modules/typedoc/bin/typedoc');

describe('API docs (TypeDoc)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tapstack-docs-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('build without a warning and document the public API', async () => {
    const result = await promisify(execFile)('node', [typedoc, '--out', out], { cwd: root, timeout: 120_000 }).catch(
      (err: { stdout: string; stderr: string }) => {
        // "X ... is referenced by Y but not included": export X from src/index.ts, or, if
        // it is internal, name it in typedoc.json's intentionallyNotExported.
        throw new Error(`typedoc failed (npm run docs says the same):\n${err.stdout}${err.stderr}`);
      },
    );
    expect(result.stdout + result.stderr).not.toMatch(/\[warning\]|\[error\]/);
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    for (const name of ['createHost', 'MemoryNetwork', 'TapLink', 'createServer', 'connect', 'FtpClient', 'FtpServer', 'Resolver', 'renderText']) {
      expect(index, name).toContain(`>${name}<`);
    }
    // The package comment of src/index.ts is the front page, with its example.
    expect(index).toContain('MemoryNetwork');
  }, 120_000);
});
