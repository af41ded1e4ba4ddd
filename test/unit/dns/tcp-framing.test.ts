import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DnsTcpDeframer } from '../../../src/dns/tcp-framing.js';
import { frameDnsTcp } from '../../../src/wire/dns.js';

describe('DNS over TCP framing (RFC 1035 4.2.2)', () => {
  it('reassembles messages however the stream cuts them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map((m) => Buffer.from(frameDnsTcp(m))));
          const d = new DnsTcpDeframer();
          const out: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            for (const m of d.push(stream.subarray(at, at + n))) out.push(Buffer.from(m));
            at += n;
          }
          expect(out).toEqual(messages.map((m) => Buffer.from(m)));
          expect(d.pending).toBe(0);
        },
      ),
    );
  });

  it('holds an incomplete message until the rest arrives', () => {
    const d = new DnsTcpDeframer();
    expect(d.push(Uint8Array.from([0, 3, 1]))).toEqual([]);
    expect(d.pending).toBe(3);
    expect(d.push(Uint8Array.from([2, 3, 0]))).toEqual([Uint8Array.from([1, 2, 3])].map((b) => Buffer.from(b)));
    expect(d.pending).toBe(1);
  });
});
