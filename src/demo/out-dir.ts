import { mkdir, open, rm } from 'node:fs/promises';
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
    await mkdir(dir, { recursive: true });
    const handle = await open(probe, 'w');
    await handle.close();
    await rm(probe, { force: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot write into ${dir}: ${e.code ?? e.message}`);
  }
}
