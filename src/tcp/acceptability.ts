import { seqAdd, seqInWindow } from './seq.js';

/**
 * The segment acceptability test of RFC 9293 3.10.7.4 (first step), the table:
 *
 *   Segment  Receive  Test
 *   Length   Window
 *   -------  -------  -------------------------------------------
 *      0        0     SEG.SEQ = RCV.NXT
 *      0       >0     RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
 *     >0        0     not acceptable
 *     >0       >0     RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
 *                  or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
 *
 * SEG.LEN counts SYN and FIN. A segment that fails is answered with an ACK (unless it
 * is a RST) and dropped.
 */
export function segmentAcceptable(seq: number, segLen: number, rcvNxt: number, rcvWnd: number): boolean {
  if (segLen === 0) {
    if (rcvWnd === 0) return seq === rcvNxt;
    return seqInWindow(seq, rcvNxt, seqAdd(rcvNxt, rcvWnd));
  }
  if (rcvWnd === 0) return false;
  const end = seqAdd(rcvNxt, rcvWnd);
  const last = seqAdd(seq, segLen - 1);
  return seqInWindow(seq, rcvNxt, end) || seqInWindow(last, rcvNxt, end);
}
