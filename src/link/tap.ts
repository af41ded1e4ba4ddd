import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Link } from './link.js';

/**
 * The N-API addon of src/native/tap.c. The package ships it prebuilt
 * (prebuilds/linux-x64/, made by `npm run prebuild:tap`); `npm install` compiles it
 * into build/Release/ only where no prebuild loads. native-notes/README.md says more.
 */
interface NativeTap {
  open(name: string): { handle: NativeHandle; name: string; mac: Uint8Array | null };
  start(handle: NativeHandle, callback: (frames: Uint8Array[] | null, error?: Error) => void): void;
  write(handle: NativeHandle, frame: Uint8Array): boolean;
  writeBatch(handle: NativeHandle, frames: readonly Uint8Array[]): number;
  stats(handle: NativeHandle): TapStats;
  ref(handle: NativeHandle, keep: boolean): void;
  close(handle: NativeHandle): void;
}
type NativeHandle = { readonly __brand: 'tap-handle' };

let native: NativeTap | null = null;

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
}

/** Counters of the device itself (the stack keeps its own per protocol). */
export interface TapStats {
  /** Frames read from the kernel and handed to the receiver. */
  rxFrames: number;
  /** Wake-ups that delivered at least one frame (rxFrames / rxBatches = batch size). */
  rxBatches: number;
  /** Read failures (the device went away); reception stops after one. */
  rxErrors: number;
  /** Frames read but lost before JS saw them (out of memory). */
  rxDrops: number;
  /** Frames the kernel accepted. */
  txFrames: number;
  /** Frames dropped because the kernel could not take them right now (EAGAIN). */
  txDrops: number;
  /** Frames the kernel refused (e.g. shorter than an Ethernet header) or sent after close. */
  txErrors: number;
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

  private handler: ((frames: Uint8Array[]) => void) | null = null;
  private errorHandler: ((error: Error) => void) | null = null;
  private started = false;
  private closed = false;
  private keepAlive = true;

  private constructor(
    private readonly nativeTap: NativeTap,
    private readonly handle: NativeHandle,
    name: string,
    mtu: number,
    kernelMac: Uint8Array | null,
  ) {
    this.name = name;
    this.mtu = mtu;
    this.kernelMac = kernelMac;
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
    const tap = loadNative();
    const opened = tap.open(options.name);
    return new TapLink(tap, opened.handle, opened.name, mtu, opened.mac);
  }

  /** A fresh snapshot from the binding on every read. */
  get stats(): TapStats {
    return this.nativeTap.stats(this.handle);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Send one frame; false if it was dropped (counted in `stats`). Never blocks. */
  send(frame: Uint8Array): boolean {
    return this.nativeTap.write(this.handle, frame);
  }

  /** Send frames in order in one call into the binding; returns how many went out. */
  sendBatch(frames: readonly Uint8Array[]): number {
    if (frames.length === 0) return 0;
    return this.nativeTap.writeBatch(this.handle, frames);
  }

  /**
   * Set the receiver. Reading starts with the first receiver: until then, frames wait
   * in the kernel's queue (which drops when it is full).
   */
  onReceive(handler: (frames: Uint8Array[]) => void): void {
    this.handler = handler;
    if (this.started || this.closed) return;
    this.started = true;
    this.nativeTap.start(this.handle, (frames, error) => {
      if (this.closed) return;
      if (frames) {
        this.handler?.(frames);
      } else if (error) {
        this.fail(error);
      }
    });
    if (!this.keepAlive) this.nativeTap.ref(this.handle, false);
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

  /** Stop reading and close the file descriptor. Safe to call twice. */
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
