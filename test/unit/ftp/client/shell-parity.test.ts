import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpClient, FtpShell, type ShellOptions } from '../../../../src/ftp/client/index.js';
import { RealClock } from '../../../../src/stack/clock.js';
import { FakeFtpServer } from '../../../support/ftp-client-fake-server.js';
import { MemTcpNet } from '../../../support/ftp-client-memtcp.js';

/**
 * The shell as a tnftp user types it, on the scripted server: the login dialogue with
 * its questions (answered from a list; undefined is Ctrl-D), verbose and debug, the
 * per-file questions of `prompt`, and the commands BSD ftp has.
 */
describe('FtpShell: BSD ftp parity', () => {
  let server: FakeFtpServer;
  let dir: string;
  let output: string;
  /** Answers for the questions, in order; undefined is Ctrl-D. */
  let answers: (string | undefined)[];
  let asked: string[];

  function shell(options: Partial<ShellOptions> = {}): FtpShell {
    const net = new MemTcpNet();
    server = new FakeFtpServer({ tcp: net.host('192.168.0.1'), address: '192.168.0.1', users: { alice: 's3cret' } });
    server.dirs.add('/pub');
    server.addFile('/pub/a.txt', 'aaa\n');
    server.addFile('/pub/b.txt', 'bbb\n');
    server.addFile('/pub/c.txt', 'ccc\n');
    const out = new Writable({
      write(c: Buffer, _e, done) {
        output += c.toString();
        done();
      },
    });
    const ask = async (prompt: string) => {
      asked.push(prompt);
      return answers.shift();
    };
    const client = new FtpClient({ tcp: net.host('192.168.0.2'), type: 'A' });
    return new FtpShell({ client, out, clock: new RealClock(), localDir: dir, ask, askSecret: ask, ...options });
  }
  async function run(s: FtpShell, lines: string[]): Promise<boolean[]> {
    const ok: boolean[] = [];
    for (const l of lines) ok.push(await s.execute(l));
    return ok;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-shell-parity-'));
    output = '';
    answers = [];
    asked = [];
  });
  afterEach(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('login as tnftp: Name, USER, then Password only after 331; anonymous is asked for its password too', async () => {
    const s = shell();
    answers = ['', 'me@example.org'];
    expect(await s.execute('open 192.168.0.1')).toBe(true);
    expect(asked).toEqual(['Name (192.168.0.1:anonymous): ', 'Password:']);
    expect(server.log.slice(0, 3)).toEqual(['USER anonymous', 'PASS me@example.org', 'SYST']);
    expect(output).toContain('331 Please specify the password.\n230 Login successful.\n');
    // verbose shows replies; commands only with debug.
    expect(output).not.toContain('--->');
    await run(s, ['debug', 'pwd']);
    expect(output).toContain('Debugging on (debug=1).\n---> PWD\n257 ');
  });

  it('Ctrl-D at Name or at Password fails the login and returns to the prompt, still connected', async () => {
    const s = shell();
    answers = [undefined];
    expect(await s.execute('open 192.168.0.1')).toBe(false);
    expect(output).toMatch(/Login failed\.\n$/);
    expect(server.log).toEqual([]);
    answers = [undefined];
    expect(await s.execute('user alice')).toBe(false);
    expect(asked).toEqual(['Name (192.168.0.1:anonymous): ', 'Password:']);
    expect(server.log).toEqual(['USER alice']);
    answers = ['s3cret'];
    expect(await s.execute('user alice')).toBe(true);
    expect(server.log.slice(-3)).toEqual(['PASS s3cret', 'SYST', 'TYPE I']);
    // A wrong password: the reply, then Login failed.
    expect(await s.execute('user alice wrong')).toBe(false);
    expect(output).toMatch(/530 Login incorrect\.\nLogin failed\.\n$/);
  });

  it('prompt: mget asks per file (y, n, a), mdelete stops at q; prompt off asks nothing', async () => {
    const s = shell({ defaultUser: 'ftp', defaultPassword: 'x@y' });
    await run(s, ['open 192.168.0.1', 'cd pub']);
    answers = ['y', 'n', 'y'];
    expect(await s.execute('mget *.txt')).toBe(true);
    expect(asked).toEqual(['mget a.txt [anpqy?]? ', 'mget b.txt [anpqy?]? ', 'mget c.txt [anpqy?]? ']);
    expect(existsSync(join(dir, 'a.txt')) && !existsSync(join(dir, 'b.txt')) && existsSync(join(dir, 'c.txt'))).toBe(true);
    asked = [];
    answers = ['a'];
    expect(await s.execute('mget *.txt')).toBe(true);
    expect(asked).toEqual(['mget a.txt [anpqy?]? ']); // a: yes to the rest
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe('bbb\n');
    asked = [];
    answers = ['n', 'q'];
    expect(await s.execute('mdelete *.txt')).toBe(true);
    expect(server.log.filter((l) => l.startsWith('DELE'))).toEqual([]);
    expect(await run(s, ['prompt', 'mdelete a.txt b.txt'])).toEqual([true, true]);
    expect(output).toContain('Interactive mode: off.');
    expect(server.log.filter((l) => l.startsWith('DELE'))).toEqual(['DELE a.txt', 'DELE b.txt']);
    expect([...server.files.keys()]).toEqual(['/pub/c.txt']);
  });

  it('get FILE - writes the file to the output; mls lists several directories into a file', async () => {
    const s = shell({ defaultUser: 'ftp', defaultPassword: 'x@y', verbose: false });
    expect(await run(s, ['open 192.168.0.1', 'get pub/a.txt -', 'mls pub / names.txt'])).toEqual([true, true, true]);
    expect(output).toBe('Connected to 192.168.0.1.\naaa\n');
    expect(readFileSync(join(dir, 'names.txt'), 'utf8')).toBe('a.txt\nb.txt\nc.txt\npub\n');
  });

  it('system, features, rhelp, chmod, lpwd and ! (shell escape)', async () => {
    const s = shell({ defaultUser: 'ftp', defaultPassword: 'x@y', verbose: false });
    expect(await run(s, ['open 192.168.0.1', 'system', 'features', 'rhelp', 'chmod 644 pub/a.txt', 'lpwd', '!echo hello from $0; pwd'])).toEqual([true, true, true, true, true, true, true]);
    expect(output).toContain('215 UNIX Type: L8\n');
    expect(output).toContain('211-Features:\n EPSV\n');
    expect(output).toContain('214-The following commands are recognized.\n');
    expect(server.log).toContain('SITE CHMOD 644 pub/a.txt');
    expect(output).toContain(`Local directory: ${dir}\n`);
    expect(output).toContain(`hello from sh\n${dir}\n`);
    expect(await s.execute('!exit 3')).toBe(false);
  });

  it('page shows a remote file and lpage a local one through $PAGER', async () => {
    const s = shell({ defaultUser: 'ftp', defaultPassword: 'x@y', verbose: false });
    writeFileSync(join(dir, 'local notes.txt'), 'local text\n');
    const pager = process.env['PAGER'];
    process.env['PAGER'] = 'sed s/^/paged:/';
    try {
      expect(await run(s, ['open 192.168.0.1', 'page pub/b.txt', 'lpage "local notes.txt"'])).toEqual([true, true, true]);
    } finally {
      if (pager === undefined) delete process.env['PAGER'];
      else process.env['PAGER'] = pager;
    }
    expect(output).toContain('paged:bbb\npaged:local text\n');
  });

  it('newer gets a file only when the remote one is newer; runique and sunique never overwrite', async () => {
    const s = shell({ defaultUser: 'ftp', defaultPassword: 'x@y', verbose: false });
    await run(s, ['open 192.168.0.1', 'cd pub']);
    // The fake server's MDTM is 2026-11-21 11:42:49 UTC.
    writeFileSync(join(dir, 'a.txt'), 'local');
    utimesSync(join(dir, 'a.txt'), new Date('2030-01-01T00:00:00Z'), new Date('2030-01-01T00:00:00Z'));
    expect(await s.execute('newer a.txt')).toBe(true);
    expect(output).toContain('Local file "a.txt" is newer than remote file "a.txt".');
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('local');
    utimesSync(join(dir, 'a.txt'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    expect(await s.execute('newer a.txt')).toBe(true);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('aaa\n');

    expect(await run(s, ['runique', 'get a.txt', 'get a.txt'])).toEqual([true, true, true]);
    expect(readFileSync(join(dir, 'a.txt.1'), 'utf8')).toBe('aaa\n');
    expect(readFileSync(join(dir, 'a.txt.2'), 'utf8')).toBe('aaa\n');
    expect(await run(s, ['sunique', 'put a.txt b.txt'])).toEqual([true, true]);
    expect(server.log).toContain('STOU b.txt');
    expect(server.files.get('/pub/b.txt')!.toString()).toBe('bbb\n');
    expect(server.files.get('/pub/b.txt.1')!.toString()).toBe('aaa\n');
  });

  it('rate limits per direction and says so; bad values are refused', async () => {
    const s = shell({ verbose: false });
    expect(await run(s, ['rate get 100000', 'rate all', 'rate put 0x', 'rate sideways'])).toEqual([true, true, false, false]);
    expect(output).toBe('get rate: 100000 bytes/s\nget rate: 100000 bytes/s\nput rate: off\nrate: bad rate value: 0x\nusage: rate all|get|put [maximum-bytes-per-second|off]\n');
    expect(s.rate).toEqual({ get: 100_000, put: undefined });
  });

  it("after the server's 421 (idle timeout), the next command shows its text, then Not connected.", async () => {
    const s = shell({ defaultUser: 'ftp', defaultPassword: 'x@y' });
    await s.execute('open 192.168.0.1');
    server.kick();
    await new Promise((resolve) => setTimeout(resolve, 20));
    output = '';
    expect(await s.execute('pwd')).toBe(false);
    expect(output).toBe('421 Timeout.\nNot connected.\n');
  });

  it('.netrc: the machine entry logs in; a password in a file others can read is refused', async () => {
    const netrc = join(dir, 'netrc');
    writeFileSync(netrc, 'machine other.example login bob password x\n\nmacdef init\ncd pub\n\nmachine 192.168.0.1 login alice password s3cret\ndefault login anonymous password a@b\n', { mode: 0o600 });
    const s = shell({ netrcPath: netrc });
    expect(await s.execute('open 192.168.0.1')).toBe(true);
    expect(asked).toEqual([]);
    expect(server.log.slice(0, 2)).toEqual(['USER alice', 'PASS s3cret']);
    chmodSync(netrc, 0o644);
    output = '';
    answers = [undefined];
    expect(await s.execute('open 192.168.0.1')).toBe(false);
    expect(output).toContain('Error: .netrc file is readable by others.\nRemove password or make file unreadable by others.\n');
    expect(asked).toEqual(['Name (192.168.0.1:anonymous): ']);
  });
});
