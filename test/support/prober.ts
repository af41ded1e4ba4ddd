import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Ipv4Address } from '../../src/wire/address.js';
import { ARP_REPLY, ARP_REQUEST, encodeArp, parseArp } from '../../src/wire/arp.js';
import { encodeEthernet, ETHERTYPE_ARP, parseEthernet } from '../../src/wire/ethernet.js';

/**
 * The prober of the conformance suite: a raw AF_PACKET socket (test/support/prober.py,
 * one long-lived python process) on an interface inside a test namespace, driven from
 * the test. `send` puts one crafted frame on the wire; every frame the device under
 * test sends reaches the subscribers with its capture time. The prober pretends to be
 * one host (`self`) and answers ARP requests for it, so the dut can reach it.
 *
 * Times are milliseconds of CLOCK_REALTIME, both taken by prober.py: when it hands a
 * frame to the kernel, and the kernel's receive timestamp of a captured one. So a
 * send time and a capture time can be subtracted, and a busy machine that delays
 * the python process or this one does not add to the difference.
 */

export interface CapturedFrame {
  /** Kernel receive time, ms (CLOCK_REALTIME). */
  at: number;
  bytes: Uint8Array;
}

export interface ProberIdentity {
  mac: Uint8Array;
  ip: Ipv4Address;
}

/** Runs a command inside the test namespace (Namespace.spawn of test/tap/support/netns.ts). */
export type NamespaceSpawn = (cmd: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

const here = dirname(fileURLToPath(import.meta.url));
export const PROBER_PY = join(here, 'prober.py');
export const PROBER_DUT_PY = join(here, 'prober-dut.py');

export class Prober {
  private readonly subscribers = new Set<(frame: CapturedFrame) => void>();
  /** Sends not yet confirmed by prober.py, oldest first (it answers them in order). */
  private readonly unconfirmed: ((at: number) => void)[] = [];
  private closed = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly self: ProberIdentity,
  ) {}

  /** Start the prober on `ifname` and wait until its socket is bound. */
  static async start(spawn: NamespaceSpawn, ifname: string, self: ProberIdentity): Promise<Prober> {
    const child = spawn('python3', ['-u', PROBER_PY, ifname], { stdio: ['pipe', 'pipe', 'pipe'] });
    const prober = new Prober(child, self);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`prober on ${ifname} exited (${code}): ${stderr}`)));
      lines.on('line', (line) => {
        if (line === 'ready') return resolve();
        const [kind, time, hex] = line.split(' ');
        const at = Number(time) * 1000;
        if (kind === 's') prober.unconfirmed.shift()?.(at);
        else prober.deliver({ at, bytes: Uint8Array.from(Buffer.from(hex!, 'hex')) });
      });
    });
    return prober;
  }

  /** Put one frame on the wire; resolves with the time it left (ms), once prober.py says. */
  send(frame: Uint8Array): Promise<number> {
    if (this.closed) throw new Error('prober is closed');
    const sent = new Promise<number>((resolve) => this.unconfirmed.push(resolve));
    this.child.stdin!.write(Buffer.from(frame).toString('hex') + '\n');
    return sent;
  }

  /** Call `fn` with every frame the dut sends from now on; returns the unsubscribe. */
  subscribe(fn: (frame: CapturedFrame) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Stop the python process (closing its stdin makes it exit). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const hard = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(hard);
  }

  private deliver(frame: CapturedFrame): void {
    this.answerArp(frame.bytes);
    for (const fn of this.subscribers) fn(frame);
  }

  /** Answer "who has self.ip?" so that the dut can send to the host we pretend to be. */
  private answerArp(bytes: Uint8Array): void {
    const eth = parseEthernet(bytes);
    if (!eth.ok || eth.value.etherType !== ETHERTYPE_ARP) return;
    const arp = parseArp(eth.value.payload);
    if (!arp.ok || arp.value.operation !== ARP_REQUEST || arp.value.targetIp !== this.self.ip) return;
    const reply = encodeArp({
      operation: ARP_REPLY,
      senderMac: this.self.mac,
      senderIp: this.self.ip,
      targetMac: arp.value.senderMac,
      targetIp: arp.value.senderIp,
    });
    void this.send(encodeEthernet({ dst: arp.value.senderMac, src: this.self.mac, etherType: ETHERTYPE_ARP }, reply));
  }
}
