/**
 * A Link moves whole Ethernet frames (destination MAC first, no preamble, no FCS).
 * The stack sees only this interface, so the same code runs over a TAP device, the
 * in-memory hub of the tests, or either one wrapped in capture or fault middleware.
 *
 * Frames arrive in batches: one wake-up of the device hands over every frame that is
 * ready, and the stack answers all of them before it sends (coalesced ACKs).
 */
export interface Link {
  /** Largest IP datagram the link carries (the Ethernet payload size, e.g. 1500). */
  readonly mtu: number;
  /** A short name for logs and captures ("tap0", "mem1"). */
  readonly name: string;
  /** Send one frame. The link may keep a reference: do not mutate it afterwards. */
  send(frame: Uint8Array): void;
  /** Send several frames in order, in one call to the device where it can. */
  sendBatch(frames: readonly Uint8Array[]): void;
  /**
   * Set the receiver. It is called with each batch of frames that arrived; the
   * frames are valid during the call and may be kept (links do not reuse them).
   */
  onReceive(handler: (frames: Uint8Array[]) => void): void;
  /** Stop receiving, release the device. No receive callback runs after it resolves. */
  close(): Promise<void>;
}

/**
 * The time source a link device or middleware needs (delivery latency, delays).
 * Typed structurally so link/ does not import stack/: stack's Clock fits it.
 */
export interface LinkClock {
  now(): number;
  setTimer(delayMs: number, fn: () => void): { cancel(): void };
}

/** Base for middleware: forwards everything to the wrapped link. */
export abstract class LinkDecorator implements Link {
  constructor(protected readonly inner: Link) {}
  get mtu(): number {
    return this.inner.mtu;
  }
  get name(): string {
    return this.inner.name;
  }
  send(frame: Uint8Array): void {
    this.inner.send(frame);
  }
  sendBatch(frames: readonly Uint8Array[]): void {
    this.inner.sendBatch(frames);
  }
  onReceive(handler: (frames: Uint8Array[]) => void): void {
    this.inner.onReceive(handler);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
