import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { TapLink } from '../link/tap.js';

const run = promisify(execFile);

/**
 * The demo's private network for TAP mode: one namespace (`tapstack-demo`) with a
 * bridge and two TAP devices, one per stack. Both stacks live in this process; the
 * kernel only forwards their frames across the bridge, like a switch, and has no
 * address of its own there (IPv6 and multicast off, so it sends nothing).
 *
 * Each device is created by our process (TUNSETIFF, in the root namespace for an
 * instant, unconfigured) and moved at once into the namespace: the file descriptor
 * keeps working, and every setting lives inside the namespace, which is deleted on
 * exit, on Ctrl-C and on error.
 */
export interface DemoNetwork {
  readonly ns: string;
  readonly links: [TapLink, TapLink];
  destroy(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

function deleteNamespaceSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

export async function createDemoNetwork(ns = 'tapstack-demo'): Promise<DemoNetwork> {
  // Never delete a namespace we did not create in this run: it may be someone's.
  // `ip netns list` prints "NAME" or "NAME (id: N)": match the whole name, so that
  // tapstack-demo-1234 (a test's) does not count as tapstack-demo.
  const existing = (await run('ip', ['netns', 'list'])).stdout;
  if (new RegExp(`^${ns}( |$)`, 'm').test(existing)) {
    throw new Error(`network namespace ${ns} already exists (left by a demo that was killed, or made by hand); remove it with: ip netns del ${ns}`);
  }
  await ip(['netns', 'add', ns]);
  const links: TapLink[] = [];
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', onExit);
    for (const link of links) await link.close().catch(() => undefined);
    deleteNamespaceSync(ns);
  };
  // If the process dies without reaching destroy(), still remove the namespace.
  const onExit = (): void => deleteNamespaceSync(ns);
  process.on('exit', onExit);

  try {
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    // No multicast on the bridge: without it the kernel announces itself with an IGMP
    // report, a frame that is not part of the session.
    await ip(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'mcast_snooping', '0']);
    await ip(['-n', ns, 'link', 'set', 'br0', 'multicast', 'off']);
    for (let i = 0; i < 2; i++) {
      // Interface names are at most 15 bytes; the pid keeps two demos apart.
      const link = TapLink.open({ name: `tsdemo${process.pid % 100000}${i}` });
      links.push(link);
      await ip(['link', 'set', link.name, 'netns', ns]);
      await ip(['-n', ns, 'link', 'set', link.name, 'master', 'br0', 'up']);
    }
    await ip(['-n', ns, 'link', 'set', 'br0', 'up']);
  } catch (err) {
    await destroy();
    throw err;
  }
  return { ns, links: links as [TapLink, TapLink], destroy };
}
