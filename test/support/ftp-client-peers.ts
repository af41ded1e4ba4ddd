import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
  exec(cmd: string, args?: readonly string[], opts?: { input?: string }): Promise<{ stdout: string; stderr: string; code: number | null }>;
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

/** Something that can start a long-running peer inside the namespace (TestNet). */
interface NamespaceSpawn extends NamespaceExec {
  spawn(cmd: string, args?: readonly string[], opts?: { stdio: 'ignore' }): unknown;
}

/**
 * One real FTP server ready for the client: files to download go in `<root>/pub`,
 * uploads land in `<root>/incoming` (writable by the server's user).
 */
export interface FtpPeer {
  name: 'vsftpd' | 'pure-ftpd' | 'proftpd';
  port: number;
  user: string;
  password: string;
  /** The login directory on disk. */
  root: string;
}

export const PURE_FTPD = '/opt/pure-ftpd/usr/sbin/pure-ftpd';
const PURE_PW = '/opt/pure-ftpd/usr/bin/pure-pw';
export const PROFTPD = '/opt/proftpd/usr/sbin/proftpd';

/** `<root>/pub` and `<root>/incoming` (the latter owned by the ftp user), under `work`. */
function makeRoot(work: string, name: string): string {
  const { uid, gid } = ftpIds();
  const root = join(work, name);
  mkdirSync(join(root, 'pub'), { recursive: true });
  mkdirSync(join(root, 'incoming'));
  chownSync(join(root, 'incoming'), uid, gid);
  return root;
}

/**
 * vsftpd (the Debian package), anonymous, on `port` of `address`. anon_umask=022 so
 * that an uploaded file is world-readable and vsftpd answers SIZE for it.
 */
export async function startVsftpd(net: NamespaceSpawn, work: string, address: string, port = 21, extra: string[] = []): Promise<FtpPeer> {
  const root = makeRoot(work, 'vsftpd-root');
  chmodSync(root, 0o755); // vsftpd refuses a writable anonymous root
  const empty = join(work, 'vsftpd-empty');
  mkdirSync(empty, { recursive: true });
  const conf = join(work, `vsftpd-${port}.conf`);
  writeFileSync(
    conf,
    [
      'listen=YES',
      `listen_address=${address}`,
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=YES',
      `anon_root=${root}`,
      'local_enable=NO',
      'write_enable=YES',
      'anon_upload_enable=YES',
      'anon_umask=022',
      `secure_chroot_dir=${empty}`,
      'seccomp_sandbox=NO',
      'connect_from_port_20=YES',
      'pasv_min_port=30000',
      'pasv_max_port=30100',
      'xferlog_enable=NO',
      ...extra,
      '',
    ].join('\n'),
  );
  net.spawn('vsftpd', [conf], { stdio: 'ignore' });
  await waitForListen(net, port);
  return { name: 'vsftpd', port, user: 'anonymous', password: 'guest@', root };
}

/** Pure-FTPd (unpacked in /opt/pure-ftpd) with a virtual user `uploader` from its own database. */
export async function startPureFtpd(net: NamespaceSpawn, work: string, address: string, port = 2121): Promise<FtpPeer> {
  const { uid, gid } = ftpIds();
  const root = makeRoot(work, 'pure-root');
  chownSync(root, uid, gid);
  const passwd = join(work, 'pure.passwd');
  const pw = await net.exec(PURE_PW, ['useradd', 'uploader', '-u', String(uid), '-g', String(gid), '-d', root, '-f', passwd], { input: 'upl0ad\nupl0ad\n' });
  if (pw.code !== 0) throw new Error(`pure-pw useradd: ${pw.stderr}`);
  const mk = await net.exec(PURE_PW, ['mkdb', join(work, 'pure.pdb'), '-f', passwd]);
  if (mk.code !== 0) throw new Error(`pure-pw mkdb: ${mk.stderr}`);
  net.spawn(PURE_FTPD, ['-S', `${address},${port}`, '-l', `puredb:${join(work, 'pure.pdb')}`, '-E', '-p', '31000:31100', '-H', '-A'], { stdio: 'ignore' });
  await waitForListen(net, port);
  return { name: 'pure-ftpd', port, user: 'uploader', password: 'upl0ad', root };
}

/**
 * proftpd (unpacked in /opt/proftpd: it conflicts with vsftpd as a package) with a
 * virtual user `proftp` from an AuthUserFile. Like Pure-FTPd and unlike vsftpd, it
 * converts line ends in TYPE A (LF to CRLF when sending), as RFC 959 says.
 */
export async function startProftpd(net: NamespaceSpawn, work: string, address: string, port = 2100): Promise<FtpPeer> {
  const { uid, gid } = ftpIds();
  const root = makeRoot(work, 'proftpd-root');
  chownSync(root, uid, gid);
  const hash = (await net.exec('openssl', ['passwd', '-5', 'pr0ftp'])).stdout.trim();
  const users = join(work, 'proftpd.passwd');
  writeFileSync(users, `proftp:${hash}:${uid}:${gid}::${root}:/bin/sh\n`, { mode: 0o600 });
  const conf = join(work, 'proftpd.conf');
  writeFileSync(
    conf,
    [
      'ServerType standalone',
      'DefaultServer on',
      `DefaultAddress ${address}`,
      `Port ${port}`,
      'UseIPv6 off',
      'User nobody',
      'Group nogroup',
      `PidFile ${join(work, 'proftpd.pid')}`,
      `ScoreboardFile ${join(work, 'proftpd.scoreboard')}`,
      'DelayTable none',
      'WtmpLog off',
      'UseReverseDNS off',
      'AuthOrder mod_auth_file.c',
      `AuthUserFile ${users}`,
      'RequireValidShell off',
      'DefaultRoot ~',
      'PassivePorts 32000 32100',
      'Umask 022',
      'AllowOverwrite on',
      'AllowStoreRestart on',
      'AllowRetrieveRestart on',
      '',
    ].join('\n'),
  );
  net.spawn(PROFTPD, ['-n', '-q', '-c', conf], { stdio: 'ignore' });
  await waitForListen(net, port);
  return { name: 'proftpd', port, user: 'proftp', password: 'pr0ftp', root };
}
