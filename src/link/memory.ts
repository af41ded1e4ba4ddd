import type { Link, LinkClock } from './link.js';

/**
 * An in-memory Ethernet hub: every frame one port sends reaches every other port
 * after `latencyMs` on the injected clock. It models a wire, so frames are copied
 * on send (the sender may reuse its buffer) and delivered in batches: all frames that
 * become due at the same instant reach a port in one receive call.
 */
export class MemoryHub {
  private readonly ports: MemoryPort[] = [];
  private nextId = 1;

  constructor(
    readonly clock: LinkClock,
    readonly options: { latencyMs?: number; mtu?: number } = {},
  ) {}

  /** Attach a new port (one network interface) to the hub. */
  attach(name = `mem${this.nextId}`): Link {
    const port = new MemoryPort(this, name, this.options.mtu ?? 1500, this.nextId++);
    this.ports.push(port);
    return port;
  }

  /** @internal */
  transmit(from: MemoryPort, frames: readonly Uint8Array[]): void {
    const copies = frames.map((f) => f.slice());
    for (const port of this.ports) {
      if (port !== from && !port.closed) port.enqueue(copies);
    }
  }

  /** @internal */
  detach(port: MemoryPort): void {
    const i = this.ports.indexOf(port);
    if (i >= 0) this.ports.splice(i, 1);
  }

  get latencyMs(): number {
    return this.options.latencyMs ?? 0;
  }
}

class MemoryPort implements Link {
  closed = false;
  private handler: ((frames: Uint8Array[]) => void) | null = null;
  private inbox: Uint8Array[] = [];
  private scheduled = false;
  private readonly queue: { due: number; frames: Uint8Array[] }[] = [];

  constructor(
    private readonly hub: MemoryHub,
    readonly name: string,
    readonly mtu: number,
    readonly id: number,
  ) {}

  send(frame: Uint8Array): void {
    if (!this.closed) this.hub.transmit(this, [frame]);
  }

  sendBatch(frames: readonly Uint8Array[]): void {
    if (!this.closed && frames.length > 0) this.hub.transmit(this, frames);
  }

  onReceive(handler: (frames: Uint8Array[]) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
    this.hub.detach(this);
  }

  /** @internal Frames sent at the same instant share one delivery timer. */
  enqueue(frames: Uint8Array[]): void {
    const latency = this.hub.latencyMs;
    if (latency > 0) {
      const due = this.hub.clock.now() + latency;
      const last = this.queue[this.queue.length - 1];
      if (last && last.due === due) {
        last.frames.push(...frames);
        return;
      }
      const entry = { due, frames: [...frames] };
      this.queue.push(entry);
      this.hub.clock.setTimer(latency, () => {
        this.queue.splice(this.queue.indexOf(entry), 1);
        this.deliver(entry.frames);
      });
      return;
    }
    this.inbox.push(...frames);
    if (!this.scheduled) {
      this.scheduled = true;
      this.hub.clock.setTimer(0, () => {
        this.scheduled = false;
        const batch = this.inbox;
        this.inbox = [];
        this.deliver(batch);
      });
    }
  }

  private deliver(frames: Uint8Array[]): void {
    if (!this.closed && this.handler && frames.length > 0) this.handler(frames);
  }
}
