/**
 * Congestion control: slow start and congestion avoidance (RFC 5681 3.1), fast
 * retransmit / fast recovery with the NewReno modification (RFC 6582), and an
 * initial window of about ten segments (RFC 6928). Counts bytes, not segments.
 */
export class NewReno {
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** In fast recovery until SND.UNA passes `recover` (RFC 6582 3.2 step 1). */
  inRecovery = false;
  recover = 0;
  /** Bytes acked in congestion avoidance since cwnd last grew. */
  private acked = 0;

  constructor(public mss: number) {
    this.cwnd = initialWindow(mss);
  }

  /** The segment size became known (the SYNs were exchanged): start from its initial window. */
  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = initialWindow(mss);
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  /** New data acknowledged outside recovery (RFC 5681 3.1). */
  onAck(ackedBytes: number): void {
    if (this.inSlowStart) {
      // RFC 3465 (ABC) with L = 2 segments per ACK.
      this.cwnd += Math.min(ackedBytes, 2 * this.mss);
    } else {
      // About one MSS per window of data acknowledged.
      this.acked += ackedBytes;
      if (this.acked >= this.cwnd) {
        this.acked -= this.cwnd;
        this.cwnd += this.mss;
      }
    }
  }

  /**
   * Third duplicate ACK: RFC 5681 3.2 steps 2-3, RFC 6582 3.2 step 2. With SACK
   * (RFC 6675 5) cwnd is simply ssthresh: pipe, not inflation, meters the sending.
   */
  enterRecovery(flightSize: number, sndMax: number, sack = false): void {
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = sack ? this.ssthresh : this.ssthresh + 3 * this.mss;
    this.inRecovery = true;
    this.recover = sndMax;
  }

  /** Each further duplicate ACK in recovery inflates the window (RFC 5681 3.2 step 4). */
  onDupAckInRecovery(): void {
    this.cwnd += this.mss;
  }

  /** RFC 6582 3.2 step 5, partial ACK: deflate by the amount acked, add back one MSS. */
  onPartialAck(ackedBytes: number): void {
    this.cwnd = Math.max(this.mss, this.cwnd - ackedBytes + this.mss);
  }

  /** RFC 6582 3.2 step 5, full ACK: leave recovery with cwnd = min(ssthresh, flight + MSS). */
  onFullAck(flightSize: number): void {
    this.cwnd = Math.min(this.ssthresh, Math.max(flightSize, this.mss) + this.mss);
    this.inRecovery = false;
    this.acked = 0;
  }

  /** RFC 5681 3.1 eq. 4 and the loss window: retransmission timer expired. */
  onRto(flightSize: number, sndMax: number): void {
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.inRecovery = false;
    this.acked = 0;
    // RFC 6582 3.2 step 4: the duplicate ACKs that the go-back-N resend provokes must
    // not start a fast retransmit for data sent before the timeout.
    this.recover = sndMax;
  }
}

/** RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)). */
function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}
