import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/stack/clock.js';
import { SeededRandom } from '../../../src/stack/random.js';
import { segmentAcceptable } from '../../../src/tcp/acceptability.js';
import { NewReno } from '../../../src/tcp/congestion.js';
import { negotiateOptions } from '../../../src/tcp/negotiate.js';
import { IsnGenerator } from '../../../src/tcp/isn.js';
import { ReassemblyQueue } from '../../../src/tcp/receive-buffer.js';
import { SackRecovery } from '../../../src/tcp/recovery.js';
import { RtoEstimator } from '../../../src/tcp/rto.js';
import { SackScoreboard } from '../../../src/tcp/sack.js';
import { SendBuffer } from '../../../src/tcp/send-buffer.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from '../../../src/tcp/seq.js';

describe('sequence arithmetic (mod 2^32)', () => {
  it('compares across the wrap', () => {
    const near = 0xffff_fff0;
    expect(seqAdd(near, 0x20)).toBe(0x10);
    expect(seqLt(near, 0x10)).toBe(true);
    expect(seqGt(0x10, near)).toBe(true);
    expect(seqLe(0x10, 0x10)).toBe(true);
    expect(seqGe(near, 0x10)).toBe(false);
    expect(seqDiff(0x10, near)).toBe(0x20);
    expect(seqDiff(near, 0x10)).toBe(-0x20);
    expect(seqMax(near, 0x10)).toBe(0x10);
    expect(seqMin(near, 0x10)).toBe(near);
    expect(seqInWindow(2, near, 0x10)).toBe(true);
    expect(seqInWindow(0x10, near, 0x10)).toBe(false);
    expect(seqAdd(5, -10)).toBe(0xffff_fffb);
  });
});

describe('RTO (RFC 6298)', () => {
  it('starts at 1 s, takes the first sample, smooths the next', () => {
    const r = new RtoEstimator({ minMs: 200 });
    expect(r.rto).toBe(1000);
    r.sample(100); // SRTT 100, RTTVAR 50 -> 100 + 200
    expect(r.srtt).toBe(100);
    expect(r.rttvar).toBe(50);
    expect(r.rto).toBe(300);
    r.sample(200); // RTTVAR = 0.75*50 + 0.25*100 = 62.5; SRTT = 87.5 + 25 = 112.5
    expect(r.rttvar).toBe(62.5);
    expect(r.srtt).toBe(112.5);
    expect(r.rto).toBe(112.5 + 250);
  });

  it('clamps to the minimum and maximum and doubles on backoff', () => {
    const r = new RtoEstimator({ minMs: 200, maxMs: 1000 });
    r.sample(1);
    expect(r.rto).toBe(200);
    r.backoff();
    r.backoff();
    expect(r.rto).toBe(800);
    r.backoff();
    expect(r.rto).toBe(1000);
    expect(r.backoffs).toBe(3);
    r.sample(1);
    expect(r.backoffs).toBe(0);
  });
});

describe('NewReno (RFC 5681, 6582, 6928)', () => {
  it('IW10, slow start, congestion avoidance', () => {
    const cc = new NewReno(1000);
    expect(cc.cwnd).toBe(10_000);
    cc.onAck(1000);
    expect(cc.cwnd).toBe(11_000);
    cc.ssthresh = 11_000;
    for (let i = 0; i < 11; i++) cc.onAck(1000); // one window acked: +1 MSS
    expect(cc.cwnd).toBe(12_000);
  });

  it('IW is min(10*MSS, max(2*MSS, 14600)) for large MSS', () => {
    expect(new NewReno(8960).cwnd).toBe(2 * 8960);
    expect(new NewReno(1460).cwnd).toBe(14_600);
  });

  it('fast recovery: halve, inflate, deflate on partial ACK, exit at recover', () => {
    const cc = new NewReno(1000);
    cc.cwnd = 20_000;
    cc.enterRecovery(20_000, 5000);
    expect(cc.ssthresh).toBe(10_000);
    expect(cc.cwnd).toBe(13_000);
    cc.onDupAckInRecovery();
    expect(cc.cwnd).toBe(14_000);
    cc.onPartialAck(3000);
    expect(cc.cwnd).toBe(12_000);
    cc.onFullAck(4000);
    expect(cc.inRecovery).toBe(false);
    expect(cc.cwnd).toBe(5000);
  });

  it('with SACK recovery starts at ssthresh; RTO collapses to one segment', () => {
    const cc = new NewReno(1000);
    cc.enterRecovery(8000, 1, true);
    expect(cc.cwnd).toBe(4000);
    cc.onRto(9000, 123_456);
    expect(cc.cwnd).toBe(1000);
    expect(cc.ssthresh).toBe(4500);
    // RFC 6582 3.2 step 4: recover is the highest sequence number sent before the timeout.
    expect(cc.recover).toBe(123_456);
  });
});

describe('send buffer', () => {
  it('reads views within a chunk, copies across chunks, consumes from the front', () => {
    const b = new SendBuffer();
    const one = Uint8Array.from([1, 2, 3, 4]);
    b.push(one);
    b.push(Uint8Array.from([5, 6, 7]));
    expect(b.length).toBe(7);
    const view = b.read(1, 2);
    expect([...view]).toEqual([2, 3]);
    expect(view.buffer).toBe(one.buffer); // a view, not a copy
    expect([...b.read(2, 4)]).toEqual([3, 4, 5, 6]);
    b.consume(3);
    expect(b.length).toBe(4);
    expect([...b.read(0, 10)]).toEqual([4, 5, 6, 7]);
    b.consume(4);
    expect(b.length).toBe(0);
  });
});

describe('reassembly queue', () => {
  it('trims overlaps and duplicates, delivers in order, honours its memory bound', () => {
    const q = new ReassemblyQueue(10);
    const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => from + i);
    expect(q.insert(105, bytes(105, 3))).toBe(3); // 105..107
    expect(q.insert(106, bytes(106, 4))).toBe(2); // 108..109 new
    expect(q.insert(105, bytes(105, 5))).toBe(0); // pure duplicate
    expect(q.bytes).toBe(5);
    expect(q.insert(200, bytes(0, 6))).toBe(-1); // over the bound
    expect(q.sackBlocks(4)).toEqual([{ left: 105, right: 110 }]);
    expect(q.blockCount(4)).toBe(1); // 105..108 and 108..110 touch: one block
    expect(q.take(100).chunks).toEqual([]);
    const { chunks, next } = q.take(106);
    expect(next).toBe(110);
    expect(chunks.flatMap((c) => [...c])).toEqual([106, 107, 108, 109]);
    expect(q.empty).toBe(true);
  });

  it('puts the block of the most recent segment first (RFC 2018 4)', () => {
    const q = new ReassemblyQueue(1000);
    q.insert(10, new Uint8Array(5));
    q.insert(30, new Uint8Array(5));
    q.insert(50, new Uint8Array(5));
    q.insert(20, new Uint8Array(5));
    expect(q.sackBlocks(3)).toEqual([
      { left: 20, right: 25 },
      { left: 50, right: 55 },
      { left: 30, right: 35 },
    ]);
    expect(q.blockCount(3)).toBe(3);
    expect(q.blockCount(4)).toBe(4);
  });

  it('works across the sequence wrap', () => {
    const q = new ReassemblyQueue(100);
    q.insert(2, Uint8Array.from([3, 4]));
    q.insert(0xffff_fffe, Uint8Array.from([1, 2, 9, 9]));
    const { chunks, next } = q.take(0xffff_fffe);
    expect(next).toBe(4); // 0xfffffffe + 4 wraps to 2, and the piece at 2 follows
    expect(chunks.flatMap((c) => [...c])).toEqual([1, 2, 9, 9, 3, 4]);
  });
});

describe('SACK scoreboard and recovery', () => {
  it('merges blocks, ignores bogus ones, skips SACKed ranges', () => {
    const sb = new SackScoreboard();
    sb.update([{ left: 200, right: 300 }, { left: 400, right: 500 }, { left: 50, right: 90 }, { left: 600, right: 2000 }], 100, 1000);
    expect(sb.skip(250)).toBe(300);
    expect(sb.skip(300)).toBe(300);
    sb.update([{ left: 300, right: 400 }], 100, 1000);
    expect(sb.skip(200)).toBe(500);
    expect(sb.sackedBetween(100, 1000)).toBe(300);
    expect(sb.highest).toBe(500);
    sb.advance(450);
    expect(sb.sackedBetween(0, 1000)).toBe(50);
  });

  it('pipe and the next hole; a retransmission overtaken by later data is lost again', () => {
    const sb = new SackScoreboard();
    const rec = new SackRecovery();
    // Sent 1000..6000 in segments of 1000; 1000..2000 and 3000..4000 lost.
    sb.update([{ left: 2000, right: 3000 }, { left: 4000, right: 6000 }], 1000, 6000);
    expect(rec.pipe(sb, 1000, 6000)).toBe(0);
    expect(rec.next(sb, 1000, 1000)).toEqual({ seq: 1000, len: 1000, again: false });
    rec.record(1000, 1000, 6000);
    expect(rec.pipe(sb, 1000, 6000)).toBe(1000);
    expect(rec.next(sb, 1000, 1000)).toEqual({ seq: 3000, len: 1000, again: false });
    rec.record(3000, 1000, 6000);
    expect(rec.next(sb, 1000, 1000)).toBeUndefined();
    // New data 6000..7000 is sent and SACKed, but 1000..2000 is still missing.
    sb.update([{ left: 6000, right: 7000 }], 1000, 7000);
    expect(rec.next(sb, 1000, 1000)).toEqual({ seq: 1000, len: 1000, again: true });
  });
});

describe('initial sequence numbers (RFC 6528)', () => {
  it('differ per four-tuple and grow with the clock for the same one', () => {
    const clock = new VirtualClock();
    const isn = new IsnGenerator(clock, new SeededRandom(1));
    const a = isn.next(1, 20, 2, 5001);
    const b = isn.next(1, 20, 2, 5002);
    expect(a).not.toBe(b);
    clock.advance(1000);
    const a2 = isn.next(1, 20, 2, 5001);
    expect(seqDiff(a2, a)).toBe(250_000); // 4 µs ticks
    // Another key (another boot) gives unrelated numbers.
    expect(new IsnGenerator(clock, new SeededRandom(2)).next(1, 20, 2, 5001)).not.toBe(a2);
  });
});

describe('SACK recovery records', () => {
  it('a new retransmission replaces the overlapping parts of older records', () => {
    const sb = new SackScoreboard();
    const rec = new SackRecovery();
    sb.update([{ left: 5000, right: 6000 }], 1000, 6000);
    rec.record(1000, 3000, 6000); // 1000..4000 retransmitted when SND.MAX was 6000
    sb.update([{ left: 6000, right: 7000 }], 1000, 7000); // later data arrived: all of it lost again
    const again = rec.next(sb, 1000, 1000)!;
    expect(again).toEqual({ seq: 1000, len: 1000, again: true });
    rec.record(again.seq, again.len, 7000);
    // 1000..2000 is fresh now; the next one lost again is 2000..3000, not 1000 once more.
    expect(rec.next(sb, 1000, 1000)).toEqual({ seq: 2000, len: 1000, again: true });
  });
});

describe('segment acceptability (RFC 9293 3.10.7.4 table)', () => {
  const nxt = 0xffff_fff0; // across the wrap
  it.each([
    // [seq offset from RCV.NXT, SEG.LEN, RCV.WND, acceptable]
    [0, 0, 0, true],
    [1, 0, 0, false],
    [0, 0, 100, true],
    [99, 0, 100, true],
    [100, 0, 100, false],
    [-1, 0, 100, false],
    [0, 10, 0, false],
    [0, 10, 100, true],
    [-5, 10, 100, true], // starts before, ends inside
    [95, 10, 100, true], // starts inside, ends after
    [-10, 10, 100, false], // entirely old
    [100, 10, 100, false], // entirely beyond
  ])('offset %i, length %i, window %i -> %s', (offset, len, wnd, ok) => {
    expect(segmentAcceptable(seqAdd(nxt, offset), len, nxt, wnd)).toBe(ok);
  });
});

describe('option negotiation', () => {
  const all = { windowScaling: true, sack: true, timestamps: true };
  it('uses a feature only when both sides offer it', () => {
    expect(negotiateOptions({ mss: 1460, windowScale: 7, sackPermitted: true, timestamp: { value: 1, echo: 0 } }, 1460, all)).toEqual({
      sndMss: 1460,
      wsOk: true,
      sndWscale: 7,
      sackOk: true,
      tsOk: true,
    });
    expect(negotiateOptions({}, 1460, all)).toEqual({ sndMss: 536, wsOk: false, sndWscale: 0, sackOk: false, tsOk: false });
    expect(negotiateOptions({ mss: 9000, windowScale: 20, sackPermitted: true }, 1460, { ...all, sack: false })).toEqual({
      sndMss: 1460,
      wsOk: true,
      sndWscale: 14, // RFC 7323 2.3
      sackOk: false,
      tsOk: false,
    });
  });
});
