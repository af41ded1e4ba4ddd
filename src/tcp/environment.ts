import type { Clock } from '../stack/clock.js';
import type { Counters } from '../stack/counters.js';
import type { Logger } from '../stack/log.js';
import type { TcpHeaderFields } from '../wire/tcp.js';
import type { NetError } from './api.js';
import type { TcpConfig } from './config.js';
import type { TcpConnection } from './connection.js';
import type { TcpState } from './state.js';

/** What a connection needs from the TCP instance that owns it. */
export interface ConnectionEnvironment {
  readonly clock: Clock;
  readonly counters: Counters;
  readonly log: Logger;
  readonly config: TcpConfig;
  /** Encode and send one segment now (the host batches it with the rest). */
  transmit(conn: TcpConnection, fields: TcpHeaderFields, payload: Uint8Array): void;
  /** Ask for `conn.output()` at the next flush. */
  requestOutput(conn: TcpConnection): void;
  /** The connection reached CLOSED: forget it. */
  release(conn: TcpConnection): void;
  /** The connection entered TIME-WAIT: put a small TimeWait record in its place. */
  enterTimeWait(conn: TcpConnection): void;
  /** RFC 5961 7: may we send one more challenge ACK now? */
  allowChallengeAck(): boolean;
}

/** The application side of a connection (the socket). */
export interface ConnectionUser {
  onEstablished(): void;
  onData(data: Uint8Array): void;
  /** The peer's FIN arrived in order: no more data. */
  onEof(): void;
  /** Acknowledged data left the send buffer. */
  onSendSpace(): void;
  /** Our FIN was acknowledged, so the peer has every byte we sent (RFC 9293 3.10.7.4). */
  onFinAcked(): void;
  /** The connection failed (reset, refused, timed out); it is CLOSED now. */
  onError(err: NetError): void;
  /** The host shut down under the connection: close quietly (no 'error'). */
  onShutdown(): void;
  /** Bytes delivered but not yet read by the application (shrinks our window). */
  readonly readableBacklog: number;
}

/** Who a passive connection reports to until it is accepted. */
export interface ConnectionListener {
  /** No room to hand over one more established connection. */
  readonly acceptQueueFull: boolean;
  onEstablished(conn: TcpConnection): void;
  onAborted(conn: TcpConnection): void;
}

/** What TcpConnection.info() reports (sizes in bytes, times in ms). */
export interface TcpInfo {
  state: TcpState;
  /** Segment size towards the peer (its MSS, at most ours), and the MSS we announced. */
  mss: number;
  advmss: number;
  /** [peer's shift, our shift] when window scaling is on. */
  wscale: [number, number] | undefined;
  sack: boolean;
  timestamps: boolean;
  rtt: number | undefined;
  rttvar: number | undefined;
  rto: number;
  cwnd: number;
  ssthresh: number | undefined;
  inRecovery: boolean;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  rcvNxt: number;
  rcvWnd: number;
  /** Sent, not yet acknowledged; written, not yet sent; held out of order. */
  unacked: number;
  unsent: number;
  outOfOrderBytes: number;
}

export interface FourTuple {
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
}
