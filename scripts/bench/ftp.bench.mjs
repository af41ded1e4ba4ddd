#!/usr/bin/env node
// Benchmark: our FTP server (FtpServer on our stack, in this process, behind a TAP
// device) against vsftpd (the kernel's TCP, in a namespace over a veth pair), with the
// same clients in the same run:
//
//   RETR      curl downloads BENCH_MB (default 256) in passive mode to /dev/null
//   STOR      curl uploads the same file (anonymous upload into /upload)
//             (each BENCH_ROUNDS times, default 2: the fastest is shown, all in the log)
//   logins    BENCH_CLIENTS (default 300) clients connect and log in (python3 asyncio in
//             the client namespace): seconds until every login ended. Twice: all at
//             once (a SYN burst: listen-queue overflows show, and how each server
//             copes with them), then with at most BENCH_FTP_INFLIGHT (default 25)
//             logins under way at a time. A login gives up after BENCH_LOGIN_TIMEOUT
//             (default 30) seconds.
//   memory    the clients of the second run stay logged in and idle: the server's memory
//             beyond what it used before they came (ours: this process's RSS and V8
//             heap after a GC; vsftpd: the summed RSS and PSS of its processes,
//             listener excluded, as it forks per session)
//
// MB/s is bytes / (curl's time_total - time_pretransfer), i.e. the data connection's
// transfer alone, without login; MB = 2^20 bytes.
//
// Topology (all made here, deleted at the end, also after a failure or Ctrl-C):
//   tapstack-bench-ftpc-PID: the clients; TAP 10.0.0.1/24 (our host is 10.0.0.2) and
//                            veth 10.0.1.1/24
//   tapstack-bench-ftpv-PID: vsftpd on 10.0.1.2 (its own config in a temp dir;
//                            root's /etc/vsftpd.conf is not read)
// BENCH_ONLY=logins,retr,stor,offload,vsftpd (comma list) runs only some rows (without
// "vsftpd": no reference column; "offload": RETR/STOR again over a second TAP,
// 10.0.2.0/24, with checksum/segmentation offload), e.g. to profile one of ours with
// node --cpu-prof.
// Needs root, /dev/net/tun, python3, curl; vsftpd for the reference columns.

import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BenchNet, kernelCounters, whyCannotRun } from './lib/netns.mjs';
import { MB, bestOf, envNumber, fmt1, machineLine, memoryOf, pct, pidsNamed, report, sleep, startMeter, table } from './lib/measure.mjs';
import { offloadHostOptions, offloadTap } from './lib/offload.mjs';
import { FTP_LOGINS } from './lib/ftp-peers.mjs';

const SIZE_MB = envNumber('BENCH_MB', 256);
const SIZE = Math.round(SIZE_MB * MB);
const CLIENTS = Math.round(envNumber('BENCH_CLIENTS', 300));
const INFLIGHT = Math.round(envNumber('BENCH_FTP_INFLIGHT', 25));
const LOGIN_TIMEOUT = envNumber('BENCH_LOGIN_TIMEOUT', 30);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'logins,retr,stor,offload,vsftpd').split(','));
// (constants before the top-level code below, which uses them)
const CURL_FORMAT = '%{size_download} %{size_upload} %{time_pretransfer} %{time_total} %{response_code}\\n';
const transferTimeout = Math.max(60_000, (SIZE / MB) * 1000);

const why = whyCannotRun({ tools: ['python3', 'curl'] });
if (why) {
  console.log(`ftp: skipped (${why})`);
  process.exit(0);
}
const haveVsftpd = spawnSync('sh', ['-c', 'command -v vsftpd']).status === 0;
// The compiled stack and server (dist/), loaded once we know they are there.
const { FtpServer } = await import('../../dist/ftp/server/server.js');
const { createHost } = await import('../../dist/host.js');
const { RealClock } = await import('../../dist/stack/clock.js');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const net = new BenchNet();
const tmp = mkdtempSync('/tmp/tapstack-bench-ftp-');
net.onCleanup(() => rmSync(tmp, { recursive: true, force: true }));
let vsftpdProcess = null;
net.onCleanup(() => {
  // vsftpd forks per session: kill those too, while the listener still links them to us.
  if (!vsftpdProcess) return;
  for (const pid of pidsNamed('vsftpd', { under: vsftpdProcess.pid })) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
try {
  console.log(
    `ftp: RETR/STOR of ${SIZE_MB} MB with curl (passive), ${CLIENTS} clients logging in; MB = 2^20 bytes; ${machineLine()}\n`,
  );
  chmodSync(tmp, 0o755); // vsftpd's anonymous user must reach its root below
  const source = path.join(tmp, 'source.bin');
  writeTestFile(source, SIZE);

  const client = net.namespace('ftpc');
  const link = await net.tap(client, '10.0.0.1/24');

  // ---------------------------------------------------------------- ours
  const oursRoot = path.join(tmp, 'ours');
  mkdirSync(path.join(oursRoot, 'upload'), { recursive: true });
  linkSync(source, path.join(oursRoot, 'big.bin'));
  const { host, server } = startOurs(link, '10.0.0.2', oursRoot);
  const ours = {};
  try {
    await server.listen();
    // Logins first, on a fresh process: the memory baseline is not disturbed by the
    // buffers of the big transfers being collected meanwhile.
    const oursMemory = () => {
      gc();
      gc();
      const m = process.memoryUsage();
      return { rss: m.rss, heap: m.heapUsed + m.external };
    };
    if (ONLY.has('logins')) {
      ours.burst = await loginsAndMemory(client, '10.0.0.2', 0, oursMemory);
      loginProgress('ours', 'all at once', ours.burst);
      ours.logins = await loginsAndMemory(client, '10.0.0.2', INFLIGHT, oursMemory);
      loginProgress('ours', `<= ${INFLIGHT} in flight`, ours.logins);
      const c = host.counters;
      ours.listenDrops = `half-open evicted ${c.get('tcp.listen.syn_queue_evicted')}, SYN cookies ${c.get('tcp.syncookie.sent')}, accept queue full ${c.get('tcp.listen.accept_queue_full')}`;
    }
    Object.assign(ours, await oursTransfers(client, '10.0.0.2', oursRoot, source, ''));
  } finally {
    await server.close();
    await host.close();
  }

  // ------------------------------------------------- ours, TAP offload
  // The same server over a second TAP (10.0.2.0/24) with checksum and segmentation
  // offload (--offload): TCP super-frames of up to 64 KiB both ways.
  if (ONLY.has('offload')) {
    const offLink = await offloadTap(net, client, '10.0.2.1/24');
    const off = startOurs(offLink, '10.0.2.2', oursRoot, await offloadHostOptions(offLink));
    try {
      await off.server.listen();
      const t = await oursTransfers(client, '10.0.2.2', oursRoot, source, ' (offload)');
      ours.retrOffload = t.retr;
      ours.storOffload = t.stor;
    } finally {
      await off.server.close();
      await off.host.close();
    }
  }

  // -------------------------------------------------------------- vsftpd
  const ref = {};
  if (haveVsftpd && ONLY.has('vsftpd')) {
    const vns = net.namespace('ftpv');
    net.veth(client, '10.0.1.1/24', vns, '10.0.1.2/24');
    const conf = vsftpdSetup(tmp, source);
    vsftpdProcess = net.spawn(vns, 'vsftpd', [conf]);
    await waitForFtp(client, '10.0.1.2', vsftpdProcess);
    const listener = vsftpdProcess.pid;
    const vsftpdMemory = () => {
      // Every vsftpd process below the listener is a session (two per logged-in
      // client: the privileged parent and the unprivileged child).
      const pids = pidsNamed('vsftpd', { under: listener }).filter((p) => p !== listener);
      const sum = pids.map(memoryOf).reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss }), { rss: 0, pss: 0 });
      return { ...sum, processes: pids.length };
    };
    const overflows0 = listenOverflows(vns);
    if (ONLY.has('logins')) {
      ref.burst = await loginsAndMemory(client, '10.0.1.2', 0, vsftpdMemory);
      loginProgress('vsftpd', 'all at once', ref.burst);
      await sleep(1000); // sessions of the burst that timed out are reaped
      ref.logins = await loginsAndMemory(client, '10.0.1.2', INFLIGHT, vsftpdMemory);
      loginProgress('vsftpd', `<= ${INFLIGHT} in flight`, ref.logins);
      const overflows1 = listenOverflows(vns);
      ref.listenDrops = Object.keys(overflows1).map((k) => `${k} ${overflows1[k] - (overflows0[k] ?? 0)}`).join(', ');
    }
    if (ONLY.has('retr')) {
      ref.retr = await bestOf(() => curlRetr(client, '10.0.1.2', 'vsftpd'));
      progress('vsftpd RETR', ref.retr);
    }
    if (ONLY.has('stor')) {
      ref.stor = await bestOf(() => curlStor(client, '10.0.1.2', source, path.join(tmp, 'vsftpd', 'root', 'upload', 'big.bin'), 'vsftpd'));
      progress('vsftpd STOR', ref.stor);
    }
  } else {
    console.log('  (vsftpd is not installed: no reference column)');
  }

  // -------------------------------------------------------------- report
  const mbpsOf = (r) => (r ? fmt1(r.mbps) : '-');
  const loginText = (l) => (l ? `${l.seconds.toFixed(2)} s (${l.ok}/${CLIENTS} ok${l.ok < CLIENTS ? `, last ok at ${fmt1(l.last_ok)} s` : ''})` : '-');
  const perLogin = (l) => (l ? `${(l.p50 * 1000).toFixed(0)} / ${(l.p99 * 1000).toFixed(0)} / ${(l.max * 1000).toFixed(0)} ms` : '-');
  const perSession = (bytes, l) => (l && l.ok > 0 ? `${fmt1(bytes / l.ok / 1024)} KiB` : '-');
  const oursMem = ours.logins?.memory ?? {};
  const refMem = ref.logins?.memory;
  console.log('');
  table(
    ['measurement', 'ours (our stack, TAP)', 'vsftpd (kernel TCP, veth)', 'ours / vsftpd'],
    [
      [`${CLIENTS} logins, all at once: time for all`, loginText(ours.burst), loginText(ref.burst), ratio(ours.burst?.seconds, ref.burst?.seconds)],
      ['  one login p50 / p99 / max', perLogin(ours.burst), perLogin(ref.burst), ''],
      [`${CLIENTS} logins, <= ${INFLIGHT} in flight: time for all`, loginText(ours.logins), loginText(ref.logins), ratio(ours.logins?.seconds, ref.logins?.seconds)],
      ['  one login p50 / p99 / max', perLogin(ours.logins), perLogin(ref.logins), ''],
      ['  listen queue drops (both runs)', ours.listenDrops ?? '-', ref.listenDrops ?? '-', ''],
      [
        `memory, ${CLIENTS} idle sessions: RSS`,
        `+${fmt1(oursMem.rss / MB)} MB (${perSession(oursMem.rss, ours.logins)}/session)`,
        refMem ? `${fmt1(refMem.rss / MB)} MB (${perSession(refMem.rss, ref.logins)}/session)` : '-',
        '',
      ],
      [
        '  ours: V8 heap+external; vsftpd: PSS',
        `+${fmt1(oursMem.heap / MB)} MB (${perSession(oursMem.heap, ours.logins)}/session)`,
        refMem ? `${fmt1(refMem.pss / MB)} MB (${perSession(refMem.pss, ref.logins)}/session, ${refMem.processes} processes)` : '-',
        refMem ? `${ratio(oursMem.rss, refMem.pss)} (our RSS / its PSS)` : '',
      ],
      ['RETR MB/s (curl, passive)', mbpsOf(ours.retr), mbpsOf(ref.retr), ratio(ours.retr?.mbps, ref.retr?.mbps)],
      ['  our process CPU / event loop busy', `${pct(ours.retr?.cpuShare)} / ${pct(ours.retr?.elu)} (${fmt1(ours.retr?.mbps / ours.retr?.cpuShare)} MB per CPU-s)`, '-', ''],
      ['STOR MB/s (curl, passive)', mbpsOf(ours.stor), mbpsOf(ref.stor), ratio(ours.stor?.mbps, ref.stor?.mbps)],
      ['  our process CPU / event loop busy', `${pct(ours.stor?.cpuShare)} / ${pct(ours.stor?.elu)} (${fmt1(ours.stor?.mbps / ours.stor?.cpuShare)} MB per CPU-s)`, '-', ''],
      ...(ours.retrOffload || ours.storOffload
        ? [
            ['RETR MB/s, TAP offload', mbpsOf(ours.retrOffload), mbpsOf(ref.retr), ratio(ours.retrOffload?.mbps, ref.retr?.mbps)],
            ['STOR MB/s, TAP offload', mbpsOf(ours.storOffload), mbpsOf(ref.stor), ratio(ours.storOffload?.mbps, ref.stor?.mbps)],
          ]
        : []),
    ],
  );
  const perCpu = (r) => (r ? r.mbps / r.cpuShare : undefined);
  report('ftp', {
    retr: ours.retr?.mbps,
    stor: ours.stor?.mbps,
    retrOffload: ours.retrOffload?.mbps,
    storOffload: ours.storOffload?.mbps,
    retrPerCpu: perCpu(ours.retr),
    storPerCpu: perCpu(ours.stor),
    retrOffloadPerCpu: perCpu(ours.retrOffload),
    storOffloadPerCpu: perCpu(ours.storOffload),
    vsftpdRetr: ref.retr?.mbps,
    vsftpdStor: ref.stor?.mbps,
    loginsSeconds: ours.logins?.seconds,
    vsftpdLoginsSeconds: ref.logins?.seconds,
  });
  for (const [key, target] of [['retrOffload', 500], ['storOffload', 500]]) {
    const r = ours[key];
    if (r) console.log(`offload: ${key === 'retrOffload' ? 'RETR' : 'STOR'} ${fmt1(r.mbps)} MB/s (issue 13 target >= ${target}: ${r.mbps >= target ? 'met' : 'NOT met'})`);
  }
  for (const [name, l] of [['ours', ours.burst], ['ours', ours.logins], ['vsftpd', ref.burst], ['vsftpd', ref.logins]]) {
    if (l && Object.keys(l.errors).length > 0) console.log(`${name} login failures: ${JSON.stringify(l.errors)}`);
  }
  console.log(`\nA login gives up after ${LOGIN_TIMEOUT} s. Memory is measured in the "in flight" run, all sessions logged in and idle.`);
  console.log('Listen queue drops: ours from our TCP counters; vsftpd from the kernel (nstat) in its namespace.');
  console.log('Our process CPU: user + system of this whole process (libuv file-system threads included, so it can pass 100%) as a share of one core.');
  console.log('\nRSS of ours: growth of this whole process (stack + server) after a GC; vsftpd: sum over its session processes (RSS counts shared pages once per process, PSS splits them).');
} finally {
  await net.destroy();
}

/** Our host on `link` and an FtpServer on it serving `root` (anonymous, writable /upload). */
function startOurs(link, address, root, hostExtras = {}) {
  const clock = new RealClock();
  const host = createHost({ link, address, prefixLength: 24, clock, ...hostExtras });
  const server = new FtpServer({
    tcp: host.tcp,
    clock,
    root,
    random: host.random,
    counters: host.counters,
    anonymousWritable: true,
    maxClients: CLIENTS + 100,
    maxPerIp: CLIENTS + 100,
  });
  return { host, server };
}

/** RETR and STOR (those BENCH_ONLY asks for) from our server at `server`, serving `root`. */
async function oursTransfers(ns, server, root, source, label) {
  const r = {};
  if (ONLY.has('retr')) {
    r.retr = await bestOf(() => curlRetr(ns, server, `ours${label}`));
    progress(`ours RETR${label}`, r.retr);
  }
  if (ONLY.has('stor')) {
    r.stor = await bestOf(() => curlStor(ns, server, source, path.join(root, 'upload', 'big.bin'), `ours${label}`));
    progress(`ours STOR${label}`, r.stor);
  }
  return r;
}

function loginProgress(who, how, l) {
  console.log(`  ${who} logins ${how}: ${l.ok}/${CLIENTS} in ${l.seconds.toFixed(2)} s`);
}

/** The kernel's listen-queue overflow counters in `ns`. */
function listenOverflows(ns) {
  const all = kernelCounters(ns);
  return { TcpExtListenOverflows: all.TcpExtListenOverflows ?? 0, TcpExtListenDrops: all.TcpExtListenDrops ?? 0 };
}

function progress(name, r) {
  console.log(`  ${name}: ${fmt1(r.mbps)} MB/s (${r.seconds.toFixed(2)} s transfer, curl total ${r.total.toFixed(2)} s; ${r.rounds})`);
}

function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-';
}

/** SIZE bytes: one pseudo-random MiB, stamped with its index, over and over. */
function writeTestFile(file, size) {
  const chunk = Buffer.alloc(MB);
  for (let j = 0, x = 1; j < chunk.length; j += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    chunk.writeUInt32LE(x, j);
  }
  const fd = openSync(file, 'w', 0o644);
  try {
    for (let done = 0, i = 0; done < size; i++) {
      chunk.writeUInt32LE(i, 0);
      const n = Math.min(chunk.length, size - done);
      writeSync(fd, chunk, 0, n);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o644);
}

function curlResult(r, what) {
  if (r.code !== 0) throw new Error(`${what}: curl exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  const [down, up, pretransfer, total, code] = r.stdout.trim().split(/\s+/).map(Number);
  const bytes = Math.max(down, up);
  const seconds = total - pretransfer;
  return { bytes, seconds, total, code, mbps: bytes / MB / seconds };
}

async function curlRetr(ns, server, who) {
  const stop = startMeter();
  const r = await net.exec(ns, 'curl', ['-sS', '--max-time', String(transferTimeout / 1000), '-o', '/dev/null', '-w', CURL_FORMAT, `ftp://${server}/big.bin`], {
    timeoutMs: transferTimeout + 10_000,
  });
  const m = stop();
  const res = curlResult(r, `${who} RETR`);
  if (res.bytes !== SIZE) throw new Error(`${who} RETR: ${res.bytes} bytes, expected ${SIZE}`);
  return { ...m, ...res };
}

async function curlStor(ns, server, source, landed, who) {
  rmSync(landed, { force: true }); // a fresh upload each round (vsftpd's anonymous user may not overwrite)
  const stop = startMeter();
  const r = await net.exec(ns, 'curl', ['-sS', '--max-time', String(transferTimeout / 1000), '-T', source, '-w', CURL_FORMAT, `ftp://${server}/upload/big.bin`], {
    timeoutMs: transferTimeout + 10_000,
  });
  const m = stop();
  const res = curlResult(r, `${who} STOR`);
  // The upload is complete only when the server has it under its name, whole.
  let size = -1;
  for (let i = 0; i < 50 && size !== SIZE; i++) {
    try {
      size = statSync(landed).size;
    } catch {
      // not renamed into place yet
    }
    if (size !== SIZE) await sleep(100);
  }
  if (size !== SIZE) throw new Error(`${who} STOR: the server holds ${size} bytes at ${landed}, expected ${SIZE}`);
  return { ...m, ...res };
}

/** CLIENTS logins at once; then, all idle and logged in, the server's memory over `baseline`. */
async function loginsAndMemory(ns, server, inflight, memory) {
  await sleep(500); // let the transfers' buffers be collected / returned
  const before = memory();
  const peer = net.spawn(ns, 'python3', ['-c', FTP_LOGINS, server, '21', String(CLIENTS), String(inflight), String(LOGIN_TIMEOUT)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const [line] = await net.waitForLine(peer, /^\{.*\}$/m, (LOGIN_TIMEOUT + 60) * 1000);
  const result = JSON.parse(line);
  await sleep(500); // the sessions are idle now
  const during = memory();
  peer.stdin.write('quit\n');
  const end = await peer.done;
  if (end.code !== 0) throw new Error(`the login client failed: ${end.stderr.trim()}`);
  const memoryDelta = Object.fromEntries(Object.keys(during).map((k) => [k, k === 'processes' ? during[k] : during[k] - (before[k] ?? 0)]));
  return { ...result, memory: memoryDelta };
}

/** vsftpd's own root, upload dir, empty secure_chroot_dir and config under `tmp`. */
function vsftpdSetup(tmp, source) {
  const base = path.join(tmp, 'vsftpd');
  const root = path.join(base, 'root');
  const empty = path.join(base, 'empty');
  mkdirSync(path.join(root, 'upload'), { recursive: true });
  mkdirSync(empty, { recursive: true });
  chmodSync(base, 0o755);
  chmodSync(root, 0o555); // vsftpd refuses an anonymous root its user can write
  linkSync(source, path.join(root, 'big.bin'));
  const ftpUser = spawnSync('id', ['-u', 'ftp'], { encoding: 'utf8' });
  const ftpGroup = spawnSync('id', ['-g', 'ftp'], { encoding: 'utf8' });
  if (ftpUser.status === 0) chownSync(path.join(root, 'upload'), Number(ftpUser.stdout), Number(ftpGroup.stdout));
  else chmodSync(path.join(root, 'upload'), 0o777);
  const conf = path.join(base, 'vsftpd.conf');
  writeFileSync(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'listen_address=10.0.1.2',
      'listen_port=21',
      'background=NO',
      'anonymous_enable=YES',
      'local_enable=NO',
      'write_enable=YES',
      'anon_upload_enable=YES',
      'anon_umask=022',
      `anon_root=${root}`,
      `secure_chroot_dir=${empty}`,
      'seccomp_sandbox=NO',
      'isolate=NO',
      'isolate_network=NO',
      'pasv_enable=YES',
      'pasv_min_port=50000',
      'pasv_max_port=50999',
      `max_clients=${CLIENTS + 100}`,
      `max_per_ip=${CLIENTS + 100}`,
      'xferlog_enable=NO',
      'dirmessage_enable=NO',
      'connect_from_port_20=NO',
      'idle_session_timeout=600',
      'ftpd_banner=vsftpd bench',
      '',
    ].join('\n'),
  );
  return conf;
}

/** Wait until vsftpd answers 220 (or fail with its stderr if it exited). */
async function waitForFtp(ns, server, proc) {
  for (let i = 0; i < 50; i++) {
    if (proc.exitCode !== null) throw new Error(`vsftpd exited (${proc.exitCode}): ${proc.stderrText.trim()} ${proc.stdoutText.trim()}`);
    const r = await net.exec(ns, 'curl', ['-sS', '--max-time', '2', `ftp://${server}/`], { timeoutMs: 5000 });
    if (r.code === 0) return;
    await sleep(100);
  }
  throw new Error(`vsftpd does not answer on ${server}: ${proc.stderrText.trim()}`);
}
