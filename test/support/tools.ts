import { execFileSync, spawnSync } from 'node:child_process';
import { it } from 'vitest';

/**
 * Some unit tests check our output with real tools (tshark reads our captures,
 * headless Chromium loads our HTML). `bash .ci/run` installs them; on a machine
 * without them, those tests say so in one line and skip, so `npm test` still works
 * anywhere. With TAPSTACK_REQUIRE_TAP=1 (CI) a missing tool is a failure instead.
 */
const found = new Map<string, boolean>();
export function hasTool(name: string): boolean {
  let ok = found.get(name);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
    found.set(name, ok);
  }
  return ok;
}

/**
 * The DOM of a page after headless Chromium loaded it and its scripts ran (needs `chromium`).
 * `flags` go before the page (e.g. `--virtual-time-budget=MS` to let promises settle).
 */
export function chromiumDom(url: string, flags: string[] = [], timeoutMs = 60_000): string {
  return execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', ...flags, '--dump-dom', url], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: timeoutMs,
  });
}

const announced = new Set<string>();

/** `it` for a test that needs the given programs on PATH. */
export function itWith(...tools: string[]): typeof it {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return it;
  const what = missing.join(', ');
  if (process.env.TAPSTACK_REQUIRE_TAP === '1') {
    return ((name: string, _fn: unknown, timeout?: number) =>
      it(name, () => {
        throw new Error(`this test needs ${what}, which is not installed (bash .ci/run installs it)`);
      }, timeout)) as unknown as typeof it;
  }
  if (!announced.has(what)) {
    announced.add(what);
    console.log(`tests that need ${what} skipped: not installed (bash .ci/run installs it)`);
  }
  return it.skip as unknown as typeof it;
}
