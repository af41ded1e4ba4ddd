// An offload TAP for the benchmarks (TapOptions.offload: IFF_VNET_HDR + TUNSETOFFLOAD,
// 64 KiB TCP super-frames both ways). BenchNet.tap() opens plain devices; this opens
// one the same way (in this process, moved into `ns` at once, nothing configured in
// the root namespace) and BenchNet's cleanup closes it.

import { ip } from './netns.mjs';

let opened = 0;

/** An offload TapLink (from dist/) whose kernel side is `kernelCidr` inside `ns`. */
export async function offloadTap(net, ns, kernelCidr) {
  const { TapLink } = await import('../../../dist/link/tap.js');
  const link = TapLink.open({ name: `tso${process.pid.toString(36)}${opened++}`.slice(0, 15), offload: true });
  net.onCleanup(() => void link.close());
  ip(['link', 'set', link.name, 'netns', ns]);
  ip(['-n', ns, 'addr', 'add', kernelCidr, 'dev', link.name]);
  ip(['-n', ns, 'link', 'set', link.name, 'up']);
  return link;
}

/**
 * What createHost needs on top for an offload link: the CLI's own choice for
 * `--offload` (src/cli/common.ts), so the benchmark measures what users get.
 */
export async function offloadHostOptions(link) {
  const { offloadHostOptions: forCli } = await import('../../../dist/cli/common.js');
  return forCli(link);
}
