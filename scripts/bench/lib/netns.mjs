// Private networks for the benchmarks: namespaces named tapstack-bench-<tag>-<pid>[-n],
// TAP devices opened by THIS process and moved into one, veth pairs between two.
// They are built by the package's own namespace builder (dist/netns, from src/netns),
// the same one the demo, the tests and `tapstack netns` use; BenchNet keeps the
// benchmarks' synchronous view of it.
//
// Nothing is configured in the root namespace: a TAP device exists there only for
// the moment between its creation and `ip link set DEV netns NS`. Every namespace
// made here is deleted by `destroy()`, and also on exit, SIGINT, SIGTERM and an
// uncaught error, so an interrupted benchmark leaves nothing behind.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// Loaded here rather than imported, so that whyCannotRun() can say "build first".
const netns = await import('../../../dist/netns/index.js').catch(() => null);

const live = new Set(); // every BenchNet not yet destroyed
let hooked = false;

function hookExit() {
  if (hooked) return;
  hooked = true;
  const lastResort = () => {
    for (const net of live) net.destroySync();
  };
  process.once('exit', lastResort);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, cleaning up`);
      lastResort();
      process.exit(130);
    });
  }
}

/** Run `ip ARGS` and throw with its stderr when it fails. */
export function ip(args, { check = true } = {}) {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (check && r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || '').trim()}`);
  return r;
}

/** Path of the TAP addon the package loads (node-gyp-build: local build, else the prebuild), or null. */
export function findAddon() {
  try {
    return createRequire(import.meta.url)('node-gyp-build').path(fileURLToPath(new URL('../../../', import.meta.url)));
  } catch {
    return null;
  }
}

/** Why this machine cannot run a namespace benchmark, or null when it can. */
export function whyCannotRun({ tap = true, tools = [] } = {}) {
  if (!netns || !existsSync(new URL('../../../dist/host.js', import.meta.url))) return 'dist/ is not built: run `npm run build` first';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TAP devices)';
  if (tap) {
    if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
    if (!findAddon()) return 'the TAP addon is missing (npm install)';
  }
  for (const tool of tools) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool}`;
  }
  return null;
}

/**
 * One benchmark's private networks. `namespace(tag)` makes `tapstack-bench-<tag>-<pid>`
 * with loopback up and IPv6 off (no router solicitations or MLD in the figures).
 */
export class BenchNet {
  constructor() {
    this.spaces = new Map(); // name -> Namespace (dist/netns)
    this.children = new Set();
    this.cleanups = [];
    this.destroyed = false;
    hookExit();
    live.add(this);
  }

  namespace(tag) {
    const space = netns.Namespace.createSync(`bench-${tag}`);
    this.spaces.set(space.name, space);
    return space.name;
  }

  /**
   * Open a TAP device in this process (a TapLink from dist/), move it into `ns` and
   * give the kernel side `kernelCidr`. Returns the link; our stack takes another
   * address of the same prefix.
   */
  async tap(ns, kernelCidr, { mtu = 1500, name, txqueuelen } = {}) {
    const space = this.space(ns);
    const link = await space.openTap({ name, mtu, txqueuelen });
    await space.addAddress(link.name, kernelCidr);
    await space.setUp(link.name);
    return link;
  }

  /** A veth pair: one end in `nsA` with `cidrA`, the other in `nsB` with `cidrB`. */
  veth(nsA, cidrA, nsB, cidrB, { mtu = 1500 } = {}) {
    const a = 'vb0';
    const b = 'vb1';
    for (const cmd of netns.netnsCommands.veth({ ns: nsA, dev: a, cidr: cidrA }, { ns: nsB, dev: b, cidr: cidrB }, { mtu })) {
      netns.ipSync(cmd);
    }
    return { a, b };
  }

  /** Start a command inside `ns`; destroy() kills it if it is still running. */
  spawn(ns, cmd, args = [], opts = {}) {
    if (this.destroyed) throw new Error('BenchNet is destroyed');
    const child = this.space(ns).spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.stdoutText = '';
    child.stderrText = '';
    child.stdout?.setEncoding('utf8').on('data', (s) => (child.stdoutText += s));
    child.stderr?.setEncoding('utf8').on('data', (s) => (child.stderrText += s));
    child.done = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.children.delete(child);
        resolve({ code, signal, stdout: child.stdoutText, stderr: child.stderrText });
      });
      child.once('error', (error) => {
        this.children.delete(child);
        resolve({ code: -1, signal: null, stdout: '', stderr: String(error) });
      });
    });
    return child;
  }

  /** Run a command inside `ns` to the end (killed after timeoutMs). Never throws on its exit code. */
  async exec(ns, cmd, args = [], { timeoutMs = 120_000, ...opts } = {}) {
    const child = this.spawn(ns, cmd, args, opts);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const r = await child.done;
    clearTimeout(timer);
    return r;
  }

  /** Resolve when `child` printed a line matching `re` (or reject when it exits first). */
  waitForLine(child, re, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} from the peer in ${timeoutMs} ms: ${child.stderrText}`)), timeoutMs);
      const check = () => {
        const m = child.stdoutText.match(re);
        if (m) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(m);
        }
      };
      child.stdout.on('data', check);
      child.done.then((r) => {
        clearTimeout(timer);
        reject(new Error(`the peer exited (${r.code ?? r.signal}) before ${re}: ${r.stderr.trim()}`));
      });
      check();
    });
  }

  /**
   * Run `fn` (synchronous) when the networks go away, before the peers are killed:
   * e.g. remove a temp dir, or kill the sessions a forking server left.
   */
  onCleanup(fn) {
    this.cleanups.push(fn);
  }

  /** Run the cleanups, kill peers, close TAPs, delete the namespaces. Safe to call twice. */
  async destroy() {
    this.destroySync();
  }

  destroySync() {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const fn of this.cleanups.reverse()) {
      try {
        fn();
      } catch (error) {
        console.error(`bench: cleanup failed: ${error.message}`);
      }
    }
    this.children.clear();
    // Each namespace kills its peers, closes its TAPs and deletes itself.
    for (const space of this.spaces.values()) space.removeSync();
  }

  space(ns) {
    const space = this.spaces.get(ns);
    if (!space) throw new Error(`${ns} is not a namespace of this BenchNet`);
    return space;
  }
}

/** The kernel's SNMP counters in `ns` (nstat -as: absolute, history untouched). */
export function kernelCounters(ns) {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nstat', '-asz', '-j'], { encoding: 'utf8' });
  try {
    return JSON.parse(r.stdout).kernel ?? {};
  } catch {
    return {};
  }
}

/** "Name=delta" for the counters that grew between two snapshots and match `re`. */
export function counterGrowth(before, after, re) {
  return Object.keys(after)
    .filter((k) => re.test(k) && after[k] - (before[k] ?? 0) > 0)
    .map((k) => `${k}=${after[k] - (before[k] ?? 0)}`);
}
