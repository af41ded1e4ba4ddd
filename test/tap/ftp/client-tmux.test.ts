import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI, createCliNamespace, type CliNamespace } from '../support/cli.js';
import { startVsftpd, waitForListen, type FtpPeer } from '../../support/ftp-client-peers.js';
import { TmuxPane } from '../../support/ftp-client-tmux.js';
import { describeTap } from '../support/gate.js';

/**
 * `tapstack ftp` typed by a person: the compiled CLI runs in a tmux pane, inside a
 * fresh namespace, against vsftpd and dnsmasq on the kernel side. The test types as
 * one would (login questions, Ctrl-D at Name and at Password, `!`, `prompt`, `mget`,
 * Ctrl-C in the middle of a download, .netrc, Ctrl-D at ftp>) and reads the screen.
 * No --dns: the name is resolved by our resolver with the namespace's resolv.conf
 * (/etc/netns/NS/resolv.conf, which `ip netns exec` puts at /etc/resolv.conf).
 */
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const one = Buffer.from('one\r\nwith CRLF\n\0\r');
const two = Buffer.from('two\n');
const big = randomBytes(3_000_000);

let net: CliNamespace;
let work: string;
let peer: FtpPeer;
let pane: TmuxPane | undefined;
let netnsEtc: string | undefined;

describeTap('tapstack ftp typed in tmux, as a person would', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tapstack-ftpc-tmux-'));
    chmodSync(work, 0o755);
    net = await createCliNamespace('ftptmux');
    netnsEtc = join('/etc/netns', net.ns);
    mkdirSync(netnsEtc, { recursive: true });
    writeFileSync(join(netnsEtc, 'resolv.conf'), 'nameserver 10.0.0.1\nsearch any-domain.com\n');
    net.spawnPeer('dnsmasq', ['--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--listen-address=10.0.0.1', '--bind-interfaces', '--local=/any-domain.com/', '--host-record=ftp.any-domain.com,10.0.0.1']);
    // Slow enough that Ctrl-C lands in the middle of the 3 MB download.
    peer = await startVsftpd({ ns: net.ns, exec: net.exec, spawn: (cmd, args) => net.spawnPeer(cmd, args) }, work, '10.0.0.1', 21, ['anon_max_rate=300000']);
    writeFileSync(join(peer.root, 'pub', 'one.txt'), one);
    writeFileSync(join(peer.root, 'pub', 'two.txt'), two);
    writeFileSync(join(peer.root, 'pub', 'big.bin'), big);
    await waitForListen(net, 53, 'udp');
  });

  afterAll(async () => {
    await pane?.kill();
    await net?.destroy();
    if (netnsEtc) rmSync(netnsEtc, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('login questions, Ctrl-D, !, prompt with mget, Ctrl-C in a transfer, .netrc, Ctrl-D to leave', async () => {
    const home = join(work, 'home');
    mkdirSync(home);
    // HOME: a .netrc of our own, written later in the session.
    const command = `cd ${home} && HOME=${home} exec ip netns exec ${net.ns} ${process.execPath} ${CLI} ftp --tap ${net.dev} --ip 10.0.0.2/24 --passive`;
    pane = await TmuxPane.start('ftptmux', command);
    const p = pane;
    await p.waitFor('ftp> ');

    // Ctrl-D at Name: the login fails, we stay at ftp>, connected.
    await p.type('open ftp');
    await p.waitFor('Name (ftp:anonymous): ');
    await p.key('C-d');
    await p.waitFor('Login failed.');
    await p.waitFor('ftp> ');
    // Ctrl-D at Password, then a login that works; the password is not echoed.
    await p.type('user anonymous');
    await p.waitFor('Password:');
    await p.key('C-d');
    await p.waitFor('Login failed.');
    await p.type('user anonymous');
    await p.waitFor('Password:');
    await p.type('secret-mail@example.org');
    await p.waitFor('230 Login successful.');
    await p.waitFor('Using binary mode to transfer files.');
    await p.waitFor('ftp> ');

    // ! runs a local command.
    await p.type('!echo shell-says-$((6*7))');
    await p.waitFor('shell-says-42');
    await p.waitFor('ftp> ');

    // prompt is on at a terminal: mget asks for each file.
    await p.type('cd pub');
    await p.waitFor('250 ');
    await p.type('mget *.txt');
    await p.waitFor('mget one.txt [anpqy?]? ');
    await p.type('y');
    await p.waitFor('mget two.txt [anpqy?]? ');
    await p.type('n');
    await p.waitFor('ftp> ');
    expect(readdirSync(home).sort(), await p.screen()).toEqual(['one.txt']);
    expect(sha256(readFileSync(join(home, 'one.txt'))), await p.screen()).toBe(sha256(one));
    await p.type('prompt');
    await p.waitFor('Interactive mode: off.');
    await p.type('mget *.txt');
    await p.waitFor('local: two.txt remote: two.txt');
    await p.waitFor('ftp> ');
    expect(sha256(readFileSync(join(home, 'two.txt'))), await p.screen()).toBe(sha256(two));

    // Ctrl-C during a download aborts it; the session goes on; reget finishes it.
    await p.type('get big.bin');
    await p.waitFor('150 ');
    await p.key('C-c');
    await p.waitFor('transfer aborted');
    await p.waitFor('ftp> ');
    expect(existsSync(join(home, 'big.bin')), await p.screen()).toBe(false);
    await p.type('reget big.bin');
    await p.waitFor('bytes received');
    expect(sha256(readFileSync(join(home, 'big.bin'))), await p.screen()).toBe(sha256(big));

    // .netrc: the next open logs in without a question.
    writeFileSync(join(home, '.netrc'), 'machine ftp.any-domain.com login anonymous password netrc@example.org\n', { mode: 0o600 });
    await p.type('open ftp.any-domain.com');
    await p.waitFor('230 Login successful.');
    await p.waitFor('ftp> ');

    // Ctrl-D at ftp> leaves (QUIT first).
    await p.key('C-d');
    await p.waitFor('221 Goodbye.');
    for (let i = 0; i < 300 && (await p.exitStatus()) === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const screen = await p.screen();
    expect(await p.exitStatus(), screen).toBe(0);
    if (process.env.FTPC_DEBUG) console.log(screen);
    expect(screen, screen).not.toContain('secret-mail@example.org');
    expect(screen, screen).not.toContain('Name (ftp.any-domain.com'); // .netrc answered it
  });
});
