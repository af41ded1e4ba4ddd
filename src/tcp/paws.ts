import type { TcpOptions } from '../wire/tcp.js';
import { seqGe, seqLe, seqLt } from './seq.js';

type Timestamp = TcpOptions['timestamp'];

/**
 * Our TSval (RFC 7323 5.4): the clock in milliseconds plus a per-connection offset,
 * so that the values do not tell the host's uptime and do not repeat across connections.
 */
export function tsval(nowMs: number, offset: number): number {
  return (Math.floor(nowMs) + offset) >>> 0;
}

/**
 * RFC 7323 5.3 (PAWS): with timestamps in use, a segment (other than a RST) whose
 * TSval is older than TS.Recent is an old duplicate and is dropped (with an ACK).
 */
export function pawsRejects(tsOk: boolean, ts: Timestamp, rst: boolean, tsRecent: number): boolean {
  return tsOk && ts !== undefined && !rst && tsRecent !== 0 && seqLt(ts.value, tsRecent);
}

/**
 * RFC 7323 4.3: the TS.Recent to keep after an acceptable segment: its TSval, when
 * the segment starts at or before the last ACK we sent and the TSval is not older.
 */
export function nextTsRecent(tsOk: boolean, ts: Timestamp, seq: number, lastAckSent: number, tsRecent: number): number {
  return tsOk && ts && seqLe(seq, lastAckSent) && seqGe(ts.value, tsRecent) ? ts.value : tsRecent;
}
