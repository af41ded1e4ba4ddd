/**
 * Our FTP server on our stack behind a TAP device in a private namespace (kernel side
 * 10.0.0.1, our host 10.0.0.2), for interop tests with real clients run inside the
 * namespace (`net.exec('curl', ...)`). Serves a fresh temporary tree:
 *
 *   root/readme.txt, root/big.bin (seeded random), root/pub/{a.txt, sub/b.bin}
 *   outside/secret.txt (next to the root: must never change)
 *   work/ (the clients' own directory)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FtpServer, type FtpServerOptions } from '../../src/ftp/server/server.js';
import { createHost, type Host } from '../../src/host.js';
import { RealClock } from '../../src/stack/clock.js';
import { createLogger } from '../../src/stack/log.js';
import { SeededRandom } from '../../src/stack/random.js';
import { createTestNet, type TestNet } from '../tap/support/netns.js';
import { tempDir } from './ftp-server-harness.js';
import { sha256 } from './tcp-hosts.js';

export interface FtpTapNet {
  net: TestNet;
  host: Host;
  server: FtpServer;
  root: string;
  outside: string;
  work: string;
  big: Buffer;
  destroy(): Promise<void>;
}

// The same digest helper as the TCP tests use, re-exported for the FTP tap tests.
export { sha256 };

export async function sha256File(path: string): Promise<string> {
  return sha256(await readFile(path));
}

export function seededBytes(n: number, seed: number): Buffer {
  return Buffer.from(new SeededRandom(seed).bytes(n));
}

export async function createFtpTapNet(tag: string, options: Partial<FtpServerOptions> = {}, bigSize = 3 * 1024 * 1024): Promise<FtpTapNet> {
  const top = await tempDir('tapstack-ftp-tap-');
  const root = join(top.dir, 'root');
  const outside = join(top.dir, 'outside');
  const work = join(top.dir, 'work');
  await mkdir(join(root, 'pub', 'sub'), { recursive: true });
  await mkdir(outside);
  await mkdir(work);
  const big = seededBytes(bigSize, 42);
  await writeFile(join(root, 'big.bin'), big);
  await writeFile(join(root, 'readme.txt'), 'Welcome to tapstack.\nThis file has two lines.\n');
  await writeFile(join(root, 'pub', 'a.txt'), 'alpha\n');
  await writeFile(join(root, 'pub', 'sub', 'b.bin'), seededBytes(100_000, 7));
  await writeFile(join(outside, 'secret.txt'), 'secret\n');
  const net = await createTestNet(tag);
  const clock = new RealClock();
  const host = createHost({ link: net.link, address: '10.0.0.2', prefixLength: 24, clock });
  const logLevel = (process.env.TAPSTACK_FTP_LOG as 'info' | undefined) ?? 'silent';
  const server = new FtpServer({
    tcp: host.tcp,
    clock,
    root,
    logger: createLogger(logLevel, false),
    counters: host.counters,
    anonymousWritable: true,
    pasvPorts: { min: 50000, max: 50999 },
    dataTimeoutMs: 20_000,
    ...options,
  });
  await server.listen();
  return {
    net,
    host,
    server,
    root,
    outside,
    work,
    big,
    async destroy() {
      await server.close().catch(() => {});
      await host.close().catch(() => {});
      await net.destroy();
      await top.cleanup();
    },
  };
}

/**
 * Run tcpdump on the namespace side of the TAP device; resolves once it listens.
 * --immediate-mode: without it, packets wait in the kernel's capture ring for a block
 * timeout and a quick SIGINT loses them.
 */
export async function startCapture(t: FtpTapNet, file: string): Promise<{ stop(): Promise<void> }> {
  const dump = t.net.spawn('tcpdump', ['-i', t.net.dev, '--immediate-mode', '-U', '-s', '0', '-w', file, 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tcpdump did not start')), 10_000);
    let err = '';
    dump.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    async stop() {
      // Let the last segments reach the capture before stopping it.
      await new Promise((r) => setTimeout(r, 300));
      dump.kill('SIGINT');
      if (dump.exitCode === null) await new Promise((r) => dump.once('close', r));
    },
  };
}
