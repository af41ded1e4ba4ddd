#!/usr/bin/env node
// Benchmark: how many frames per second reach JavaScript from a TAP device.
//
// Three readers take turns, each in its own child process, on a fresh TAP device
// whose kernel side lives in a namespace this script creates (tapstack-bench-frames-<pid>):
//
//   binding   our addon (src/native/tap.c): non-blocking fd, uv_poll, every ready
//             frame of a wake-up in one JS call, frames JS may keep. Opened with the
//             addon's defaults, which are TapLink's (checksum offload on), so each
//             frame's IPv4 and UDP checksums are verified in C as the stack gets them
//             (issue 13; before, the binding did no per-frame work). The frames
//             counted are those that reached JS, as before.
//   sync      a plain blocking read loop (fs.readSync into one reused buffer): the
//             fastest JS can go, but the event loop is frozen the whole time
//   fs.read   fs.read on a blocking fd, one read at a time on the libuv thread pool
//             (how tuntap2's fs streams read the device)
//
// Two measurements:
//   flood  the kernel floods the TAP with 1472-byte UDP datagrams (1514-byte frames)
//          sent to a static neighbour entry, from python3 sender(s) in the namespace;
//          the reader reports the frames that reached JS, the device's kernel
//          counters give the offered load and what the kernel dropped. Sender and
//          reader share the CPUs, so this is the realistic, noisier figure.
//   drain  the device's queue is first filled with N frames while nobody reads, then
//          the reader empties it: the reader's own cost per frame, without the sender.
// Both report how long a setImmediate waited to run (the event loop's lag), and the
// reader's CPU time per frame (user + system, all its threads): on a machine where
// other work competes for the CPUs, that is the steadier figure.
//
// Usage: node scripts/bench/tap-frames.bench.mjs [--seconds S] [--rounds R]
//                                                [--senders K] [--drain N] [--flood 0]
// Needs root (CAP_NET_ADMIN) and python3. Nothing is configured outside the
// namespace, which is deleted at the end, also after a failure or Ctrl-C.

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { BenchNet, findAddon, ip } from './lib/netns.mjs';
import { int as fmt, sleep, table } from './lib/measure.mjs';
import { OUR_MAC, udpSender as sender } from './lib/tap-rate.mjs';

// (constants first: the top-level await below starts the work)
const here = fileURLToPath(import.meta.url);
// The addon the package loads (build/Release/ after a local build, else the prebuild), or null.
const addonPath = findAddon();
const REPORT_MS = 100;
const MODES = ['binding', 'sync', 'fs.read'];

if (process.argv[2] === '--reader') {
  runReader(process.argv[3], process.argv[4], Number(process.argv[5]));
} else {
  await main();
}

// ------------------------------------------------------------------ the readers

/**
 * Child process: open the device, print {ready}, wait for a line on stdin, then read.
 * limit 0 (flood): print {t, frames, lag[]} every REPORT_MS, forever.
 * limit N (drain): print {done, ms, lag[]} once N frames have arrived.
 */
function runReader(mode, dev, limit) {
  const tap = createRequire(import.meta.url)(addonPath);
  const out = (obj) => fs.writeSync(1, JSON.stringify(obj) + '\n');
  const opened = mode === 'binding' ? tap.open(dev) : tap.openFd(dev, true); // fs wants blocking
  out({ ready: opened.name });

  let frames = 0;
  let t0 = 0;
  let cpu0 = null;
  // CPU time this process spent (user + system, µs): steadier than wall time when
  // other processes compete for the CPUs.
  const cpuSince = () => {
    const c = process.cpuUsage(cpu0);
    return c.user + c.system;
  };
  let lags = [];
  let finished = false;
  // Event loop lag: schedule a setImmediate every 2 ms and see how long it waits.
  const probe = () => {
    const scheduled = wallClock();
    setImmediate(() => {
      lags.push(wallClock() - scheduled);
      if (!finished) setTimeout(probe, 2);
    });
  };
  const counted = () => {
    if (limit > 0 && frames >= limit && !finished) {
      finished = true;
      out({ done: true, frames, ms: wallClock() - t0, cpuUs: cpuSince(), lag: lags });
    }
  };
  const report = () => {
    if (limit > 0) return;
    setInterval(() => {
      out({ t: wallClock(), frames, cpuUs: cpuSince(), lag: lags, rss: process.memoryUsage.rss() });
      lags = [];
    }, REPORT_MS);
  };

  process.stdin.once('data', () => {
    t0 = wallClock();
    cpu0 = process.cpuUsage();
    if (mode === 'binding') {
      tap.start(opened.handle, (batch) => {
        if (batch) frames += batch.length;
        counted();
      });
      probe();
      report();
    } else if (mode === 'fs.read') {
      const buf = Buffer.allocUnsafe(65536);
      const next = () =>
        fs.read(opened.fd, buf, 0, buf.length, null, (err, n) => {
          if (err) throw err;
          if (n > 0) frames++;
          counted();
          if (!finished) next();
        });
      next();
      probe();
      report();
    } else if (mode === 'sync') {
      // Never yields: it reports by itself, and its "lag" is the whole run.
      const buf = Buffer.allocUnsafe(65536);
      let last = t0;
      for (;;) {
        if (fs.readSync(opened.fd, buf, 0, buf.length, null) > 0) frames++;
        if (limit > 0 && frames >= limit) {
          const ms = wallClock() - t0;
          out({ done: true, frames, ms, cpuUs: cpuSince(), lag: [ms] });
          return;
        }
        if ((frames & 255) === 0) {
          const t = wallClock();
          if (t - last >= REPORT_MS) {
            out({ t, frames, cpuUs: cpuSince(), lag: [t - last] });
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

function parseArgs() {
  const opts = { seconds: 3, rounds: 3, senders: 1, warmup: 0.5, drain: 50000, flood: 1 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    const value = Number(argv[i + 1]);
    if (!(key in opts) || !Number.isFinite(value) || value < (key === 'flood' ? 0 : 1e-9)) {
      console.error('usage: tap-frames.bench.mjs [--seconds S] [--rounds R] [--senders K] [--drain N] [--warmup S] [--flood 0]');
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
  if (!addonPath) {
    console.log('tap-frames: skipped (the TAP addon is missing: run `npm install`)');
    return;
  }
  if (spawnSync('python3', ['--version']).status !== 0) {
    console.log('tap-frames: skipped (python3, the flood sender, is missing)');
    return;
  }

  // The namespace goes at the end, on Ctrl-C and on an error (BenchNet's hooks);
  // the readers and senders, children of this process, go first.
  const net = new BenchNet();
  const live = new Set();
  net.onCleanup(() => {
    for (const child of live) child.kill('SIGKILL');
    live.clear();
  });

  try {
    const ns = net.namespace('frames');
    console.log(
      `tap-frames: 1514-byte frames (1472-byte UDP datagrams), ${os.cpus().length} CPU(s), ` +
        `best of ${opts.rounds} round(s); load average now ${os.loadavg()[0].toFixed(2)}\n`,
    );
    let n = 0;
    const devName = () => `tsbench${process.pid.toString(36)}${(n++).toString(36)}`.slice(0, 15);

    const flood = Object.fromEntries(MODES.map((m) => [m, []]));
    const drain = Object.fromEntries(MODES.map((m) => [m, []]));
    for (let round = 1; round <= opts.rounds; round++) {
      for (const mode of opts.flood ? MODES : []) {
        const r = await measureFlood(mode, devName(), ns, opts, live);
        flood[mode].push(r);
        console.log(
          `  flood round ${round} ${mode.padEnd(8)} ${fmt(r.rate)} frames/s to JS (CPU ${r.cpuPerFrame.toFixed(2)} µs/frame, ` +
            `offered ${fmt(r.offeredRate)}/s` +
            (r.rssMax ? `, reader RSS up to ${(r.rssMax / 2 ** 20).toFixed(0)} MiB)` : ')'),
        );
      }
      for (const mode of MODES) {
        const r = await measureDrain(mode, devName(), ns, opts, live);
        drain[mode].push(r);
        console.log(`  drain round ${round} ${mode.padEnd(8)} ${fmt(r.rate)} frames/s to JS (CPU ${r.cpuPerFrame.toFixed(2)} µs/frame)`);
      }
    }
    report(flood, drain, opts);
  } finally {
    net.destroySync();
  }
}

/** Start a reader child on a new device and wait until the device exists. */
async function startReader(mode, dev, limit, live) {
  const child = spawn(process.execPath, [here, '--reader', mode, dev, String(limit)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  live.add(child);
  const messages = [];
  const waiters = [];
  let pending = '';
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const msg = JSON.parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      messages.push(msg);
      for (const w of [...waiters]) w();
    }
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  /** Resolve with the first message that matches, or fail if the child exits first. */
  const waitFor = (match, ms) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = messages.find(match);
        if (found) {
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => reject(new Error(`${mode} reader: no answer in ${ms} ms`)), ms);
      waiters.push(check);
      exited.then(() => reject(new Error(`${mode} reader exited early`)));
      check();
    });
  const ready = await waitFor((m) => m.ready, 10_000);
  const stop = async () => {
    child.kill('SIGKILL');
    live.delete(child);
    await exited;
  };
  return { child, name: ready.ready, messages, waitFor, go: () => child.stdin.write('go\n'), stop };
}

/** Move the new device into the namespace and give the kernel side an address. */
function configure(ns, name, queueLength) {
  // The device exists in the root namespace, unconfigured; everything else happens
  // inside the namespace.
  ip(['link', 'set', name, 'netns', ns]);
  ip(['-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', name]);
  if (queueLength) ip(['-n', ns, 'link', 'set', name, 'txqueuelen', String(queueLength)]);
  ip(['-n', ns, 'link', 'set', name, 'up']);
  ip(['-n', ns, 'neigh', 'replace', '10.0.0.2', 'lladdr', OUR_MAC, 'dev', name, 'nud', 'permanent']);
}

function deviceCounters(ns, name) {
  const r = ip(['-n', ns, '-s', '-j', 'link', 'show', 'dev', name]);
  const stats = JSON.parse(r.stdout)[0].stats64;
  return { t: wallClock(), tx: stats.tx.packets, dropped: stats.tx.dropped };
}

async function measureFlood(mode, dev, ns, opts, live) {
  const reader = await startReader(mode, dev, 0, live);
  const senders = [];
  try {
    configure(ns, reader.name);
    reader.go();
    for (let i = 0; i < opts.senders; i++) {
      const s = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', sender(0)], { stdio: 'ignore' });
      live.add(s);
      senders.push(s);
    }
    await sleep(opts.warmup * 1000);
    const k0 = deviceCounters(ns, reader.name);
    await sleep(opts.seconds * 1000);
    const k1 = deviceCounters(ns, reader.name);

    // Frames that reached JS during the window, from the reader's own reports.
    const inWindow = reader.messages.filter((m) => m.t >= k0.t - 1 && m.t <= k1.t + 1);
    const first = inWindow[0];
    const last = inWindow.at(-1);
    const rate = first && last && last.t > first.t ? ((last.frames - first.frames) * 1000) / (last.t - first.t) : 0;
    const cpuPerFrame = first && last && last.frames > first.frames ? (last.cpuUs - first.cpuUs) / (last.frames - first.frames) : NaN;
    const seconds = (k1.t - k0.t) / 1000;
    const delivered = k1.tx - k0.tx;
    const dropped = k1.dropped - k0.dropped;
    return {
      rate,
      cpuPerFrame,
      kernelRate: delivered / seconds,
      offeredRate: (delivered + dropped) / seconds,
      dropShare: delivered + dropped > 0 ? dropped / (delivered + dropped) : 0,
      lag: lagSummary(inWindow.slice(1).flatMap((m) => m.lag)),
      rssMax: Math.max(0, ...reader.messages.map((m) => m.rss ?? 0)),
    };
  } finally {
    for (const s of senders) {
      s.kill('SIGKILL');
      live.delete(s);
    }
    await reader.stop();
  }
}

async function measureDrain(mode, dev, ns, opts, live) {
  const frames = opts.drain;
  const reader = await startReader(mode, dev, frames, live);
  try {
    // A queue long enough for every frame (the device's ring follows txqueuelen).
    configure(ns, reader.name, frames + 1000);
    const fill = spawnSync('ip', ['netns', 'exec', ns, 'python3', '-c', sender(frames)], { encoding: 'utf8' });
    if (fill.status !== 0) throw new Error(`filling the queue failed: ${fill.stderr}`);
    const k = deviceCounters(ns, reader.name);
    if (k.dropped > 0) throw new Error(`the kernel dropped ${k.dropped} frames while filling the queue`);
    reader.go();
    const done = await reader.waitFor((m) => m.done, 120_000);
    return { rate: (done.frames * 1000) / done.ms, cpuPerFrame: done.cpuUs / done.frames, lag: lagSummary(done.lag) };
  } finally {
    await reader.stop();
  }
}

function lagSummary(lags) {
  if (lags.length === 0) return null;
  const sorted = [...lags].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))];
  const median = sorted[Math.floor(sorted.length / 2)];
  return { median, p99, max: sorted.at(-1), samples: sorted.length };
}

// ------------------------------------------------------------------- the report

function report(flood, drain, opts) {
  const best = (runs) => runs.reduce((a, b) => (b.rate > a.rate ? b : a));
  const leastCpu = (runs) => Math.min(...runs.map((r) => r.cpuPerFrame).filter((x) => Number.isFinite(x)));
  const lagText = (mode, lag) =>
    mode === 'sync'
      ? `blocked (${lag ? lag.max.toFixed(0) : '?'} ms at a time)`
      : lag
        ? `median ${lag.median.toFixed(2)}, p99 ${lag.p99.toFixed(2)}, max ${lag.max.toFixed(2)} ms (${lag.samples})`
        : '-';

  if (opts.flood) {
  console.log(`\nflood: ${opts.senders} sender(s), ${opts.seconds} s per reader after ${opts.warmup} s warm-up`);
  table(
    ['reader', 'frames/s to JS', 'read from kernel/s', 'offered/s', 'kernel dropped', 'CPU µs/frame (least)', 'event loop lag'],
    MODES.map((mode) => {
      const r = best(flood[mode]);
      return [mode, fmt(r.rate), fmt(r.kernelRate), fmt(r.offeredRate), `${(100 * r.dropShare).toFixed(1)}%`,
        leastCpu(flood[mode]).toFixed(2), lagText(mode, r.lag)];
    }),
  );
  }

  console.log(`\ndrain: ${fmt(opts.drain)} frames queued first, then read`);
  table(
    ['reader', 'frames/s to JS', 'wall µs/frame', 'CPU µs/frame (least)', 'event loop lag'],
    MODES.map((mode) => {
      const r = best(drain[mode]);
      return [mode, fmt(r.rate), (1e6 / r.rate).toFixed(2), leastCpu(drain[mode]).toFixed(2), lagText(mode, r.lag)];
    }),
  );

  console.log('');
  for (const [phase, runs] of opts.flood ? [['flood', flood], ['drain', drain]] : [['drain', drain]]) {
    const ratio = best(runs.binding).rate / best(runs.sync).rate;
    const pool = best(runs.binding).rate / best(runs['fs.read']).rate;
    console.log(
      `${phase}: binding = ${(ratio * 100).toFixed(0)}% of the sync loop's frames/s ` +
        `(target >= 80%: ${ratio >= 0.8 ? 'met' : 'NOT met'}), ${pool.toFixed(1)}x fs.read`,
    );
  }
  for (const [phase, runs] of opts.flood ? [['flood', flood], ['drain', drain]] : [['drain', drain]]) {
    const cpuRatio = leastCpu(runs.sync) / leastCpu(runs.binding);
    console.log(
      `${phase}, by CPU time per frame (steadier on a busy machine): binding = ` +
        `${(cpuRatio * 100).toFixed(0)}% of the sync loop's speed (${cpuRatio >= 0.8 ? 'met' : 'NOT met'})`,
    );
  }
}

// ------------------------------------------------------------------- utilities

/** Milliseconds on a clock that parent and children share (performance.now() alone
 * counts from each process's own start). */
function wallClock() {
  return performance.timeOrigin + performance.now();
}
