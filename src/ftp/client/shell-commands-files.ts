import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type { FtpShell } from './shell.js';
import type { CommandSpec } from './shell-spec.js';
import { forgetNamesAfter, showReply } from './shell-spec.js';

/** Commands on remote files and directories: listings, transfers, and changes. */
export const FILE_COMMANDS: CommandSpec[] = [
  {
    names: ['ls', 'dir'],
    usage: 'ls [remote-directory] [local-file]',
    help: 'list contents of remote directory',
    connected: true,
    run: (s, a) => s.listInto('LIST', a),
  },
  {
    names: ['nlist'],
    usage: 'nlist [remote-directory] [local-file]',
    help: 'nlist contents of remote directory',
    connected: true,
    run: (s, a) => s.listInto('NLST', a),
  },
  {
    names: ['mls'],
    usage: 'mls remote-files local-file',
    help: 'nlist contents of multiple remote directories',
    connected: true,
    minArgs: 2,
    run: async (s, a) => {
      const local = a[a.length - 1]!;
      const names: string[] = [];
      for (const dir of a.slice(0, -1)) names.push(...(await s.client.nlst(dir)));
      const text = names.map((n) => `${n}\n`).join('');
      if (local === '-') s.options.out.write(text);
      else await fsp.writeFile(path.resolve(s.localDir, local), text);
      return true;
    },
  },
  {
    names: ['cd', 'cwd'],
    usage: 'cd remote-directory',
    help: 'change remote working directory',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.cwd(a[0]!)),
  },
  {
    names: ['cdup'],
    usage: 'cdup',
    help: 'change remote working directory to parent directory',
    connected: true,
    run: (s) => forgetNamesAfter(s, s.client.cdup()),
  },
  {
    names: ['pwd'],
    usage: 'pwd',
    help: 'print working directory on remote machine',
    connected: true,
    run: async (s) => {
      const dir = await s.client.pwd();
      if (!s.verbose) s.print(`Remote directory: ${dir}`);
      return true;
    },
  },
  // get, reget, put and append check the connection themselves (mget and mput call them
  // too), after the arguments.
  {
    names: ['get', 'recv'],
    usage: 'get remote-file [local-file]',
    help: 'receive file (local-file "-": to standard output)',
    minArgs: 1,
    run: (s, a) => s.get(a[0]!, a[1], false),
  },
  {
    names: ['reget'],
    usage: 'reget remote-file [local-file]',
    help: 'get file restarting at end of local file',
    minArgs: 1,
    run: (s, a) => s.get(a[0]!, a[1], true),
  },
  {
    names: ['newer'],
    usage: 'newer remote-file [local-file]',
    help: 'get file if remote file is newer than local file',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const local = path.resolve(s.localDir, a[1] ?? path.basename(a[0]!));
      const st = await fsp.stat(local).catch(() => undefined);
      if (st) {
        const remoteTime = await s.client.mdtm(a[0]!);
        // MDTM has whole seconds (RFC 3659 2.3): compare at that precision.
        if (Math.floor(st.mtimeMs / 1000) >= Math.floor(remoteTime.getTime() / 1000)) {
          s.print(`Local file "${a[1] ?? path.basename(a[0]!)}" is newer than remote file "${a[0]}".`);
          return true;
        }
      }
      return s.get(a[0]!, a[1], false);
    },
  },
  {
    names: ['mget'],
    usage: 'mget remote-files',
    help: 'get multiple files',
    connected: true,
    minArgs: 1,
    // The server expands each pattern (NLST); each name it returns is only a suggestion
    // for the local name: safeLocalPath keeps it inside our directory.
    run: (s, a) => eachConfirmed(s, 'mget', a, (pattern) => s.client.nlst(pattern), (name) => s.get(name, undefined, false)),
  },
  {
    names: ['put', 'send'],
    usage: 'put local-file [remote-file]',
    help: 'send one file',
    minArgs: 1,
    run: (s, a) => s.put(a[0]!, a[1], 'put'),
  },
  {
    names: ['append'],
    usage: 'append local-file [remote-file]',
    help: 'append to a file',
    minArgs: 1,
    run: (s, a) => s.put(a[0]!, a[1], 'append'),
  },
  {
    names: ['mput'],
    usage: 'mput local-files',
    help: 'send multiple files',
    connected: true,
    minArgs: 1,
    run: (s, a) => eachConfirmed(s, 'mput', a, (pattern) => s.localGlob(pattern), (file) => s.put(file, path.basename(file), 'put')),
  },
  {
    names: ['mkdir'],
    usage: 'mkdir directory-name',
    help: 'make directory on the remote machine',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.mkdir(a[0]!)),
  },
  {
    names: ['rmdir'],
    usage: 'rmdir directory-name',
    help: 'remove directory on the remote machine',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.rmdir(a[0]!)),
  },
  {
    names: ['delete'],
    usage: 'delete remote-file',
    help: 'delete remote file',
    connected: true,
    minArgs: 1,
    run: (s, a) => forgetNamesAfter(s, s.client.delete(a[0]!)),
  },
  {
    names: ['mdelete'],
    usage: 'mdelete remote-files',
    help: 'delete multiple files',
    connected: true,
    minArgs: 1,
    run: (s, a) =>
      eachConfirmed(s, 'mdelete', a, (pattern) => s.client.nlst(pattern), async (name) => {
        s.invalidateNames();
        await s.client.delete(name);
        return true;
      }),
  },
  {
    names: ['rename'],
    usage: 'rename from-name to-name',
    help: 'rename file',
    connected: true,
    minArgs: 2,
    run: (s, a) => forgetNamesAfter(s, s.client.rename(a[0]!, a[1]!)),
  },
  {
    names: ['chmod'],
    usage: 'chmod mode remote-file',
    help: 'change file permissions of remote file (SITE CHMOD)',
    connected: true,
    minArgs: 2,
    run: async (s, a) => {
      showReply(s, await s.client.site(`CHMOD ${a[0]} ${a[1]}`));
      return true;
    },
  },
  {
    names: ['size'],
    usage: 'size remote-file',
    help: 'show size of remote file',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const n = await s.client.size(a[0]!);
      if (!s.verbose) s.print(`${a[0]}\t${n}`);
      return true;
    },
  },
  {
    names: ['modtime'],
    usage: 'modtime remote-file',
    help: 'show last modification time of remote file',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const d = await s.client.mdtm(a[0]!);
      s.print(`${a[0]}\t${d.toUTCString()}`);
      return true;
    },
  },
  {
    names: ['page', 'less', 'more'],
    usage: 'page remote-file',
    help: 'view a remote file through your pager ($PAGER, else less)',
    connected: true,
    minArgs: 1,
    run: (s, a) => page(s, a[0]!),
  },
];

/**
 * mget, mput, mdelete: expand each pattern, ask about each name while `prompt` is on,
 * and act on those agreed to. A failure is reported and the others still run (as in
 * BSD ftp); 'q' or Ctrl-D at a question ends the command. True when nothing failed.
 */
async function eachConfirmed(
  s: FtpShell,
  command: string,
  patterns: string[],
  expand: (pattern: string) => Promise<string[]>,
  act: (name: string) => Promise<boolean>,
): Promise<boolean> {
  let ok = true;
  for (const pattern of patterns) {
    for (const name of await expand(pattern)) {
      const answer = await s.confirm(command, name);
      if (answer === 'quit') return ok;
      if (answer === 'no') continue;
      ok = (await act(name).catch((err: unknown) => (s.reportError(err), false))) && ok;
    }
  }
  return ok;
}

/** page/less: RETR straight into the pager's stdin. */
async function page(s: FtpShell, remote: string): Promise<boolean> {
  const pager = process.env['PAGER'] || 'less';
  let failure: unknown;
  const code = await s.runLocal(pager, async (stdin: Writable) => {
    try {
      await s.client.download(remote, stdin, { end: false });
    } catch (err) {
      failure = err;
    }
  });
  if (failure) throw failure;
  return code === 0;
}
