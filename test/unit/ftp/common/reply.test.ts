import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatReply, isPositive, replyClass, ReplyParser, type FtpReply, type ReplyEvent } from '../../../../src/ftp/common/reply.js';

function replies(events: ReplyEvent[]): FtpReply[] {
  return events.flatMap((e) => (e.kind === 'reply' ? [e.reply] : []));
}

describe('formatReply', () => {
  it('formats a single-line reply with CRLF', () => {
    expect(formatReply(226, 'Transfer complete.')).toBe('226 Transfer complete.\r\n');
  });

  it('formats a multi-line reply with ddd- and ddd (RFC 959 4.2)', () => {
    expect(formatReply(211, ['Features:', ' EPSV', ' MDTM', 'End'])).toBe('211-Features:\r\n EPSV\r\n MDTM\r\n211 End\r\n');
  });

  it('splits a string on line ends', () => {
    expect(formatReply(214, 'one\ntwo\r\nthree')).toBe('214-one\r\ntwo\r\n214 three\r\n');
  });

  it('pads middle lines that start with a digit so they cannot end the reply', () => {
    const out = formatReply(250, ['Listing:', '226 not the end', '250-neither', 'done']);
    expect(out).toBe('250-Listing:\r\n 226 not the end\r\n 250-neither\r\n250 done\r\n');
    const parsed = replies(new ReplyParser().push(out));
    expect(parsed).toHaveLength(1);
    expect(parsed[0]!.lines).toHaveLength(4);
  });

  it('rejects a code that is not three digits', () => {
    expect(() => formatReply(42, 'x')).toThrow(RangeError);
  });

  it('classifies codes', () => {
    expect(replyClass(150)).toBe(1);
    expect(replyClass(550)).toBe(5);
    expect(isPositive(331)).toBe(true);
    expect(isPositive(421)).toBe(false);
  });
});

describe('ReplyParser', () => {
  it('parses the seed session replies', () => {
    const p = new ReplyParser();
    const got = replies(p.push('220 ftp.any-domain.com FTP server ready.\r\n331 Guest login ok, send your complete e-mail address as password.\r\n'));
    expect(got.map((r) => r.code)).toEqual([220, 331]);
    expect(got[1]!.text).toBe('Guest login ok, send your complete e-mail address as password.');
    expect(p.pending).toBe(false);
  });

  it('parses a real vsftpd FEAT reply', () => {
    // The FEAT reply of vsftpd 3.0 with its Debian default configuration.
    const wire = '211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n';
    const [r] = replies(new ReplyParser().push(wire));
    expect(r!.code).toBe(211);
    expect(r!.lines).toEqual(['211-Features:', ' EPRT', ' EPSV', ' MDTM', ' PASV', ' REST STREAM', ' SIZE', ' TVFS', '211 End']);
    expect(r!.text.split('\n')).toEqual(['Features:', ' EPRT', ' EPSV', ' MDTM', ' PASV', ' REST STREAM', ' SIZE', ' TVFS', 'End']);
  });

  it('reassembles a reply split at every byte', () => {
    const wire = '230-Welcome\r\n230-to the\r\n  server\r\n230 Login successful.\r\n200 ok\r\n';
    const p = new ReplyParser();
    const events: ReplyEvent[] = [];
    for (const ch of Buffer.from(wire)) events.push(...p.push(Buffer.from([ch])));
    const got = replies(events);
    expect(got.map((r) => r.code)).toEqual([230, 200]);
    // ProFTPD-style repeated ddd- prefixes are removed from the message.
    expect(got[0]!.text).toBe('Welcome\nto the\n  server\nLogin successful.');
  });

  it('does not end a multi-line reply on a different code or on ddd-', () => {
    const p = new ReplyParser();
    expect(replies(p.push('150-first\r\n226 nope, other code\r\n150-still going\r\n'))).toEqual([]);
    expect(p.pending).toBe(true);
    const [r] = replies(p.push('150 end\r\n'));
    expect(r!.lines).toHaveLength(4);
  });

  it('accepts bare LF, a code with no text, and blank lines between replies', () => {
    const got = replies(new ReplyParser().push('200 ok\n\r\n226\n'));
    expect(got.map((r) => [r.code, r.text])).toEqual([
      [200, 'ok'],
      [226, ''],
    ]);
  });

  it('ends a multi-line reply on a bare code line', () => {
    const got = replies(new ReplyParser().push('211-Status\r\n stuff\r\n211\r\n'));
    expect(got).toHaveLength(1);
    expect(got[0]!.text).toBe('Status\n stuff\n');
  });

  it('removes Telnet IAC sequences (IAC IP IAC DM before ABOR replies)', () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('426 aborted\r\n')]);
    const [r] = replies(new ReplyParser().push(bytes));
    expect(r!.code).toBe(426);
    expect(r!.text).toBe('aborted');
  });

  it('keeps UTF-8 names and replaces invalid bytes instead of throwing', () => {
    const bytes = Buffer.concat([Buffer.from('257 "/données" '), Buffer.from([0xc3, 0x28]), Buffer.from('\r\n')]);
    const [r] = replies(new ReplyParser().push(bytes));
    expect(r!.text.startsWith('"/données" ')).toBe(true);
    expect(r!.text).toContain('\ufffd');
  });

  it('reports a line without a code and keeps going', () => {
    const events = new ReplyParser().push('hello there\r\n220 ready\r\n');
    expect(events[0]).toMatchObject({ kind: 'error', error: { kind: 'no-code', line: 'hello there' } });
    expect(replies(events).map((r) => r.code)).toEqual([220]);
  });

  it('bounds the buffered line length', () => {
    const p = new ReplyParser({ maxLineLength: 64 });
    const events = p.push('220 ' + 'x'.repeat(100));
    expect(events).toEqual([expect.objectContaining({ kind: 'error', error: expect.objectContaining({ kind: 'line-too-long' }) })]);
    // The rest of the long line is dropped; the parser recovers at the next line.
    const more = p.push('y'.repeat(1000) + '\r\n200 ok\r\n');
    expect(replies(more).map((r) => r.code)).toEqual([200]);
    expect(p.pending).toBe(false);
  });

  it('bounds the number of lines in a multi-line reply', () => {
    const p = new ReplyParser({ maxLines: 5 });
    const events = p.push('211-start\r\n' + ' line\r\n'.repeat(20) + '211 end\r\n200 next\r\n');
    expect(events[0]).toMatchObject({ kind: 'error', error: { kind: 'reply-too-long' } });
    expect(replies(events).map((r) => r.code)).toEqual([200]);
  });

  it('round-trips any formatted reply through the parser (property)', () => {
    const lineArb = fc.string({ maxLength: 40 }).filter((s) => !/[\r\n\xff]/.test(s));
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.array(lineArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 7 }), (code, lines, step) => {
        const wire = Buffer.from(formatReply(code, lines));
        const p = new ReplyParser();
        const events: ReplyEvent[] = [];
        for (let i = 0; i < wire.length; i += step) events.push(...p.push(wire.subarray(i, i + step)));
        const got = replies(events);
        expect(got).toHaveLength(1);
        expect(got[0]!.code).toBe(code);
        expect(got[0]!.lines).toHaveLength(lines.length);
        expect(p.pending).toBe(false);
      }),
    );
  });
});
