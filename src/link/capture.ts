import { closeSync, openSync, writeSync, writevSync } from 'node:fs';
import { DEFAULT_SNAPLEN, LINKTYPE_ETHERNET, LINKTYPE_NOTE, type PacketDirection, type TimestampResolution } from '../wire/pcap.js';
import { encodeEnhancedPacket, encodeInterfaceDescription, encodeSectionHeader } from '../wire/pcapng.js';
import { tcpSuperFrame } from '../wire/virtio-net.js';
import { LinkDecorator, type Link, type LinkClock } from './link.js';

/**
 * Explains one frame: returns the pcapng packet comment for it, or undefined. It is
 * called once per frame, in wire order, as the frame is written (outbound frames when
 * the stack sends them, inbound frames just before the stack sees them), so a
 * stateful explainer can follow connections as they unfold.
 */
export type FrameCommenter = (frame: Uint8Array, direction: PacketDirection) => string | undefined;

export interface CaptureOptions {
  /** The file to create (truncated if it exists). Either this or `fd`. */
  path?: string;
  /** An already open file descriptor; the caller owns it and closes it. */
  fd?: number;
  /** Monotonic milliseconds; only `now()` is used. */
  clock: Pick<LinkClock, 'now'>;
  /**
   * Wall-clock time (ms since 1970) that corresponds to the clock's reading when the
   * capture starts. Default 0: timestamps then count from the Unix epoch, which keeps
   * tests deterministic; the CLI passes the real start time.
   */
  epochMs?: number;
  comment?: FrameCommenter;
  snaplen?: number;
  /** Timestamp units in the file (default microseconds, what Wireshark shows). */
  resolution?: TimestampResolution;
  /** pcapng shb_userappl (default "tapstack"). */
  application?: string;
}

export interface CaptureStats {
  frames: number;
  inbound: number;
  outbound: number;
  /** Bytes written to the file, headers included. */
  bytes: number;
  /** Failed writes (disk full, closed fd): frames still pass, the capture misses them. */
  writeErrors: number;
  /** Commenter calls that threw; the frame was written without a comment. */
  commentErrors: number;
  /** Notes written by recordNote() (not counted in `frames`). */
  notes: number;
}

/**
 * Middleware that records every frame the wrapped link carries, in both directions,
 * to a pcapng file (smoltcp's PcapWriter idea). Each frame becomes one Enhanced
 * Packet Block with epb_flags set to inbound or outbound and, if a commenter is set,
 * an opt_comment that Wireshark shows under "Packet comments".
 *
 * The file is written with fs.writeSync straight to the descriptor, one write per
 * batch, nothing buffered in the process: if the process crashes, the file holds
 * every frame up to the crash and readers (ours, tshark) open it.
 */
export class CaptureLink extends LinkDecorator {
  readonly stats: CaptureStats = { frames: 0, inbound: 0, outbound: 0, bytes: 0, writeErrors: 0, commentErrors: 0, notes: 0 };
  private fd: number | null;
  private readonly ownsFd: boolean;
  private readonly clock: Pick<LinkClock, 'now'>;
  private readonly startClockMs: number;
  private readonly epochMs: number;
  private readonly snaplen: number;
  private readonly resolution: TimestampResolution;
  private commenter: FrameCommenter | undefined;
  /** Whether the notes' interface (number 1) has been described yet. */
  private noteInterface = false;
  private closing: Promise<void> | null = null;

  constructor(inner: Link, options: CaptureOptions) {
    super(inner);
    if (options.fd === undefined && options.path === undefined) throw new TypeError('CaptureLink needs a path or an fd');
    this.ownsFd = options.fd === undefined;
    this.fd = options.fd ?? openSync(options.path!, 'w');
    this.clock = options.clock;
    this.startClockMs = options.clock.now();
    this.epochMs = options.epochMs ?? 0;
    this.snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
    this.resolution = options.resolution ?? 'us';
    this.commenter = options.comment;
    this.write([
      encodeSectionHeader({ application: options.application ?? 'tapstack' }),
      encodeInterfaceDescription({ linktype: LINKTYPE_ETHERNET, snaplen: this.snaplen, resolution: this.resolution, name: inner.name }),
    ]);
  }

  /** Replace (or remove) the commenter; applies to frames written from now on. */
  setCommenter(commenter: FrameCommenter | undefined): void {
    this.commenter = commenter;
  }

  /**
   * Record a frame that did NOT cross this capture point, with a comment saying why
   * (a fault injector below dropped it on the way in or out). It goes on a second
   * interface of link type LINKTYPE_USER0, so Wireshark lists it with its comment in
   * frame order, while its TCP analysis does not mistake it for traffic.
   */
  recordNote(frame: Uint8Array, comment: string, direction: PacketDirection): void {
    if (this.fd === null) return;
    const blocks: Uint8Array[] = [];
    if (!this.noteInterface) {
      this.noteInterface = true;
      blocks.push(encodeInterfaceDescription({ linktype: LINKTYPE_NOTE, snaplen: this.snaplen, resolution: this.resolution, name: `${this.inner.name} (not captured)` }));
    }
    blocks.push(encodeEnhancedPacket({ interfaceId: 1, timestampNs: this.timestampNs(), resolution: this.resolution, snaplen: this.snaplen, data: frame, comment, direction }));
    if (this.write(blocks)) this.stats.notes++;
  }

  override send(frame: Uint8Array): void {
    this.record([frame], 'outbound');
    this.inner.send(frame);
  }

  override sendBatch(frames: readonly Uint8Array[]): void {
    this.record(frames, 'outbound');
    this.inner.sendBatch(frames);
  }

  override onReceive(handler: (frames: Uint8Array[]) => void): void {
    this.inner.onReceive((frames) => {
      this.record(frames, 'inbound');
      handler(frames);
    });
  }

  /** Close the wrapped link, then the file. Safe to call twice. */
  override close(): Promise<void> {
    this.closing ??= this.inner.close().finally(() => this.closeFile());
    return this.closing;
  }

  private closeFile(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    // writeSync leaves nothing buffered in the process, so closing is all "flush" means.
    if (this.ownsFd) closeSync(fd);
  }

  private record(frames: readonly Uint8Array[], direction: PacketDirection): void {
    if (this.fd === null || frames.length === 0) return;
    const timestampNs = this.timestampNs();
    const blocks: Uint8Array[] = [];
    for (const frame of frames) {
      blocks.push(
        encodeEnhancedPacket({
          timestampNs,
          resolution: this.resolution,
          snaplen: this.snaplen,
          data: frame,
          comment: this.commentFor(frame, direction),
          direction,
        }),
      );
    }
    if (this.write(blocks)) {
      this.stats.frames += frames.length;
      this.stats[direction] += frames.length;
    }
  }

  private commentFor(frame: Uint8Array, direction: PacketDirection): string | undefined {
    const offload = this.superFrameNote(frame, direction);
    if (!this.commenter) return offload;
    try {
      const said = this.commenter(frame, direction);
      return offload && said ? `${offload}\n${said}` : (offload ?? said);
    } catch {
      // An explainer bug must not break the link it watches.
      this.stats.commentErrors++;
      return offload;
    }
  }

  /**
   * A TCP frame longer than the MTU can only be an offload super-frame (a TAP with
   * offload): say so, as Wireshark users see such frames from tcpdump on a host with
   * TSO, and say what the wire carries instead.
   */
  private superFrameNote(frame: Uint8Array, direction: PacketDirection): string | undefined {
    const gso = tcpSuperFrame(frame, this.inner.mtu);
    if (!gso) return undefined;
    const segments = Math.ceil(gso.payload / gso.segmentSize);
    const cut = `${segments} segments of at most ${gso.segmentSize} bytes for a wire with MTU ${this.inner.mtu}`;
    return direction === 'outbound'
      ? `offload super-frame: ${gso.payload} bytes of TCP payload in one frame, which the kernel cuts into ${cut}`
      : `offload super-frame: ${gso.payload} bytes of TCP payload in one frame, as the kernel handed it over (TSO); on a real wire: ${cut}`;
  }

  private timestampNs(): bigint {
    const ms = this.epochMs + (this.clock.now() - this.startClockMs);
    // Whole microseconds are exact in a double for any date near now; go to ns last.
    return BigInt(Math.round(ms * 1000)) * 1000n;
  }

  /**
   * One gathering write for the whole batch (the blocks are not first copied into one
   * buffer): a crash never leaves half a batch of blocks.
   */
  private write(blocks: readonly Uint8Array[]): boolean {
    if (this.fd === null) return false;
    let total = 0;
    for (const b of blocks) total += b.length;
    try {
      const done = writevSync(this.fd, blocks as Uint8Array[]);
      if (done < total) {
        // A short write (rare on a regular file): the rest goes out from one copy.
        const rest = Buffer.concat(blocks).subarray(done);
        for (let at = 0; at < rest.length; ) at += writeSync(this.fd, rest, at, rest.length - at);
      }
      this.stats.bytes += total;
      return true;
    } catch {
      this.stats.writeErrors++;
      return false;
    }
  }
}
