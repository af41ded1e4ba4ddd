import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpClient, FtpShell, splitCommands, splitWords } from '../../../../src/ftp/client/index.js';
import { RealClock } from '../../../../src/stack/clock.js';
import { FakeFtpServer } from '../../../support/ftp-client-fake-server.js';
import { MemTcpNet } from '../../../support/ftp-client-memtcp.js';

describe('shell word and command splitting', () => {
  it('splits -c text on ; outside quotes', () => {
    expect(splitCommands('dir; cd pub; get "a;b.txt"; bye')).toEqual(['dir', 'cd pub', 'get "a;b.txt"', 'bye']);
    expect(splitCommands('  ;; ')).toEqual([]);
  });
  it('groups quoted words', () => {
    expect(splitWords('get "file with spaces.txt" \'local name\'')).toEqual(['get', 'file with spaces.txt', 'local name']);
    expect(splitWords('put ""')).toEqual(['put', '']);
  });
});

describe('FtpShell (BSD ftp commands) on the scripted server', () => {
  let server: FakeFtpServer;
  let shell: FtpShell;
  let output: string;
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-shell-'));
    const net = new MemTcpNet();
    server = new FakeFtpServer({ tcp: net.host('192.168.0.1'), address: '192.168.0.1' });
    server.dirs.add('/pub');
    server.addFile('/pub/readme.txt', 'hello\nworld\n');
    server.addFile('/pub/b.bin', Buffer.alloc(5000, 1));
    output = '';
    const out = new Writable({
      write(c: Buffer, _e, done) {
        output += c.toString();
        done();
      },
    });
    const client = new FtpClient({ tcp: net.host('192.168.0.2'), mode: 'active', type: 'A' });
    // detectBinary off: these tests replay the seed session, which never sends SYST or TYPE.
    shell = new FtpShell({ client, out, clock: new RealClock(), localDir: dir, defaultUser: 'ftp', defaultPassword: 'abc@any-domain.com', detectBinary: false, debug: true });
  });
  afterEach(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runAll(lines: string[]): Promise<boolean[]> {
    const results: boolean[] = [];
    for (const l of lines) results.push(await shell.execute(l));
    return results;
  }

  it('runs the seed session and prints it like BSD ftp in verbose mode', async () => {
    const ok = await runAll(['open 192.168.0.1', 'dir', 'cd pub', 'get readme.txt', 'bye']);
    expect(ok).toEqual([true, true, true, true, true]);
    expect(server.log).toEqual(['USER ftp', 'PASS abc@any-domain.com', 'PORT 192,168,0,2,19,137', 'LIST', 'CWD pub', 'PORT 192,168,0,2,19,138', 'RETR readme.txt', 'QUIT']);
    expect(readFileSync(join(dir, 'readme.txt'), 'utf8')).toBe('hello\nworld\n');
    expect(output).toContain('---> PORT 192,168,0,2,19,137\n200 PORT command successful. Consider using PASV.\n');
    expect(output).toContain('---> PASS XXXX\n');
    expect(output.startsWith('Connected to 192.168.0.1 (192.168.0.1).\n220 ')).toBe(true);
    // Listing lines come between the 150 and the 226, as BSD ftp prints them.
    expect(output).toMatch(/---> LIST\n150 [^\n]*\ndrwxr-xr-x[^\n]* pub\n226 Transfer complete\.\n/);
    expect(output).toContain('local: readme.txt remote: readme.txt\n');
    expect(output).toMatch(/\n14 bytes received in [\d.]+ secs/);
    expect(shell.done).toBe(true);
  });

  it('reports failures as false and keeps the session', async () => {
    const ok = await runAll(['open 192.168.0.1', 'get nothing-here', 'cd /nope', 'frobnicate', 'pwd']);
    expect(ok).toEqual([true, false, false, false, true]);
    expect(output).toContain('550 Failed to open file.');
    expect(output).toContain('?Invalid command.');
    // A failed download leaves no file and no .part behind.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('toggles modes and types, and accepts unique prefixes', async () => {
    await runAll(['open 192.168.0.1', 'passive', 'bin', 'verbose', 'nlist pub']);
    expect(output).toContain('Passive mode: on.');
    expect(output).toContain('Verbose mode: off.');
    expect(output).toContain('readme.txt\nb.bin\n');
    expect(server.log).toContain('EPSV');
    expect(await shell.execute('ve')).toBe(true);
    expect(await shell.execute('p')).toBe(false); // put, pwd, passive...: ambiguous
    expect(output).toContain('?Ambiguous command.');
  });

  it('puts, appends, mputs, renames, deletes and reads sizes', async () => {
    writeFileSync(join(dir, 'one.txt'), 'one\n');
    writeFileSync(join(dir, 'two.txt'), 'two\n');
    const ok = await runAll(['open 192.168.0.1', 'binary', 'put one.txt /pub/one.txt', 'append two.txt /pub/one.txt', 'mput *.txt', 'rename /two.txt /pub/two.txt', 'delete /one.txt', 'size /pub/b.bin', 'mkdir /new', 'rmdir /new', 'quote NOOP', 'site HELP']);
    expect(ok.every(Boolean)).toBe(true);
    expect(server.files.get('/pub/one.txt')!.toString()).toBe('one\ntwo\n');
    expect(server.files.get('/pub/two.txt')!.toString()).toBe('two\n');
    expect(server.files.has('/one.txt')).toBe(false);
    expect(server.log).toContain('SIZE /pub/b.bin');
  });

  it('mget keeps server-chosen names inside the local directory', async () => {
    server.addFile('/pub/x.txt', 'x');
    const ok = await runAll(['open 192.168.0.1', 'binary', 'mget pub/*']);
    expect(ok).toEqual([true, true, true]);
    expect(readdirSync(dir).sort()).toEqual(['b.bin', 'readme.txt', 'x.txt']);
  });

  it('checks the connection, then the argument count, before a command runs', async () => {
    expect(await runAll(['mkdir', 'get', 'ls', 'open'])).toEqual([false, false, false, false]);
    expect(output).toBe('Not connected.\nusage: get remote-file [local-file]\nNot connected.\nusage: open host [port]\n');
    output = '';
    expect(await runAll(['open 192.168.0.1', 'rename a', 'delete'])).toEqual([true, false, false]);
    expect(output).toMatch(/\nusage: rename from-name to-name\nusage: delete remote-file\n$/);
    expect(server.log).not.toContain('RNFR a');
  });

  it('completes remote names from the current directory', async () => {
    await runAll(['open 192.168.0.1', 'cd pub']);
    expect(await shell.complete('re')).toEqual(['readme.txt']);
    expect(FtpShell.commandNames()).toEqual(expect.arrayContaining(['get', 'mget', 'reget', 'passive', 'verbose', 'hash', 'progress', 'status', 'quote', 'bye']));
  });
});
