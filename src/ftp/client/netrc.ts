import { promises as fsp } from 'node:fs';

/**
 * ~/.netrc, the auto-login file of BSD ftp (ftp(1), "THE .netrc FILE"): tokens apart by
 * spaces, tabs or newlines. `machine NAME` starts an entry, `default` the entry for any
 * other host; inside an entry `login`, `password` and `account` give the values; a
 * `macdef NAME` is followed by a macro body up to an empty line (we skip macros).
 */
export interface NetrcEntry {
  /** The host name; undefined for the `default` entry. */
  machine: string | undefined;
  login?: string;
  password?: string;
  account?: string;
}

/** Tokens of a .netrc; a "double-quoted" token may hold spaces. macdef bodies are left out. */
function tokens(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const token = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    out.push(token);
    if (token === 'macdef') {
      // The name, then the body up to the first empty line.
      const name = /\s*(\S+)[^\n]*\n/.exec(text.slice(re.lastIndex));
      const bodyStart = re.lastIndex + (name ? name[0].length : 0);
      const end = text.indexOf('\n\n', bodyStart);
      re.lastIndex = end < 0 ? text.length : end + 2;
      out.pop();
    }
  }
  return out;
}

export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let cur: NetrcEntry | undefined;
  const t = tokens(text);
  for (let i = 0; i < t.length; i++) {
    const word = t[i]!;
    if (word === 'machine') {
      cur = { machine: t[++i] };
      entries.push(cur);
    } else if (word === 'default') {
      cur = { machine: undefined };
      entries.push(cur);
    } else if (cur && (word === 'login' || word === 'password' || word === 'account')) {
      const value = t[++i];
      if (value !== undefined) cur[word] = value;
    }
  }
  return entries;
}

/** The entry for `host` (names compared without case), else the `default` entry. */
export function findNetrcEntry(entries: NetrcEntry[], host: string): NetrcEntry | undefined {
  const h = host.toLowerCase();
  return entries.find((e) => e.machine?.toLowerCase() === h) ?? entries.find((e) => e.machine === undefined);
}

export interface NetrcLookup {
  entry?: NetrcEntry;
  /** Lines to show when the file may not be used (BSD ftp's words). */
  refused?: string[];
}

/**
 * Read `file` (a missing file is no error) and find the entry for `host`. As BSD ftp,
 * an entry with a password in a file that others may read is refused: a password
 * there is a password for everyone on the machine.
 */
export async function lookupNetrc(file: string, host: string): Promise<NetrcLookup> {
  let text: string;
  let mode: number;
  try {
    mode = (await fsp.stat(file)).mode;
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return {};
  }
  const entry = findNetrcEntry(parseNetrc(text), host);
  if (entry?.password !== undefined && (mode & 0o077) !== 0) {
    return { refused: ['Error: .netrc file is readable by others.', 'Remove password or make file unreadable by others.'] };
  }
  return entry ? { entry } : {};
}
