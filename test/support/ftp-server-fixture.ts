/**
 * One FTP server on our stack (host 10.0.0.2 of the in-memory net) serving a fresh
 * temporary tree, for the command tests:
 *
 *   root/readme.txt         "line one\nline two\n" (18 bytes)
 *   root/pub/a.txt, b.txt
 *   root/alice/home.txt     alice's home (named user, writable)
 *   root/escape-link        -> a file outside the root
 *   outside/secret.txt      must never be read, listed, written or deleted
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FtpServer, type FtpServerOptions } from '../../src/ftp/server/server.js';
import { hashPassword, UserDatabase } from '../../src/ftp/server/users.js';
import { ControlClient, tempDir } from './ftp-server-harness.js';
import { createFtpMemNet, type FtpMemNet } from './ftp-server-memnet.js';

export interface FtpFixture {
  net: FtpMemNet;
  server: FtpServer;
  root: string;
  outside: string;
  /** A new control connection from the client host (greeting already read). */
  connect(from?: 'client' | 'third'): Promise<ControlClient>;
  /** connect() and log in as anonymous. */
  anonymous(): Promise<ControlClient>;
  close(): Promise<void>;
}

export const ALICE_PASSWORD = 'wonderland';

export async function createFtpFixture(
  options: Partial<FtpServerOptions> = {},
  network: Parameters<typeof createFtpMemNet>[0] = {},
): Promise<FtpFixture> {
  const net = createFtpMemNet(network);
  const top = await tempDir();
  const root = join(top.dir, 'root');
  const outside = join(top.dir, 'outside');
  await mkdir(join(root, 'pub'), { recursive: true });
  await mkdir(join(root, 'alice'));
  await mkdir(outside);
  await writeFile(join(root, 'readme.txt'), 'line one\nline two\n');
  await writeFile(join(root, 'pub', 'a.txt'), 'A');
  await writeFile(join(root, 'pub', 'b.txt'), 'BB');
  await writeFile(join(root, 'alice', 'home.txt'), 'alice');
  await writeFile(join(outside, 'secret.txt'), 'secret');
  await symlink(join(outside, 'secret.txt'), join(root, 'escape-link'));
  await symlink(outside, join(root, 'escape-dir'));
  const users = new UserDatabase([
    { name: 'alice', hash: await hashPassword(ALICE_PASSWORD, { N: 1024, r: 8, p: 1 }), home: '/alice', writable: true },
  ]);
  const server = new FtpServer({ tcp: net.server.tcp, clock: net.ftpClock, root, users, pasvPorts: { min: 50000, max: 50099 }, ...options });
  await server.listen();
  const port = server.options.port;
  const fixture: FtpFixture = {
    net,
    server,
    root,
    outside,
    async connect(from = 'client') {
      const host = from === 'client' ? net.client : net.third;
      const c = await ControlClient.connect(host.tcp, '10.0.0.2', port);
      const greeting = await c.next();
      if (greeting.code !== 220) throw new Error(`greeting: ${greeting.lines.join(' | ')}`);
      return c;
    },
    async anonymous() {
      const c = await fixture.connect();
      const r = await c.login();
      if (r.code !== 230) throw new Error(`login: ${r.lines.join(' | ')}`);
      return c;
    },
    async close() {
      await server.close();
      await net.close();
      await top.cleanup();
    },
  };
  return fixture;
}
