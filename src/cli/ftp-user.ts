import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { formatUserLine, hashPassword, isValidUserName, normaliseHome, parseUsersFile } from '../ftp/server/users.js';
import { fatal, usageError } from './common.js';

/** Read a password: the first line of stdin when it is not a terminal, else a silent prompt. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.startsWith('Password')) process.stderr.write(s);
  };
  const answer = await new Promise<string>((resolve) => rl.question('Password: ', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

/**
 * `tapstack ftp-user add FILE NAME --home DIR [--writable]`: add (or replace) a named
 * user in the users file of `tapstack ftp-server --users FILE`, with an scrypt hash.
 */
export function register(program: Command): void {
  const cmd = program.command('ftp-user').description('manage the users file of tapstack ftp-server');
  cmd
    .command('add')
    .description('add or replace a user; the password is read from stdin or a prompt')
    .argument('<file>', 'users file (created if missing)')
    .argument('<name>', 'user name (letters, digits, . _ - @)')
    .addOption(new Option('--home <dir>', 'home directory, a path inside the served root, e.g. /alice'))
    .addOption(new Option('--writable', 'allow uploads, renames and deletes'))
    .addHelpText('after', '\nExample:\n  echo s3cret | tapstack ftp-user add users.txt alice --home /alice --writable')
    .action(async (file: string, name: string, opts: { home?: string; writable?: boolean }) => {
      if (!isValidUserName(name)) usageError(`"${name}" is not a valid user name (1-64 of A-Z a-z 0-9 . _ - @, not ftp/anonymous)`);
      if (!opts.home) usageError('--home DIR is required');
      // Normalised and confined: '/alice/' is '/alice', '/home/../..' is refused.
      const home = normaliseHome(opts.home);
      if (home === undefined) usageError(`--home: "${opts.home}" must start with / (it is inside the served root) and contain no '..' or ':'`);
      let lines: string[] = [];
      if (existsSync(file)) {
        const text = await readFile(file, 'utf8');
        const { errors } = parseUsersFile(text);
        if (errors.length > 0) usageError(`${file}:${errors[0]!.line}: ${errors[0]!.message}`);
        lines = text.split(/\r?\n/).filter((l) => l !== '' && !l.startsWith(`${name}:`));
      } else {
        lines = ['# tapstack ftp users: name:scrypt-hash:home:rw|ro'];
      }
      const password = await readPassword();
      if (password === '') usageError('empty password');
      const hash = await hashPassword(password);
      lines.push(formatUserLine({ name, hash, home, writable: opts.writable === true }));
      // Write a temporary file and rename it: the file is never half-written.
      const temp = `${file}.tmp-${process.pid}`;
      try {
        await writeFile(temp, lines.join('\n') + '\n', { mode: 0o600 });
        await rename(temp, file);
      } catch (err) {
        fatal(`cannot write ${file}: ${(err as Error).message}`);
      }
      process.stdout.write(`${name} (${opts.writable ? 'rw' : 'ro'}, home ${home}) saved in ${file}\n`);
    });
}
