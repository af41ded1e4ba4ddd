/**
 * The retransmission timeout of RFC 6298: SRTT and RTTVAR from RTT samples,
 * RTO = SRTT + max(G, 4 * RTTVAR), clamped to [min, max], doubled on each expiry.
 * Karn's rule (samples from retransmitted segments are not used) is the caller's
 * job: it only feeds samples it trusts (timestamps, or a never-retransmitted segment).
 */
export interface RtoOptions {
  /** RFC 6298 2.4 says 1 s; Linux uses 200 ms. */
  minMs?: number;
  maxMs?: number;
  /** RFC 6298 2.1: 1 s before any sample. */
  initialMs?: number;
  /** Clock granularity G. */
  granularityMs?: number;
}

export class RtoEstimator {
  srtt: number | undefined;
  rttvar = 0;
  /** The current timeout, including backoff. */
  rto: number;
  /** How many times in a row the timer has expired (reset by a new sample). */
  backoffs = 0;
  private readonly min: number;
  private readonly max: number;
  private readonly g: number;

  constructor(options: RtoOptions = {}) {
    this.min = options.minMs ?? 200;
    this.max = options.maxMs ?? 120_000;
    this.g = options.granularityMs ?? 1;
    this.rto = options.initialMs ?? 1000;
  }

  /** RFC 6298 2.2 / 2.3: fold in one RTT measurement (ms). */
  sample(rtt: number): void {
    const r = Math.max(0, rtt);
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      // alpha = 1/8, beta = 1/4
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.backoffs = 0;
    this.rto = this.clamp(this.srtt + Math.max(this.g, 4 * this.rttvar));
  }

  /** RFC 6298 5.5: the timer expired, double the timeout. */
  backoff(): void {
    this.backoffs++;
    this.rto = this.clamp(this.rto * 2);
  }

  private clamp(v: number): number {
    return Math.min(this.max, Math.max(this.min, v));
  }
}
