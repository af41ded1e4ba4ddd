import type { TapLink } from '../link/tap.js';
import { Namespace } from '../netns/index.js';

/**
 * The demo's private network for TAP mode: one namespace (`tapstack-demo`) with a
 * bridge and two TAP devices, one per stack. Both stacks live in this process; the
 * kernel only forwards their frames across the bridge, like a switch, and has no
 * address of its own there (IPv6 and multicast off, so it sends nothing).
 *
 * src/netns builds it: each device is opened by our process and moved at once into
 * the namespace, which is deleted on destroy(), on exit and on error (Ctrl-C is the
 * demo command's to handle: it unwinds to destroy()).
 */
export interface DemoNetwork {
  readonly ns: string;
  readonly links: [TapLink, TapLink];
  destroy(): Promise<void>;
}

export async function createDemoNetwork(ns = 'tapstack-demo'): Promise<DemoNetwork> {
  // A fixed name: refused if it exists, since it may be someone's (or a killed demo's).
  const space = await Namespace.create('demo', { name: ns });
  try {
    // No multicast on the bridge: without it the kernel announces itself with an IGMP
    // report, a frame that is not part of the session.
    await space.addBridge('br0', { multicast: false });
    const links: TapLink[] = [];
    for (let i = 0; i < 2; i++) {
      // Interface names are at most 15 bytes; the pid keeps two demos apart.
      const link = await space.openTap({ name: `tsdemo${process.pid % 100000}${i}` });
      links.push(link);
      await space.enslave(link.name, 'br0');
      await space.setUp(link.name);
    }
    await space.setUp('br0');
    return { ns: space.name, links: links as [TapLink, TapLink], destroy: () => space.remove() };
  } catch (err) {
    await space.remove().catch(() => {});
    throw err;
  }
}
