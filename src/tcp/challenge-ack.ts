import type { ConnectionEnvironment } from './environment.js';

/**
 * RFC 5961 7: the rate limit of one connection's challenge ACKs, as Linux: at most
 * one per `challengeAckIntervalMs` (tcp_invalid_ratelimit), and within the
 * stack-wide budget per second (`allowChallengeAck`, randomized, see TcpConfig), so
 * a flood of forged RSTs, SYNs or old ACKs cannot make us a reflector.
 */
export class ChallengeAckLimiter {
  private lastAt: number | undefined;

  constructor(private readonly env: Pick<ConnectionEnvironment, 'clock' | 'counters' | 'config' | 'allowChallengeAck'>) {}

  /** Count the reason; true when a challenge ACK may go out now. */
  allow(reason: string): boolean {
    const c = this.env.counters;
    c.inc(`tcp.rx.challenge.${reason}`);
    const now = this.env.clock.now();
    if (this.lastAt !== undefined && now - this.lastAt < this.env.config.challengeAckIntervalMs) {
      c.inc('tcp.tx.challenge_ack_suppressed');
      c.inc('tcp.tx.challenge_ack_suppressed.connection');
      return false;
    }
    if (!this.env.allowChallengeAck()) {
      c.inc('tcp.tx.challenge_ack_suppressed');
      c.inc('tcp.tx.challenge_ack_suppressed.global');
      return false;
    }
    this.lastAt = now;
    c.inc('tcp.tx.challenge_ack');
    return true;
  }
}
