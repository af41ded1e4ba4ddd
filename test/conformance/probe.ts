import type { TcpOptions } from '../../src/wire/tcp.js';
import type { BenchSide } from './bench.js';
import type { Dut, ListenOptions } from './dut.js';
import { TcpPeer } from './peer.js';
import { Wire, type Seg } from './wire.js';

/**
 * A probe: one rule of an RFC, one crafted exchange, one verdict. The same `run`
 * goes against each dut; its verdict says whether the dut met `expected` and what
 * it did (`saw`, one short line for the table).
 */
export interface Verdict {
  ok: boolean;
  saw: string;
}

export interface Probe {
  name: string;
  /** The rule, e.g. "RFC 9293 3.10.7.4". */
  rule: string;
  /** What the rule (or Linux, where the RFC leaves a choice) expects. */
  expected: string;
  /**
   * A known gap in our stack that is being fixed (issue 12 listed them): while
   * tapstack misses the expectation, the table says PENDING with this reason and the
   * test is skipped instead of failing. Remove it once the fix has landed.
   */
  pending?: string;
  /** Where the Linux reference knowingly departs from `expected`, and why. */
  linuxDiffers?: string;
  /**
   * Run after all the others, one at a time: the probe leaves state in the dut that
   * would change other probes' answers (a learned path MTU for the prober's address).
   */
  last?: boolean;
  run(t: ProbeContext): Promise<Verdict>;
}

export interface ProbeContext {
  readonly dut: Dut;
  readonly wire: Wire;
  /** The dut's port for this probe (port+1, port+2 are the probe's too). */
  readonly port: number;
  /** The prober's port for this probe (likewise +1, +2). */
  readonly peerPort: number;
  /** A crafted TCP endpoint; defaults to peerPort -> port. */
  peer(localPort?: number, remotePort?: number): TcpPeer;
  /** Listen on `port` and complete a handshake to it. */
  established(opts?: { listen?: ListenOptions; synOptions?: TcpOptions }): Promise<{ peer: TcpPeer; synAck: Seg }>;
}

export function verdict(ok: boolean, saw: string): Verdict {
  return { ok, saw };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ProbeResult extends Verdict {
  ms: number;
}

const PROBE_TIMEOUT_MS = 40_000;

/** Run one probe on one side, in its own ports; it always ends with both ends quiet. */
export async function runProbe(probe: Probe, index: number, side: BenchSide): Promise<ProbeResult> {
  const port = 20000 + index * 10;
  const wire = new Wire(side, port);
  const peerPort = 40000 + index * 10;
  const peers: TcpPeer[] = [];
  const t: ProbeContext = {
    dut: side.dut,
    wire,
    port,
    peerPort,
    peer(localPort = peerPort, remotePort = port) {
      const p = new TcpPeer(wire, localPort, remotePort, index * 16 + peers.length + 1);
      peers.push(p);
      return p;
    },
    async established(opts = {}) {
      await side.dut.listen(port, opts.listen);
      const peer = t.peer();
      const synAck = await peer.handshake(opts.synOptions);
      return { peer, synAck };
    },
  };
  const start = Date.now();
  let result: Verdict;
  let timer: NodeJS.Timeout | undefined;
  try {
    result = await Promise.race([
      probe.run(t),
      new Promise<Verdict>((resolve) => {
        timer = setTimeout(() => resolve(verdict(false, `timed out after ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
      }),
    ]);
  } catch (e) {
    result = verdict(false, `error: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  for (const p of peers) {
    if (p.rcvNxt !== 0) p.reset();
    p.stop();
  }
  wire.stopAll();
  for (let i = 0; i < 3; i++) await side.dut.release(port + i).catch(() => {});
  return { ...result, ms: Date.now() - start };
}

/** Run every probe on one side, `concurrency` at a time, then the `last` ones alone. */
export async function runAll(probes: readonly Probe[], side: BenchSide, concurrency: number): Promise<ProbeResult[]> {
  const results: ProbeResult[] = new Array(probes.length);
  const queue = probes.map((_, i) => i).filter((i) => !probes[i]!.last);
  const worker = async (): Promise<void> => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) results[i] = await runProbe(probes[i]!, i, side);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const [i, p] of probes.entries()) if (p.last) results[i] = await runProbe(p, i, side);
  return results;
}
