#!/usr/bin/env node
// `npm run prebuild:tap`: rebuild the TAP addon that ships inside the package
// (prebuilds/linux-x64/) from src/native/tap.c, and record what it was built from.
//
// Users install without a compiler: the `install` script (node-gyp-build) finds this
// prebuilt file and compiles nothing. One Node-API binary serves every Node version
// from 20 on, so the prebuild only changes when tap.c or binding.gyp does. Run this
// after every such change and commit prebuilds/ with it: test/package/prebuild.test.ts
// fails while prebuilds/SOURCES.sha256 does not match the sources.
//
// It runs prebuildify (node-gyp under the hood, so it needs a C compiler and the Node
// headers: `nodedir` in ~/.npmrc, or node-gyp downloads them). prebuildify rebuilds
// in build/ and moves build/Release/tap.node into prebuilds/, so no older local build
// is left to shadow the new prebuild (node-gyp-build prefers build/Release).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const platformDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
// What the binary is made from; test/package/prebuild.test.ts checks these files.
const SOURCES = ['src/native/tap.c', 'binding.gyp'];

if (process.platform !== 'linux') {
  console.error('prebuild:tap: TAP devices are Linux-only; run this on Linux');
  process.exit(2);
}

const sha256 = (file) => createHash('sha256').update(readFileSync(path.join(root, file))).digest('hex');

// A stale file under another name (an older tag set) would be picked before ours.
rmSync(platformDir, { recursive: true, force: true });

// --napi: one binary for every Node-API runtime (binding.gyp pins NAPI_VERSION=8).
// --target: build against the headers of the running Node (20+), not the newest
//   release that prebuildify would pick (whose headers would have to be downloaded).
// --tag-libc: the file is named ...glibc.node, so musl systems (Alpine) skip it and
//   build from source instead of failing to load it.
// --strip: no debug symbols, a smaller binary in git and in the package.
const prebuildify = path.join(root, 'node_modules', '.bin', 'prebuildify');
const run = spawnSync(prebuildify, ['--napi', '--strip', '--tag-libc', `--target=node@${process.versions.node}`], {
  cwd: root,
  stdio: 'inherit',
});
if (run.status !== 0) {
  console.error(`prebuild:tap: prebuildify failed (exit ${run.status ?? run.signal}); see the compiler output above`);
  process.exit(1);
}

const binaries = readdirSync(platformDir).filter((f) => f.endsWith('.node'));
if (binaries.length !== 1) {
  console.error(`prebuild:tap: expected one .node file in ${platformDir}, found ${binaries.join(', ') || 'none'}`);
  process.exit(1);
}
const binaryPath = path.join(platformDir, binaries[0]);
const binary = path.relative(root, binaryPath);
// prebuildify moves build/Release/tap.node here, still hard-linked to node-gyp's
// intermediate build/Release/obj.target/tap.node: make it a file of its own, so a
// later local build cannot change the committed binary behind git's back.
copyFileSync(binaryPath, `${binaryPath}.tmp`);
renameSync(`${binaryPath}.tmp`, binaryPath);

// sha256sum's format, so `sha256sum -c prebuilds/SOURCES.sha256` checks it by hand too.
const lines = [...SOURCES, binary].map((file) => `${sha256(file)}  ${file}`);
writeFileSync(path.join(root, 'prebuilds', 'SOURCES.sha256'), lines.join('\n') + '\n');
console.log(`prebuild:tap: wrote ${binary} and prebuilds/SOURCES.sha256; commit both with the source change`);
