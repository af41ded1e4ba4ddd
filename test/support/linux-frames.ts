import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Golden frames captured from the Linux kernel (test/fixtures/stack/linux-frames.txt,
 * made by capture-linux.sh): a = 10.1.0.1 02:aa:00:00:00:01, r = 10.1.0.254
 * 02:aa:00:00:00:fe, b = 10.2.0.1 behind r.
 */
const file = fileURLToPath(new URL('../fixtures/stack/linux-frames.txt', import.meta.url));

let frames: Map<string, Uint8Array> | undefined;

function load(): Map<string, Uint8Array> {
  if (frames) return frames;
  frames = new Map();
  let name: string | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^# ([a-z0-9-]+):/.exec(line);
    if (m) name = m[1];
    else if (name && /^[0-9a-f]+$/.test(line.trim())) {
      frames.set(name, Uint8Array.from(Buffer.from(line.trim(), 'hex')));
      name = undefined;
    }
  }
  return frames;
}

/** A golden frame by name (a fresh copy each call, so tests may mutate it). */
export function linuxFrame(name: string): Uint8Array {
  const f = load().get(name);
  if (!f) throw new Error(`no frame "${name}" in linux-frames.txt`);
  return f.slice();
}

export function linuxFrameNames(): string[] {
  return [...load().keys()];
}
