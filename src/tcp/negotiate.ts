import type { TcpOptions } from '../wire/tcp.js';

/** RFC 7323 2.3: a shift above 14 is treated as 14. */
export const MAX_WINDOW_SHIFT = 14;
/** RFC 9293 3.7.1: without an MSS option, assume 536 bytes. */
export const DEFAULT_MSS = 536;

/** The MSS we announce: the MTU less the IPv4 and TCP headers (RFC 9293 3.7.1), never below 536. */
export function ourMssFor(mtu: number): number {
  return Math.max(DEFAULT_MSS, mtu - 40);
}

/** The window scale we offer: the smallest shift whose window covers the receive buffer. */
export function ourWindowShift(receiveBufferBytes: number): number {
  let ws = 0;
  while (ws < MAX_WINDOW_SHIFT && 0xffff * 2 ** ws < receiveBufferBytes) ws++;
  return ws;
}

export interface Negotiated {
  /** Largest segment the peer accepts (data plus options), at most ours. */
  sndMss: number;
  /** Both SYNs carried a window scale (RFC 7323 2.2). */
  wsOk: boolean;
  /** The peer's shift, applied to the windows it sends. */
  sndWscale: number;
  /** Both SYNs carried SACK-permitted (RFC 2018 2). */
  sackOk: boolean;
  /** Both SYNs carried timestamps (RFC 7323 3.2). */
  tsOk: boolean;
}

/**
 * Options negotiated as Linux does: a feature is used only when both SYNs carry it
 * (our own SYN offers everything that is enabled; a SYN,ACK only what the peer
 * offered, see TcpConnection.synOptions).
 */
export function negotiateOptions(
  peer: TcpOptions,
  ourMss: number,
  enabled: { windowScaling: boolean; sack: boolean; timestamps: boolean },
): Negotiated {
  const wsOk = enabled.windowScaling && peer.windowScale !== undefined;
  return {
    sndMss: Math.max(64, Math.min(peer.mss ?? DEFAULT_MSS, ourMss)),
    wsOk,
    sndWscale: wsOk ? Math.min(peer.windowScale!, MAX_WINDOW_SHIFT) : 0,
    sackOk: enabled.sack && peer.sackPermitted === true,
    tsOk: enabled.timestamps && peer.timestamp !== undefined,
  };
}
