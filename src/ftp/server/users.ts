/**
 * Named FTP users, kept in a small text file, one user a line:
 *
 *   # name:password-hash:home:access
 *   alice:scrypt$16384$8$1$<salt base64>$<key base64>:/alice:rw
 *   bob:scrypt$16384$8$1$...:/:ro
 *
 * Passwords are stored as scrypt hashes (node:crypto), never in clear: scrypt is
 * slow and memory-hard on purpose, so a stolen file does not give the passwords away
 * cheaply. `home` is a path inside the served root (the user's `/`); `rw` lets the
 * user upload, rename and delete.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface FtpUser {
  name: string;
  /** `scrypt$N$r$p$salt$key` (salt and key in base64). */
  hash: string;
  /** Home directory, a path inside the served root; the user's `/`. */
  home: string;
  writable: boolean;
}

const KEY_LENGTH = 32;
const DEFAULT_COST = { N: 16384, r: 8, p: 1 };

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hash a password with a fresh random salt. */
export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, cost);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  cost: { N: number; r: number; p: number };
  salt: Buffer;
  key: Buffer;
}

function parseHash(hash: string): ParsedHash | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return undefined;
  const cost = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  // N must be a power of two above 1; refuse absurd costs that would stall the server.
  if (cost.N < 2 || (cost.N & (cost.N - 1)) !== 0 || cost.N > 1 << 20 || cost.r < 1 || cost.r > 32 || cost.p < 1 || cost.p > 16) {
    return undefined;
  }
  return { cost, salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}

/** Check a password against a stored hash in constant time. A malformed hash never matches. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (!parsed || parsed.key.length !== KEY_LENGTH) return false;
  const key = await scryptAsync(password, parsed.salt, parsed.cost);
  return timingSafeEqual(key, parsed.key);
}

/** A fixed hash to check against when the user does not exist, so both cases take as long. */
const DUMMY_HASH = `scrypt$${DEFAULT_COST.N}$${DEFAULT_COST.r}$${DEFAULT_COST.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEY_LENGTH).toString('base64')}`;

export type UsersFileError = { line: number; message: string };

/** Parse the users file. Bad lines are reported, not thrown. */
export function parseUsersFile(text: string): { users: FtpUser[]; errors: UsersFileError[] } {
  const users: FtpUser[] = [];
  const errors: UsersFileError[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(':');
    if (fields.length !== 4) {
      errors.push({ line: i + 1, message: 'expected name:hash:home:rw|ro' });
      return;
    }
    const [name, hash, home, access] = fields as [string, string, string, string];
    if (!isValidUserName(name)) errors.push({ line: i + 1, message: `bad user name '${name}'` });
    else if (!parseHash(hash)) errors.push({ line: i + 1, message: 'bad password hash' });
    else if (!isValidHome(home)) errors.push({ line: i + 1, message: `home '${home}' must be a normalised absolute path (no '..', '.', '//' or trailing '/')` });
    else if (access !== 'rw' && access !== 'ro') errors.push({ line: i + 1, message: "access must be 'rw' or 'ro'" });
    else users.push({ name, hash, home, writable: access === 'rw' });
  });
  return { users, errors };
}

export function formatUserLine(user: FtpUser): string {
  return `${user.name}:${user.hash}:${user.home}:${user.writable ? 'rw' : 'ro'}`;
}

/** Letters, digits, and `._-@`; not the anonymous names. */
export function isValidUserName(name: string): boolean {
  return /^[A-Za-z0-9._@-]{1,64}$/.test(name) && !ANONYMOUS_NAMES.has(name.toLowerCase());
}

/** RFC 1635: the conventional names for anonymous FTP. */
export const ANONYMOUS_NAMES = new Set(['ftp', 'anonymous']);

/**
 * A home as it is stored: absolute inside the served root, without `.`, `..`, empty
 * parts or a trailing slash (`//alice/./` is `/alice`). Undefined when it cannot be
 * one: not absolute, a `..` part (`/home/../..` would climb to the root and give the
 * user everything), or a character that breaks the file (`:`, CR, LF, NUL).
 */
export function normaliseHome(home: string): string | undefined {
  if (!home.startsWith('/') || /[:\r\n\0]/.test(home)) return undefined;
  const parts = home.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return '/' + parts.join('/');
}

/** A home that the users file may hold: already in normal form (see normaliseHome). */
function isValidHome(home: string): boolean {
  return normaliseHome(home) === home;
}

/** The users a server knows, looked up by name. */
export class UserDatabase {
  private readonly byName = new Map<string, FtpUser>();

  constructor(users: readonly FtpUser[] = []) {
    for (const u of users) this.byName.set(u.name, u);
  }

  static async load(file: string): Promise<UserDatabase> {
    const { users, errors } = parseUsersFile(await readFile(file, 'utf8'));
    if (errors.length > 0) {
      throw new Error(`${file}:${errors[0]!.line}: ${errors[0]!.message}`);
    }
    return new UserDatabase(users);
  }

  get size(): number {
    return this.byName.size;
  }

  /**
   * The user if name and password match, otherwise undefined. An unknown name costs
   * as much time as a wrong password, so timing does not reveal which names exist.
   */
  async authenticate(name: string, password: string): Promise<FtpUser | undefined> {
    const user = this.byName.get(name);
    const ok = await verifyPassword(password, user?.hash ?? DUMMY_HASH);
    return user && ok ? user : undefined;
  }
}
