import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { TapLink } from '../../../src/link/tap.js';
import { Namespace as Lab } from '../../../src/netns/index.js';
import type { ExecOptions, ExecResult } from '../../../src/netns/index.js';

/**
 * A private network for one TAP test: a fresh namespace `tapstack-<tag>-<pid>[-n]`
 * holding the kernel side of one or more TAP devices that THIS process has open.
 * It is built by src/netns, the project's one namespace builder; this file keeps the
 * tests' view of it (createTestNet, createNamespace) unchanged.
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
 *   // builds its own such network, without a kernel address (src/demo/netns.ts)
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

export type { ExecOptions, ExecResult };

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

export async function createNamespace(tag: string, opts: { disableIpv6?: boolean } = {}): Promise<Namespace> {
  const lab = await Lab.create(tag, { disableIpv6: opts.disableIpv6 ?? true });
  return {
    ns: lab.name,
    ip: (args) => lab.ip(args),
    deviceName: (i) => lab.deviceName(i),
    exec: (cmd, args, execOpts) => lab.exec(cmd, args, execOpts),
    spawn: (cmd, args, spawnOpts) => lab.spawn(cmd, args, spawnOpts),
    stopPeers: () => lab.stopPeers(),
    remove: () => lab.remove(),
  };
}

export async function createTestNet(tag: string, opts: TestNetOptions = {}): Promise<TestNet> {
  const tapCount = opts.taps ?? 1;
  const bridge = (opts.bridge ?? tapCount > 1) ? 'br0' : null;
  const mtu = opts.mtu ?? 1500;
  const kernelCidr = opts.kernelCidr ?? '10.0.0.1/24';
  const [kernelIp, prefixText] = kernelCidr.split('/');
  const lab = await Lab.create(tag, { disableIpv6: opts.disableIpv6 ?? true });
  const links: TapLink[] = [];
  try {
    for (let i = 0; i < tapCount; i++) links.push(await lab.openTap({ name: lab.deviceName(i), mtu }));
    const devs = links.map((link) => link.name);
    if (bridge) {
      await lab.addBridge(bridge, { mtu });
      for (const dev of devs) await lab.enslave(dev, bridge);
    }
    const kernelDev = bridge ?? devs[0]!;
    await lab.addAddress(kernelDev, kernelCidr);
    for (const dev of devs) await lab.setUp(dev);
    if (bridge) await lab.setUp(bridge);
    return {
      ns: lab.name,
      link: links[0]!,
      links,
      dev: devs[0]!,
      devs,
      bridge,
      kernelIp: kernelIp!,
      prefix: Number(prefixText ?? '32'),
      kernelDev,
      exec: (cmd, args, execOpts) => lab.exec(cmd, args, execOpts),
      spawn: (cmd, args, spawnOpts) => lab.spawn(cmd, args, spawnOpts),
      // Peers stopped, links closed, namespace deleted; every step runs, safe twice.
      destroy: () => lab.remove(),
    };
  } catch (error) {
    await lab.remove().catch(() => {});
    throw error;
  }
}
