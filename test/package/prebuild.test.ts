import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The package ships the TAP addon prebuilt (prebuilds/linux-x64/), so that installing
 * needs no compiler. `npm run prebuild:tap` builds it from src/native/tap.c and writes
 * prebuilds/SOURCES.sha256 (sha256sum's format) with the hashes of the sources it was
 * built from and of the binary itself. These tests fail when the committed binary no
 * longer matches the committed sources: after changing tap.c or binding.gyp, run
 * `npm run prebuild:tap` and commit prebuilds/ with the change.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const FIX = 'run `npm run prebuild:tap` and commit prebuilds/ with the source change';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(join(root, file))).digest('hex');

function recorded(): Map<string, string> {
  const lines = readFileSync(join(root, 'prebuilds/SOURCES.sha256'), 'utf8').trim().split('\n');
  return new Map(
    lines.map((line) => {
      const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
      if (!m) throw new Error(`prebuilds/SOURCES.sha256: not "<sha256>  <file>": ${JSON.stringify(line)}`);
      return [m[2]!, m[1]!];
    }),
  );
}

/** Every prebuilt binary in the package, as paths from the package root. */
function binaries(): string[] {
  return readdirSync(join(root, 'prebuilds'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(root, 'prebuilds', d.name)).map((f) => `prebuilds/${d.name}/${f}`));
}

describe('the prebuilt TAP addon', () => {
  it('was built from the committed src/native/tap.c and binding.gyp', () => {
    const hashes = recorded();
    for (const source of ['src/native/tap.c', 'binding.gyp']) {
      expect(hashes.get(source), `${source} is not recorded in prebuilds/SOURCES.sha256: ${FIX}`).toBeDefined();
      expect(sha256(source), `${source} changed since the prebuild was made: ${FIX}`).toBe(hashes.get(source));
    }
  });

  it('is the binary that prebuild:tap recorded, and the only one shipped (linux-x64)', () => {
    const hashes = recorded();
    expect(binaries()).toEqual(['prebuilds/linux-x64/tapstack.glibc.node']);
    for (const binary of binaries()) {
      expect(sha256(binary), `${binary} is not the file prebuild:tap recorded: ${FIX}`).toBe(hashes.get(binary));
    }
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64')('loads as a Node-API module with the functions TapLink calls', () => {
    // Loading opens no device, so this needs no privileges.
    const addon = createRequire(import.meta.url)(join(root, 'prebuilds/linux-x64/tapstack.glibc.node')) as Record<string, unknown>;
    for (const fn of ['open', 'start', 'write', 'writeBatch', 'stats', 'ref', 'close']) {
      expect(typeof addon[fn], fn).toBe('function');
    }
  });
});
