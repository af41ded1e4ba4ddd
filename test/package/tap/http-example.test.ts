import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect } from 'vitest';
import { itWith } from '../../support/tools.js';
import { describeTap } from '../../tap/support/gate.js';
import { ensureCliBuilt } from '../../tap/support/cli.js';

/**
 * examples/http-get-tap.mjs as a user runs it: `node examples/http-get-tap.mjs`, which
 * makes its own namespace with a TAP device, starts python3's http.server in it, GETs
 * `/` with our TCP and deletes the namespace again.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));

describeTap('examples over TAP', () => {
  beforeAll(() => ensureCliBuilt()); // dist/ is what 'tapstack' resolves to

  itWith('python3')('http-get-tap.mjs: the kernel\'s http.server answers 200 with the whole body, and the namespace is gone after', async () => {
    const child = spawn('node', [join(root, 'examples/http-get-tap.mjs')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);

    expect(stdout).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    const length = /Content-Length: (\d+)/.exec(stdout)?.[1];
    expect(length, stdout).toBeDefined();
    expect(stdout).toContain(`(${length} bytes of body from the kernel's TCP to ours)`);
    // The server's access log line: it saw our request.
    expect(stderr).toContain('"GET / HTTP/1.0" 200');

    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(namespaces).not.toContain(`tapstack-example-${child.pid}`);
  }, 60_000);
});
