import { readFileSync } from 'node:fs';

/**
 * Helpers for the TAP tests that run our FTP client against real servers (vsftpd,
 * Pure-FTPd) started on the kernel side of a test namespace.
 */

/** uid/gid of the `ftp` system user (vsftpd's anonymous user), or nobody's. */
export function ftpIds(): { uid: number; gid: number } {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  const line = passwd.find((l) => l.startsWith('ftp:')) ?? passwd.find((l) => l.startsWith('nobody:'))!;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Anything that runs a command inside the namespace (TestNet, CliNamespace). */
interface NamespaceExec {
  readonly ns: string;
  exec(cmd: string, args?: readonly string[]): Promise<{ stdout: string }>;
}

/** Wait (at most 5 s) until a peer listens on `port` inside the namespace: TCP, or UDP for a DNS server. */
export async function waitForListen(net: NamespaceExec, port: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await net.exec('ss', [protocol === 'tcp' ? '-Hltn' : '-Hlun', `sport = :${port}`]);
    if (r.stdout.includes(`:${port}`)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${protocol} port ${port} in ${net.ns}`);
}
