import type { Clock } from '../../stack/clock.js';
import type { Counters } from '../../stack/counters.js';
import type { Logger } from '../../stack/log.js';
import type { Random } from '../../stack/random.js';
import type { TcpApi } from '../../tcp/api.js';
import type { UserDatabase } from './users.js';

/** Everything an FtpServer can be told. Only `tcp`, `clock` and `root` are required. */
export interface FtpServerOptions {
  /** The socket API the server runs on (our TCP, or any TcpApi). */
  tcp: TcpApi;
  clock: Clock;
  /** The served directory; clients see it as `/`. */
  root: string;
  random?: Random;
  logger?: Logger;
  counters?: Counters;
  /** Control port (RFC 959: 21). */
  port?: number;
  /** Source port of active-mode data connections (RFC 959 3.2: control port - 1, i.e. 20). */
  dataPort?: number;
  /** Allow `ftp`/`anonymous` logins (default true). */
  anonymous?: boolean;
  /** Let anonymous users upload, rename and delete (default false). */
  anonymousWritable?: boolean;
  /** Named users (scrypt hashes); homes are paths inside the root. */
  users?: UserDatabase;
  /** Ports for passive data connections (inclusive). */
  pasvPorts?: { min: number; max: number };
  /** Text of the 220 greeting. */
  banner?: string;
  /** Name used in `230-Welcome to ...` and `221 Thank you for visiting ...`. */
  siteName?: string;
  /** Most control connections at once (421 beyond). */
  maxClients?: number;
  /** Most control connections from one address (421 beyond). */
  maxPerIp?: number;
  /** Close a control connection idle this long (421). 0 disables. */
  idleTimeoutMs?: number;
  /** Give up on a data connection that does not open or stalls this long. */
  dataTimeoutMs?: number;
  /** Longest command line in bytes, CRLF included (500 beyond). */
  maxLineLength?: number;
  /** Most entries a LIST, NLST or MLSD sends. */
  maxListEntries?: number;
  /** Delay before answering a failed PASS (on the injected clock); doubles per failure from the same address. */
  loginFailDelayMs?: number;
  /** Failed logins after which the connection is closed. */
  maxLoginFailures?: number;
  /** Failed logins from one address after which it is banned for loginBanMs. */
  loginBanAfter?: number;
  /** How long a ban lasts, and how long an address's failures are remembered. */
  loginBanMs?: number;
  /** Password checks (scrypt) running at once; one address never has more than one. */
  maxConcurrentLogins?: number;
  /** RFC 2577 bounce protection off: allow PORT/EPRT to other hosts. */
  allowForeignDataAddress?: boolean;
  /** RFC 2577 bounce protection off: allow PORT/EPRT to ports below 1024. */
  allowLowDataPort?: boolean;
  /** Append one xferlog line per transfer to this file. */
  xferlog?: string;
  /** Wall clock for listings and xferlog dates (a real calendar date is the point there). */
  now?: () => Date;
}

export type ResolvedServerOptions = Required<Omit<FtpServerOptions, 'users' | 'xferlog' | 'random' | 'logger' | 'counters'>> &
  Pick<FtpServerOptions, 'users' | 'xferlog'> & {
    random: Random;
    logger: Logger;
    counters: Counters;
  };

export const SERVER_DEFAULTS = {
  port: 21,
  anonymous: true,
  anonymousWritable: false,
  pasvPorts: { min: 50000, max: 50999 },
  banner: 'ANY-DOMAIN.COM FTP Service',
  siteName: 'ftp.any-domain.com',
  maxClients: 300,
  maxPerIp: 50,
  idleTimeoutMs: 300_000,
  dataTimeoutMs: 60_000,
  maxLineLength: 512,
  maxListEntries: 10_000,
  loginFailDelayMs: 1_000,
  maxLoginFailures: 3,
  loginBanAfter: 10,
  loginBanMs: 600_000,
  maxConcurrentLogins: 2,
  allowForeignDataAddress: false,
  allowLowDataPort: false,
} as const;
