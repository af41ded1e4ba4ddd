#!/usr/bin/env node
// Flood and soak `tapstack ftp-server` in a private namespace, and print what stayed
// available (issue 12): `npm run build && sudo npm run soak` (about four minutes).
//
//   SYN flood      100,000 SYNs from spoofed on-link sources in 10 s at port 21; the same
//                  flood at a kernel listener (syncookies=1 in ITS namespace) over a veth
//   ARP flood      100,000 requests for our address from random senders in 10 s
//   fragment flood 100,000 first fragments (MF set) of datagrams that never complete, 10 s
//   connections    10,000 connections opened, greeted (220) and closed
//   FTP soak       20 clients logging in, listing and downloading 256 KiB in a loop, 20 s
//
// During and after each flood a real client probes: TCP connect + the 220 greeting,
// ping, and ARP for a new real neighbour (a ping from a kernel address the stack has
// never seen, which it must resolve to answer). The stack's RSS is read before and
// after each phase from /proc.
//
// Everything lives in namespaces this script makes with the package's own builder
// (dist/netns): tapstack-soak-<pid> (a persistent TAP `tap0`: kernel 10.0.0.1/16, the
// stack 10.0.0.2/16) and tapstack-soak-k-<pid>-1 (the kernel listener 10.9.0.2, joined to
// the first by a veth). Traffic goes only to those addresses; every flood is bounded in
// count and time; the namespaces go at the end, on Ctrl-C and on failure.
//
// SOAK_SCALE=0.1 runs every phase at a tenth of its size (a quick check).

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const netns = await import(join(root, 'dist/netns/index.js')).catch(() => null);
if (!netns) fail('dist/ is not built: run `npm run build` first');
if (process.getuid?.() !== 0) fail('needs root (network namespaces, TAP devices): run with sudo');
const { Namespace } = netns;

const SCALE = Number(process.env.SOAK_SCALE ?? '1');
if (!(SCALE > 0 && SCALE <= 1)) fail(`SOAK_SCALE must be in (0, 1], got ${process.env.SOAK_SCALE}`);
const n = (count) => Math.max(1, Math.round(count * SCALE));
const FLOOD_SECONDS = 10;
const STACK = '10.0.0.2';
const STACK_MAC = '02:54:53:00:00:02';
const KERNEL = '10.0.0.1';
const KERNEL_LISTENER = '10.9.0.2';
const FILE_SIZE = 256 * 1024;

function fail(message) {
  console.error(`soak: ${message}`);
  process.exit(2);
}

// The kernel-side tools, in one python3 program (stdlib only): floods written with raw
// sockets, and the probing clients. argv[1] says which.
const PEER_PY = String.raw`
import ftplib, io, json, os, random, socket, struct, sys, threading, time

def checksum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def spoofed(rnd, prefix):
    # prefix "10.0": 10.0.1-254.1-254, never the real hosts in x.y.0.z
    a, b = (int(x) for x in prefix.split('.'))
    return bytes([a, b, rnd.randrange(1, 255), rnd.randrange(1, 255)])

def paced(count, seconds, make, send):
    # count packets spread evenly over seconds; a full queue (ENOBUFS) loses one
    start, sent, lost = time.time(), 0, 0
    step = max(1, count // int(seconds * 200))
    while sent < count and time.time() < start + 3 * seconds:  # bounded in time, whatever happens
        for _ in range(min(step, count - sent)):
            try: send(make())
            except OSError: lost += 1
            sent += 1
        ahead = start + seconds * sent / count - time.time()
        if ahead > 0: time.sleep(ahead)
    return {'sent': sent - lost, 'refused_by_kernel': lost, 'seconds': round(time.time() - start, 1)}

def ip_header(proto, src, dst, length, ident, frag):
    return struct.pack('!BBHHHBBH4s4s', 0x45, 0, length, ident, frag, 64, proto, 0, src, dst)

mode = sys.argv[1]
if mode in ('syn', 'frag'):
    dst, count, seconds, prefix = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    port = int(sys.argv[6]) if mode == 'syn' else 0
    d = socket.inet_aton(dst)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # we write the IP header
    rnd = random.Random(12)
    filler = bytes(1000)
    def syn():
        src = spoofed(rnd, prefix)
        tcp = struct.pack('!HHIIBBHHH', rnd.randrange(1024, 65535), port, rnd.getrandbits(32), 0, 6 << 4, 0x02, 64240, 0, 0)
        tcp += struct.pack('!BBH', 2, 4, 1460)  # MSS
        c = checksum(src + d + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)
        tcp = tcp[:16] + struct.pack('!H', c) + tcp[18:]
        return ip_header(6, src, d, 20 + len(tcp), rnd.getrandbits(16), 0) + tcp
    def fragment():
        # the first 1000 bytes of a UDP datagram that never gets its other fragments
        return ip_header(17, spoofed(rnd, prefix), d, 1020, rnd.getrandbits(16), 0x2000) + filler
    print(json.dumps(paced(count, seconds, syn if mode == 'syn' else fragment, lambda p: raw.sendto(p, (dst, 0)))))
elif mode == 'arp':
    dev, target, count, seconds, prefix = sys.argv[2], socket.inet_aton(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    rnd = random.Random(34)
    def request():
        sha = bytes([0x02, 0x10] + [rnd.randrange(256) for _ in range(4)])
        return b'\xff' * 6 + sha + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + sha + spoofed(rnd, prefix) + bytes(6) + target
    print(json.dumps(paced(count, seconds, request, s.send)))
elif mode == 'probe':
    # seconds to connect and read the first line of the greeting, or -1
    host, port, timeout = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    start = time.time()
    try:
        c = socket.create_connection((host, port), timeout)
        c.settimeout(max(0.1, timeout - (time.time() - start)))
        ok = c.recv(100).startswith(b'220')
        c.close()
        print('%.4f' % (time.time() - start) if ok else -1)
    except OSError:
        print(-1)
elif mode == 'conns':
    # open, read the greeting, close: count times, parallel at once
    host, port, count, parallel = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    lock, state = threading.Lock(), {'next': 0, 'ok': 0, 'failed': 0}
    def worker():
        while True:
            with lock:
                if state['next'] >= count: return
                state['next'] += 1
            try:
                c = socket.create_connection((host, port), 10)
                c.settimeout(10)
                ok = c.recv(100).startswith(b'220')
                c.close()
            except OSError:
                ok = False
            with lock: state['ok' if ok else 'failed'] += 1
    start = time.time()
    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({'ok': state['ok'], 'failed': state['failed'], 'seconds': round(time.time() - start, 1)}))
elif mode == 'ftp':
    host, clients, seconds, name, size = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    lock, state = threading.Lock(), {'sessions': 0, 'failed': 0, 'bytes': 0, 'errors': []}
    deadline = time.time() + seconds
    def client():
        while time.time() < deadline:
            try:
                f = ftplib.FTP(host, timeout=15)
                f.login()
                f.retrlines('LIST', lambda line: None)
                got = io.BytesIO()
                f.retrbinary('RETR ' + name, got.write)
                f.quit()
                ok = got.tell() == size
                with lock:
                    state['sessions' if ok else 'failed'] += 1
                    state['bytes'] += got.tell()
            except Exception as e:
                with lock:
                    state['failed'] += 1
                    if len(state['errors']) < 3: state['errors'].append(str(e)[:80])
    start = time.time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    state['seconds'] = round(time.time() - start, 1)
    print(json.dumps(state))
elif mode == 'listen':
    # the kernel's side of the comparison: greet each connection like an FTP server, close
    addr, port = sys.argv[2], int(sys.argv[3])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(128)
    print('listening', flush=True)
    while True:
        c, _ = srv.accept()
        try: c.sendall(b'220 kernel\r\n')
        except OSError: pass
        c.close()
`;

const lab = await Namespace.create('soak');
const kernelSide = await Namespace.create('soak-k');
const dir = mkdtempSync(join(tmpdir(), 'tapstack-soak-'));
// ftp-server started as root serves as nobody: the served tree must be readable by it.
chmodSync(dir, 0o755);
lab.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
// Ctrl-C: remove everything (the builder's hook does so when nobody else listens; we
// listen, to say so first).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    console.error(`\nsoak: ${signal}, cleaning up`);
    await Promise.allSettled([lab.remove(), kernelSide.remove()]);
    process.exit(130);
  });
}

let stack;
try {
  await main();
} catch (error) {
  console.error(`soak: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await Promise.allSettled([lab.remove(), kernelSide.remove()]);
}

async function main() {
  // The stack's network: a persistent TAP for the CLI to open by name, kernel side 10.0.0.1/16,
  // with the queue (kernel -> stack) the TAP binding gives the devices it creates itself.
  await lab.addPersistentTap('tap0', { txqueuelen: 4096 });
  await lab.addAddress('tap0', `${KERNEL}/16`);
  await lab.setUp('tap0');
  // The kernel listener's network: a veth into the second namespace, SYN cookies on there only.
  await lab.addVeth(kernelSide, { dev: 'vk0', cidr: '10.9.0.1/16' }, { dev: 'vk1', cidr: `${KERNEL_LISTENER}/16` });
  await kernelSide.sysctl('net.ipv4.tcp_syncookies', '1');

  const served = join(dir, 'served');
  mkdirSync(served, { mode: 0o755 });
  writeFileSync(join(served, 'file.bin'), Buffer.alloc(FILE_SIZE, 0x5a), { mode: 0o644 });

  stack = lab.spawn(process.execPath, [
    join(root, 'dist/cli/main.js'), 'ftp-server', '--tap', 'tap0', '--ip', `${STACK}/16`, '--mac', STACK_MAC,
    '--root', served, '--max-clients', '1000', '--max-per-ip', '1000', '--stats',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stackErr = '';
  stack.stderr.setEncoding('utf8').on('data', (s) => (stackErr = (stackErr + s).slice(-200_000)));
  await waitForLine(stack, /./, 15_000).catch((error) => {
    throw new Error(`tapstack ftp-server did not start: ${error.message} ${stackErr.trim()}`);
  });
  // `ip netns exec` execs the command in place: this pid is the stack's own node process.
  const listener = kernelSide.spawn('python3', ['-c', PEER_PY, 'listen', KERNEL_LISTENER, '2121'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(listener, /listening/, 10_000);

  const baseline = await probe(STACK, 21);
  console.log(`tapstack ftp-server on a TAP device, pid ${stack.pid}; RSS ${rss()} MB; a client connects in ${ms(baseline)}`);
  console.log(`scale ${SCALE}: floods of ${n(100_000).toLocaleString('en-US')} packets in ${FLOOD_SECONDS} s\n`);

  const rows = [];
  const row = (phase, target, result) => {
    rows.push({ phase, target, ...result });
    console.log(`${phase} -> ${target}: ${result.summary}`);
  };

  row('SYN flood', 'tapstack', await flood(['syn', STACK, n(100_000), FLOOD_SECONDS, '10.0', 21], STACK, 21, true));
  row('SYN flood', 'kernel, syncookies=1', await flood(['syn', KERNEL_LISTENER, n(100_000), FLOOD_SECONDS, '10.9', 2121], KERNEL_LISTENER, 2121, false));
  row('ARP flood', 'tapstack', await flood(['arp', 'tap0', STACK, n(100_000), FLOOD_SECONDS, '10.0'], STACK, 21, true));
  row('fragment flood', 'tapstack', await flood(['frag', STACK, n(100_000), FLOOD_SECONDS, '10.0'], STACK, 21, true));
  const conns = `${n(10_000).toLocaleString('en-US')} connections`;
  row(conns, 'tapstack', await phase(['conns', STACK, 21, n(10_000), 20], (r) => `${r.ok} greeted, ${r.failed} failed in ${r.seconds} s`));
  row(conns, 'kernel', await phase(['conns', KERNEL_LISTENER, 2121, n(10_000), 20], (r) => `${r.ok} greeted, ${r.failed} failed in ${r.seconds} s`, false));
  row('FTP soak, 20 clients', 'tapstack', await phase(['ftp', STACK, 20, Math.max(2, 20 * SCALE), 'file.bin', FILE_SIZE], (r) =>
    `${r.sessions} sessions (login, LIST, RETR ${FILE_SIZE / 1024} KiB, QUIT), ${r.failed} failed${r.errors.length ? ` (${r.errors.join('; ')})` : ''}, ${(r.bytes / 2 ** 20 / r.seconds).toFixed(1)} MB/s`));

  if (stack.exitCode !== null) throw new Error(`the stack exited (${stack.exitCode}): ${stackErr}`);
  console.log(`\n| phase | target | connect during (ok, median, max) | ping during | new neighbour during | connect after | RSS before -> after (MB) | frames the TAP queue dropped | result |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.phase} | ${r.target} | ${r.during ?? '-'} | ${r.ping ?? '-'} | ${r.neighbour ?? '-'} | ${r.after ?? '-'} | ${r.rss ?? '-'} | ${r.tapDrops ?? '-'} | ${r.result} |`);
  }

  // Stop the stack: with --stats it prints its counters; show those the floods moved.
  const closed = new Promise((resolve) => stack.once('close', resolve));
  stack.kill('SIGINT');
  await Promise.race([closed, sleep(10_000)]);
  const counters = stackErr.split('\n').filter((line) => /\b(arp\.(rx|cache)|tcp\.(rx\.syn|listen|syn)|ipv4\.(reasm|frag))/i.test(line));
  console.log(`\nthe stack's counters (--stats) that the floods moved:\n${counters.map((l) => `  ${l.trim()}`).join('\n') || '  (none printed)'}`);
}

/** Run one flood in the background; probe the target every half second while it runs, then after. */
async function flood(args, host, port, isStack) {
  const before = isStack ? rss() : null;
  const dropsBefore = await tapDrops();
  const peer = lab.spawn('python3', ['-c', PEER_PY, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = collect(peer);
  const connects = [];
  const pings = [];
  const neighbours = [];
  let running = true;
  void done.then(() => (running = false));
  let fresh = 0;
  while (running) {
    if (isStack && stack.exitCode !== null) throw new Error(`the stack exited (${stack.exitCode}) during the flood`);
    const [c, p, nb] = await Promise.all([
      probe(host, port),
      ping(host),
      isStack ? newNeighbour(host, ++fresh) : Promise.resolve(null),
    ]);
    connects.push(c);
    pings.push(p);
    if (nb !== null) neighbours.push(nb);
    await sleep(500);
  }
  const out = await done;
  const sent = JSON.parse(out.stdout.trim().split('\n').pop() || '{}');
  // After: the first of three probes a second apart, and how long until a client got in.
  const after = [];
  for (let i = 0; i < 3; i++) {
    after.push(await probe(host, port));
    await sleep(1000);
  }
  const ok = connects.filter((t) => t >= 0);
  return {
    during: `${ok.length}/${connects.length}, ${ms(median(ok))}, ${ms(Math.max(-1, ...ok))}`,
    ping: `${pings.filter(Boolean).length}/${pings.length}`,
    neighbour: isStack ? `${neighbours.filter(Boolean).length}/${neighbours.length}` : '-',
    after: after.map(ms).join(', '),
    rss: isStack ? `${before} -> ${rss()}` : '-',
    tapDrops: isStack ? ((await tapDrops()) - dropsBefore).toLocaleString('en-US') : '-',
    result: `${(sent.sent ?? 0).toLocaleString('en-US')} sent in ${sent.seconds ?? '?'} s`,
    summary: `sent ${sent.sent} (${sent.refused_by_kernel} refused by the kernel's queue) in ${sent.seconds} s; connects during ${ok.length}/${connects.length} (median ${ms(median(ok))}); pings ${pings.filter(Boolean).length}/${pings.length}; after: ${after.map(ms).join(', ')}`,
  };
}

/** Run one load phase to its end and report it with `describe`. */
async function phase(args, describe, isStack = true) {
  if (stack.exitCode !== null) throw new Error(`the stack exited (${stack.exitCode})`);
  const before = isStack ? rss() : null;
  const dropsBefore = await tapDrops();
  const out = await lab.exec('python3', ['-c', PEER_PY, ...args.map(String)], { timeoutMs: 600_000 });
  let r;
  try {
    r = JSON.parse(out.stdout.trim().split('\n').pop());
  } catch {
    throw new Error(`${args[0]} failed: ${out.stderr.trim().slice(-500)}`);
  }
  const after = await probe(isStack ? STACK : KERNEL_LISTENER, isStack ? 21 : 2121);
  return {
    after: ms(after),
    rss: isStack ? `${before} -> ${rss()}` : '-',
    tapDrops: isStack ? ((await tapDrops()) - dropsBefore).toLocaleString('en-US') : '-',
    result: describe(r),
    summary: `${describe(r)}; a client then connects in ${ms(after)}${isStack ? `; RSS ${before} -> ${rss()} MB` : ''}`,
  };
}

/** Seconds to connect and be greeted, or -1 (5 s at most). */
async function probe(host, port) {
  const r = await lab.exec('python3', ['-c', PEER_PY, 'probe', host, String(port), '5'], { timeoutMs: 15_000 });
  return Number(r.stdout.trim() || -1);
}

async function ping(host) {
  const r = await lab.exec('ping', ['-c', '1', '-W', '1', host], { timeoutMs: 5_000 });
  return r.code === 0;
}

/**
 * A kernel address the stack has never seen (10.0.0.<100+i>) pings it: to answer, the
 * stack has to resolve that new neighbour with ARP while the flood goes on.
 */
async function newNeighbour(host, i) {
  const address = `10.0.0.${100 + (i % 150)}`;
  await lab.ip(['addr', 'add', `${address}/16`, 'dev', 'tap0']).catch(() => {});
  const r = await lab.exec('ping', ['-c', '1', '-W', '1', '-I', address, host], { timeoutMs: 5_000 });
  await lab.ip(['addr', 'del', `${address}/16`, 'dev', 'tap0']).catch(() => {});
  return r.code === 0;
}

/** Frames the kernel dropped on their way to the stack: tap0's transmit queue overflowed. */
async function tapDrops() {
  const r = await lab.exec('ip', ['-s', '-j', 'link', 'show', 'tap0']);
  try {
    return JSON.parse(r.stdout)[0].stats64.tx.dropped;
  } catch {
    return 0;
  }
}

function rss() {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${stack.pid}/status`, 'utf8'))[1]);
    return Math.round(kb / 1024);
  } catch {
    return '?';
  }
}

function collect(child) {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

function waitForLine(child, re, timeoutMs) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${timeoutMs} ms: ${text}`)), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s) => {
      text += s;
      if (re.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${re}: ${text}`));
    });
  });
}

function median(values) {
  if (values.length === 0) return -1;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function ms(seconds) {
  return seconds < 0 ? 'no answer' : `${Math.round(seconds * 1000)} ms`;
}
