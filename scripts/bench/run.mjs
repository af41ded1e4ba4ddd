#!/usr/bin/env node
// `npm run bench`: run every scripts/bench/*.bench.mjs, one after the other, each in
// its own process (so one benchmark's heap and threads do not disturb the next).
//
//   npm run bench                          all of them
//   npm run bench -- tap-frames            only tap-frames.bench.mjs
//   npm run bench -- tap-frames --seconds 5   ...with its own options after the name
//
// To add a benchmark, drop a NAME.bench.mjs file next to this one. It prints its own
// table, exits 0 when it ran (or skipped itself with one line saying why), non-zero
// when it failed.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt1, table } from './lib/measure.mjs';

const dir = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .sort();

const [wanted, ...rest] = process.argv.slice(2);
let selected = all;
let passThrough = [];
if (wanted && !wanted.startsWith('-')) {
  const file = wanted.endsWith('.bench.mjs') ? wanted : `${wanted}.bench.mjs`;
  if (!all.includes(file)) {
    console.error(`bench: no ${file} in scripts/bench (have: ${all.join(', ') || 'none'})`);
    process.exit(2);
  }
  selected = [file];
  passThrough = rest;
} else if (wanted) {
  console.error('bench: options go after a benchmark name, e.g. `npm run bench -- tap-frames --seconds 5`');
  process.exit(2);
}

// Figures the benchmarks hand over (lib/measure.mjs report()), for the summary that
// puts figures of different benchmarks of this run side by side.
const resultsDir = mkdtempSync(join(tmpdir(), 'tapstack-bench-results-'));
const resultsFile = join(resultsDir, 'results.jsonl');
const failed = [];
for (const file of selected) {
  console.log(`\n=== ${file} ===`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(dir, file), ...passThrough], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_RESULTS: resultsFile },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed.push(file);
    console.log(`=== ${file}: FAILED (exit ${r.status ?? r.signal}) after ${seconds} s ===`);
  } else {
    console.log(`=== ${file}: done in ${seconds} s ===`);
  }
}
const results = {};
if (existsSync(resultsFile)) {
  for (const line of readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean)) {
    const { bench, ...values } = JSON.parse(line);
    results[bench] = { ...results[bench], ...values };
  }
}
rmSync(resultsDir, { recursive: true, force: true });
summary(results);

if (failed.length > 0) {
  console.error(`\nbench: ${failed.length} of ${selected.length} failed: ${failed.join(', ')}`);
  process.exit(1);
}

/**
 * Issue 13's goals, each a ratio of two figures of THIS run (the machine is shared and
 * its speed moves from run to run, so only same-run ratios are comparable).
 */
function summary({ tcp, ftp }) {
  const rows = [];
  const row = (goal, a, aName, b, bName, want, unit = 'MB/s') => {
    if (!Number.isFinite(a) || !Number.isFinite(b)) return;
    const ratio = a / b;
    rows.push([goal, `${fmt1(a)} ${unit} ${aName}`, `${fmt1(b)} ${unit} ${bName}`, ratio.toFixed(2), `>= ${want}`, ratio >= want ? 'met' : 'NOT met']);
  };
  // The same comparison per CPU-second of our process: the transfers ran minutes
  // apart on a shared machine, and CPU cost per byte moves less than wall time.
  const perCpu = (goal, a, aName, b, bName) => row(`${goal}, by CPU`, a, aName, b, bName, 0.9, 'MB/CPU-s');
  const target = (goal, a, aName, want) => {
    if (!Number.isFinite(a)) return;
    rows.push([goal, `${fmt1(a)} MB/s ${aName}`, '(absolute target)', '-', `>= ${want} MB/s`, a >= want ? 'met' : 'NOT met']);
  };
  if (tcp && ftp) {
    // RETR: our server sends, so our stack -> kernel; STOR: kernel -> our stack.
    row('1 FTP = TCP', ftp.retr, 'RETR', tcp.s2k, 'TCP stack->kernel', 0.9);
    row('1 FTP = TCP', ftp.stor, 'STOR', tcp.k2s, 'TCP kernel->stack', 0.9);
    row('1 FTP = TCP (offload)', ftp.retrOffload, 'RETR', tcp.s2kOffload, 'TCP stack->kernel', 0.9);
    row('1 FTP = TCP (offload)', ftp.storOffload, 'STOR', tcp.k2sOffload, 'TCP kernel->stack', 0.9);
    perCpu('1 FTP = TCP', ftp.retrPerCpu, 'RETR', tcp.s2kPerCpu, 'TCP stack->kernel');
    perCpu('1 FTP = TCP', ftp.storPerCpu, 'STOR', tcp.k2sPerCpu, 'TCP kernel->stack');
  }
  if (tcp) {
    if (Number.isFinite(tcp.k2sOfRawRead)) rows.push(['2 TCP near the TAP ceiling', `kernel->stack`, 'raw TAP read', tcp.k2sOfRawRead.toFixed(2), '>= 0.6', tcp.k2sOfRawRead >= 0.6 ? 'met' : 'NOT met']);
    if (Number.isFinite(tcp.s2kOfRawWrite)) rows.push(['2 TCP near the TAP ceiling', `stack->kernel`, 'raw TAP write', tcp.s2kOfRawWrite.toFixed(2), '>= 0.6', tcp.s2kOfRawWrite >= 0.6 ? 'met' : 'NOT met']);
    row('3 offload vs plain TAP', tcp.k2sOffload, 'kernel->stack offload', tcp.k2s, 'plain', 1);
    row('3 offload vs plain TAP', tcp.s2kOffload, 'stack->kernel offload', tcp.s2k, 'plain', 1);
    target('3 offload', tcp.k2sOffload, 'TCP kernel->stack', 1000);
    target('3 offload', tcp.s2kOffload, 'TCP stack->kernel', 800);
  }
  if (ftp) {
    target('3 offload', ftp.retrOffload, 'FTP RETR', 500);
    target('3 offload', ftp.storOffload, 'FTP STOR', 500);
    if (Number.isFinite(ftp.loginsSeconds) && Number.isFinite(ftp.vsftpdLoginsSeconds)) {
      const r = ftp.loginsSeconds / ftp.vsftpdLoginsSeconds;
      rows.push(['4 logins (time, lower is better)', `${ftp.loginsSeconds.toFixed(2)} s ours`, `${ftp.vsftpdLoginsSeconds.toFixed(2)} s vsftpd`, r.toFixed(2), '<= 1', r <= 1 ? 'met' : 'NOT met']);
    }
  }
  if (rows.length === 0) return;
  console.log('\n=== issue 13 goals, from the figures of this run ===');
  table(['goal', 'figure', 'same-run reference', 'ratio', 'wanted', ''], rows);
}
