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
  /**
   * Checksum offload, as a NIC offers it (absent: none). `tx`: asked to (see
   * sendBatch), the link computes the TCP checksum of every outgoing IPv4 frame that
   * is not a fragment, from scratch, so the stack may leave it zero. `rx`:
   * onReceive's second argument gives a verdict per frame (RX_CHECKSUM_*).
   * Middleware (capture, faults) offers none: a capture always records the stack's
   * own finished frames.
   */
  readonly checksumOffload?: { readonly tx: boolean; readonly rx: boolean };
  /** Send one frame. The link may keep a reference: do not mutate it afterwards. */
  send(frame: Uint8Array): void;
  /**
   * Send several frames in order, in one call to the device where it can.
   * `finishChecksums`: the caller left the TCP checksums of these frames to the link
   * (checksumOffload.tx). Only the stack right above the link passes it; middleware
   * never does, so a frame that a fault injector corrupted on its way down is never
   * given a fresh, matching checksum below it.
   */
  sendBatch(frames: readonly Uint8Array[], finishChecksums?: boolean): void;
  /**
   * Set the receiver. It is called with each batch of frames that arrived; the
   * frames are valid during the call and may be kept (links do not reuse them).
   * `verdicts`, from a link with `checksumOffload.rx` only: one RX_CHECKSUM_* per frame.
   */
  onReceive(handler: ReceiveHandler): void;
  /** Stop receiving, release the device. No receive callback runs after it resolves. */
  close(): Promise<void>;
}

/**
 * A link's verdict on an arriving frame's checksums (Linux's CHECKSUM_NONE and
 * CHECKSUM_UNNECESSARY). GOOD: an unfragmented IPv4 frame whose header checksum and
 * TCP or UDP checksum were verified below the stack, which then skips both. Anything
 * else (not checked, or wrong) the stack verifies, counts and drops itself as usual.
 */
export const RX_CHECKSUM_NOT_CHECKED = 0;
export const RX_CHECKSUM_GOOD = 1;
export const RX_CHECKSUM_BAD = 2;

export type ReceiveHandler = (frames: Uint8Array[], verdicts?: Uint8Array) => void;

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
  /** Never asks the link below to finish checksums (see Link.sendBatch). */
  sendBatch(frames: readonly Uint8Array[]): void {
    this.inner.sendBatch(frames);
  }
  /** Verdicts are not passed on: middleware offers no checksum offload (see Link). */
  onReceive(handler: ReceiveHandler): void {
    this.inner.onReceive((frames) => handler(frames));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
