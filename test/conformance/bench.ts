import { execFileSync } from 'node:child_process';
import { createHost } from '../../src/host.js';
import { TapLink } from '../../src/link/tap.js';
import { parseIpv4, parseMac } from '../../src/wire/address.js';
import { createNamespace, type Namespace } from '../tap/support/netns.js';
import { Prober, PROBER_DUT_PY, type ProberIdentity } from '../support/prober.js';
import { LinuxDut, TapstackDut, type Dut } from './dut.js';

/**
 * The conformance bench: two devices under test at 10.0.0.1, each reached by its own
 * prober that pretends to be 10.0.0.2.
 *
 *   tapstack-conf-PID (no IP addresses: the kernel here answers nothing)
 *     TAP  <-- fd --> our Host (in this process)          prober on the TAP
 *     veth vp <----------------------------+               prober on vp
 *   tapstack-conflx-PID                    |
 *     veth vd 10.0.0.1/24 (Linux) <--------+              prober-dut.py (sockets)
 *
 * Offloads are off on the veth pair so that Linux puts real, checksummed, MSS-sized
 * segments on it (TSO/GSO would hand the prober 64 KB "frames"), and so that it checks
 * the checksums of what the prober sends (a veth otherwise marks them as verified).
 */

export const DUT_IP = parseIpv4('10.0.0.1')!;
/** Both duts use the same MAC too, so a probe's frames are the same bytes on either wire. */
const DUT_MAC = '02:00:00:00:00:01';
export const PROBER: ProberIdentity = { ip: parseIpv4('10.0.0.2')!, mac: parseMac('02:00:00:00:00:02')! };

export interface BenchSide {
  dut: Dut;
  prober: Prober;
}

export interface Bench {
  /** tapstack first, then Linux. */
  sides: BenchSide[];
  destroy(): Promise<void>;
}

const OFFLOADS_OFF = ['tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off', 'sg', 'off'];

export async function createBench(): Promise<Bench> {
  const cleanups: (() => Promise<void>)[] = [];
  const destroy = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const probeNs = await createNamespace('conf');
    cleanups.push(() => probeNs.remove());
    cleanups.push(() => probeNs.stopPeers());

    // Our stack behind a TAP whose kernel side has no address.
    const tapName = probeNs.deviceName(0);
    const link = TapLink.open({ name: tapName, mtu: 1500 });
    const host = createHost({
      link,
      address: '10.0.0.1',
      prefixLength: 24,
      mac: DUT_MAC,
      // As Linux's default receive buffer offers about 64 KB at first: the zero-window
      // probes fill it in one flight.
      tcp: { receiveBufferBytes: 64 * 1024 },
    });
    cleanups.push(() => host.close());
    // The device appeared in the root namespace, unconfigured: move it at once (the fd keeps working).
    execFileSync('ip', ['link', 'set', tapName, 'netns', probeNs.ns]);
    await probeNs.ip(['link', 'set', tapName, 'up']);
    const tapProber = await Prober.start(probeNs.spawn, tapName, PROBER);
    cleanups.push(() => tapProber.close());

    // Linux behind a veth pair.
    const linuxNs = await createNamespace('conflx');
    cleanups.push(() => linuxNs.remove());
    cleanups.push(() => linuxNs.stopPeers());
    await probeNs.ip(['link', 'add', 'vp', 'type', 'veth', 'peer', 'name', 'vd', 'netns', linuxNs.ns]);
    await linuxNs.ip(['addr', 'add', '10.0.0.1/24', 'dev', 'vd']);
    await linuxNs.ip(['link', 'set', 'vd', 'address', DUT_MAC]);
    await ethtool(linuxNs, 'vd');
    await ethtool(probeNs, 'vp');
    await linuxNs.ip(['link', 'set', 'vd', 'up']);
    await probeNs.ip(['link', 'set', 'vp', 'up']);
    const vethProber = await Prober.start(probeNs.spawn, 'vp', PROBER);
    cleanups.push(() => vethProber.close());
    const agent = linuxNs.spawn('python3', ['-u', PROBER_DUT_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
    const linux = await LinuxDut.start(agent, parseMac(DUT_MAC)!);
    cleanups.push(() => linux.stop());

    return {
      sides: [
        { dut: new TapstackDut(host), prober: tapProber },
        { dut: linux, prober: vethProber },
      ],
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

async function ethtool(space: Namespace, dev: string): Promise<void> {
  const r = await space.exec('ethtool', ['-K', dev, ...OFFLOADS_OFF]);
  if (r.code !== 0) throw new Error(`ethtool -K ${dev} in ${space.ns}: ${r.stderr.trim()}`);
}
