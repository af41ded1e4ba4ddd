#!/usr/bin/env node
// Summarise a V8 CPU profile (node --cpu-prof) as the functions with the most self
// time, so a benchmark's hot spots can be read without DevTools:
//
//   node scripts/bench/lib/profile-summary.mjs PROFILE.cpuprofile [TOP]
//
// Self time = samples whose top frame is the function. "(program)", "(garbage
// collector)" and "(idle)" are V8's own buckets.

import { readFileSync } from 'node:fs';
import path from 'node:path';

const [file, topText] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.mjs PROFILE.cpuprofile [TOP]');
  process.exit(2);
}
const top = Number(topText ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const deltas = profile.timeDeltas;
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
}

// Line-level ticks (V8 records them per node as positionTicks), per function.
const linesOf = new Map();
for (const n of profile.nodes) {
  if (!n.positionTicks) continue;
  const f = n.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
  const lines = linesOf.get(key) ?? new Map();
  for (const { line, ticks } of n.positionTicks) lines.set(line, (lines.get(line) ?? 0) + ticks);
  linesOf.set(key, lines);
}

const byFunction = new Map();
let total = 0;
for (const [id, us] of selfUs) {
  const { callFrame: f } = byId.get(id);
  const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
  const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  total += us;
}

const byFile = new Map();
for (const [key, us] of byFunction) {
  const file = key.includes(' ') ? key.slice(key.lastIndexOf(' ') + 1).replace(/:\d+$/, '') : key;
  byFile.set(file, (byFile.get(file) ?? 0) + us);
}

console.log(`${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled\n`);
console.log('self %   self ms  function');
for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(6)}  ${(us / 1000).toFixed(0).padStart(8)}  ${key}`);
}
console.log('\nhottest lines of the top 5 functions (line: share of the function\'s ticks):');
for (const [key] of [...byFunction].sort((a, b) => b[1] - a[1]).filter(([k]) => linesOf.has(k)).slice(0, 5)) {
  const lines = [...linesOf.get(key)];
  const sum = lines.reduce((a, [, t]) => a + t, 0);
  const hot = lines.sort((a, b) => b[1] - a[1]).slice(0, 4).map(([l, t]) => `${l}: ${Math.round((100 * t) / sum)}%`);
  console.log(`  ${key}  ${hot.join(', ')}`);
}
console.log('\nself %   by file');
for (const [key, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(6)}  ${key}`);
}

function shortUrl(url) {
  const s = url.replace(/^file:\/\//, '');
  const i = s.indexOf('/dist/');
  return i >= 0 ? s.slice(i + 1) : s;
}
