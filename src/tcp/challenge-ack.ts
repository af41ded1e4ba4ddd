import { TcpFlags, type TcpHeader } from '../wire/tcp.js';
import type { ConnectionEnvironment } from './environment.js';

/**
 * What a synchronized connection (TIME-WAIT included) does with a RST or a SYN that
 * passed the sequence check: only a RST exactly at RCV.NXT resets (RFC 5961 3.2); any
 * other RST, and every SYN (RFC 5961 4.2), is answered with a challenge ACK, named by
 * its counter reason. Undefined for a segment with neither flag.
 */
export function inWindowRstOrSyn(h: TcpHeader, rcvNxt: number): 'reset' | 'rst_in_window' | 'syn_in_window' | undefined {
  if (h.flags & TcpFlags.RST) return h.seq === rcvNxt ? 'reset' : 'rst_in_window';
  if (h.flags & TcpFlags.SYN) return 'syn_in_window';
  return undefined;
}

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
