import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Make sure the demo can write its files into `dir` before anything else starts (no
 * namespace, no device, no host): an unwritable place is reported in one line at once.
 * Creating a real file is the only honest test (root passes access() checks that a
 * read-only file system still refuses).
 */
export async function prepareOutDir(dir: string): Promise<void> {
  const probe = path.join(dir, `.tapstack-write-test-${process.pid}`);
  try {
    await makeDirectories(path.resolve(dir));
    const handle = await open(probe, 'w');
    await handle.close();
    await rm(probe, { force: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot write into ${dir}: ${e.code ?? e.message}`);
  }
}

/**
 * `mkdir -p`, one level at a time. Node's own `mkdir(dir, { recursive: true })` never
 * returns for a path under /proc (it retries the ENOENT that /proc answers forever),
 * which made `tapstack demo --out /proc/...` hang.
 */
async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!(await stat(dir)).isDirectory()) throw err;
      return;
    }
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    await makeDirectories(parent);
    await mkdir(dir); // the parent exists now: a second ENOENT is final
  }
}
