import { spawn as spawnChild, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { TapLink } from '../link/tap.js';
import * as build from './commands.js';
import { forget, track } from './cleanup.js';
import { ip, ipSync, listNamespaces, listNamespacesSync, run, type ExecOptions, type ExecResult } from './exec.js';

/**
 * A network namespace of our own: the one way tapstack builds private networks for
 * the demo, the TAP tests, the benchmarks, the soak script and `tapstack netns`.
 *
 *   const ns = await Namespace.create('arp');           // tapstack-arp-<pid>, lo up, IPv6 off
 *   const link = await ns.openTap({ mtu: 1500 });       // a TAP this process holds, moved in
 *   await ns.addAddress(link.name, '10.0.0.1/24');      // the kernel side
 *   await ns.setUp(link.name);
 *   await ns.exec('ping', ['-c', '1', '10.0.0.2']);     // runs inside the namespace
 *   await ns.remove();                                  // also on exit, and on failure
 *
 * A TAP device opened by this process is created in the root namespace, unconfigured,
 * and moved in at once (`ip link set DEV netns NS`): its file descriptor keeps
 * working, and every address, route and peer lives inside. Removing the namespace
 * deletes every device in it.
 */

export interface NamespaceOptions {
  /**
   * The exact name, instead of `tapstack-<tag>-<pid>[-n]`. Refused if such a
   * namespace exists already: it may be someone else's, and we never delete that.
   */
  name?: string;
  /** Disable IPv6 so the kernel sends no router solicitations or MLD (default true). */
  disableIpv6?: boolean;
  /**
   * Outlive this process (`tapstack netns up`): not removed on exit or signal. It is
   * still removed if building it fails.
   */
  persistent?: boolean;
}

export interface TapOpenOptions {
  /** Device name (at most 15 characters); default `deviceName(n)` for the next n. */
  name?: string;
  /** MTU of both our TapLink and the kernel side (default 1500). */
  mtu?: number;
  /** The kernel side's transmit queue (frames towards us) when not the default. */
  txqueuelen?: number;
}

let created = 0;

/** A namespace name's shape; `ip netns` itself accepts more, we do not need to. */
const NAME = /^tapstack-[a-z0-9-]{1,40}$/;

export class Namespace {
  private readonly peers = new Set<ChildProcess>();
  private readonly links: TapLink[] = [];
  private readonly cleanups: (() => void)[] = [];
  private removed = false;
  private devices = 0;

  private constructor(
    /** e.g. tapstack-arp-1234 */
    readonly name: string,
    private readonly serial: number,
  ) {}

  /** Make the namespace (lo up, IPv6 off unless asked). */
  static async create(tag: string, options: NamespaceOptions = {}): Promise<Namespace> {
    const space = Namespace.claim(tag, options);
    if (options.name !== undefined && (await listNamespaces()).includes(space.name)) throw exists(space.name);
    const [add, ...rest] = build.namespace(space.name, options);
    await ip(add!);
    if (!options.persistent) track(space.name, () => space.removeSync());
    try {
      await space.runAll(rest);
    } catch (error) {
      await space.remove().catch(() => {});
      throw error;
    }
    return space;
  }

  /** The same, synchronously, for callers with a synchronous API (the benchmarks). */
  static createSync(tag: string, options: NamespaceOptions = {}): Namespace {
    const space = Namespace.claim(tag, options);
    if (options.name !== undefined && listNamespacesSync().includes(space.name)) throw exists(space.name);
    const [add, ...rest] = build.namespace(space.name, options);
    ipSync(add!);
    if (!options.persistent) track(space.name, () => space.removeSync());
    try {
      for (const cmd of rest) ipSync(cmd);
    } catch (error) {
      space.removeSync();
      throw error;
    }
    return space;
  }

  private static claim(tag: string, options: NamespaceOptions): Namespace {
    if (!/^[a-z0-9-]{1,24}$/.test(tag)) throw new Error(`namespace tag must be 1-24 of [a-z0-9-], got "${tag}"`);
    const serial = created++;
    const name = options.name ?? `tapstack-${tag}-${process.pid}${serial === 0 ? '' : `-${serial}`}`;
    if (!NAME.test(name)) throw new Error(`namespace name must look like tapstack-[a-z0-9-], got "${name}"`);
    return new Namespace(name, serial);
  }

  /** `ip -n NAME ARGS`; throws with ip's message. */
  ip(args: readonly string[]): Promise<void> {
    return ip(['-n', this.name, ...args]);
  }

  /** `sysctl -w KEY=VALUE` inside (the namespace's own copy, never the host's). */
  async sysctl(key: string, value: string): Promise<void> {
    const r = await this.exec('sysctl', ['-qw', `${key}=${value}`]);
    if (r.code !== 0) throw new Error(`sysctl ${key}=${value} in ${this.name}: ${r.stderr.trim()}`);
  }

  /** A device name unique to this process and namespace, at most 15 characters. */
  deviceName(i: number): string {
    return `ts${process.pid.toString(36)}${this.serial.toString(36)}t${i}`.slice(0, 15);
  }

  /** Run a command inside and wait for it. Never throws on its exit code. */
  exec(cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Start a long-running command inside; remove() (or stopPeers()) ends it. */
  spawn(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    if (this.removed) throw new Error(`${this.name} is removed`);
    const child = spawnChild('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...opts });
    this.peers.add(child);
    child.on('exit', () => this.peers.delete(child));
    child.on('error', () => this.peers.delete(child));
    return child;
  }

  /** SIGTERM every command spawn() started that still runs (SIGKILL after 1 s). */
  async stopPeers(): Promise<void> {
    await Promise.all([...this.peers].map(stopPeer));
  }

  /**
   * Open a TAP device in THIS process and move it inside, with the MTU set on the
   * kernel side too. Returns our end; the kernel's end is named `link.name` inside.
   */
  async openTap(opts: TapOpenOptions = {}): Promise<TapLink> {
    const mtu = opts.mtu ?? 1500;
    const link = TapLink.open({ name: opts.name ?? this.deviceName(this.devices++), mtu });
    this.links.push(link);
    await this.runAll([...build.moveInto(this.name, link.name), ...build.configureDevice(this.name, link.name, { mtu, txqueuelen: opts.txqueuelen })]);
    return link;
  }

  /** A persistent TAP device made inside, for another process to open by name. */
  addPersistentTap(dev: string, opts: { txqueuelen?: number } = {}): Promise<void> {
    return this.runAll([...build.persistentTap(this.name, dev), ...build.configureDevice(this.name, dev, opts)]);
  }

  addBridge(name: string, opts: { multicast?: boolean; mtu?: number } = {}): Promise<void> {
    return this.runAll(build.bridge(this.name, name, opts));
  }

  enslave(dev: string, bridge: string): Promise<void> {
    return this.runAll(build.enslave(this.name, dev, bridge));
  }

  addAddress(dev: string, cidr: string): Promise<void> {
    return this.runAll(build.address(this.name, dev, cidr));
  }

  setUp(dev: string): Promise<void> {
    return this.runAll(build.up(this.name, dev));
  }

  /** A veth pair from here (`local`) to `peer` (`remote`), addressed and up. */
  addVeth(peer: Namespace, local: { dev: string; cidr?: string }, remote: { dev: string; cidr?: string }, opts: { mtu?: number } = {}): Promise<void> {
    return this.runAll(build.veth({ ns: this.name, ...local }, { ns: peer.name, ...remote }, opts));
  }

  /** Run `fn` when the namespace goes, before its peers are killed (e.g. remove a temp dir). */
  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /**
   * Run the cleanups, stop the peers, close our TAP devices and delete the namespace
   * with everything in it. Every step runs even if one fails. Safe to call twice.
   */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    const failures: unknown[] = [];
    this.runCleanups(failures);
    await this.stopPeers();
    for (const link of this.links) await link.close().catch((e: unknown) => failures.push(e));
    const r = await run('ip', ['netns', 'delete', this.name]);
    // "No such file": it is gone already, which is what we wanted.
    if (r.code !== 0 && !/No such file/.test(r.stderr)) failures.push(new Error(`ip netns delete ${this.name}: ${r.stderr.trim()}`));
    forget(this.name);
    if (failures.length > 0) throw failures[0];
  }

  /** The same without waiting (exit hooks, synchronous callers): peers get SIGKILL. */
  removeSync(): void {
    if (this.removed) return;
    this.removed = true;
    this.runCleanups([]);
    for (const child of this.peers) child.kill('SIGKILL');
    this.peers.clear();
    for (const link of this.links) link.close().catch(() => {});
    spawnSync('ip', ['netns', 'delete', this.name], { stdio: 'ignore' });
    forget(this.name);
  }

  private runCleanups(failures: unknown[]): void {
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch (error) {
        failures.push(error);
      }
    }
  }

  private async runAll(cmds: readonly build.IpCommand[]): Promise<void> {
    for (const cmd of cmds) await ip(cmd);
  }
}

function exists(name: string): Error {
  return new Error(`network namespace ${name} already exists (left by a run that was killed, or made by hand); remove it with: ip netns del ${name}`);
}

/** Remove a namespace by name if it exists (`tapstack netns down`): idempotent. */
export async function deleteNamespace(name: string): Promise<boolean> {
  if (!(await listNamespaces()).includes(name)) return false;
  await ip(['netns', 'delete', name]);
  return true;
}

/** SIGTERM, then SIGKILL if the peer has not exited after a second. */
function stopPeer(child: ChildProcess): Promise<void> {
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
