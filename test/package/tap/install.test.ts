import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../../tap/support/gate.js';
import { AS_NOBODY } from '../../tap/support/cli.js';

/**
 * What a new user does, done as one: a fresh clone of the committed repository, then,
 * as the unprivileged user `nobody` with an empty HOME and npm cache,
 *   1. `npm ci` (the README's first command) installs without compiling anything:
 *      the TAP addon comes prebuilt, and nobody has no Node headers (root's ~/.npmrc
 *      `nodedir` is out of reach), so a source build would have to download them;
 *   2. `npm run demo` plays the seed session over the in-memory link;
 *   3. the package, packed with `npm pack`, installs into a new app whose TypeScript
 *      program imports 'tapstack', type-checks against the shipped .d.ts files, runs
 *      an echo over the memory link, and finds the shipped prebuilt addon.
 * The only network used is the npm registry. Root is needed to become `nobody`, so the
 * test lives in the tap project.
 */

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const NOBODY = 65534;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describeTap('installing tapstack as a non-root user', () => {
  let dir: string;
  let home: string;
  let repo: string;
  let app: string;

  /** Run a command as nobody with a clean environment: its own HOME and npm cache, no root config. */
  function asNobody(cmd: string, args: readonly string[], cwd: string, timeoutMs = 240_000): Promise<Run> {
    const path = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
    const env = ['env', '-i', `PATH=${path}`, `HOME=${home}`, `npm_config_cache=${join(home, '.npm')}`, 'CI=true'];
    const argv = [...AS_NOBODY.slice(1), ...env, cmd, ...args];
    return new Promise((resolve) => {
      execFile(AS_NOBODY[0]!, argv, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        // A timeout kills the command: code null, reported as -1.
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  const explain = (what: string, r: Run) => `${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-install-'));
    home = join(dir, 'home');
    repo = join(dir, 'repo');
    app = join(dir, 'app');
    // file:// and --depth 1: git copies the objects instead of hard-linking them, so
    // handing the clone to nobody cannot change the owner of the repository's files.
    execFileSync('git', ['clone', '--quiet', '--depth', '1', `file://${repoRoot}`, repo]);
    mkdirSync(home);
    mkdirSync(app);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('npm ci compiles nothing, and npm run demo plays the session in memory', async () => {
    const ci = await asNobody('npm', ['ci'], repo);
    expect(ci.code, explain('npm ci', ci)).toBe(0);
    // node-gyp-build found the prebuild, so node-gyp never ran.
    expect(existsSync(join(repo, 'build')), 'npm ci built the addon from source instead of using the prebuild').toBe(false);
    expect(ci.stdout + ci.stderr).not.toContain('gyp info');
    expect(existsSync(join(repo, 'dist/index.js')), 'npm ci (prepare) did not build dist/').toBe(true);

    const out = join(dir, 'demo');
    const demo = await asNobody('npm', ['run', 'demo', '--', '--no-open', '--out', out], repo, 120_000);
    expect(demo.code, explain('npm run demo', demo)).toBe(0);
    // Not root, so no TAP devices: the demo says it ran on the in-memory link instead.
    expect(demo.stdout + demo.stderr).toContain('in-memory link');
    for (const file of ['session.pcapng', 'session.txt', 'session.mmd', 'session.html']) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const served = readFileSync(join(out, 'served/pub/readme.txt'));
    expect(readFileSync(join(out, 'downloads/readme.txt')).equals(served)).toBe(true);
  }, 300_000);

  it('a fresh app installs the packed package, type-checks against it and runs it', async () => {
    // dist/ exists from npm ci's prepare; pack it as it is.
    const pack = await asNobody('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], repo, 60_000);
    expect(pack.code, explain('npm pack', pack)).toBe(0);
    const tarball = readdirSync(dir).find((f) => /^tapstack-.*\.tgz$/.test(f));
    expect(tarball, pack.stdout).toBeDefined();

    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          target: 'ES2022',
          strict: true,
          skipLibCheck: true,
          // Node's types from the clone: the app itself installs nothing but tapstack.
          typeRoots: [join(repo, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['main.ts'],
      }),
    );
    writeFileSync(
      join(app, 'main.ts'),
      [
        "import { createRequire } from 'node:module';",
        "import { dirname } from 'node:path';",
        "import { MemoryNetwork, connect, createServer, type TcpSocket } from 'tapstack';",
        'const net = new MemoryNetwork();',
        "createServer(net.host('10.0.0.1'), 7, (socket: TcpSocket) => socket.pipe(socket));",
        "const socket: TcpSocket = connect(net.host('10.0.0.2'), { host: '10.0.0.1', port: 7 });",
        "socket.end('hello from a fresh app');",
        "let echoed = '';",
        'for await (const chunk of socket) echoed += chunk;',
        'await net.close();',
        '// The addon TapLink would load: the prebuild shipped inside the package.',
        'const require = createRequire(import.meta.url);',
        "const packageDir = dirname(require.resolve('tapstack/package.json'));",
        "const addon: string = require('node-gyp-build').path(packageDir);",
        'console.log(JSON.stringify({ echoed, addon }));',
      ].join('\n') + '\n',
    );
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, app]);

    const install = await asNobody('npm', ['install', '--no-audit', '--no-fund', join(dir, tarball!)], app);
    expect(install.code, explain('npm install', install)).toBe(0);
    expect(existsSync(join(app, 'node_modules/tapstack/build')), 'the install compiled the addon').toBe(false);

    const tsc = await asNobody('node', [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app, 120_000);
    expect(tsc.code, explain('tsc', tsc)).toBe(0);
    const main = await asNobody('node', ['main.js'], app, 30_000);
    expect(main.code, explain('node main.js', main)).toBe(0);
    const result = JSON.parse(main.stdout) as { echoed: string; addon: string };
    expect(result.echoed).toBe('hello from a fresh app');
    expect(result.addon).toBe(join(app, 'node_modules/tapstack/prebuilds/linux-x64/tapstack.glibc.node'));
  }, 300_000);
});
