import { FILE_COMMANDS } from './shell-commands-files.js';
import { LOCAL_COMMANDS } from './shell-commands-local.js';
import { SESSION_COMMANDS } from './shell-commands-session.js';
import type { CommandSpec } from './shell-spec.js';

/** Every command of the shell: the three tables, and help, which lists them. */
export const COMMANDS: CommandSpec[] = [
  ...SESSION_COMMANDS,
  ...FILE_COMMANDS,
  ...LOCAL_COMMANDS,
  {
    names: ['help', '?'],
    usage: 'help [command]',
    help: 'print local help information',
    run: async (s, a) => {
      if (a.length > 0) {
        let ok = true;
        for (const name of a) {
          const spec = COMMANDS.find((c) => c.names.includes(name.toLowerCase()));
          if (spec) s.print(`${name.padEnd(12)}${spec.help}\n${' '.repeat(12)}usage: ${spec.usage}`);
          else {
            s.print(`?Invalid help command ${name}`);
            ok = false;
          }
        }
        return ok;
      }
      s.print('Commands may be abbreviated.  Commands are:\n');
      const names = COMMANDS.flatMap((c) => c.names).sort();
      for (let i = 0; i < names.length; i += 5) s.print(names.slice(i, i + 5).map((n) => n.padEnd(14)).join('').trimEnd());
      return true;
    },
  },
];

/** The command called `name`, or the only one it is a prefix of (BSD ftp: "di" is dir). */
export function findCommand(name: string): CommandSpec | 'ambiguous' | undefined {
  const exact = COMMANDS.find((c) => c.names.includes(name));
  if (exact) return exact;
  const matches = COMMANDS.filter((c) => c.names.some((n) => n.startsWith(name)));
  if (matches.length > 1) return 'ambiguous';
  return matches[0];
}
