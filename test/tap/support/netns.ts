import { spawn as spawnChild, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { TapLink } from '../../../src/link/tap.js';

/**
 * A private network for one TAP test: a fresh namespace `tapstack-<tag>-<pid>[-n]`
 * holding the kernel side of one or more TAP devices that THIS process has open.
 *
 * The device is created by our process (in the root namespace, unconfigured, for a
 * moment) and moved into the namespace with `ip link set DEV netns NS`: the file
 * descriptor keeps working, and every address, route and peer lives in the namespace.
 * Nothing is configured in the root namespace. Deleting the namespace (or closing
 * the fd) removes the devices; `destroy()` does both, and an exit hook deletes any
 * namespace a crashed test left behind.
 *
 *   const net = await createTestNet('arp');          // tap <-> kernel 10.0.0.1/24
 *   net.link.onReceive(...)                          // our side; use 10.0.0.2
 *   await net.exec('ping', ['-c', '1', '10.0.0.2']);  // kernel side, inside the ns
 *   await net.destroy();
 *
 *   // two stacks on one bridge br0 (10.0.0.1/24), one TAP each; `tapstack demo`
 *   // builds its own such network, without a kernel address, in src/demo/netns.ts
 *   const net = await createTestNet('bridge', { taps: 2, bridge: true });
 *   net.links[0], net.links[1]
 */

export interface TestNetOptions {
  /** How many TAP devices (default 1). More than one implies `bridge: true`. */
  taps?: number;
  /** Enslave the TAPs to a bridge `br0` and put the kernel address on it. */
  bridge?: boolean;
  /** Kernel-side address with prefix (default 10.0.0.1/24). */
  kernelCidr?: string;
  /** Disable IPv6 in the namespace so the kernel sends no RS/MLD (default true). */
  disableIpv6?: boolean;
  /** MTU for the TapLinks and the kernel side (default 1500). */
  mtu?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; null if killed by a signal (then `signal` says which). */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  input?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface TestNet {
  /** Namespace name, e.g. tapstack-arp-1234. */
  readonly ns: string;
  /** The first TAP link (our side). */
  readonly link: TapLink;
  /** All TAP links, in order. */
  readonly links: readonly TapLink[];
  /** Name of the first TAP device (as the kernel inside `ns` calls it). */
  readonly dev: string;
  readonly devs: readonly string[];
  /** The bridge name, or null without a bridge. */
  readonly bridge: string | null;
  /** Kernel-side address, e.g. "10.0.0.1", and its prefix length. */
  readonly kernelIp: string;
  readonly prefix: number;
  /** The interface that carries the kernel address (the TAP, or the bridge). */
  readonly kernelDev: string;
  /** Run a command inside the namespace and wait for it. Never throws on exit code. */
  exec(cmd: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start a long-running peer inside the namespace; destroy() kills it. */
  spawn(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Close the links, kill peers, delete the namespace. Safe to call twice. */
  destroy(): Promise<void>;
}

/**
 * An empty namespace `tapstack-<tag>-<pid>[-n]` with lo up (and, by default, IPv6 off):
 * the part every TAP test shares, whoever opens the TAP devices. `createTestNet` puts
 * devices this process has open into it; test/tap/support/cli.ts makes a persistent
 * TAP inside it for the compiled CLI to open.
 */
export interface Namespace {
  /** Namespace name, e.g. tapstack-arp-1234. */
  readonly ns: string;
  /** `ip -n NS ARGS`; throws with ip's message if it fails. */
  ip(args: readonly string[]): Promise<void>;
  /** A TAP device name unique to this process and namespace (at most 15 characters). */
  deviceName(i: number): string;
  /** Run a command inside the namespace and wait for it. Never throws on exit code. */
  exec(cmd: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start a long-running process inside the namespace; stopPeers() kills it. */
  spawn(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Kill every process spawn() started that is still running. */
  stopPeers(): Promise<void>;
  /** Delete the namespace and every device still in it. Safe to call twice. */
  remove(): Promise<void>;
}

// Namespaces this process made and has not deleted yet: removed on exit as a
// last resort (a test that crashed before its afterAll).
const liveNamespaces = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const ns of liveNamespaces) spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  });
}

let counter = 0;

/** Run `ip ARGS` (in the root namespace only for `netns` and `link set DEV netns`). */
function ip(args: readonly string[]): Promise<void> {
  return run('ip', args, {}).then((r) => {
    if (r.code !== 0) {
      throw new Error(`ip ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    }
  });
}

function run(cmd: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        signal,
      });
    });
    child.stdin!.on('error', () => {}); // the command may exit before reading input
    child.stdin!.end(opts.input ?? '');
  });
}

/** A device name unique to this process and call, at most 15 characters. */
function deviceName(n: number, i: number): string {
  return `ts${process.pid.toString(36)}${n.toString(36)}t${i}`.slice(0, 15);
}

export async function createNamespace(
  tag: string,
  opts: { disableIpv6?: boolean } = {},
): Promise<Namespace> {
  if (!/^[a-z0-9-]{1,24}$/.test(tag)) {
    throw new Error(`namespace tag must be 1-24 of [a-z0-9-], got "${tag}"`);
  }
  const n = counter++;
  const ns = `tapstack-${tag}-${process.pid}${n === 0 ? '' : `-${n}`}`;
  const peers = new Set<ChildProcess>();
  let removed = false;

  const inNs = (args: readonly string[]) => ip(['-n', ns, ...args]);
  const sysctl = (key: string, value: string) =>
    run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`], {}).then((r) => {
      if (r.code !== 0) throw new Error(`sysctl ${key}=${value} in ${ns}: ${r.stderr.trim()}`);
    });

  const space: Namespace = {
    ns,
    ip: inNs,
    deviceName: (i) => deviceName(n, i),
    exec: (cmd, args = [], execOpts = {}) => run('ip', ['netns', 'exec', ns, cmd, ...args], execOpts),
    spawn: (cmd, args = [], spawnOpts = {}) => {
      if (removed) throw new Error(`${ns} is destroyed`);
      const child = spawnChild('ip', ['netns', 'exec', ns, cmd, ...args], {
        stdio: 'pipe',
        ...spawnOpts,
      });
      peers.add(child);
      child.on('exit', () => peers.delete(child));
      child.on('error', () => peers.delete(child));
      return child;
    },
    stopPeers: async () => {
      await Promise.all([...peers].map(killPeer));
    },
    remove: async () => {
      removed = true;
      if (!liveNamespaces.has(ns)) return;
      const r = await run('ip', ['netns', 'delete', ns], {});
      if (r.code !== 0) throw new Error(`ip netns delete ${ns}: ${r.stderr.trim()}`);
      liveNamespaces.delete(ns);
    },
  };

  installExitHook();
  await ip(['netns', 'add', ns]);
  liveNamespaces.add(ns);
  try {
    await inNs(['link', 'set', 'lo', 'up']);
    if (opts.disableIpv6 ?? true) {
      // Devices that arrive later take the namespace defaults.
      await sysctl('net.ipv6.conf.default.disable_ipv6', '1');
      await sysctl('net.ipv6.conf.all.disable_ipv6', '1');
    }
  } catch (error) {
    await space.remove().catch(() => {});
    throw error;
  }
  return space;
}

export async function createTestNet(tag: string, opts: TestNetOptions = {}): Promise<TestNet> {
  const tapCount = opts.taps ?? 1;
  const useBridge = opts.bridge ?? tapCount > 1;
  const mtu = opts.mtu ?? 1500;
  const kernelCidr = opts.kernelCidr ?? '10.0.0.1/24';
  const [kernelIp, prefixText] = kernelCidr.split('/');
  const prefix = Number(prefixText ?? '32');
  const space = await createNamespace(tag, { disableIpv6: opts.disableIpv6 ?? true });
  const { ns, ip: inNs } = space;

  const links: TapLink[] = [];
  const devs: string[] = [];
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    // Every step runs even if an earlier one failed: the namespace must go.
    const failures: unknown[] = [];
    await space.stopPeers();
    for (const link of links) {
      try {
        await link.close();
      } catch (e) {
        failures.push(e);
      }
    }
    // Closing the fds already removed the TAPs; deleting the namespace removes
    // the bridge and anything else left inside it.
    await space.remove().catch((e: unknown) => failures.push(e));
    if (failures.length > 0) throw failures[0];
  };

  try {
    for (let i = 0; i < tapCount; i++) {
      const dev = space.deviceName(i);
      const link = TapLink.open({ name: dev, mtu });
      links.push(link);
      devs.push(link.name);
      // The fd stays valid across the move; from now on the device lives in `ns`.
      await ip(['link', 'set', link.name, 'netns', ns]);
      await inNs(['link', 'set', link.name, 'mtu', String(mtu)]);
    }
    const bridge = useBridge ? 'br0' : null;
    if (bridge) {
      await inNs(['link', 'add', bridge, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
      await inNs(['link', 'set', bridge, 'mtu', String(mtu)]);
      for (const dev of devs) await inNs(['link', 'set', dev, 'master', bridge]);
    }
    const kernelDev = bridge ?? devs[0]!;
    await inNs(['addr', 'add', kernelCidr, 'dev', kernelDev]);
    for (const dev of devs) await inNs(['link', 'set', dev, 'up']);
    if (bridge) await inNs(['link', 'set', bridge, 'up']);

    const net: TestNet = {
      ns,
      link: links[0]!,
      links,
      dev: devs[0]!,
      devs,
      bridge,
      kernelIp: kernelIp!,
      prefix,
      kernelDev,
      exec: space.exec,
      spawn: space.spawn,
      destroy,
    };
    return net;
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** SIGTERM, then SIGKILL if the peer has not exited after a second. */
function killPeer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 1000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
