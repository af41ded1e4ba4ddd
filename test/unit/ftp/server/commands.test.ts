import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient, connectTo, epsv, pasv, port, readAll } from '../../../support/ftp-server-harness.js';
import { ALICE_PASSWORD, createFtpFixture, type FtpFixture } from '../../../support/ftp-server-fixture.js';

// Every command and reply code of the server, over two hosts of our own stack on the
// in-memory link: client 10.0.0.1, server 10.0.0.2, a third party 10.0.0.3.

let fx: FtpFixture;
afterEach(async () => {
  await fx?.close();
});

async function setup(options: Parameters<typeof createFtpFixture>[0] = {}): Promise<FtpFixture> {
  fx = await createFtpFixture(options);
  return fx;
}

/** Wait (real time, the network runs on it) until `cond` holds. */
async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited > ms) throw new Error('waitFor: condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Send a command and return `code text` of the single-line reply. */
async function line(c: ControlClient, command: string): Promise<string> {
  const r = await c.cmd(command);
  return r.lines.join('\n');
}

/** A passive download of `command`'s data: [150 line, data, final line]. */
async function download(c: ControlClient, command: string, mode: 'pasv' | 'epsv' = 'pasv'): Promise<[string, Buffer, string]> {
  const tcp = fx.net.client.tcp;
  const data = mode === 'pasv' ? await pasv(c, tcp) : await epsv(c, tcp, '10.0.0.2');
  const body = readAll(data);
  c.send(command);
  const first = await c.next();
  if (first.code !== 150) return [first.lines.join('\n'), Buffer.alloc(0), ''];
  const bytes = await body;
  return [first.lines.join('\n'), bytes, (await c.next()).lines.join('\n')];
}

async function upload(c: ControlClient, command: string, payload: Buffer | string): Promise<[string, string]> {
  const data = await pasv(c, fx.net.client.tcp);
  c.send(command);
  const first = await c.next();
  if (first.code !== 150) {
    data.destroy();
    return [first.lines.join('\n'), ''];
  }
  data.end(payload);
  return [first.lines.join('\n'), (await c.next()).lines.join('\n')];
}

describe('greeting and login (RFC 959 4.1.1)', () => {
  it('reproduces the seed exchange for anonymous users', async () => {
    await setup();
    const c = await ControlClient.connect(fx.net.client.tcp, '10.0.0.2', 21);
    expect((await c.next()).lines).toEqual(['220 ANY-DOMAIN.COM FTP Service']);
    expect(await line(c, 'USER ftp')).toBe('331 Anonymous access allowed, send identity (e-mail name) as password.');
    expect(await line(c, 'PASS abc@any-domain.com')).toBe('230-Welcome to ftp.any-domain.com\n230 Anonymous user logged in.');
    expect(await line(c, 'CWD pub')).toBe('250 CWD command successful.');
    expect(await line(c, 'QUIT')).toBe('221 Thank you for visiting ftp.any-domain.com.');
    await c.closed();
    expect(c.ended).toBe(true);
  });

  it('answers commands that arrive together with the client\'s FIN, then closes', async () => {
    await setup();
    const c = await fx.connect();
    c.socket.end('USER ftp\r\nPASS me@x\r\nCWD pub\r\nPWD\r\n');
    expect((await c.next()).code).toBe(331);
    expect((await c.next()).code).toBe(230);
    expect((await c.next()).code).toBe(250);
    expect((await c.next()).lines).toEqual(['257 "/pub" is the current directory.']);
    await c.closed();
  });

  it('uses a configured banner and site name', async () => {
    await setup({ banner: 'tapstack test FTP', siteName: 'ftp.example.test' });
    const c = await ControlClient.connect(fx.net.client.tcp, '10.0.0.2', 21);
    expect((await c.next()).lines).toEqual(['220 tapstack test FTP']);
    expect((await c.login()).lines[0]).toBe('230-Welcome to ftp.example.test');
  });

  it('logs named users in to their home, with scrypt-checked passwords', async () => {
    await setup();
    const c = await fx.connect();
    expect(await line(c, 'USER alice')).toBe('331 Please specify the password.');
    expect(await line(c, `PASS ${ALICE_PASSWORD}`)).toBe('230 User alice logged in.');
    const [, listing] = await download(c, 'NLST');
    expect(listing.toString()).toBe('home.txt\r\n');
    expect(await line(c, 'CWD ..')).toBe('250 CWD command successful.');
    expect(await line(c, 'PWD')).toBe('257 "/" is the current directory.');
    expect(await line(c, 'RETR ../readme.txt')).toBe('425 Use PORT, PASV, EPRT or EPSV first.');
    expect(await line(c, 'SIZE ../readme.txt')).toBe('550 No such file or directory.');
  });

  it('answers 331 to any name, delays a failed PASS, and closes after the third failure', async () => {
    await setup();
    const c = await fx.connect();
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await line(c, attempt === 2 ? 'USER nosuchuser' : 'USER alice')).toBe('331 Please specify the password.');
      const timers = fx.net.ftpClock.pending;
      c.send('PASS wrong');
      // The answer only comes once the delay (on the server's clock) is over.
      await waitFor(() => fx.net.ftpClock.pending > timers);
      expect(c.buffered).toBe(0);
      // The delay doubles with each failure from the same address (login-guard.ts).
      const delay = 1000 * 2 ** (attempt - 1);
      await fx.net.ftpClock.advanceAsync(delay - 1);
      expect(c.buffered).toBe(0);
      await fx.net.ftpClock.advanceAsync(1);
      const r = await c.next();
      if (attempt < 3) expect(r.lines).toEqual(['530 Login incorrect.']);
      else expect(r.lines).toEqual(['421 Too many failed logins, closing control connection.']);
    }
    await c.closed();
    expect(fx.server.counters.get('ftp.server.login.failed')).toBe(3);
  });

  it('refuses anonymous logins when disabled, with the same 331', async () => {
    await setup({ anonymous: false });
    const c = await fx.connect();
    expect(await line(c, 'USER anonymous')).toBe('331 Please specify the password.');
    const timers = fx.net.ftpClock.pending;
    c.send('PASS me@x');
    await waitFor(() => fx.net.ftpClock.pending > timers);
    await fx.net.ftpClock.advanceAsync(1000);
    expect((await c.next()).code).toBe(530);
  });

  it('bad sequences: PASS first, ACCT, commands before login, REIN', async () => {
    await setup();
    const c = await fx.connect();
    expect(await line(c, 'PASS x')).toBe('503 Login with USER first.');
    expect(await line(c, 'ACCT x')).toBe('503 Login with USER first.');
    for (const cmd of ['CWD pub', 'LIST', 'RETR readme.txt', 'PASV', 'PORT 10,0,0,1,20,0', 'MKD x', 'SIZE readme.txt', 'SYST']) {
      expect(await line(c, cmd)).toBe('530 Please login with USER and PASS.');
    }
    expect(await line(c, 'NOOP')).toBe('200 NOOP ok.');
    expect((await c.cmd('FEAT')).code).toBe(211);
    await c.login();
    expect(await line(c, 'ACCT x')).toBe('202 ACCT command superfluous.');
    expect(await line(c, 'PASS again')).toBe('503 Already logged in.');
    expect(await line(c, 'CWD pub')).toBe('250 CWD command successful.');
    expect(await line(c, 'REIN')).toBe('220 Service ready for new user.');
    expect(await line(c, 'PWD')).toBe('530 Please login with USER and PASS.');
    await c.login();
    expect(await line(c, 'PWD')).toBe('257 "/" is the current directory.');
  });
});

describe('syntax and generic replies', () => {
  it('500 unknown, 502 not implemented, 501 bad arguments, 500 over-long line', async () => {
    await setup();
    const c = await fx.anonymous();
    expect(await line(c, 'XYZZY')).toBe('500 Unknown command.');
    expect(await line(c, 'SMNT /x')).toBe('502 SMNT not implemented.');
    expect(await line(c, 'CWD')).toBe('501 Syntax error in parameters or arguments.');
    expect(await line(c, 'PWD extra')).toBe('501 Syntax error in parameters or arguments.');
    expect(await line(c, 'RETR ' + 'x'.repeat(600))).toBe('500 Command line too long.');
    expect(await line(c, 'noop')).toBe('200 NOOP ok.');
    expect(fx.server.counters.get('ftp.server.line_too_long')).toBe(1);
  });

  it('SYST, NOOP, ALLO, HELP, SITE, FEAT, OPTS', async () => {
    await setup();
    const c = await fx.anonymous();
    expect(await line(c, 'SYST')).toBe('215 UNIX Type: L8');
    expect(await line(c, 'ALLO 1000')).toBe('202 ALLO command ignored.');
    expect(await line(c, 'ALLO lots')).toBe('501 Syntax error in parameters or arguments.');
    const help = await c.cmd('HELP');
    expect(help.code).toBe(214);
    expect(help.lines[0]).toBe('214-The following commands are recognized.');
    expect(help.text).toContain('RETR');
    expect(help.lines.slice(1, -1).every((l) => !/^\d{3} /.test(l))).toBe(true);
    expect(await line(c, 'HELP retr')).toBe('214 Syntax: RETR <sp> pathname');
    expect(await line(c, 'HELP BOGUS')).toBe('501 Unknown command.');
    expect((await c.cmd('SITE HELP')).code).toBe(214);
    expect(await line(c, 'SITE CHMOD 777 x')).toBe('500 Unknown SITE command.');
    const feat = await c.cmd('FEAT');
    expect(feat.lines).toEqual([
      '211-Features:',
      ' EPRT',
      ' EPSV',
      ' MDTM',
      ' MLST type*;size*;modify*;perm*;unique*;',
      ' PASV',
      ' REST STREAM',
      ' SIZE',
      ' TVFS',
      ' UTF8',
      '211 End',
    ]);
    expect(await line(c, 'OPTS UTF8 ON')).toBe('200 Always in UTF8 mode.');
    expect(await line(c, 'OPTS UTF8 OFF')).toBe('504 UTF8 cannot be turned off.');
    expect(await line(c, 'OPTS MLST size;type;')).toBe('200 MLST OPTS type;size;');
    expect(await line(c, 'OPTS FOO')).toBe('501 Option not understood.');
  });

  it('TYPE, STRU and MODE: supported, unsupported (504) and malformed (501)', async () => {
    await setup();
    const c = await fx.anonymous();
    expect(await line(c, 'TYPE A')).toBe('200 Type set to A.');
    expect(await line(c, 'TYPE A N')).toBe('200 Type set to A.');
    expect(await line(c, 'TYPE I')).toBe('200 Type set to I.');
    expect(await line(c, 'TYPE L 8')).toBe('200 Type set to I.');
    expect(await line(c, 'TYPE E')).toBe('504 Type not supported; use A or I.');
    expect(await line(c, 'TYPE A T')).toBe('504 Type not supported; use A or I.');
    expect(await line(c, 'TYPE L 7')).toBe('504 Type not supported; use A or I.');
    expect(await line(c, 'TYPE Q')).toBe('501 Syntax error in TYPE argument.');
    expect(await line(c, 'STRU F')).toBe('200 Structure set to F.');
    expect(await line(c, 'STRU R')).toBe('504 Only file structure (STRU F) is supported.');
    expect(await line(c, 'STRU P')).toBe('504 Only file structure (STRU F) is supported.');
    expect(await line(c, 'STRU X')).toBe('501 Syntax error in parameters or arguments.');
    expect(await line(c, 'MODE S')).toBe('200 Mode set to S.');
    expect(await line(c, 'MODE B')).toBe('504 Only stream mode (MODE S) is supported.');
    expect(await line(c, 'MODE C')).toBe('504 Only stream mode (MODE S) is supported.');
    expect(await line(c, 'MODE Z')).toBe('501 Syntax error in parameters or arguments.');
  });
});

describe('directories (CWD, CDUP, PWD, MKD, RMD) and the virtual root', () => {
  it('moves around and never above the root', async () => {
    await setup({ anonymousWritable: true });
    const c = await fx.anonymous();
    expect(await line(c, 'CWD pub')).toBe('250 CWD command successful.');
    expect(await line(c, 'PWD')).toBe('257 "/pub" is the current directory.');
    expect(await line(c, 'CDUP')).toBe('250 CDUP command successful.');
    expect(await line(c, 'XPWD')).toBe('257 "/" is the current directory.');
    expect(await line(c, 'CWD ../../../..')).toBe('250 CWD command successful.');
    expect(await line(c, 'PWD')).toBe('257 "/" is the current directory.');
    expect(await line(c, 'CWD nowhere')).toBe('550 No such file or directory.');
    expect(await line(c, 'CWD readme.txt')).toBe('550 Not a directory.');
    expect(await line(c, 'CWD escape-dir')).toBe('550 Permission denied.');
    expect(await line(c, 'MKD new "dir"')).toBe('257 "/new ""dir""" created.');
    expect(await line(c, 'MKD new "dir"')).toBe('550 File exists.');
    expect(await line(c, 'RMD pub')).toBe('550 Directory not empty.');
    expect(await line(c, 'RMD readme.txt')).toBe('550 Not a directory.');
    expect(await line(c, 'RMD new "dir"')).toBe('250 Directory removed.');
    expect(await line(c, 'RMD new "dir"')).toBe('550 No such file or directory.');
    expect(await line(c, 'MKD escape-dir/inside')).toBe('550 Permission denied.');
    c.send(Buffer.from('MKD bad\0name\r\n'));
    expect((await c.next()).lines).toEqual(['553 File name not allowed.']);
    c.send(Buffer.from('CWD a\rb\r\n'));
    expect((await c.next()).lines).toEqual(['501 File name not allowed.']);
    expect(await readdir(fx.outside)).toEqual(['secret.txt']);
  });

  it('is read-only for anonymous users by default', async () => {
    await setup();
    const c = await fx.anonymous();
    for (const cmd of ['MKD x', 'RMD pub', 'DELE readme.txt', 'RNFR readme.txt', 'STOR x', 'APPE readme.txt', 'STOU']) {
      expect(await line(c, cmd)).toBe('550 Permission denied.');
    }
    expect(fx.server.counters.get('ftp.server.denied.read_only')).toBe(7);
  });
});

describe('data connections (PORT, EPRT, PASV, EPSV)', () => {
  it('PORT: active mode from port 20, as in the seed', async () => {
    await setup();
    const c = await fx.anonymous();
    const active = await port(c, fx.net.client.tcp, '10.0.0.1', 5001);
    expect(active.reply.lines).toEqual(['200 PORT command successful.']);
    c.send('LIST');
    expect((await c.next()).lines).toEqual(['150 Opening ASCII mode data connection for /bin/ls.']);
    const data = await active.accepted;
    expect(data.remotePort).toBe(20);
    expect(data.remoteAddress).toBe('10.0.0.2');
    const listing = (await readAll(data)).toString();
    expect((await c.next()).lines).toEqual(['226 Transfer complete.']);
    expect(listing.split('\r\n').filter(Boolean).map((l) => l.split(' ').pop())).toEqual(['alice', 'pub', 'readme.txt']);

    expect(await line(c, 'CWD pub')).toBe('250 CWD command successful.');
    const again = await port(c, fx.net.client.tcp, '10.0.0.1', 5002);
    c.send('RETR a.txt');
    expect((await c.next()).lines).toEqual(['150 Opening ASCII mode data connection for a.txt(1 bytes).']);
    expect((await readAll(await again.accepted)).toString()).toBe('A');
    expect((await c.next()).lines).toEqual(['226 Transfer complete.']);
  });

  it('EPRT works like PORT; bad and foreign addresses are refused (RFC 2428, RFC 2577)', async () => {
    await setup();
    const c = await fx.anonymous();
    const server = fx.net.client.tcp.listen({ port: 6000 });
    const accepted = new Promise<import('../../../../src/tcp/api.js').TcpSocketLike>((r) => server.once('connection', r));
    expect(await line(c, 'EPRT |1|10.0.0.1|6000|')).toBe('200 EPRT command successful.');
    c.send('NLST');
    expect((await c.next()).code).toBe(150);
    expect((await readAll(await accepted)).toString()).toBe('alice\r\npub\r\nreadme.txt\r\n');
    expect((await c.next()).code).toBe(226);
    server.close();
    expect(await line(c, 'EPRT |2|::1|6000|')).toBe('522 Network protocol not supported, use (1)');
    expect(await line(c, 'EPRT garbage')).toBe('501 Syntax error in EPRT argument.');
    expect(await line(c, 'PORT 1,2,3')).toBe('501 Syntax error in PORT argument.');
    expect(await line(c, 'PORT 10,0,0,1,300,1')).toBe('501 Syntax error in PORT argument.');
    expect(await line(c, 'PORT 10,0,0,3,19,137')).toBe('504 PORT to another host than the client\'s refused.');
    expect(await line(c, 'EPRT |1|10.0.0.3|5001|')).toBe('504 EPRT to another host than the client\'s refused.');
    expect(await line(c, 'PORT 10,0,0,1,0,25')).toBe('504 PORT to a port below 1024 refused.');
    expect(fx.server.counters.get('ftp.server.bounce_refused.address')).toBe(2);
    expect(fx.server.counters.get('ftp.server.bounce_refused.port')).toBe(1);
  });

  it('PASV and EPSV answer with the server address and a port of the range', async () => {
    await setup({ pasvPorts: { min: 50010, max: 50012 } });
    const c = await fx.anonymous();
    const r = await c.cmd('PASV');
    expect(r.lines[0]).toMatch(/^227 Entering Passive Mode \(10,0,0,2,195,(90|91|92)\)\.$/);
    const e = await c.cmd('EPSV');
    expect(e.lines[0]).toMatch(/^229 Entering Extended Passive Mode \(\|\|\|5001[012]\|\)$/);
    expect(await line(c, 'EPSV 1')).toMatch(/^229 /);
    expect(await line(c, 'EPSV 2')).toBe('522 Network protocol not supported, use (1)');
    expect(await line(c, 'EPSV what')).toBe('501 Syntax error in EPSV argument.');
    const [first, body, last] = await download(c, 'RETR readme.txt', 'epsv');
    expect(first).toBe('150 Opening ASCII mode data connection for readme.txt(18 bytes).');
    expect(body.toString()).toBe('line one\r\nline two\r\n');
    expect(last).toBe('226 Transfer complete.');
  });

  it('EPSV ALL: afterwards only EPSV sets up data connections', async () => {
    await setup();
    const c = await fx.anonymous();
    expect(await line(c, 'EPSV ALL')).toBe('200 EPSV ALL ok.');
    expect(await line(c, 'PASV')).toBe('503 EPSV ALL in effect; use EPSV.');
    expect(await line(c, 'PORT 10,0,0,1,19,137')).toBe('503 EPSV ALL in effect; use EPSV.');
    expect(await line(c, 'EPRT |1|10.0.0.1|5001|')).toBe('503 EPSV ALL in effect; use EPSV.');
    const [, body] = await download(c, 'NLST pub', 'epsv');
    expect(body.toString()).toBe('pub/a.txt\r\npub/b.txt\r\n');
  });

  it('a passive port turns away every host but the client', async () => {
    await setup();
    const c = await fx.anonymous();
    const r = await c.cmd('EPSV');
    const p = Number(/\|\|\|(\d+)\|/.exec(r.text)![1]);
    const intruder = fx.net.third.tcp.connect({ host: '10.0.0.2', port: p });
    await new Promise<void>((resolve) => {
      intruder.on('error', () => {});
      intruder.on('close', () => resolve());
    });
    expect(fx.server.counters.get('ftp.server.data.foreign_peer_refused')).toBe(1);
    const data = await connectTo(fx.net.client.tcp, '10.0.0.2', p);
    const body = readAll(data);
    c.send('RETR pub/b.txt');
    expect((await c.next()).code).toBe(150);
    expect((await body).toString()).toBe('BB');
    expect((await c.next()).code).toBe(226);
  });

  it('425 without PORT/PASV, and when the client never connects', async () => {
    await setup({ dataTimeoutMs: 5000 });
    const c = await fx.anonymous();
    expect(await line(c, 'RETR readme.txt')).toBe('425 Use PORT, PASV, EPRT or EPSV first.');
    expect(await line(c, 'LIST')).toBe('425 Use PORT, PASV, EPRT or EPSV first.');
    expect((await c.cmd('PASV')).code).toBe(227);
    c.send('RETR readme.txt');
    expect((await c.next()).code).toBe(150);
    await fx.net.ftpClock.advanceAsync(5000);
    expect((await c.next()).lines).toEqual(["425 Can't open data connection."]);
    // Active mode to a port where nobody listens: refused at once.
    expect(await line(c, 'PORT 10,0,0,1,39,16')).toBe('200 PORT command successful.');
    c.send('RETR readme.txt');
    expect((await c.next()).code).toBe(150);
    expect((await c.next()).lines).toEqual(["425 Can't open data connection."]);
  });
});

describe('RETR, REST, SIZE, MDTM', () => {
  it('TYPE A converts LF to CRLF; TYPE I is byte-exact; REST resumes', async () => {
    await setup();
    const bin = Buffer.from([0, 10, 13, 10, 255, 10, 10]);
    await writeFile(join(fx.root, 'data.bin'), bin);
    const c = await fx.anonymous();
    expect((await download(c, 'RETR data.bin'))[1]).toEqual(Buffer.from([0, 13, 10, 13, 13, 10, 255, 13, 10, 13, 10]));
    expect(await line(c, 'SIZE data.bin')).toBe('213 11');
    expect(await line(c, 'TYPE I')).toBe('200 Type set to I.');
    const [first, body] = await download(c, 'RETR data.bin');
    expect(first).toBe('150 Opening BINARY mode data connection for data.bin(7 bytes).');
    expect(body).toEqual(bin);
    expect(await line(c, 'SIZE data.bin')).toBe('213 7');
    const { truncate } = await import('node:fs/promises');
    await writeFile(join(fx.root, 'large.bin'), '');
    await truncate(join(fx.root, 'large.bin'), 17 * 1024 * 1024);
    expect(await line(c, 'SIZE large.bin')).toBe('213 17825792');
    expect(await line(c, 'TYPE A')).toBe('200 Type set to A.');
    expect(await line(c, 'SIZE large.bin')).toBe('550 SIZE of a large file is not available in ASCII mode; use TYPE I.');
    expect(await line(c, 'TYPE I')).toBe('200 Type set to I.');
    expect(await line(c, 'REST 4')).toBe('350 Restarting at 4. Send STORE or RETRIEVE to initiate transfer.');
    expect((await download(c, 'RETR data.bin'))[1]).toEqual(bin.subarray(4));
    // REST applies to one transfer only.
    expect((await download(c, 'RETR data.bin'))[1]).toEqual(bin);
    expect(await line(c, 'REST 8')).toMatch(/^350 /);
    expect((await pasv(c, fx.net.client.tcp)).destroyed).toBe(false);
    expect(await line(c, 'RETR data.bin')).toBe('554 Restart offset beyond the end of the file.');
    expect(await line(c, 'REST -1')).toBe('501 REST needs a byte offset.');
  });

  it('refuses what is missing, not a file, or outside the root', async () => {
    await setup();
    const c = await fx.anonymous();
    await pasv(c, fx.net.client.tcp);
    expect(await line(c, 'RETR nothing')).toBe('550 No such file or directory.');
    expect(await line(c, 'RETR pub')).toBe('550 Not a plain file.');
    expect(await line(c, 'RETR escape-link')).toBe('550 Permission denied.');
    expect(await line(c, 'RETR escape-dir/secret.txt')).toBe('550 Permission denied.');
    expect(await line(c, `RETR ../../../../..${fx.outside}/secret.txt`)).toBe('550 No such file or directory.');
    expect(await line(c, 'SIZE pub')).toBe('550 Not a plain file.');
    expect(await line(c, 'SIZE escape-link')).toBe('550 Permission denied.');
    expect(await line(c, 'MDTM nothing')).toBe('550 No such file or directory.');
    expect(fx.server.counters.get('ftp.server.path.outside_root')).toBe(3);
  });

  it('MDTM gives the UTC modification time (RFC 3659 3)', async () => {
    await setup();
    const { utimes } = await import('node:fs/promises');
    await utimes(join(fx.root, 'readme.txt'), new Date(Date.UTC(2024, 1, 29, 23, 59, 58)), new Date(Date.UTC(2024, 1, 29, 23, 59, 58)));
    const c = await fx.anonymous();
    expect(await line(c, 'MDTM readme.txt')).toBe('213 20240229235958');
  });
});

describe('listings (LIST, NLST, MLSD, MLST, STAT)', () => {
  it('LIST gives ls -l lines, ignores flags, lists single files, 450 for missing paths', async () => {
    await setup();
    const c = await fx.anonymous();
    const [first, body, last] = await download(c, 'LIST -la');
    expect(first).toBe('150 Opening ASCII mode data connection for /bin/ls.');
    expect(last).toBe('226 Transfer complete.');
    const lines = body.toString().split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(3); // symlinks leading outside are not shown
    expect(lines[2]).toMatch(/^-rw-r--r-- +1 ftp +ftp +18 \w{3} [ \d]\d \d\d:\d\d readme\.txt$/);
    expect(lines[1]).toMatch(/^drwx.+ pub$/);
    expect((await download(c, 'LIST pub/b.txt'))[1].toString()).toMatch(/^-.* 2 \w{3} .* b\.txt\r\n$/);
    await pasv(c, fx.net.client.tcp);
    expect(await line(c, 'LIST nothing')).toBe('450 No such file or directory.');
    expect(await line(c, 'NLST nothing')).toBe('450 No such file or directory.');
    expect(await line(c, 'LIST escape-dir')).toBe('550 Permission denied.');
  });

  it('MLSD and MLST give RFC 3659 facts', async () => {
    await setup();
    const c = await fx.anonymous();
    const [first, body, last] = await download(c, 'MLSD pub');
    expect(first).toMatch(/^150 /);
    expect(last).toBe('226 Transfer complete.');
    expect(body.toString()).toMatch(/^type=file;size=1;modify=\d{14};perm=r;unique=[0-9a-f]+g[0-9a-f]+; a\.txt\r\ntype=file;size=2;modify=\d{14};perm=r;unique=\S+; b\.txt\r\n$/);
    await pasv(c, fx.net.client.tcp);
    expect(await line(c, 'MLSD readme.txt')).toBe('501 Not a directory.');
    expect(await line(c, 'MLSD nothing')).toBe('550 No such file or directory.');
    const m = await c.cmd('MLST pub/a.txt');
    expect(m.lines[0]).toBe('250-Listing /pub/a.txt');
    expect(m.lines[1]).toMatch(/^ type=file;size=1;modify=\d{14};perm=r;unique=\S+; \/pub\/a\.txt$/);
    expect(m.lines[2]).toBe('250 End');
    expect((await c.cmd('MLST')).lines[1]).toMatch(/^ type=dir;modify=\d{14};perm=el;unique=\S+; \/$/);
    expect(await line(c, 'OPTS MLST type;')).toBe('200 MLST OPTS type;');
    expect((await c.cmd('MLST readme.txt')).lines[1]).toBe(' type=file; /readme.txt');
  });

  it('caps the size of a listing', async () => {
    await setup({ maxListEntries: 2 });
    const c = await fx.anonymous();
    const [, body, last] = await download(c, 'NLST');
    expect(body.toString().split('\r\n').filter(Boolean)).toHaveLength(2);
    // The cap is announced, not silent.
    expect(last).toBe("226 Transfer complete; listing stopped at 2 entries (the server's limit).");
    expect(fx.server.counters.get('ftp.server.listing_truncated')).toBe(1);
  });

  it('STAT without a transfer: server status, or a listing over the control connection', async () => {
    await setup();
    const c = await fx.anonymous();
    const s = await c.cmd('STAT');
    expect(s.code).toBe(211);
    expect(s.text).toContain('Logged in as anonymous');
    const p = await c.cmd('STAT pub');
    expect(p.lines[0]).toBe('213-Status of /pub:');
    expect(p.lines[1]).toMatch(/^-rw.* a\.txt$/);
    expect(p.lines[3]).toBe('213 End of status');
    expect(await line(c, 'STAT nothing')).toBe('550 No such file or directory.');
  });
});

describe('uploads and file actions', () => {
  it('STOR, APPE, REST+STOR, STOU, with TYPE A conversion', async () => {
    await setup({ anonymousWritable: true });
    const c = await fx.anonymous();
    expect(await upload(c, 'STOR new.txt', 'one\r\ntwo\r\n')).toEqual([
      '150 Opening ASCII mode data connection for new.txt.',
      '226 Transfer complete.',
    ]);
    expect(await readFile(join(fx.root, 'new.txt'), 'utf8')).toBe('one\ntwo\n');
    expect(await line(c, 'TYPE I')).toMatch(/^200/);
    expect((await upload(c, 'APPE new.txt', 'three\r\n'))[1]).toBe('226 Transfer complete.');
    expect(await readFile(join(fx.root, 'new.txt'), 'utf8')).toBe('one\ntwo\nthree\r\n');
    expect(await line(c, 'REST 4')).toMatch(/^350/);
    expect((await upload(c, 'STOR new.txt', 'TWO'))[1]).toBe('226 Transfer complete.');
    expect(await readFile(join(fx.root, 'new.txt'), 'utf8')).toBe('one\nTWO');
    const [first, last] = await upload(c, 'STOU new.txt', 'unique');
    expect(first).toBe('150 FILE: new.txt.1');
    expect(last).toBe('226 Transfer complete.');
    expect(await readFile(join(fx.root, 'new.txt.1'), 'utf8')).toBe('unique');
    expect((await upload(c, 'STOU', 'x'))[0]).toBe('150 FILE: file');
    expect(await line(c, 'REST 100')).toMatch(/^350/);
    await pasv(c, fx.net.client.tcp);
    expect(await line(c, 'STOR new.txt')).toBe('554 Restart offset beyond the end of the file.');
    expect(await line(c, 'STOR pub')).toBe('550 Not a plain file.');
    expect(await line(c, 'STOR escape-link')).toBe('550 Permission denied.');
    expect(await line(c, 'STOR nodir/x')).toBe('550 No such file or directory.');
    c.send(Buffer.from('STOR a\0b\r\n'));
    expect((await c.next()).lines).toEqual(['553 File name not allowed.']);
    expect(await readFile(join(fx.outside, 'secret.txt'), 'utf8')).toBe('secret');
    // No temporary file is left behind.
    expect((await readdir(fx.root)).filter((n) => n.startsWith('.tapstack-'))).toEqual([]);
  });

  it('RNFR/RNTO, DELE, with their bad sequences', async () => {
    await setup({ anonymousWritable: true });
    const c = await fx.anonymous();
    expect(await line(c, 'RNTO x')).toBe('503 RNFR required first.');
    expect(await line(c, 'RNFR nothing')).toBe('550 No such file or directory.');
    expect(await line(c, 'RNFR readme.txt')).toBe('350 Ready for RNTO.');
    expect(await line(c, 'NOOP')).toBe('200 NOOP ok.');
    expect(await line(c, 'RNTO moved.txt')).toBe('503 RNFR required first.');
    expect(await line(c, 'RNFR readme.txt')).toBe('350 Ready for RNTO.');
    expect(await line(c, 'BOGUS')).toBe('500 Unknown command.');
    expect(await line(c, 'RNTO moved.txt')).toBe('503 RNFR required first.');
    expect(await line(c, 'RNFR readme.txt')).toBe('350 Ready for RNTO.');
    expect(await line(c, 'RNTO pub/moved.txt')).toBe('250 Rename successful.');
    expect(await readFile(join(fx.root, 'pub', 'moved.txt'), 'utf8')).toBe('line one\nline two\n');
    expect(await line(c, 'RNFR pub/moved.txt')).toBe('350 Ready for RNTO.');
    expect(await line(c, 'RNTO escape-dir/stolen.txt')).toBe('550 Permission denied.');
    expect(await line(c, 'DELE pub/moved.txt')).toBe('250 File deleted.');
    expect(await line(c, 'DELE pub/moved.txt')).toBe('550 No such file or directory.');
    expect(await line(c, 'DELE pub')).toBe('550 Is a directory; use RMD.');
    expect(await line(c, 'DELE escape-link')).toBe('550 Permission denied.');
    expect(await readdir(fx.outside)).toEqual(['secret.txt']);
  });

  it('a cut connection in mid-upload leaves the previous file intact', async () => {
    await setup({ anonymousWritable: true });
    const c = await fx.anonymous();
    expect(await line(c, 'TYPE I')).toMatch(/^200/);
    const data = await pasv(c, fx.net.client.tcp);
    c.send('STOR readme.txt');
    expect((await c.next()).code).toBe(150);
    data.write(Buffer.alloc(100_000, 1));
    await new Promise((r) => setTimeout(r, 50));
    expect((await readdir(fx.root)).some((n) => n.startsWith('.tapstack-'))).toBe(true);
    // The client dies: both connections are reset.
    data.destroy();
    c.close();
    await waitFor(() => fx.server.sessionCount === 0);
    for (let i = 0; i < 500 && (await readdir(fx.root)).some((n) => n.startsWith('.tapstack-')); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await readFile(join(fx.root, 'readme.txt'), 'utf8')).toBe('line one\nline two\n');
    expect((await readdir(fx.root)).filter((n) => n.startsWith('.tapstack-'))).toEqual([]);
  });

  it('an upload whose control connection closes first is not committed (a killed client closes both)', async () => {
    await setup({ anonymousWritable: true });
    const c = await fx.anonymous();
    const data = await pasv(c, fx.net.client.tcp);
    c.send('STOR readme.txt');
    expect((await c.next()).code).toBe(150);
    data.write(Buffer.alloc(30_000, 0x4b));
    // The control connection's FIN first, then the data connection's: a clean end of
    // the data, but nobody stayed for the result.
    c.socket.end();
    await new Promise((r) => setTimeout(r, 20));
    data.end();
    expect((await c.next()).lines).toEqual(['426 Connection closed; transfer aborted.']);
    await c.closed();
    expect(await readFile(join(fx.root, 'readme.txt'), 'utf8')).toBe('line one\nline two\n');
    expect((await readdir(fx.root)).filter((n) => n.startsWith('.tapstack-'))).toEqual([]);
    expect(fx.server.counters.get('ftp.server.transfer.aborted')).toBe(1);
    expect(fx.server.counters.get('ftp.server.transfer.ok')).toBe(0);
  });

  it('ABOR during an upload: 426, 226, and the previous file is intact', async () => {
    await setup({ anonymousWritable: true });
    const c = await fx.anonymous();
    const data = await pasv(c, fx.net.client.tcp);
    data.on('error', () => {});
    c.send('STOR readme.txt');
    expect((await c.next()).code).toBe(150);
    data.write(Buffer.alloc(50_000, 1));
    await new Promise((r) => setTimeout(r, 20));
    c.send('ABOR');
    expect((await c.next()).lines).toEqual(['426 Connection closed; transfer aborted.']);
    expect((await c.next()).lines).toEqual(['226 ABOR command successful.']);
    expect(await readFile(join(fx.root, 'readme.txt'), 'utf8')).toBe('line one\nline two\n');
    expect((await readdir(fx.root)).filter((n) => n.startsWith('.tapstack-'))).toEqual([]);
    expect(await line(c, 'NOOP')).toBe('200 NOOP ok.');
  });
});

describe('while a transfer runs', () => {
  async function stalledDownload(c: ControlClient): Promise<void> {
    await writeFile(join(fx.root, 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 0x41));
    expect(await line(c, 'TYPE I')).toMatch(/^200/);
    // The client does not read: the server is held back by the receive window.
    await pasv(c, fx.net.client.tcp);
    c.send('RETR big.bin');
    expect((await c.next()).code).toBe(150);
    await new Promise((r) => setTimeout(r, 50));
  }

  it('STAT reports progress and ABOR answers 426 then 226 (Telnet IP/DM ignored)', async () => {
    await setup();
    const c = await fx.anonymous();
    await stalledDownload(c);
    let s = await c.cmd('STAT');
    // Ask again until the first bytes went out (a loaded machine may be slow to start).
    for (let i = 0; i < 100 && / 0 of /.test(s.lines[0]!); i++) {
      await new Promise((r) => setTimeout(r, 20));
      s = await c.cmd('STAT');
    }
    expect(s.lines[0]).toMatch(/^213 Status: RETR \/big\.bin, \d+ of 4194304 bytes transferred\.$/);
    const moved = Number(/, (\d+) of/.exec(s.lines[0]!)![1]);
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(4194304);
    c.send(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR\r\n')]));
    expect((await c.next()).lines).toEqual(['426 Connection closed; transfer aborted.']);
    expect((await c.next()).lines).toEqual(['226 ABOR command successful.']);
    expect(await line(c, 'ABOR')).toBe('225 No transfer to abort.');
    expect(fx.server.counters.get('ftp.server.transfer.aborted')).toBe(1);
  });

  it('other commands wait for the transfer; QUIT comes after its result', async () => {
    await setup();
    const c = await fx.anonymous();
    // Larger than the client's receive buffer: the transfer cannot end while it does not read.
    await writeFile(join(fx.root, 'mid.bin'), Buffer.alloc(3_000_000, 0x42));
    const data = await pasv(c, fx.net.client.tcp);
    data.pause();
    c.send('RETR mid.bin');
    expect((await c.next()).code).toBe(150);
    c.send('PWD');
    c.send('QUIT');
    await new Promise((r) => setTimeout(r, 30));
    expect(c.buffered).toBe(0);
    const body = readAll(data);
    data.resume();
    expect((await body).length).toBe(3_000_000 + 0); // no LF in the file: TYPE A adds nothing
    expect((await c.next()).lines).toEqual(['226 Transfer complete.']);
    expect((await c.next()).lines).toEqual(['221 Thank you for visiting ftp.any-domain.com.']);
    await c.closed();
  });

  it('a stalled transfer is aborted after the data timeout', async () => {
    await setup({ dataTimeoutMs: 10_000 });
    const c = await fx.anonymous();
    await stalledDownload(c);
    // Each check of the watchdog sees whether bytes moved since the last one; once
    // the client's window is full nothing moves and the transfer is given up.
    for (let i = 0; i < 20 && c.buffered === 0; i++) {
      await fx.net.ftpClock.advanceAsync(10_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(fx.net.ftpClock.now()).toBeLessThan(200_000);
    expect((await c.next()).lines).toEqual(['426 Connection closed; transfer aborted.']);
  });
});

describe('limits', () => {
  it('421 beyond the maximum number of clients, in total and per address', async () => {
    await setup({ maxClients: 3, maxPerIp: 2 });
    const a = await fx.connect();
    await fx.connect();
    const refused = await ControlClient.connect(fx.net.client.tcp, '10.0.0.2', 21);
    expect((await refused.next()).lines).toEqual(['421 Too many connections, try again later.']);
    await refused.closed();
    await fx.connect('third');
    const full = await ControlClient.connect(fx.net.third.tcp, '10.0.0.2', 21);
    expect((await full.next()).code).toBe(421);
    expect(fx.server.counters.get('ftp.server.refused.max_per_ip')).toBe(1);
    expect(fx.server.counters.get('ftp.server.refused.max_clients')).toBe(1);
    // A slot frees up when a client leaves.
    expect(await line(a, 'QUIT')).toMatch(/^221/);
    await a.closed();
    await waitFor(() => fx.server.sessionCount === 2);
    await fx.connect();
  });

  it('closes an idle control connection with 421', async () => {
    await setup({ idleTimeoutMs: 60_000 });
    const c = await fx.anonymous();
    await fx.net.ftpClock.advanceAsync(59_000);
    expect(await line(c, 'NOOP')).toBe('200 NOOP ok.');
    await fx.net.ftpClock.advanceAsync(59_000);
    expect(c.buffered).toBe(0);
    await fx.net.ftpClock.advanceAsync(1_000);
    expect((await c.next()).lines).toEqual(['421 Timeout: closing control connection.']);
    await c.closed();
  });

  it('never changes anything outside the root', async () => {
    await setup({ anonymousWritable: true });
    const before = await stat(join(fx.outside, 'secret.txt'));
    const c = await fx.anonymous();
    for (const cmd of ['DELE escape-link', 'RMD escape-dir', 'RNFR escape-link', 'MKD escape-dir/x', `DELE ../../..${fx.outside}/secret.txt`]) {
      expect((await c.cmd(cmd)).code).toBe(550);
    }
    expect((await upload(c, 'STOR escape-dir/secret.txt', 'pwned'))[0]).toBe('550 Permission denied.');
    expect(await readdir(fx.outside)).toEqual(['secret.txt']);
    expect((await stat(join(fx.outside, 'secret.txt'))).mtimeMs).toBe(before.mtimeMs);
  });
});
