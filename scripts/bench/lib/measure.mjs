// Timing, CPU and printing helpers shared by the benchmarks.

import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

/** Sizes are in MiB (2^20 bytes); the tables say "MB" for short and the header says so. */
export const MB = 1024 * 1024;

/** A number from the environment, or the default. */
export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench: ${name} must be a positive number, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

/**
 * Measure this process while something runs: wall time, CPU time (user + system, as
 * a share of one core) and the event loop's utilisation (the share of the time the
 * loop was busy running JavaScript/callbacks rather than waiting in epoll).
 */
export function startMeter() {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  return () => {
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    return {
      ms,
      cpuShare: (cpu.user + cpu.system) / 1000 / ms,
      userShare: cpu.user / 1000 / ms,
      elu: elu.utilization,
    };
  };
}

/**
 * Run a transfer `rounds` times (BENCH_ROUNDS, default 2): the fastest result, with
 * every round's MB/s in `rounds` for the notes.
 */
export async function bestOf(run, rounds = Math.round(envNumber('BENCH_ROUNDS', 2))) {
  const all = [];
  for (let i = 0; i < rounds; i++) all.push(await run());
  const best = all.reduce((a, b) => (b.mbps > a.mbps ? b : a));
  return { ...best, rounds: rounds > 1 ? `best of ${all.map((r) => fmt1(r.mbps)).join(', ')}` : '1 round' };
}

export const mbps = (bytes, ms) => bytes / MB / (ms / 1000);
export const fmt1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
export const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '-');
export const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

/** Print a table: first and last columns left-aligned, the rest right-aligned. */
export function table(head, rows) {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (row) =>
    row
      .map((c, i) => (i === 0 || i === row.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

/** One line about the machine, so figures from different runs can be compared. */
export function machineLine() {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  return `${os.cpus().length} x ${cpu}, node ${process.version}, load average ${os.loadavg()[0].toFixed(2)}`;
}

/** Resident and proportional set size of a process, in bytes (from /proc). */
export function memoryOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0) * 1024;
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** Pids of the processes whose command name is `comm` (e.g. every vsftpd process). */
export function pidsNamed(comm, { under } = {}) {
  const out = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== comm) continue;
      if (under !== undefined && !descendsFrom(Number(entry), under)) continue;
      out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function descendsFrom(pid, ancestor) {
  for (let p = pid, i = 0; p > 1 && i < 64; i++) {
    if (p === ancestor) return true;
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return false;
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Hand figures to `npm run bench` (run.mjs), which puts figures of different
 * benchmarks of the same run side by side (e.g. FTP beside TCP): one JSON line per
 * call in the file BENCH_RESULTS names. Without it (a benchmark run alone), nothing.
 */
export function report(bench, values) {
  const file = process.env.BENCH_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify({ bench, ...values })}\n`);
}
