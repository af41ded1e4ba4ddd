import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { IPV4_MAX_DATAGRAM } from '../wire/ipv4.js';
import { TCP_CHECKSUM_OFFSET, VIRTIO_NET_HDR_LEN, tcpSuperFrame, writeVirtioNetHeader } from '../wire/virtio-net.js';
import type { Link, ReceiveHandler } from './link.js';

/**
 * The N-API addon of src/native/tap.c. The package ships it prebuilt
 * (prebuilds/linux-x64/, made by `npm run prebuild:tap`); `npm install` compiles it
 * into build/Release/ only where no prebuild loads. native-notes/README.md says more.
 */
interface NativeTap {
  open(name: string, options?: NativeOpenOptions): NativeOpened;
  /**
   * callback(frames, verdicts) per wake-up (`verdicts`: one RX_CHECKSUM_* per frame,
   * when opened with rxChecksum), or callback(null, error) once if the device fails.
   */
  start(handle: NativeHandle, callback: (frames: Uint8Array[] | null, second?: Uint8Array | Error) => void): void;
  /**
   * The same, but each wake-up's frames come as the chunks that hold them (an array of
   * ArrayBuffers) and the returned Uint32Array, rewritten before every call, says
   * where they lie: [0] the frame count, then (chunk index, byteOffset, length) per
   * frame. The views are made in JS (see TapLink.onReceive).
   */
  start(
    handle: NativeHandle,
    callback: (chunks: ArrayBuffer[] | null, second?: Uint8Array | Error) => void,
    slices: true,
  ): Uint32Array;
  /**
   * `vnetHeaders`: 10 bytes per frame (struct virtio_net_hdr), offload devices only.
   * With the writer thread: true / how many were queued for it (stats().txFrames says
   * what the kernel took); without: what the kernel took.
   */
  write(handle: NativeHandle, frame: Uint8Array, vnetHeader?: Uint8Array): boolean;
  /** `finishChecksums`: fill in the TCP checksums (with txChecksum; see Link.sendBatch). */
  writeBatch(handle: NativeHandle, frames: readonly Uint8Array[], vnetHeaders?: Uint8Array, finishChecksums?: boolean): number;
  /**
   * writeBatch in a cheaper shape: the distinct ArrayBuffers of the batch (at most
   * MAX_SLICE_BUFFERS) and three numbers per frame in `slices` (index in `buffers`,
   * byte offset, length), for `count` frames. One N-API call per buffer, not per frame.
   */
  writeSlices(
    handle: NativeHandle,
    buffers: readonly ArrayBuffer[],
    slices: Uint32Array,
    count: number,
    vnetHeaders?: Uint8Array,
    finishChecksums?: boolean,
  ): number;
  stats(handle: NativeHandle): TapStats;
  ref(handle: NativeHandle, keep: boolean): void;
  close(handle: NativeHandle): void;
}
type NativeHandle = { readonly __brand: 'tap-handle' };
interface NativeOpenOptions {
  offload?: boolean;
  txqueuelen?: number;
  txChecksum?: boolean;
  rxChecksum?: boolean;
  writerThread?: boolean;
}
interface NativeOpened {
  handle: NativeHandle;
  name: string;
  mac: Uint8Array | null;
  offload: boolean;
  txqueuelen: number | null;
  txChecksum: boolean;
  rxChecksum: boolean;
  writerThread: boolean;
}

let native: NativeTap | null = null;

/** The most distinct ArrayBuffers one writeSlices call takes (tap.c SLICE_BUFFERS). */
const MAX_SLICE_BUFFERS = 16;

/**
 * Load the addon on first use, not at import: the memory link, the diagram and every
 * test that opens no TAP device must work where the addon cannot load (macOS, a
 * musl system without a compiler).
 *
 * node-gyp-build picks build/Release/tap.node if a local build exists, else the
 * prebuild for this platform. This file sits two folders below the package root both
 * as source (src/link/) and compiled (dist/link/), so one relative path serves both.
 */
function loadNative(): NativeTap {
  if (native) return native;
  const require = createRequire(import.meta.url);
  const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
  try {
    const load = require('node-gyp-build') as (dir: string) => unknown;
    native = load(packageRoot) as NativeTap;
  } catch (cause) {
    const why = process.platform === 'linux' ? (cause as Error).message.split('\n')[0] : 'TAP devices exist on Linux only';
    throw new Error(
      `the TAP addon did not load (${why}). The package ships it prebuilt for Linux x64 ` +
        '(glibc); elsewhere build it from source: install a C compiler, make and python3 ' +
        '(Debian: apt-get install build-essential python3), then run `npx node-gyp rebuild` ' +
        `in ${packageRoot}. Everything but TapLink works without it.`,
      { cause },
    );
  }
  return native;
}

export interface TapOptions {
  /** Interface name, 1-15 characters (e.g. "tap0"). Created if it does not exist. */
  name: string;
  /**
   * Largest IP datagram our stack puts in a frame (default 1500, Ethernet). This is
   * our side only: the kernel side's MTU is set with `ip link set NAME mtu N`.
   */
  mtu?: number;
  /**
   * Checksum and segmentation offload (default off): the device is opened with
   * IFF_VNET_HDR and TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4). The kernel then sends
   * us TCP "super-frames" of up to 64 KiB with their checksum left to finish (the
   * binding finishes it), and takes super-frames from us (`superFrameMtu`), cutting
   * them into `mtu`-sized segments itself. Faster for bulk data; but a capture then
   * shows the super-frames, not the segments a real wire would carry. A super-frame
   * we send has its TCP checksum field rewritten in place (see headersFor).
   */
  offload?: boolean;
  /**
   * Transmit queue length of the kernel side (frames it holds while we are busy).
   * Default: 4096 for a device the binding creates; a device that exists keeps its own.
   */
  txqueuelen?: number;
  /**
   * Checksum offload, as a NIC offers it (Link.checksumOffload; default on, both
   * ways). tx: asked to (sendBatch's finishChecksums), the binding computes the TCP
   * checksum of every outgoing unfragmented IPv4/TCP frame, so the stack may leave it
   * zero. rx: the binding verifies the IPv4
   * header and TCP/UDP checksums of every frame and tells the receiver its verdict
   * (RX_CHECKSUM_*). Both run in C; tx on the writer thread. `false` turns both off
   * (the stack then sums everything itself, as the benchmarks compare).
   */
  checksumOffload?: boolean | { tx: boolean; rx: boolean };
  /**
   * Write from a thread of the binding (default true): send() and sendBatch() copy
   * the frames into a bounded ring and return; the thread writes them to the kernel
   * (whose receive processing runs inside that write), so the JS thread goes on
   * building segments meanwhile. A full ring drops the frame (stats.txDrops), as a
   * NIC's full queue does. `false`: the JS thread writes each frame itself.
   */
  writerThread?: boolean;
}

/** Largest IP datagram of an offload super-frame (the IPv4 total-length limit). */
export const SUPER_FRAME_MTU = IPV4_MAX_DATAGRAM;

/** Counters of the device itself (the stack keeps its own per protocol). */
export interface TapStats {
  /** Frames read from the kernel and handed to the receiver. */
  rxFrames: number;
  /** Wake-ups that delivered at least one frame (rxFrames / rxBatches = batch size). */
  rxBatches: number;
  /** Read failures (the device went away); reception stops after one. */
  rxErrors: number;
  /**
   * Frames read but lost before JS saw them: out of memory, or (a direct user of the
   * binding) the receive-slices array's ArrayBuffer was detached.
   */
  rxDrops: number;
  /** Frames whose checksums the binding verified (checksumOffload.rx): RX_CHECKSUM_GOOD. */
  rxChecksumGood: number;
  /** Frames with a wrong IPv4 header or TCP/UDP checksum: RX_CHECKSUM_BAD (the stack drops them). */
  rxChecksumBad: number;
  /** Frames the kernel accepted (written; with the writer thread, once it wrote them). */
  txFrames: number;
  /**
   * Frames dropped because there was no room: the writer thread's ring was full, or
   * (without it) the kernel said EAGAIN.
   */
  txDrops: number;
  /** Frames in the writer thread's ring, not yet written (0 without the thread). */
  txQueued: number;
  /**
   * Frames not sent: shorter than an Ethernet header or longer than the largest
   * frame (refused by the binding before they are queued), refused by the kernel on
   * write (e.g. the device was deleted), or sent after close.
   */
  txErrors: number;
  /** Offload: super-frames (gso_type set) the kernel sent us. */
  rxSuperFrames: number;
  /** Offload: frames whose checksum the kernel left to us (NEEDS_CSUM), finished by the binding. */
  rxChecksumsCompleted: number;
  /** Offload: frames dropped because their virtio_net_hdr did not fit them. */
  rxBadVnetHeaders: number;
  /** Offload: super-frames we sent for the kernel to cut into segments. */
  txSuperFrames: number;
}

/**
 * A Link over a Linux TAP device, through our own binding (src/native/tap.c).
 *
 * Opening needs CAP_NET_ADMIN, unless the device already exists and belongs to the
 * user (`ip tuntap add dev NAME mode tap user USER`). A device that the binding
 * creates disappears when it is closed; one made with `ip tuntap add` stays.
 * Configure the kernel side (address, up, MTU) with iproute2, as for any interface.
 */
export class TapLink implements Link {
  readonly name: string;
  readonly mtu: number;
  /** MAC of the kernel's side of the device (not ours: the stack picks its own). */
  readonly kernelMac: Uint8Array | null;
  /** Opened with checksum and segmentation offload (TapOptions.offload). */
  readonly offload: boolean;
  /**
   * With offload: the largest IP datagram the link takes in one frame (the kernel cuts
   * TCP super-frames into segments of `mtu`). Undefined without offload.
   */
  readonly superFrameMtu: number | undefined;
  /**
   * With offload: how many MSS one TCP segment may carry (TcpConfig.segmentsPerSend),
   * leaving an MTU of room below superFrameMtu for headers and options. 1 without.
   */
  readonly segmentsPerSuperFrame: number;
  /** The kernel side's queue length if the binding set it, else null. */
  readonly txqueuelen: number | null;
  /** Checksums the binding computes and verifies (TapOptions.checksumOffload). */
  readonly checksumOffload: { readonly tx: boolean; readonly rx: boolean };
  /** Frames go out from the binding's writer thread (TapOptions.writerThread). */
  readonly writerThread: boolean;

  private handler: ReceiveHandler | null = null;
  private errorHandler: ((error: Error) => void) | null = null;
  private started = false;
  private closed = false;
  private keepAlive = true;
  /** Offload: the virtio_net_hdr of each frame of a batch (reused; the binding copies). */
  private vnetHeaders = new Uint8Array(64 * VIRTIO_NET_HDR_LEN);
  /** sendBatch: (buffer index, byteOffset, length) per frame (reused; the binding copies). */
  private slices = new Uint32Array(64 * 3);
  /** sendBatch: the distinct ArrayBuffers of the batch (emptied after each call). */
  private readonly sliceBuffers: ArrayBuffer[] = [];

  private constructor(
    private readonly nativeTap: NativeTap,
    private readonly handle: NativeHandle,
    opened: NativeOpened,
    mtu: number,
  ) {
    this.name = opened.name;
    this.mtu = mtu;
    this.kernelMac = opened.mac;
    this.offload = opened.offload;
    this.superFrameMtu = opened.offload ? SUPER_FRAME_MTU : undefined;
    this.segmentsPerSuperFrame = opened.offload ? Math.max(1, Math.floor(SUPER_FRAME_MTU / mtu) - 1) : 1;
    this.txqueuelen = opened.txqueuelen;
    this.checksumOffload = Object.freeze({ tx: opened.txChecksum, rx: opened.rxChecksum });
    this.writerThread = opened.writerThread;
  }

  /**
   * Open (or create) the TAP device. Throws an Error whose `code` is the errno name
   * and whose message says what to do (EPERM, EBUSY, ENOENT, EINVAL).
   */
  static open(options: TapOptions): TapLink {
    const mtu = options.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new RangeError(`tap ${options.name}: mtu must be an integer from 68 to 65535, got ${mtu}`);
    }
    const txqueuelen = options.txqueuelen;
    if (txqueuelen !== undefined && (!Number.isInteger(txqueuelen) || txqueuelen < 1 || txqueuelen > 1_000_000)) {
      throw new RangeError(`tap ${options.name}: txqueuelen must be an integer from 1 to 1000000, got ${txqueuelen}`);
    }
    const csum = options.checksumOffload ?? true;
    const tap = loadNative();
    const opened = tap.open(options.name, {
      offload: options.offload ?? false,
      txqueuelen,
      txChecksum: typeof csum === 'boolean' ? csum : csum.tx,
      rxChecksum: typeof csum === 'boolean' ? csum : csum.rx,
      writerThread: options.writerThread ?? true,
    });
    return new TapLink(tap, opened.handle, opened, mtu);
  }

  /** A fresh snapshot from the binding on every read. */
  get stats(): TapStats {
    return this.nativeTap.stats(this.handle);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Send one frame; false if it was dropped (counted in `stats`). Never blocks. The
   * binding copies the frame (and fills in its checksum in its copy), so the caller's
   * bytes are never changed.
   */
  send(frame: Uint8Array): boolean {
    if (!this.offload) return this.nativeTap.write(this.handle, frame);
    return this.nativeTap.write(this.handle, frame, this.headersFor([frame]));
  }

  /**
   * Send frames in order in one call into the binding; returns how many it took
   * (queued for the writer thread, or written without it). `finishChecksums`: the
   * caller left the TCP checksums to the link (checksumOffload.tx), and the binding
   * computes them in its copy; without it, frames go out exactly as given (a frame
   * a fault injector corrupted above us stays corrupted).
   */
  sendBatch(frames: readonly Uint8Array[], finishChecksums = false): number {
    if (frames.length === 0) return 0;
    const headers = this.offload ? this.headersFor(frames) : undefined;
    if (!this.describeSlices(frames)) {
      return this.nativeTap.writeBatch(this.handle, frames, headers, finishChecksums);
    }
    const buffers = this.sliceBuffers;
    try {
      return this.nativeTap.writeSlices(this.handle, buffers, this.slices, frames.length, headers, finishChecksums);
    } finally {
      buffers.length = 0; // hold no slab past the call
    }
  }

  /**
   * Describe the batch for writeSlices: each frame as (index of its ArrayBuffer in
   * sliceBuffers, byteOffset, byteLength). Asking the binding for every frame's bytes
   * costs several N-API calls per frame; this way it asks once per ArrayBuffer, and
   * the stack's frames come from a few big slabs (usually one or two per batch).
   * false (and sliceBuffers left empty) when a frame is not backed by a plain
   * ArrayBuffer (a SharedArrayBuffer) or the batch touches too many buffers: then
   * writeBatch, which takes any Uint8Array, does the work.
   */
  private describeSlices(frames: readonly Uint8Array[]): boolean {
    const count = frames.length;
    if (this.slices.length < count * 3) this.slices = new Uint32Array(count * 6);
    const slices = this.slices;
    const buffers = this.sliceBuffers;
    let last: ArrayBufferLike | null = null;
    let lastIndex = 0;
    for (let i = 0; i < count; i++) {
      const frame = frames[i]!;
      const buffer = frame.buffer;
      if (buffer !== last) {
        if (!(buffer instanceof ArrayBuffer)) {
          buffers.length = 0;
          return false;
        }
        lastIndex = buffers.indexOf(buffer);
        if (lastIndex < 0) {
          if (buffers.length === MAX_SLICE_BUFFERS) {
            buffers.length = 0;
            return false;
          }
          lastIndex = buffers.push(buffer) - 1;
        }
        last = buffer;
      }
      slices[i * 3] = lastIndex;
      slices[i * 3 + 1] = frame.byteOffset;
      slices[i * 3 + 2] = frame.byteLength;
    }
    return true;
  }

  /**
   * Offload: one virtio_net_hdr per frame. A frame larger than the MTU is a TCP
   * super-frame (only TCP makes them, see superFrameMtu): the kernel cuts it into
   * segments of gso_size payload bytes, each with the headers of the first. NEEDS_CSUM
   * asks the binding to put the pseudo-header sum in its checksum field (from scratch,
   * in its own copy; tap.c tx_checksum), so that the kernel does not verify 64 KiB
   * (the capture, which wraps this link, has the frame as the stack made it). Other
   * frames get a header of zeros: nothing for the kernel to do, the binding finishes
   * their TCP checksum with checksumOffload.tx.
   */
  private headersFor(frames: readonly Uint8Array[]): Uint8Array {
    const size = frames.length * VIRTIO_NET_HDR_LEN;
    if (this.vnetHeaders.length < size) this.vnetHeaders = new Uint8Array(size * 2);
    const headers = this.vnetHeaders.subarray(0, size);
    headers.fill(0);
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const gso = tcpSuperFrame(frame, this.mtu);
      if (gso) {
        writeVirtioNetHeader(headers, i * VIRTIO_NET_HDR_LEN, {
          needsChecksum: true,
          dataValid: false,
          gsoType: 'tcpv4',
          ecn: false,
          headerLength: gso.headerLength,
          gsoSize: gso.segmentSize,
          checksumStart: gso.tcpStart,
          checksumOffset: TCP_CHECKSUM_OFFSET,
        });
      }
    }
    return headers;
  }

  /**
   * Set the receiver. Reading starts with the first receiver: until then, frames wait
   * in the kernel's queue (which drops when it is full).
   */
  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
    if (this.started || this.closed) return;
    this.started = true;
    // The binding hands over each wake-up's chunks and, in `slices`, where every frame
    // lies in them; the views are made here. One `new Uint8Array` in JS is cheaper than
    // napi_create_typedarray + napi_set_element per frame in C (measured: see "A batch
    // described" in native-notes/README.md). A view keeps its chunk alive, so a frame
    // stays valid for as long as anyone holds it (tap.c "chunk pool").
    const slices = this.nativeTap.start(
      this.handle,
      (chunks, second) => {
        if (this.closed) return;
        if (chunks) {
          const count = slices[0]!;
          const frames = new Array<Uint8Array>(count);
          for (let i = 0, k = 1; i < count; i++, k += 3) {
            frames[i] = new Uint8Array(chunks[slices[k]!]!, slices[k + 1]!, slices[k + 2]!);
          }
          this.handler?.(frames, second instanceof Uint8Array ? second : undefined);
        } else if (second instanceof Error) {
          this.fail(second);
        }
      },
      true,
    );
    if (!this.keepAlive) this.nativeTap.ref(this.handle, false);
  }

  /**
   * Resolves true once the writer thread has written every frame queued so far (at
   * once without the thread), false if that took longer than `timeoutMs`. For tests
   * and benchmarks that count what the kernel took (stats.txFrames).
   */
  async flush(timeoutMs = 1000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && this.nativeTap.stats(this.handle).txQueued > 0) {
      if (Date.now() > until) return false;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return true;
  }

  /** Called once if the device fails while reading (e.g. it was deleted). */
  onError(handler: (error: Error) => void): void {
    this.errorHandler = handler;
  }

  /** Let the process exit even while the device is open (like `socket.unref()`). */
  unref(): this {
    this.keepAlive = false;
    if (this.started) this.nativeTap.ref(this.handle, false);
    return this;
  }

  ref(): this {
    this.keepAlive = true;
    if (this.started) this.nativeTap.ref(this.handle, true);
    return this;
  }

  /**
   * Stop reading, let the writer thread write what is queued (the kernel gets at most
   * a second to take it), and close the file descriptor. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    this.nativeTap.close(this.handle);
  }

  private fail(error: Error): void {
    if (this.errorHandler) this.errorHandler(error);
    else process.emitWarning(error.message, { code: 'TAPSTACK_TAP_ERROR' });
  }
}
