/**
 * How each piece of a lab network is built, as the `ip` commands that build it
 * (argument lists, not yet run). Namespace runs them asynchronously; the benchmark's
 * synchronous BenchNet runs the very same lists with ipSync, so the recipe lives here
 * once.
 *
 * Every command names its namespace (`ip -n NS ...`): nothing is configured in the
 * root namespace. The one exception is `moveInto`, which moves a device this process
 * created (unconfigured) out of the root namespace.
 */

export type IpCommand = readonly string[];

/**
 * A new namespace: `netns add` (always the first command: once it ran, the namespace
 * exists and must be removed again on failure), loopback up, and by default IPv6 off
 * so that the kernel sends no router solicitations or MLD. The sysctls are the
 * namespace's own copy (`ip netns exec NS sysctl`); devices added later take the
 * `default` value.
 */
export function namespace(ns: string, opts: { disableIpv6?: boolean } = {}): IpCommand[] {
  const cmds: IpCommand[] = [['netns', 'add', ns], ...up(ns, 'lo')];
  if (opts.disableIpv6 ?? true) {
    cmds.push(['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
  }
  return cmds;
}

/** A device that exists in the root namespace for an instant moves into `ns`. */
export function moveInto(ns: string, dev: string): IpCommand[] {
  return [['link', 'set', dev, 'netns', ns]];
}

/** MTU and, when given, the transmit queue length of a device inside `ns`. */
export function configureDevice(ns: string, dev: string, opts: { mtu?: number; txqueuelen?: number }): IpCommand[] {
  const cmds: IpCommand[] = [];
  if (opts.mtu !== undefined) cmds.push(['-n', ns, 'link', 'set', dev, 'mtu', String(opts.mtu)]);
  if (opts.txqueuelen !== undefined) cmds.push(['-n', ns, 'link', 'set', dev, 'txqueuelen', String(opts.txqueuelen)]);
  return cmds;
}

/** A persistent TAP device created inside `ns`, for a process that opens it by name later. */
export function persistentTap(ns: string, dev: string): IpCommand[] {
  return [['-n', ns, 'tuntap', 'add', 'dev', dev, 'mode', 'tap']];
}

/**
 * A bridge that forwards at once (no STP listening phase). Without multicast the
 * kernel does not announce itself with IGMP reports, frames a lesson does not expect.
 */
export function bridge(ns: string, name: string, opts: { multicast?: boolean; mtu?: number } = {}): IpCommand[] {
  const multicast = opts.multicast ?? true;
  const cmds: IpCommand[] = [
    ['-n', ns, 'link', 'add', name, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0', ...(multicast ? [] : ['mcast_snooping', '0'])],
  ];
  if (!multicast) cmds.push(['-n', ns, 'link', 'set', name, 'multicast', 'off']);
  cmds.push(...configureDevice(ns, name, { mtu: opts.mtu }));
  return cmds;
}

export function enslave(ns: string, dev: string, master: string): IpCommand[] {
  return [['-n', ns, 'link', 'set', dev, 'master', master]];
}

export function address(ns: string, dev: string, cidr: string): IpCommand[] {
  return [['-n', ns, 'addr', 'add', cidr, 'dev', dev]];
}

export function up(ns: string, dev: string): IpCommand[] {
  return [['-n', ns, 'link', 'set', dev, 'up']];
}

export interface VethEnd {
  ns: string;
  dev: string;
  /** Address with prefix, e.g. 10.9.0.1/24; none when omitted. */
  cidr?: string;
}

/**
 * A veth pair between two namespaces, addressed and up. It is created inside `a.ns`
 * and one end moves to `b.ns`: it never exists in the root namespace.
 */
export function veth(a: VethEnd, b: VethEnd, opts: { mtu?: number } = {}): IpCommand[] {
  const mtu = opts.mtu === undefined ? [] : ['mtu', String(opts.mtu)];
  const cmds: IpCommand[] = [
    ['-n', a.ns, 'link', 'add', a.dev, ...mtu, 'type', 'veth', 'peer', 'name', b.dev, ...mtu],
    ['-n', a.ns, 'link', 'set', b.dev, 'netns', b.ns],
  ];
  for (const end of [a, b]) {
    if (end.cidr) cmds.push(...address(end.ns, end.dev, end.cidr));
    cmds.push(...up(end.ns, end.dev));
  }
  return cmds;
}
