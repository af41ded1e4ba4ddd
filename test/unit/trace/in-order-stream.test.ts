import { describe, expect, it } from 'vitest';
import { InOrderStream } from '../../../src/trace/in-order-stream.js';
import { buildSession } from '../../../src/trace/session.js';
import { CLIENT, Conversation, F, SERVER } from './frames.js';

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

describe('FTP replies matched to commands by sequence', () => {
  it('explains a reply first seen inside a retransmission, and the replies after it, by the command each answers', () => {
    const PA = F.PSH | F.ACK;
    const ctl = new Conversation({ addr: CLIENT, port: 40000 }, { addr: SERVER, port: 21 });
    ctl.handshake();
    ctl.send('b', PA, '220 ready\r\n');
    ctl.send('a', PA, 'PORT 192,168,0,2,19,137\r\n');
    ctl.send('b', PA, '200 PORT command successful.\r\n');
    ctl.send('a', PA, 'LIST\r\n');
    const at150 = ctl.next('b');
    ctl.send('b', PA, '150 Here comes the directory listing.\r\n');
    // 226 is lost before the capture point: the sender moves on, the capture never sees it.
    ctl.send('b', PA, '226 Directory send OK.\r\n');
    ctl.frames.pop();
    // The retransmission carries 150 (seen) and 226 (never seen) in one segment.
    ctl.send('b', PA, '150 Here comes the directory listing.\r\n226 Directory send OK.\r\n', { seq: at150 });
    ctl.send('a', PA, 'CWD pub\r\n');
    ctl.send('b', PA, '250 Directory successfully changed.\r\n');
    const model = buildSession(ctl.frames.map((data) => ({ data })));
    const byName = (name: string) => model.messages.filter((m) => m.name === name);
    const resent = byName('FTP 150 + FTP 226')[0]!;
    expect(resent.labels).toEqual(['TCP Retransmission']);
    // The new part of the copy is read: 226 completes the LIST, ...
    expect(resent.explanation).toMatch(/The directory listing completion is signaled by this TCP segment\.$/);
    // ... so the next reply answers CWD (before, 226 stayed unread and 250 was taken for LIST's completion).
    expect(byName('FTP 250')[0]!.explanation).toBe('FTP server positively acknowledges the Change Working Directory command.');
  });
});
