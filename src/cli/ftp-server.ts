import { appendFile, chown, stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { SERVER_DEFAULTS as D } from '../ftp/server/options.js';
import { canServe, dropPrivileges, lookUpUser, type RunAsUser } from '../ftp/server/privileges.js';
import { FtpServer } from '../ftp/server/server.js';
import { UserDatabase } from '../ftp/server/users.js';
import { formatIpv4 } from '../wire/address.js';
import { register as registerFtpUser } from './ftp-user.js';
import { addHostOptions, describeHost, fatal, parseIntArg, runUntilSignal, startHost, usageError, type HostCliOptions } from './common.js';

/** Options with a commander default are always present. */
interface FtpServerCliOptions extends HostCliOptions {
  root?: string;
  port: string;
  dataPort?: string;
  anonymous?: boolean;
  writable?: boolean;
  users?: string;
  pasvPorts: string;
  banner: string;
  siteName: string;
  maxClients: string;
  maxPerIp: string;
  idleTimeout: string;
  dataTimeout: string;
  xferlog?: string;
  runAs?: string;
  maxListEntries: string;
}

/** `50000-50999` -> { min, max }; one line and exit 2 when malformed. */
export function parsePortRange(text: string): { min: number; max: number } {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  if (!m) usageError(`--pasv-ports: "${text}" is not MIN-MAX (e.g. 50000-50999)`);
  const min = Number(m[1]);
  const max = Number(m[2]);
  if (min < 1024 || max > 65535 || min > max) usageError(`--pasv-ports: ${text} must satisfy 1024 <= MIN <= MAX <= 65535`);
  return { min, max };
}

/**
 * Whom to serve as: `--run-as USER`, or `nobody` when started as root; nobody to
 * become when not root (an unprivileged process cannot switch users).
 */
function runAsUser(option: string | undefined): RunAsUser | undefined {
  const root = process.getuid?.() === 0;
  if (!root) {
    if (option !== undefined) usageError('--run-as needs the server to be started as root');
    return undefined;
  }
  const name = option ?? 'nobody';
  const user = lookUpUser(name);
  if (!user) usageError(`--run-as: no such user "${name}"`);
  if (user.uid === 0) usageError('--run-as: serving as root would let every client read what root can; choose an unprivileged user');
  return user;
}

/**
 * `tapstack ftp-server`: an FTP server (RFC 959 with FEAT, EPSV/EPRT, MLSD, SIZE,
 * MDTM, REST) on our own TCP/IP stack, serving a real directory. Its companion
 * `tapstack ftp-user` (users file) is registered from here too.
 */
export function register(program: Command): void {
  registerFtpUser(program);
  addHostOptions(
    program
      .command('ftp-server')
      .description('serve a directory over FTP on our own TCP/IP stack')
      .addOption(new Option('--root <dir>', 'directory to serve (clients see it as /)'))
      .addOption(new Option('--port <n>', 'control port').default(String(D.port)))
      .addOption(new Option('--data-port <n>', 'source port of active-mode data connections (default: control port - 1)'))
      .addOption(new Option('--anonymous', 'allow anonymous logins (ftp, anonymous); the default'))
      .addOption(new Option('--no-anonymous', 'refuse anonymous logins'))
      .addOption(new Option('--writable', 'let anonymous users upload, rename and delete'))
      .addOption(new Option('--users <file>', 'named users (see tapstack ftp-user add)'))
      .addOption(new Option('--pasv-ports <min-max>', 'ports for passive data connections').default(`${D.pasvPorts.min}-${D.pasvPorts.max}`))
      .addOption(new Option('--banner <text>', 'text of the 220 greeting').default(D.banner))
      .addOption(new Option('--site-name <name>', 'name in "230-Welcome to ..." and "221 Thank you for visiting ..."').default(D.siteName))
      .addOption(new Option('--max-clients <n>', 'most control connections at once').default(String(D.maxClients)))
      .addOption(new Option('--max-per-ip <n>', 'most control connections from one address').default(String(D.maxPerIp)))
      .addOption(new Option('--idle-timeout <s>', 'close idle control connections after this many seconds (0: never)').default(String(D.idleTimeoutMs / 1000)))
      .addOption(new Option('--data-timeout <s>', 'give up on data connections that do not open or stall for this long').default(String(D.dataTimeoutMs / 1000)))
      .addOption(new Option('--xferlog <file>', 'append one xferlog line per transfer'))
      .addOption(new Option('--max-list-entries <n>', 'most entries a LIST/NLST/MLSD sends (announced in its 226 reply)').default(String(D.maxListEntries)))
      .addOption(new Option('--run-as <user>', 'after opening the TAP device, serve as this user (default when started as root: nobody)'))
      .addHelpText('after', '\nExample:\n  tapstack ftp-server --tap tap0 --ip 10.0.0.2/24 --root ./srv --pcap ftp.pcapng'),
  ).action(async (opts: FtpServerCliOptions) => {
    if (!opts.root) usageError('--root DIR is required');
    const port = parseIntArg('--port', opts.port, 1, 65535);
    const dataPort = opts.dataPort !== undefined ? parseIntArg('--data-port', opts.dataPort, 1, 65535) : undefined;
    const pasvPorts = parsePortRange(opts.pasvPorts);
    const maxClients = parseIntArg('--max-clients', opts.maxClients, 1, 100_000);
    const maxPerIp = parseIntArg('--max-per-ip', opts.maxPerIp, 1, 100_000);
    const idleTimeoutMs = parseIntArg('--idle-timeout', opts.idleTimeout, 0, 86_400) * 1000;
    const dataTimeoutMs = parseIntArg('--data-timeout', opts.dataTimeout, 1, 86_400) * 1000;
    const maxListEntries = parseIntArg('--max-list-entries', opts.maxListEntries, 1, 10_000_000);
    const runAs = runAsUser(opts.runAs);
    if (/[\r\n]/.test(opts.banner) || /[\r\n]/.test(opts.siteName)) usageError('--banner and --site-name must be one line');
    try {
      if (!(await stat(opts.root)).isDirectory()) usageError(`--root: ${opts.root} is not a directory`);
    } catch {
      usageError(`--root: ${opts.root} does not exist`);
    }
    let users: UserDatabase | undefined;
    if (opts.users) {
      try {
        users = await UserDatabase.load(opts.users);
      } catch (err) {
        usageError(`--users: ${(err as Error).message}`);
      }
    }
    const anonymous = opts.anonymous !== false;
    if (!anonymous && !users) usageError('--no-anonymous needs --users FILE, or nobody could log in');

    const run = startHost(opts);
    const server = new FtpServer({
      tcp: run.host.tcp,
      clock: run.clock,
      random: run.host.random,
      logger: run.log,
      counters: run.host.counters,
      root: opts.root,
      port,
      ...(dataPort !== undefined ? { dataPort } : {}),
      anonymous,
      anonymousWritable: opts.writable === true,
      ...(users ? { users } : {}),
      pasvPorts,
      banner: opts.banner,
      siteName: opts.siteName,
      maxClients,
      maxPerIp,
      idleTimeoutMs,
      dataTimeoutMs,
      maxListEntries,
      ...(opts.xferlog ? { xferlog: opts.xferlog } : {}),
    });
    try {
      await server.listen();
      // The xferlog is created while we may, and given to the user we become.
      if (opts.xferlog && runAs) {
        await appendFile(opts.xferlog, '');
        await chown(opts.xferlog, runAs.uid, runAs.gid);
      }
    } catch (err) {
      fatal(`cannot start the FTP server: ${(err as Error).message}`);
    }
    // Everything that needs root is open (TAP device, capture, users file, port):
    // from here on the kernel checks file access as that user.
    if (runAs) {
      dropPrivileges(runAs);
      if (!(await canServe(opts.root))) usageError(`--root: ${opts.root} is not readable by user ${runAs.name} (--run-as); make it readable or choose another user`);
    }
    const who = [anonymous ? `anonymous${opts.writable ? ' (writable)' : ' (read-only)'}` : '', users ? `${users.size} named user(s)` : '']
      .filter(Boolean)
      .join(', ');
    process.stdout.write(
      `tapstack ftp-server: ${describeHost(run)}, serving ${opts.root} on ${formatIpv4(run.config.address)}:${port} for ${who}${runAs ? ` as user ${runAs.name}` : ''}${run.config.pcap ? `, capture ${run.config.pcap}` : ''} (Ctrl-C to stop)\n`,
    );
    await runUntilSignal(run);
  });
}
