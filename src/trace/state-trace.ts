/**
 * What Wireshark cannot show: the sender's mind. A capture holds only what crossed
 * the wire; this recorder asks our own TCP, at every frame the capture sees, what
 * each end of that frame's connection believed at that moment: its state, congestion
 * window and slow-start threshold (RFC 5681), retransmission timeout (RFC 6298),
 * SND.UNA and SND.NXT, the send window the peer offered and the receive window it
 * offers itself (RFC 9293 3.3.1).
 *
 * It reads only the public per-connection snapshot (TcpConnection.info(), like
 * `ss -ti`) found through Tcp.findConnection(): nothing in TCP changes because it
 * watches.
 */
import type { TcpInfo } from '../tcp/index.js';
import { formatIpv4 } from '../wire/address.js';
import { dissect, type Dissected } from './dissect.js';

/** The part of TcpInfo (TcpConnection.info(), like `ss -ti`) the recorder reads. */
export type TcpStateInfo = Pick<TcpInfo, 'state' | 'mss' | 'rto' | 'cwnd' | 'ssthresh' | 'inRecovery' | 'sndUna' | 'sndNxt' | 'sndWnd' | 'rcvWnd'>;

/** The public lookup of one host's TCP (src/tcp/index.ts Tcp fits). */
export interface ConnectionLookup {
  findConnection(localPort: number, remoteAddr: string, remotePort: number): { info(): TcpStateInfo } | undefined;
}

export interface TracedHost {
  /** "client", "server" */
  name: string;
  /** Dotted IPv4 address of the host. */
  address: string;
  tcp: ConnectionLookup;
}

/** One snapshot. Sequence numbers are relative to the connection's ISS, as Wireshark shows them. */
export interface StateSample {
  /** The capture's frame number at which the snapshot was taken. */
  frame: number;
  /** Milliseconds since the recorder started (the stack's clock). */
  timeMs: number;
  state: string;
  cwnd: number;
  ssthresh: number | undefined;
  rto: number;
  inRecovery: boolean;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  rcvWnd: number;
}

export interface ConnectionTrace {
  /** Which host's view this is. */
  host: string;
  /** "192.168.0.2:41338" */
  local: string;
  remote: string;
  mss: number;
  samples: StateSample[];
}

/** Samples kept per connection (a bound on memory); later snapshots are only counted, in `dropped`. */
const MAX_SAMPLES_PER_CONNECTION = 50_000;

export class StateRecorder {
  private readonly byConnection = new WeakMap<object, { trace: ConnectionTrace; iss: number }>();
  private readonly all: ConnectionTrace[] = [];
  private readonly start: number;
  /** Snapshots not kept because their connection had MAX_SAMPLES_PER_CONNECTION (50,000) already. */
  dropped = 0;

  constructor(
    private readonly clock: { now(): number },
    private readonly hosts: readonly TracedHost[],
  ) {
    this.start = clock.now();
  }

  /** Snapshot both ends of the frame's TCP connection (those that are our hosts). */
  sample(frame: Uint8Array, frameNumber: number): void {
    this.sampleDissected(dissect(frame), frameNumber);
  }

  /** sample() for a frame the caller has dissected already (the demo shares one dissection). @internal */
  sampleDissected(d: Dissected, frameNumber: number): void {
    if (d.kind !== 'tcp') return;
    const src = formatIpv4(d.ip.src);
    const dst = formatIpv4(d.ip.dst);
    for (const host of this.hosts) {
      if (host.address === src) this.take(host, d.tcp.srcPort, dst, d.tcp.dstPort, frameNumber);
      else if (host.address === dst) this.take(host, d.tcp.dstPort, src, d.tcp.srcPort, frameNumber);
    }
  }

  /** Every connection seen, in the order they first appeared. */
  traces(): ConnectionTrace[] {
    return this.all;
  }

  private take(host: TracedHost, localPort: number, remoteAddr: string, remotePort: number, frame: number): void {
    const conn = host.tcp.findConnection(localPort, remoteAddr, remotePort);
    if (!conn) return; // not yet (a SYN arriving at a listener) or no longer (after CLOSED)
    const info = conn.info();
    let entry = this.byConnection.get(conn);
    if (!entry) {
      // The first snapshot is taken in SYN-SENT or SYN-RECEIVED, where SND.UNA = ISS.
      entry = { trace: { host: host.name, local: `${host.address}:${localPort}`, remote: `${remoteAddr}:${remotePort}`, mss: info.mss, samples: [] }, iss: info.sndUna };
      this.byConnection.set(conn, entry);
      this.all.push(entry.trace);
    }
    const samples = entry.trace.samples;
    if (samples.length >= MAX_SAMPLES_PER_CONNECTION) {
      this.dropped++;
      return;
    }
    const rel = (seq: number): number => (seq - entry.iss) >>> 0;
    entry.trace.mss = info.mss;
    samples.push({
      frame,
      timeMs: this.clock.now() - this.start,
      state: info.state,
      cwnd: info.cwnd,
      ssthresh: info.ssthresh,
      rto: info.rto,
      inRecovery: info.inRecovery,
      sndUna: rel(info.sndUna),
      sndNxt: rel(info.sndNxt),
      sndWnd: info.sndWnd,
      rcvWnd: info.rcvWnd,
    });
  }
}
