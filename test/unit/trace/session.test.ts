import { describe, expect, it } from 'vitest';
import { encodeDnsMessage, encodeDnsQuery, emptyHeader } from '../../../src/wire/dns.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { buildSession, createFrameExplainer, type SessionModel } from '../../../src/trace/session.js';
import { seedSections } from '../../support/seed-check.js';
import { CLIENT, Conversation, F, SERVER, udp } from './frames.js';

const PA = F.PSH | F.ACK;
const line = (n: number, text: string) => `${text} ${'x'.repeat(Math.max(0, n - text.length - 3))}\r\n`;

/** The seed's session, built frame by frame, with faults on the readme.txt transfer. */
function seedSession(): { frames: Uint8Array[]; marks: Record<string, number> } {
  const frames: Uint8Array[] = [];
  const marks: Record<string, number> = {};
  const mark = (name: string) => (marks[name] = frames.length + 1); // the next frame's number
  const take = (c: Conversation) => frames.push(c.frames[c.frames.length - 1]!);

  frames.push(udp(CLIENT, SERVER, 3300, 53, encodeDnsQuery(0x1234, { name: 'ftp.any-domain.com', type: 1, class: 1 }, true)));
  frames.push(
    udp(
      SERVER,
      CLIENT,
      53,
      3300,
      encodeDnsMessage({
        header: { ...emptyHeader(0x1234), qr: true, rd: true, ra: true, aa: true },
        questions: [{ name: 'ftp.any-domain.com', type: 1, class: 1 }],
        answers: [{ name: 'ftp.any-domain.com', type: 1, class: 1, ttl: 60, data: { kind: 'A', address: parseIpv4(SERVER)! } }],
        authorities: [],
        additionals: [],
      }),
    ),
  );
  const ctl = new Conversation({ addr: CLIENT, port: 1175 }, { addr: SERVER, port: 21 });
  const c = (from: 'a' | 'b', flags: number, data = '') => {
    ctl.send(from, flags, data);
    take(ctl);
  };
  c('a', F.SYN);
  c('b', F.SYN | F.ACK);
  c('a', F.ACK);
  c('b', PA, '220 ANY-DOMAIN.COM FTP Service\r\n');
  c('a', F.ACK);
  c('a', PA, 'USER ftp\r\n');
  c('b', F.ACK);
  c('b', PA, '331 Anonymous access allowed, send identity (e-mail name) as password.\r\n');
  c('a', F.ACK);
  c('a', PA, 'PASS abc@any-domain.com\r\n');
  c('b', F.ACK);
  mark('230-');
  c('b', PA, '230-Welcome to ftp.any-domain.com\r\n');
  c('b', PA, '230 Anonymous user logged in.\r\n');
  c('a', F.ACK);
  mark('PORT1');
  c('a', PA, 'PORT 192,168,0,2,19,137\r\n');
  c('b', F.ACK);
  c('b', PA, '200 PORT command successful.\r\n');
  c('a', PA, 'LIST\r\n');
  c('b', PA, '150 Opening ASCII mode data connection for /bin/ls.\r\n');

  const d1 = new Conversation({ addr: SERVER, port: 20 }, { addr: CLIENT, port: 5001 });
  const l = (from: 'a' | 'b', flags: number, data = '') => {
    d1.send(from, flags, data);
    take(d1);
  };
  mark('SYN5001');
  l('a', F.SYN);
  l('b', F.SYN | F.ACK);
  l('a', F.ACK);
  l('a', PA, '-rw-r--r--   1 ftp ftp   1715 Nov 21 11:45 readme.txt\r\n');
  l('b', F.ACK);
  mark('FIN5001');
  l('a', F.FIN | F.ACK);
  l('b', F.ACK);
  l('b', F.FIN | F.ACK);
  l('a', F.ACK);
  c('b', PA, '226 Transfer complete.\r\n');
  c('a', F.ACK);
  c('a', PA, 'CWD pub\r\n');
  c('b', F.ACK);
  c('b', PA, '250 CWD command successful.\r\n');
  c('a', F.ACK);
  c('a', PA, 'PORT 192,168,0,2,19,138\r\n');
  c('b', F.ACK);
  c('b', PA, '200 PORT command successful.\r\n');
  c('a', PA, 'RETR readme.txt\r\n');
  c('b', F.ACK);
  c('b', PA, '150 Opening ASCII mode data connection for readme.txt(1715 bytes).\r\n');

  const d2 = new Conversation({ addr: SERVER, port: 20 }, { addr: CLIENT, port: 5002 });
  const r = (from: 'a' | 'b', flags: number, data = '', opts = {}) => {
    d2.send(from, flags, data, opts);
    take(d2);
  };
  r('a', F.SYN);
  r('b', F.SYN | F.ACK);
  r('a', F.ACK);
  const seg1Seq = d2.next('a');
  r('a', F.ACK, line(500, 'part 1'));
  r('b', F.ACK); // ACK of part 1
  const seg2Seq = d2.next('a');
  d2.send('a', F.ACK, line(500, 'part 2')); // lost before the capture point: not taken
  mark('gap');
  r('a', F.ACK, line(500, 'part 3'));
  mark('dupack');
  r('b', F.ACK, '', { ack: seg2Seq }); // the receiver asks again for part 2
  mark('fastretransmit');
  r('a', F.ACK, line(500, 'part 2'), { seq: seg2Seq });
  mark('spurious');
  r('a', F.ACK, line(500, 'part 1'), { seq: seg1Seq });
  mark('DATA+FIN');
  r('a', F.FIN | PA, line(215, 'part 4'));
  r('b', F.ACK);
  r('b', F.FIN | F.ACK);
  r('a', F.ACK);
  c('a', F.ACK);
  c('b', PA, '226 Transfer complete.\r\n');
  c('a', F.ACK);
  mark('QUIT');
  c('a', PA, 'QUIT\r\n');
  c('b', F.ACK);
  c('b', PA, '221 Thank you for visiting ftp.any-domain.com.\r\n');
  c('a', F.ACK);
  c('b', F.FIN | F.ACK);
  c('a', F.ACK);
  c('a', F.FIN | F.ACK);
  c('b', F.ACK);
  return { frames, marks };
}

const sections = (m: SessionModel) => m.items.flatMap((i) => (i.type === 'section' ? [i.title] : []));
const byFrame = (m: SessionModel, n: number) => m.messages.find((x) => x.frame === n)!;

describe('SessionAnalyzer on the seed session', () => {
  const { frames, marks } = seedSession();
  const model = buildSession(frames.map((data) => ({ data })));

  it('finds the seed sections in order', () => {
    expect(sections(model)).toEqual(seedSections('PORT'));
  });

  it('names the participants and their ports like the seed', () => {
    expect(model.participants.map((p) => [p.label, p.columns.map((c) => c.endpoint.port)])).toEqual([
      ['FTP Client', [3300, 1175, 5001, 5002]],
      ['DNS', [53]],
      ['FTP Server', [21, 20]],
    ]);
  });

  it('names each message and writes its fields the seed way', () => {
    expect(model.messages.slice(0, 8).map((m) => [m.name, m.fields])).toEqual([
      ['DNS Query', 'recdesired = 1, queries = 1, name = ftp.any-domain.com, type = A, class = IN'],
      ['DNS Response', 'recdesired = 1, answers = 1, IP Address = 192.168.0.1'],
      ['TCP SYN', 'srcport = 1175, dstport = 21, syn = 1'],
      ['TCP SYN+ACK', 'srcport = 21, dstport = 1175, syn = 1, ack = 1'],
      ['TCP ACK', 'srcport = 1175, dstport = 21, ack = 1'],
      ['FTP 220', 'code = 220, arg = ANY-DOMAIN.COM FTP Service'],
      ['TCP ACK', 'srcport = 1175, dstport = 21, ack = 1'],
      ['USER ftp', 'ftp.request.command = USER, ftp.request.arg = ftp'],
    ]);
    expect(model.messages[0]!.explanation).toBe('The FTP client sends a DNS query for domain name ftp.any-domain.com');
    expect(model.messages[2]!.explanation).toBe('FTP client initiates establishment of the telnet session TCP connection by sending a SYN to TCP port 21');
    expect(model.messages[6]!.explanation).toBe('The client machine acknowledges the FTP 220 TCP packet.');
    expect([byFrame(model, marks['230-']!).explanation, byFrame(model, marks['230-']! + 1).explanation]).toEqual([
      'Welcome message after login.',
      'User login notification.',
    ]);
    expect(byFrame(model, marks.PORT1!).name).toBe('PORT 192.168.0.2 Port 5001');
    expect(byFrame(model, marks.SYN5001!)).toMatchObject({
      name: 'TCP SYN',
      fields: 'srcport = 20, dstport = 5001, syn = 1',
      kind: 'ftp-data',
      explanation: 'TCP three way handshake for connection establishment on port 5001.',
    });
    expect(byFrame(model, marks.FIN5001!)).toMatchObject({
      name: 'TCP FIN+ACK',
      fields: 'srcport = 20, dstport = 5001, ack = 1, fin = 1',
      explanation: 'FTP server initiates the release of the TCP connection used to transport the directory listing.',
    });
    expect(byFrame(model, marks['DATA+FIN']!)).toMatchObject({
      name: 'FTP DATA+FIN',
      fields: 'srcport = 20, dstport = 5002, ack = 1, fin = 1',
      explanation: 'This is the last TCP segment containing data, it also includes the FIN to initiate the release of the TCP connection.',
    });
    const quit = byFrame(model, marks.QUIT!);
    expect([quit.name, quit.fields]).toEqual(['QUIT', 'ftp.request.command = QUIT']);
    expect(model.messages.slice(-4).map((m) => m.name)).toEqual(['TCP FIN+ACK', 'TCP ACK', 'TCP FIN+ACK', 'TCP ACK']);
    expect(model.messages[model.messages.length - 4]!.explanation).toBe('Control TCP connection release initiated.');
    expect(model.messages[model.messages.length - 1]!.explanation).toBe('Control TCP connection release is completed.');
  });

  it('labels and explains the lost segment, the duplicate ACK and the retransmissions', () => {
    expect(byFrame(model, marks.gap!).labels).toEqual(['TCP Previous segment not captured']);
    const dup = byFrame(model, marks.dupack!);
    expect([dup.name, dup.labels]).toEqual(['TCP ACK', ['TCP Dup ACK #1']]);
    expect(dup.explanation).toMatch(/RFC 5681/);
    const fast = byFrame(model, marks.fastretransmit!);
    expect([fast.name, fast.labels]).toEqual(['FTP DATA', ['TCP Retransmission']]);
    // The receiver had acknowledged these bytes already: Wireshark's "Spurious Retransmission".
    expect(byFrame(model, marks.spurious!).labels).toEqual(['TCP Spurious Retransmission']);
    expect(byFrame(model, marks.spurious!).explanation).toMatch(/^Spurious retransmission: sequence numbers 1 to 500 were sent again although the receiver had already acknowledged them/);
    // Everything else in the session is clean.
    expect(model.messages.filter((m) => m.labels.length > 0)).toHaveLength(4);
  });

  it('explains every frame for a capture comment, in order, as the demo needs', () => {
    const explain = createFrameExplainer();
    const comments = frames.map((f) => explain(f));
    expect(comments.every((c) => typeof c === 'string' && c.length > 10)).toBe(true);
    expect(comments[2]).toBe('TCP SYN: FTP client initiates establishment of the telnet session TCP connection by sending a SYN to TCP port 21');
    expect(comments[marks.dupack! - 1]).toMatch(/^TCP ACK \[TCP Dup ACK #1\]: Duplicate ACK #1: the receiver again asks for byte 501 /);
  });
});

describe('SessionAnalyzer details', () => {
  it('calls bytes that overtake earlier ones out of order when nobody asked for them', () => {
    const d = new Conversation({ addr: SERVER, port: 20 }, { addr: CLIENT, port: 5001 });
    d.handshake();
    const first = d.next('a');
    d.send('a', F.ACK, 'aaaa', { advance: false });
    const early = d.frames.pop()!;
    d.send('a', F.ACK, 'aaaa'); // advance past the first chunk without keeping a frame
    d.frames.pop();
    d.send('a', F.ACK, 'bbbb');
    d.frames.push(early); // the first chunk arrives last
    const m = buildSession(d.frames.map((data) => ({ data })));
    expect(m.messages.map((x) => x.labels.join())).toEqual(['', '', '', 'TCP Previous segment not captured', 'TCP Out-Of-Order']);
    expect(m.messages[4]!.tcp!.seq).toBe(first - 1000);
    expect(m.messages[4]!.explanation).toMatch(/^Out of order:/);
  });

  it('does not call a handshake ACK that the network delivered after the first data a duplicate ACK', () => {
    const d = new Conversation({ addr: SERVER, port: 20 }, { addr: CLIENT, port: 5001 });
    d.send('a', F.SYN);
    d.send('b', F.SYN | F.ACK);
    d.send('a', F.ACK);
    const handshakeAck = d.frames.pop()!;
    d.send('a', F.PSH | F.ACK, 'listing line\r\n');
    d.frames.push(handshakeAck); // reordered: same ACK and window as the data segment, but from an older position
    const m = buildSession(d.frames.map((data) => ({ data })));
    // Wireshark's rule too: a duplicate ACK is sent from the sender's current position (seq = highest seen).
    expect(m.messages.map((x) => [x.name, x.labels])).toEqual([
      ['TCP SYN', []],
      ['TCP SYN+ACK', []],
      ['FTP DATA', []],
      ['TCP ACK', []],
    ]);
  });

  it('learns passive-mode data connections from a 227 reply, and joins commands split over segments', () => {
    const ctl = new Conversation({ addr: CLIENT, port: 40000 }, { addr: SERVER, port: 21 });
    ctl.handshake();
    ctl.send('a', PA, 'PASV\r\n');
    ctl.send('b', PA, '227 Entering Passive Mode (192,168,0,1,117,48).\r\n');
    ctl.send('a', PA, 'RE');
    ctl.send('a', PA, 'TR big.iso\r\n');
    const data = new Conversation({ addr: CLIENT, port: 40001 }, { addr: SERVER, port: 30000 });
    data.handshake();
    data.send('b', PA, 'hello');
    const m = buildSession([...ctl.frames, ...data.frames].map((d) => ({ data: d })));
    expect(m.messages.map((x) => x.name)).toEqual(['TCP SYN', 'TCP SYN+ACK', 'TCP ACK', 'PASV', 'FTP 227', 'FTP', 'RETR big.iso', 'TCP SYN', 'TCP SYN+ACK', 'TCP ACK', 'FTP DATA']);
    expect(m.messages[10]!.explanation).toBe('TCP segments carrying contents of big.iso.');
    expect(sections(m)).toEqual(['FTP Telnet connection setup and login. (USER and PASS commands)', 'Downloading a file using FTP get (PASV and RETR command)']);
    expect(m.participants.map((p) => [p.label, p.columns.map((c) => c.endpoint.port)])).toEqual([
      ['FTP Client', [40000, 40001]],
      ['FTP Server', [21, 30000]],
    ]);
  });

  it('counts what it does not draw and what does not parse', () => {
    const arp = new Uint8Array(42);
    arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06]);
    const garbage = Uint8Array.from([1, 2, 3]);
    const m = buildSession([{ data: arp }, { data: garbage }]);
    expect(m.messages).toHaveLength(0);
    expect(m.skipped).toEqual({ ARP: 1 });
    expect(m.malformed).toEqual({ 'Ethernet: truncated': 1 });
    expect(m.frames).toBe(2);
  });
});

describe('SessionAnalyzer on a retransmitted command', () => {
  it('names the copy like the original, labels it, and does not count the command twice', () => {
    const ctl = new Conversation({ addr: CLIENT, port: 1175 }, { addr: SERVER, port: 21 });
    ctl.handshake();
    ctl.send('b', PA, '220 ready\r\n');
    const userSeq = ctl.next('a');
    ctl.send('a', PA, 'USER ftp\r\n');
    ctl.send('a', PA, 'USER ftp\r\n', { seq: userSeq }); // the ACK was slow: sent again
    ctl.send('b', PA, '331 Anonymous access allowed, send identity (e-mail name) as password.\r\n');
    ctl.send('a', PA, 'PASS abc@any-domain.com\r\n');
    ctl.send('b', PA, '230 Anonymous user logged in.\r\n');
    const m = buildSession(ctl.frames.map((data) => ({ data })));
    const copy = m.messages[5]!;
    expect([copy.name, copy.labels]).toEqual(['USER ftp', ['TCP Retransmission']]);
    expect(copy.explanation).toMatch(/^Retransmission: sequence numbers 1 to 10 were already sent once.* User's login name is transported/);
    // The replies still pair with the right commands: 331 answers USER, 230 answers PASS.
    expect(m.messages[6]!.explanation).toBe('FTP server indicates that anonymous FTP is allowed.');
    expect(m.messages[8]!.explanation).toBe('User login notification.');
  });

  it('explains a reply first seen inside a retransmission, and the replies after it, by the command each answers', () => {
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

describe('SessionAnalyzer on FINs that ride on data', () => {
  it('names a 221 that carries the FIN, and puts the release headings where the release starts', () => {
    const ctl = new Conversation({ addr: CLIENT, port: 1175 }, { addr: SERVER, port: 21 });
    ctl.handshake();
    ctl.send('a', PA, 'PORT 192,168,0,2,19,137\r\n');
    ctl.send('b', PA, '200 PORT command successful.\r\n');
    ctl.send('a', PA, 'LIST\r\n');
    const data = new Conversation({ addr: SERVER, port: 20 }, { addr: CLIENT, port: 5001 });
    data.handshake();
    data.send('b', F.ACK, '', { window: 32768 }); // the receiver opens its window
    data.send('a', F.FIN | PA, 'readme.txt\r\n');
    data.send('b', F.ACK);
    const ctl2 = new Conversation({ addr: CLIENT, port: 1175 }, { addr: SERVER, port: 21 }, ctl.next('a'), ctl.next('b'));
    ctl2.send('a', PA, 'QUIT\r\n');
    ctl2.send('b', F.FIN | PA, '221 Goodbye.\r\n');
    ctl2.send('a', F.ACK);
    const m = buildSession([...ctl.frames, ...data.frames, ...ctl2.frames].map((d) => ({ data: d })));
    const flow = m.items.map((i) => (i.type === 'message' ? i.message.name + (i.message.labels.length ? ` [${i.message.labels}]` : '') : `# ${i.title}`));
    expect(flow.slice(flow.indexOf('TCP ACK [TCP Window Update]'))).toEqual([
      'TCP ACK [TCP Window Update]',
      '# Display directory listing',
      'FTP DATA+FIN',
      '# Release the data port TCP connection on completion of the directory listing',
      'TCP ACK',
      '# Logging out',
      '# Quitting the FTP client',
      'QUIT',
      '# Releasing the control TCP connection',
      'FTP 221+FIN',
      'TCP ACK',
    ]);
    const bye = m.messages.find((x) => x.name === 'FTP 221+FIN')!;
    expect(bye.fields).toBe('code = 221, arg = Goodbye., fin = 1');
    expect(bye.explanation).toMatch(/Control TCP connection release initiated\.$/);
  });
});
