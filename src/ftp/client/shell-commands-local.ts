import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { CommandSpec } from './shell-spec.js';

/** Commands on our side: the local directory and the shell escape. */
export const LOCAL_COMMANDS: CommandSpec[] = [
  {
    names: ['lcd'],
    usage: 'lcd [local-directory]',
    help: 'change local working directory',
    run: async (s, a) => {
      const dir = path.resolve(s.localDir, a[0] ?? process.env['HOME'] ?? '.');
      const st = await fsp.stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) {
        s.print(`local: ${a[0]}: No such directory`);
        return false;
      }
      s.localDir = dir;
      s.print(`Local directory now: ${dir}`);
      return true;
    },
  },
  {
    names: ['lpwd'],
    usage: 'lpwd',
    help: 'print local working directory',
    run: async (s) => {
      s.print(`Local directory: ${s.localDir}`);
      return true;
    },
  },
  {
    names: ['lpage'],
    usage: 'lpage local-file',
    help: 'view a local file through your pager ($PAGER, else less)',
    minArgs: 1,
    // The name goes to sh as $1, never into the command text.
    run: async (s, a) => (await s.runLocal('${PAGER:-less} "$1"', undefined, [a[0]!])) === 0,
  },
  {
    names: ['!'],
    usage: '![command [args]]',
    help: 'escape to the shell',
    // The whole rest of the line is one argument (FtpShell.execute): /bin/sh -c reads it.
    run: async (s, a) => (await s.runLocal(a[0])) === 0,
  },
];
