import { describe, expect, it } from 'vitest';
import { InOrderStream } from '../../../src/trace/in-order-stream.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('InOrderStream', () => {
  it('reads new bytes once, in sequence order, and holds a segment ahead of a gap until the gap fills', () => {
    const s = new InOrderStream<string>();
    expect(text(s.accept(1, bytes('abc'), 'first').fresh)).toBe('abc');
    // A copy of what was read: all old.
    const copy = s.accept(1, bytes('abc'), 'copy');
    expect([text(copy.old), text(copy.fresh), copy.waiting]).toEqual(['abc', '', false]);
    // Bytes 7..9 come before 4..6: they wait.
    expect(s.accept(7, bytes('ghi'), 'late-sent').waiting).toBe(true);
    // 2..6 overlaps what was read: 'bc' is old, 'def' is new, and 'ghi' follows on.
    const fill = s.accept(2, bytes('bcdef'), 'fill');
    expect([text(fill.old), text(fill.fresh)]).toEqual(['bc', 'def']);
    expect(fill.released.map((r) => [text(r.bytes), r.owner])).toEqual([['ghi', 'late-sent']]);
    expect(text(s.accept(10, bytes('j'), 'next').fresh)).toBe('j');
  });
});
