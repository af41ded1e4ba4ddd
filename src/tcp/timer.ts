import type { Clock, Timer } from '../stack/clock.js';

/**
 * A restartable one-shot timer on the injected clock. TCP moves its retransmission
 * deadline on almost every ACK; instead of cancelling and creating a clock timer each
 * time, a later deadline is just recorded and the armed timer re-arms itself for the
 * remainder when it fires early. An earlier deadline re-arms at once.
 */
export class DeadlineTimer {
  private deadline: number | undefined;
  private armedFor: number | undefined;
  private handle: Timer | undefined;
  private link: { timer: DeadlineTimer | null } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  get running(): boolean {
    return this.deadline !== undefined;
  }

  /** (Re)start so that the timer fires `delayMs` from now. */
  start(delayMs: number): void {
    const at = this.clock.now() + delayMs;
    this.deadline = at;
    if (this.armedFor !== undefined && this.armedFor <= at) return; // will re-arm when it fires
    this.arm(at);
  }

  /** Start only if not already running. */
  ensure(delayMs: number): void {
    if (this.deadline === undefined) this.start(delayMs);
  }

  stop(): void {
    this.deadline = undefined;
    this.disarm();
    this.armedFor = undefined;
  }

  private arm(at: number): void {
    this.disarm();
    this.armedFor = at;
    // The clock's callback reaches us through `link`, which disarm() cuts: a clock that
    // keeps cancelled timers until they are due (the virtual one) then holds nothing of
    // the connection.
    const link: { timer: DeadlineTimer | null } = { timer: this };
    this.link = link;
    this.handle = this.clock.setTimer(at - this.clock.now(), () => link.timer?.onTimer()).unref();
  }

  private disarm(): void {
    this.handle?.cancel();
    this.handle = undefined;
    if (this.link) this.link.timer = null;
    this.link = undefined;
  }

  private onTimer(): void {
    this.handle = undefined;
    this.link = undefined;
    this.armedFor = undefined;
    if (this.deadline === undefined) return;
    if (this.deadline > this.clock.now()) {
      this.arm(this.deadline);
      return;
    }
    this.deadline = undefined;
    this.fire();
  }
}
