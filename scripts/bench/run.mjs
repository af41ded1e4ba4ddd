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
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

const failed = [];
for (const file of selected) {
  console.log(`\n=== ${file} ===`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(dir, file), ...passThrough], { stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed.push(file);
    console.log(`=== ${file}: FAILED (exit ${r.status ?? r.signal}) after ${seconds} s ===`);
  } else {
    console.log(`=== ${file}: done in ${seconds} s ===`);
  }
}
if (failed.length > 0) {
  console.error(`\nbench: ${failed.length} of ${selected.length} failed: ${failed.join(', ')}`);
  process.exit(1);
}
