/**
 * Access control (RFC 959 4.1.1): USER and PASS, anonymous (RFC 1635) and named
 * users, and what a failed login costs (RFC 2577 5, login-guard.ts).
 */
import type { Logger } from '../../stack/log.js';
import type { LoginGuard } from './login-guard.js';
import type { ResolvedServerOptions } from './options.js';
import { VirtualRoot } from './path.js';
import { ANONYMOUS_NAMES } from './users.js';

export interface SessionUser {
  name: string;
  anonymous: boolean;
  writable: boolean;
  /** For anonymous users: the identity given as password (RFC 1635). */
  identity?: string;
}

export type LoginState =
  | { kind: 'none' }
  | { kind: 'user-given'; name: string }
  | { kind: 'logged-in'; user: SessionUser; root: VirtualRoot };

/** What USER and PASS may see and change of a session. */
export interface LoginSession {
  readonly options: ResolvedServerOptions;
  /** The served tree; a named user's home is a directory inside it. */
  readonly serverRoot: VirtualRoot;
  readonly guard: LoginGuard;
  readonly peer: string;
  readonly log: Logger;
  readonly closed: boolean;
  login: LoginState;
  /** Failed logins on this connection. */
  failures: number;
  reply(code: number, text: string | readonly string[]): void;
  replyAndClose(code: number, text: string): void;
  /** Forget the old login's state (REIN, USER). */
  resetLogin(): void;
}

function isAnonymousName(s: LoginSession, name: string): boolean {
  return s.options.anonymous && ANONYMOUS_NAMES.has(name.toLowerCase());
}

export function user(s: LoginSession, name: string): void {
  // A new USER starts a new login, also when someone is logged in (RFC 959 4.1.1).
  s.resetLogin();
  s.login = { kind: 'user-given', name };
  // Always 331, whether the name exists or not, so names cannot be probed.
  if (isAnonymousName(s, name)) s.reply(331, 'Anonymous access allowed, send identity (e-mail name) as password.');
  else s.reply(331, 'Please specify the password.');
}

export async function pass(s: LoginSession, password: string): Promise<void> {
  if (s.login.kind !== 'user-given') {
    s.reply(503, s.login.kind === 'logged-in' ? 'Already logged in.' : 'Login with USER first.');
    return;
  }
  const name = s.login.name;
  if (isAnonymousName(s, name)) {
    loggedIn(s, { name: 'anonymous', anonymous: true, writable: s.options.anonymousWritable, identity: password }, s.serverRoot);
    s.reply(230, [`Welcome to ${s.options.siteName}`, 'Anonymous user logged in.']);
    return;
  }
  const users = s.options.users;
  // A banned address is not even checked (no scrypt for it): it only gets the delay.
  const banned = s.guard.isBanned(s.peer);
  const found =
    users && !banned && !ANONYMOUS_NAMES.has(name.toLowerCase()) ? await s.guard.check(s.peer, () => users.authenticate(name, password)) : undefined;
  const root = found ? await homeOf(s, found.home) : undefined;
  if (s.closed) return;
  if (found && root) {
    s.guard.succeeded(s.peer);
    loggedIn(s, { name: found.name, anonymous: false, writable: found.writable }, root);
    s.reply(230, `User ${found.name} logged in.`);
    return;
  }
  await failedLogin(s);
}

/** The home is a path inside the served root: opened and checked like any client path. */
async function homeOf(s: LoginSession, home: string): Promise<VirtualRoot | undefined> {
  const r = await s.serverRoot.existing('/', home);
  if (!r.ok) return undefined;
  try {
    return r.value.stats.isDirectory() ? await VirtualRoot.open(r.value.real) : undefined;
  } finally {
    await r.value.close();
  }
}

/**
 * RFC 2577 5: a failed login is answered late (later for each failure from the same
 * address), and the last allowed failure closes the connection.
 */
async function failedLogin(s: LoginSession): Promise<void> {
  s.failures++;
  s.options.counters.inc('ftp.server.login.failed');
  s.login = { kind: 'none' };
  const delay = s.guard.failed(s.peer);
  await new Promise<void>((resolve) => s.options.clock.setTimer(delay, resolve));
  if (s.closed) return;
  if (s.failures >= s.options.maxLoginFailures || s.guard.isBanned(s.peer)) {
    s.replyAndClose(421, 'Too many failed logins, closing control connection.');
    return;
  }
  s.reply(530, 'Login incorrect.');
}

function loggedIn(s: LoginSession, who: SessionUser, root: VirtualRoot): void {
  s.login = { kind: 'logged-in', user: who, root };
  s.failures = 0;
  s.options.counters.inc(who.anonymous ? 'ftp.server.login.anonymous' : 'ftp.server.login.user');
  s.log.info({ user: who.name }, 'logged in');
}
