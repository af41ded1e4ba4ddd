import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCliNamespace, sh, type CliNamespace } from '../support/cli.js';
import { ftpIds, waitForListen } from '../../support/ftp-client-peers.js';
import { LIAR_SERVER } from '../../support/ftp-client-liar.js';
import { describeTap } from '../support/gate.js';

/**
 * `tapstack ftp`, `tapstack get` and `tapstack put` as users run them: the compiled CLI
 * runs INSIDE a fresh namespace on a persistent TAP device made there. The kernel side
 * (10.0.0.1/24) runs dnsmasq (ftp.any-domain.com -> 10.0.0.1) and vsftpd, so the
 * scripted session is the seed's: a DNS query, then USER, PASS, PORT, LIST, CWD,
 * PORT, RETR, QUIT.
 */
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const readme = Buffer.from('Welcome to ftp.any-domain.com\nThis is readme.txt.\n');
/** Binary: line ends (CRLF, lone CR, lone LF) and NUL that a TYPE A transfer would change. */
const big = Buffer.concat([Buffer.from('\r\n\r\0\n\r\r\n'), randomBytes(400_000)]);
let net: CliNamespace;
let work: string;
/** Our stack's options for every command: the namespace's TAP, 10.0.0.2, dnsmasq. */
let host: string[];

/**
 * Drives a program in a pseudo-terminal: for each step, wait until the output (after
 * the previous match) contains `wait`, then type `send`. Prints everything read.
 */
const PTY_DRIVER = String.raw`
import os, pty, sys, time, select, json
steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b''
pos = 0
def read_until(token, timeout=15):
    global out, pos
    end = time.time() + timeout
    while time.time() < end:
        i = out.find(token, pos)
        if i >= 0:
            pos = i + len(token)
            return True
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            out += data
    return False
ok = True
for wait, send in steps:
    if not read_until(wait.encode()):
        ok = False
        break
    os.write(fd, send.encode())
    time.sleep(0.05)
read_until(b'\x00', 3)
if not ok:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.stdout.write('\nPTY-RESULT ok=%s exit=%d\n' % (ok, os.waitstatus_to_exitcode(status)))
`;

/** Run the CLI inside the namespace (in `cwd`, with `input` on stdin). */
const tapstack = (args: string[], cwd = work, input?: string) => net.run(args, { cwd, input });

/** Run the CLI inside the namespace under PTY_DRIVER, which types `steps` into it. */
const inPty = (steps: [string, string][], args: string[], cwd: string) =>
  net.run(args, { via: ['python3', '-c', PTY_DRIVER, JSON.stringify(steps)], cwd, timeoutMs: 60_000 });

describeTap('tapstack ftp / get / put on a TAP device against vsftpd', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tapstack-ftpcli-'));
    chmodSync(work, 0o755);
    const anon = join(work, 'anon');
    mkdirSync(join(anon, 'pub'), { recursive: true });
    mkdirSync(join(anon, 'incoming'));
    const { uid, gid } = ftpIds();
    chownSync(join(anon, 'incoming'), uid, gid);
    writeFileSync(join(anon, 'pub', 'readme.txt'), readme);
    writeFileSync(join(anon, 'pub', 'big file.bin'), big);
    mkdirSync(join(work, 'empty'));
    mkdirSync(join(work, 'out'));
    writeFileSync(
      join(work, 'vsftpd.conf'),
      [
        'listen=YES',
        'listen_address=10.0.0.1',
        'background=NO',
        'anonymous_enable=YES',
        `anon_root=${anon}`,
        'local_enable=NO',
        'write_enable=YES',
        'anon_upload_enable=YES',
        `secure_chroot_dir=${join(work, 'empty')}`,
        'seccomp_sandbox=NO',
        'connect_from_port_20=YES',
        'ftpd_banner=ftp.any-domain.com FTP server ready.',
        // Slow enough that Ctrl-C lands in the middle of a 400 kB download.
        'anon_max_rate=300000',
        'pasv_min_port=30000',
        'pasv_max_port=30100',
        '',
      ].join('\n'),
    );
    net = await createCliNamespace('ftpcli');
    host = ['--tap', net.dev, '--ip', '10.0.0.2/24', '--dns', '10.0.0.1'];
    net.spawnPeer('dnsmasq', ['--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--listen-address=10.0.0.1', '--bind-interfaces', '--local=/any-domain.com/', '--host-record=ftp.any-domain.com,10.0.0.1']);
    net.spawnPeer('vsftpd', [join(work, 'vsftpd.conf')]);
    // The same server on port 2121 with a 2-second idle timeout (its 421).
    writeFileSync(join(work, 'vsftpd-idle.conf'), `${readFileSync(join(work, 'vsftpd.conf'), 'utf8')}listen_port=2121\nidle_session_timeout=2\n`);
    net.spawnPeer('vsftpd', [join(work, 'vsftpd-idle.conf')]);
    // A server that announces 100 000 bytes, sends 15 fewer and says 226.
    net.spawnPeer('python3', ['-c', LIAR_SERVER, '2199', '100000', '15']);
    await waitForListen(net, 21);
    await waitForListen(net, 53, 'udp');
    await waitForListen(net, 2199);
    await waitForListen(net, 2121);
  });

  afterAll(async () => {
    await net?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a scripted session (-c) reproduces the seed: DNS, USER, PASS, PORT, LIST, CWD, PORT, RETR, QUIT', async () => {
    const pcap = join(work, 'seed.pcapng');
    const r = await tapstack(
      ['ftp', 'ftp.any-domain.com', ...host, '--pcap', pcap, '--active', '--ascii', '--user', 'ftp', '--password', 'abc@any-domain.com', '-v', '-d', '-c', 'dir; cd pub; get readme.txt; bye'],
      join(work, 'out'),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const sent = r.stdout.split('\n').filter((l) => l.startsWith('---> ')).map((l) => l.slice(5).split(' ')[0]);
    expect(sent).toEqual(['USER', 'PASS', 'PORT', 'LIST', 'CWD', 'PORT', 'RETR', 'QUIT']);
    expect(r.stdout).toContain('---> PORT 10,0,0,2,19,137\n200 PORT command successful.');
    expect(r.stdout).toContain('---> PORT 10,0,0,2,19,138\n');
    expect(r.stdout).toContain('---> PASS XXXX\n');
    expect(r.stdout).toContain('220 ftp.any-domain.com FTP server ready.');
    expect(r.stdout).toMatch(/drwxr-xr-x +\d+ \d+ +\d+ +\d+ \w{3} [ \d]\d [\d:]+ pub\n/);
    expect(r.stdout).toContain('221 Goodbye.');
    expect(sha256(readFileSync(join(work, 'out', 'readme.txt')))).toBe(sha256(readme));

    // On the wire, as in the seed: a DNS query first, then our SYN to port 21 and the
    // server's SYNs from port 20 to 5001 and 5002; every connection closed with FINs.
    const fields = (filter: string, ...f: string[]) =>
      sh('tshark', ['-r', pcap, '-Y', filter, '-T', 'fields', ...f.flatMap((x) => ['-e', x])]).stdout.trim().split('\n').filter(Boolean);
    expect(fields('dns.flags.response == 0', 'dns.qry.name')).toContain('ftp.any-domain.com');
    expect(fields('tcp.flags.syn == 1 && tcp.flags.ack == 0', 'tcp.dstport').map(Number)).toEqual([21, 5001, 5002]);
    expect(fields('tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport != 21', 'tcp.srcport').map(Number)).toEqual([20, 20]);
    expect(fields('tcp.flags.reset == 1', 'tcp.srcport')).toEqual([]);
    // Six FINs, as in the seed; a FIN retransmitted because a loaded machine was slow
    // to ACK it is the same FIN, so retransmissions are not counted.
    const fins = fields('tcp.flags.fin == 1', 'frame.number', 'tcp.srcport', 'tcp.dstport', 'tcp.seq', 'tcp.analysis.retransmission');
    expect(fields('tcp.flags.fin == 1 && !tcp.analysis.retransmission', 'tcp.srcport').length, fins.join('\n')).toBe(6);
  });

  it('a script stops at the first failure with a non-zero exit', async () => {
    const script = join(work, 'script.ftp');
    writeFileSync(script, '# a comment\nbinary\ncd pub\nget nonexistent.txt\nget readme.txt\nbye\n');
    const r = await tapstack(['ftp', '10.0.0.1', ...host, '--passive', '--script', script], join(work, 'out'));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('550 Failed to open file.');
    expect(readdirSync(join(work, 'out'))).not.toContain('nonexistent.txt');
  });

  it('the default mode (no `binary` typed): SYST, then binary, and the file arrives byte for byte', async () => {
    const dir = mkdtempSync(join(work, 'default-'));
    const r = await tapstack(['ftp', 'ftp.any-domain.com', ...host, '--passive', '-v', '-d', '-c', 'cd pub; get "big file.bin"; bye'], dir);
    expect(r, r.stdout).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('---> SYST\n215 UNIX Type: L8\nRemote system type is UNIX.\n---> TYPE I\n200 Switching to Binary mode.\nUsing binary mode to transfer files.\n');
    expect(sha256(readFileSync(join(dir, 'big file.bin')))).toBe(sha256(big));
  });

  it('a short transfer (226 after 15 bytes too few) fails in one line, keeps the .part, never writes the name', async () => {
    const dir = mkdtempSync(join(work, 'short-'));
    const r = await tapstack(['get', 'ftp://10.0.0.1:2199/file.bin', ...host], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tapstack: get ftp://10.0.0.1:2199/file.bin: partial file: received 99985 of 100000 bytes (kept ${join(dir, '.file.bin.part')}; -C resumes it)\n`);
    expect(readdirSync(dir)).toEqual(['.file.bin.part']);
    expect(readFileSync(join(dir, '.file.bin.part')).length).toBe(99_985);
    // The shell: the same one line, and a script stops there with exit 1.
    const shell = await tapstack(['ftp', '10.0.0.1', '--port', '2199', ...host, '--passive', '-c', 'get file.bin; pwd'], dir);
    expect(shell.code).toBe(1);
    expect(shell.stdout).toContain('ftp: partial file: received 99985 of 100000 bytes (kept .file.bin.part; reget resumes it)\n');
    expect(readdirSync(dir)).toEqual(['.file.bin.part']);
  });

  it("after the server's idle timeout: its 421 text, then Not connected.", async () => {
    const r = await tapstack(['ftp', 'ftp.any-domain.com', '--port', '2121', ...host, '--passive'], work, '!sleep 4\npwd\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('421 Timeout.\nNot connected.\n');
  });

  it('ftp://host/path fetches the file and exits; ftp://host/dir/ and user@host open a session', async () => {
    const dir = mkdtempSync(join(work, 'url-'));
    const fetched = await tapstack(['ftp', 'ftp://ftp.any-domain.com/pub/big%20file.bin', ...host], dir);
    expect(fetched, fetched.stdout).toMatchObject({ code: 0, stderr: '' });
    expect(sha256(readFileSync(join(dir, 'big file.bin')))).toBe(sha256(big));
    const inDir = await tapstack(['ftp', 'ftp://ftp.any-domain.com/pub/', ...host, '-v', '-c', 'pwd'], dir);
    expect(inDir.code).toBe(0);
    expect(inDir.stdout).toContain('257 "/pub" is the current directory');
    const asUser = await tapstack(['ftp', 'anonymous@ftp.any-domain.com', ...host, '-v', '-d', '-c', 'pwd'], dir);
    expect(asUser.code).toBe(0);
    expect(asUser.stdout).toContain('---> USER anonymous\n331 ');
  });

  it('tapstack get honours ;type=d (a listing) and ;type=a (ASCII)', async () => {
    const listing = await tapstack(['get', 'ftp://ftp.any-domain.com/pub;type=d', ...host]);
    expect(listing).toMatchObject({ code: 0, stderr: '' });
    expect(listing.stdout.split('\n').sort()).toEqual(['', 'pub/big file.bin', 'pub/readme.txt']);
    const ascii = await tapstack(['get', 'ftp://ftp.any-domain.com/pub/readme.txt;type=a', '-o', '-', '-v', ...host]);
    expect(ascii.code).toBe(0);
    expect(ascii.stdout).toBe(readme.toString());
    // The server starts in TYPE A (RFC 959): no TYPE I, and no SIZE (that is asked in binary only).
    expect(ascii.stderr).toContain('---> RETR pub/readme.txt');
    expect(ascii.stderr).not.toMatch(/TYPE I|SIZE/);
  });

  it('commands piped on stdin run like a script', async () => {
    const r = await tapstack(['ftp', 'ftp.any-domain.com', ...host, '--passive'], join(work, 'out'), 'binary\ncd pub\nsize readme.txt\nbye\n');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`readme.txt\t${readme.length}`);
  });

  it('the interactive shell: prompt, tab completion of commands and remote names, history, bye', async () => {
    const interactive = mkdtempSync(join(work, 'tty-'));
    const steps: [string, string][] = [
      ['ftp> ', 'cd pub\r'],
      ['250 ', 'ge\t'],
      ['get', ' rea\t'],
      ['readme.txt', '\r'],
      ['bytes received', '\x1b[A'], // up arrow: the last command again
      ['get readme.txt', '\x15bye\r'], // Ctrl-U clears it; then bye
    ];
    const r = await inPty(steps, ['ftp', 'ftp.any-domain.com', ...host, '--active', '-d', '--user', 'ftp', '--password', 'abc@any-domain.com'], interactive);
    const out = r.stdout;
    if (process.env.FTPC_DEBUG) console.log(out);
    expect(out, `${out}\n${r.stderr}`).toMatch(/PTY-RESULT ok=True exit=0/);
    // Verbose is on in the interactive shell (replies), and -d shows our commands, as BSD ftp does.
    expect(out).toContain('---> CWD pub');
    expect(out).toContain('---> RETR readme.txt');
    expect(out).toContain('221 Goodbye.');
    expect(sha256(readFileSync(join(interactive, 'readme.txt')))).toBe(sha256(readme));
  });

  it('the interactive shell asks for the name and a password without echoing it', async () => {
    const steps: [string, string][] = [
      // vsftpd refuses USER someone at once (530): no Password question, as tnftp.
      ['Name (ftp.any-domain.com:anonymous): ', 'someone\r'],
      ['Login failed.', 'user ftp\r'],
      // Anonymous is asked for its (e-mail) password too.
      ['Password:', 'hidden-secret\r'],
      ['230 ', 'pwd\r'],
      ['257 ', 'bye\r'],
    ];
    const r = await inPty(steps, ['ftp', 'ftp.any-domain.com', ...host, '-d'], work);
    expect(r.stdout, `${r.stdout}\n${r.stderr}`).toMatch(/PTY-RESULT ok=True exit=0/);
    expect(r.stdout).toContain('---> USER someone');
    expect(r.stdout).toContain('230 Login successful.');
    expect(r.stdout).toContain('---> PASS XXXX');
    expect(r.stdout).not.toContain('hidden-secret');
  });

  it('Ctrl-C aborts a transfer in the shell, the session goes on, and reget completes it', async () => {
    const tty = mkdtempSync(join(work, 'abort-'));
    const steps: [string, string][] = [
      ['ftp> ', 'binary\r'],
      ['ftp> ', 'get "pub/big file.bin"\r'],
      ['150 ', '\x03'],
      ['transfer aborted', ''],
      ['ftp> ', 'pwd\r'],
      ['257 ', 'reget "pub/big file.bin"\r'],
      ['bytes received', 'bye\r'],
    ];
    const r = await inPty(steps, ['ftp', 'ftp.any-domain.com', ...host, '--passive', '-d', '--user', 'ftp', '--password', 'x@y'], tty);
    expect(r.stdout, `${r.stdout}\n${r.stderr}`).toMatch(/PTY-RESULT ok=True exit=0/);
    expect(r.stdout).toMatch(/---> REST \d+/);
    expect(readdirSync(tty)).toEqual(['big file.bin']);
    expect(sha256(readFileSync(join(tty, 'big file.bin')))).toBe(sha256(big));
  });

  it('tapstack get downloads a percent-encoded URL, by sha256', async () => {
    const out = join(work, 'got.bin');
    const r = await tapstack(['get', 'ftp://ftp.any-domain.com/pub/big%20file.bin', '-o', out, ...host]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(sha256(readFileSync(out))).toBe(sha256(big));
  });

  it('tapstack put uploads into a directory URL (active mode), by sha256', async () => {
    const file = join(work, 'upload me.bin');
    const body = randomBytes(250_000);
    writeFileSync(file, body);
    const r = await tapstack(['put', file, 'ftp://anonymous:me%40example.org@ftp.any-domain.com/incoming/', ...host, '--active']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(sha256(readFileSync(join(work, 'anon', 'incoming', 'upload me.bin')))).toBe(sha256(body));
  });

  it('bad arguments: one line on stderr, exit 2', async () => {
    for (const args of [
      ['get', 'http://example.org/x', ...host],
      ['get', 'ftp://ftp.any-domain.com/pub/', ...host],
      ['put', join(work, 'no-such-file'), 'ftp://ftp.any-domain.com/incoming/', ...host],
      ['ftp', ...host, '--active', '--passive'],
    ]) {
      const r = await tapstack(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
