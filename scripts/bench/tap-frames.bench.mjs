#!/usr/bin/env node
// Benchmark: how many frames per second reach JavaScript from a TAP device.
//
// In a namespace it creates (tapstack-bench-<pid>), the kernel floods a TAP device
// with 1472-byte UDP datagrams (1514-byte frames) sent to a static neighbour entry,
// so every datagram becomes one frame that userspace must read. Three readers take
// turns on the same setup, each in its own child process:
//
//   binding   our addon (src/native/tap.c): non-blocking fd, uv_poll, every ready
//             frame per wake-up in one JS call, a fresh Buffer per frame
//   sync      a plain blocking read loop (fs.readSync); the fastest JS can go, but
//             the event loop is frozen the whole time
//   fs.read   fs.read on a blocking fd, one read at a time on the libuv thread pool
//             (how tuntap2's fs streams read the device)
//
// Each reader reports its own count (frames that reached JS) and the lag of the event
// loop (how long a setImmediate waits to run); the kernel's counters of the device
// give the offered load and the frames it dropped because the reader was too slow.
//
// Usage: node scripts/bench/tap-frames.bench.mjs [--seconds N] [--rounds N] [--senders N]
// Needs root (CAP_NET_ADMIN) and python3 (the sender). Nothing is configured outside
// the namespace, which is deleted at the end, also after a failure or Ctrl-C.

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

// (constants before the top-level await below, which starts the work)
const here = fileURLToPath(import.meta.url);
const OUR_MAC = '02:00:00:00:00:02';
const REPORT_MS = 100;
const addonPath = fileURLToPath(new URL('../../build/Release/tap.node', import.meta.url));

if (process.argv[2] === '--reader') {
  runReader(process.argv[3], process.argv[4]);
} else {
  await main();
}

// ------------------------------------------------------------------ the readers

/**
 * Child process: open the device, say "ready", wait for "go" on stdin, then read and
 * print one JSON line every REPORT_MS: { t (ms, monotonic), frames, lag: [ms...] }.
 */
function runReader(mode, dev) {
  const tap = createRequire(import.meta.url)(addonPath);
  const out = (obj) => fs.writeSync(1, JSON.stringify(obj) + '\n');
  const now = wallClock;
  let frames = 0;
  let opened;
  if (mode === 'binding') opened = tap.open(dev);
  else opened = tap.openFd(dev, true); // blocking fd, as fs expects
  out({ ready: opened.name });

  // setImmediate lag: schedule one, see how long until it runs, every 5 ms.
  let lags = [];
  const probe = () => {
    const t0 = now();
    setImmediate(() => {
      lags.push(now() - t0);
      setTimeout(probe, 5);
    });
  };
  const startReporting = () =>
    setInterval(() => {
      out({ t: now(), frames, lag: lags });
      lags = [];
    }, REPORT_MS);

  process.stdin.once('data', () => {
    if (mode === 'binding') {
      tap.start(opened.handle, (batch) => {
        if (batch) frames += batch.length;
      });
      probe();
      startReporting();
    } else if (mode === 'fs.read') {
      const buf = Buffer.allocUnsafe(65536);
      const next = () =>
        fs.read(opened.fd, buf, 0, buf.length, null, (err, n) => {
          if (err) throw err;
          if (n > 0) frames++;
          next();
        });
      next();
      probe();
      startReporting();
    } else if (mode === 'sync') {
      // The loop never yields, so it reports by itself; the event loop is blocked.
      const buf = Buffer.allocUnsafe(65536);
      let last = now();
      for (;;) {
        if (fs.readSync(opened.fd, buf, 0, buf.length, null) > 0) frames++;
        if ((frames & 255) === 0) {
          const t = now();
          if (t - last >= REPORT_MS) {
            out({ t, frames, lag: null });
            last = t;
          }
        }
      }
    } else {
      throw new Error(`unknown reader ${mode}`);
    }
  });
}

// ------------------------------------------------------------------- the parent

function ip(args, { check = true } = {}) {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (check && r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r;
}

function parseArgs() {
  const opts = { seconds: 3, rounds: 2, senders: 1, warmup: 0.5 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    const value = Number(argv[i + 1]);
    if (!(key in opts) || !Number.isFinite(value) || value <= 0) {
      console.error(`usage: tap-frames.bench.mjs [--seconds N] [--rounds N] [--senders N] [--warmup S]`);
      process.exit(2);
    }
    opts[key] = value;
  }
  return opts;
}

async function main() {
  const opts = parseArgs();
  if (process.getuid?.() !== 0 || !fs.existsSync('/dev/net/tun')) {
    console.log('tap-frames: skipped (needs root and /dev/net/tun)');
    return;
  }
  if (!fs.existsSync(addonPath)) {
    console.log('tap-frames: skipped (the binding is not built: run `npm install`)');
    return;
  }
  if (spawnSync('python3', ['--version']).status !== 0) {
    console.log('tap-frames: skipped (python3, the flood sender, is missing)');
    return;
  }

  const ns = `tapstack-bench-${process.pid}`;
  const live = new Set(); // child processes to kill on the way out
  const cleanup = () => {
    for (const child of live) child.kill('SIGKILL');
    live.clear();
    ip(['netns', 'delete', ns], { check: false });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  try {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const key of ['all', 'default']) {
      spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${key}.disable_ipv6=1`]);
    }
    console.log(
      `tap-frames: ${opts.senders} python3 sender(s) flood 1472-byte UDP datagrams ` +
        `(1514-byte frames) into a TAP; ${opts.rounds} round(s) of ${opts.seconds} s per reader\n`,
    );
    const modes = ['binding', 'sync', 'fs.read'];
    const results = Object.fromEntries(modes.map((m) => [m, []]));
    let n = 0;
    for (let round = 0; round < opts.rounds; round++) {
      for (const mode of modes) {
        const r = await measure(mode, `tsbench${process.pid.toString(36)}${n++}`.slice(0, 15), ns, opts, live);
        results[mode].push(r);
        console.log(
          `  round ${round + 1} ${mode.padEnd(8)} ${fmt(r.jsRate)} frames/s to JS` +
            `  (offered ${fmt(r.offeredRate)}/s, kernel dropped ${pct(r.dropped, r.offered)})`,
        );
      }
    }
    printTable(modes, results);
  } finally {
    cleanup();
  }
}

/** One reader, one fresh device: set up, flood, measure, tear down. */
async function measure(mode, dev, ns, opts, live) {
  const child = spawn(process.execPath, [here, '--reader', mode, dev], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  live.add(child);
  const reports = [];
  let ready;
  const readyPromise = new Promise((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`${mode} reader exited (${code}) before it was ready`)));
  });
  let pending = '';
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const msg = JSON.parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (msg.ready) ready(msg.ready);
      else reports.push(msg);
    }
  });
  const name = await readyPromise;

  // The device exists in the root namespace, unconfigured; move it and configure it
  // inside the namespace only.
  ip(['link', 'set', name, 'netns', ns]);
  ip(['-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', name]);
  ip(['-n', ns, 'link', 'set', name, 'up']);
  ip(['-n', ns, 'neigh', 'replace', '10.0.0.2', 'lladdr', OUR_MAC, 'dev', name, 'nud', 'permanent']);
  child.stdin.write('go\n');

  const flood =
    'import socket\n' +
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n' +
    's.connect(("10.0.0.2", 9))\n' +
    'send = s.send\n' +
    'data = b"x" * 1472\n' +
    'while True:\n' +
    '    try:\n' +
    '        for _ in range(100000): send(data)\n' +
    '    except OSError:\n' +
    '        pass\n';
  const senders = [];
  for (let i = 0; i < opts.senders; i++) {
    const s = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', flood], { stdio: 'ignore' });
    live.add(s);
    senders.push(s);
  }

  const counters = () => {
    const r = ip(['-n', ns, '-s', '-j', 'link', 'show', 'dev', name]);
    const stats = JSON.parse(r.stdout)[0].stats64;
    return { t: wallClock(), tx: stats.tx.packets, dropped: stats.tx.dropped };
  };
  await sleep(opts.warmup * 1000);
  const k0 = counters();
  await sleep(opts.seconds * 1000);
  const k1 = counters();

  for (const s of senders) {
    s.kill('SIGKILL');
    live.delete(s);
  }
  child.kill('SIGKILL');
  live.delete(child);
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));

  // Frames that reached JS in the window, from the reader's own reports.
  const inWindow = reports.filter((r) => r.t >= k0.t - 1 && r.t <= k1.t + 1);
  const first = inWindow[0];
  const last = inWindow.at(-1);
  const jsRate = first && last && last.t > first.t ? ((last.frames - first.frames) * 1000) / (last.t - first.t) : 0;
  const lags = inWindow.flatMap((r) => r.lag ?? []);
  const seconds = (k1.t - k0.t) / 1000;
  const delivered = k1.tx - k0.tx;
  const dropped = k1.dropped - k0.dropped;
  return {
    jsRate,
    kernelRate: delivered / seconds,
    offered: delivered + dropped,
    offeredRate: (delivered + dropped) / seconds,
    dropped,
    blocked: mode === 'sync',
    lagP99: lags.length ? quantile(lags, 0.99) : null,
    lagMax: lags.length ? Math.max(...lags) : null,
    lagSamples: lags.length,
  };
}

function printTable(modes, results) {
  const best = (mode) => results[mode].reduce((a, b) => (b.jsRate > a.jsRate ? b : a));
  const rows = modes.map((mode) => {
    const r = best(mode);
    const lag = r.blocked
      ? 'blocked (no turns)'
      : r.lagSamples
        ? `p99 ${r.lagP99.toFixed(2)} ms, max ${r.lagMax.toFixed(1)} ms`
        : 'no samples';
    return [mode, fmt(r.jsRate), fmt(r.kernelRate), fmt(r.offeredRate), pct(r.dropped, r.offered), lag];
  });
  const head = ['reader', 'frames/s to JS', 'read from kernel/s', 'offered/s', 'kernel drops',
    'event loop (setImmediate lag)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log('\n' + line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  const ratio = best('binding').jsRate / best('sync').jsRate;
  const vsPool = best('binding').jsRate / best('fs.read').jsRate;
  console.log(
    `\nbinding / sync loop = ${(ratio * 100).toFixed(0)}% (target >= 80%: ${ratio >= 0.8 ? 'met' : 'NOT met'}); ` +
      `binding / fs.read = ${vsPool.toFixed(1)}x  (best of ${results.binding.length} round(s) each)`,
  );
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
/** Milliseconds on a clock that parent and children share (performance.now() alone
 * counts from each process's own start). */
function wallClock() {
  return performance.timeOrigin + performance.now();
}
function fmt(x) {
  return Math.round(x).toLocaleString('en-US');
}
function pct(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
