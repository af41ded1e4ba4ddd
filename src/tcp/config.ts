/** Tunables of one TCP instance; defaults follow Linux where the RFCs leave a choice. */
export interface TcpConfig {
  /** Receive buffer: the most we advertise (bytes). */
  receiveBufferBytes: number;
  /** Send buffer: writes beyond it wait for ACKs (backpressure). */
  sendBufferBytes: number;
  /** Out-of-order queue bound (bytes). */
  outOfOrderLimitBytes: number;
  /** TIME-WAIT lasts 2*MSL (RFC 9293 3.4.2); Linux holds it 60 s. */
  timeWaitMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  initialRtoMs: number;
  /** SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries = 6). */
  synRetries: number;
  /** Data retransmissions before ETIMEDOUT (Linux tcp_retries2 = 15). */
  maxRetries: number;
  /** Delayed ACK timeout (RFC 1122 4.2.3.2: < 0.5 s; Linux 40 ms). */
  delayedAckMs: number;
  /** The first this many data segments of a connection are ACKed at once (Linux TCP_MAX_QUICKACKS = 16); 0 turns it off. */
  quickAcks: number;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
  /** RFC 4987 3.6: answer SYNs with a cookie when a listener's SYN queue is full (Linux tcp_syncookies = 1). */
  synCookies: boolean;
  /**
   * RFC 5961 7: challenge ACKs allowed per second, whole stack. Each second's budget
   * is drawn at random between half and one and a half times this (as Linux since
   * CVE-2016-5696, where a fixed global count let an off-path attacker infer
   * sequence numbers).
   */
  challengeAckPerSecond: number;
  /** RFC 5961 7: at most one challenge ACK per connection in this time (Linux tcp_invalid_ratelimit, 500 ms). */
  challengeAckIntervalMs: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  /**
   * User timeout (RFC 9293 3.10.8, RFC 5482): fail with ETIMEDOUT when sent data
   * stays unacknowledged this long, whatever the retry count. 0 disables it.
   */
  userTimeoutMs: number;
  /** Tail loss probes (RFC 8985 7): resend the last segment after ~2 RTT instead of waiting for the RTO. */
  tailLossProbe: boolean;
  /**
   * How many MSS one segment of new data may carry when the link cuts segments for
   * us (a TAP with offload: TapLink.segmentsPerSuperFrame, with the host's
   * superFrameMtu). 1, the default: every segment fits the MTU.
   */
  segmentsPerSend: number;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  receiveBufferBytes: 1 << 20,
  sendBufferBytes: 1 << 20,
  outOfOrderLimitBytes: 1 << 20,
  timeWaitMs: 60_000,
  minRtoMs: 200,
  maxRtoMs: 120_000,
  initialRtoMs: 1000,
  synRetries: 6,
  maxRetries: 15,
  delayedAckMs: 40,
  quickAcks: 16,
  windowScaling: true,
  timestamps: true,
  sack: true,
  synCookies: true,
  challengeAckPerSecond: 1000,
  challengeAckIntervalMs: 500,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  userTimeoutMs: 0,
  tailLossProbe: true,
  segmentsPerSend: 1,
};
