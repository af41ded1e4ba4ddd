import type { FtpShell } from './shell.js';
import type { CommandSpec } from './shell-spec.js';
import { on, showReply, toggle } from './shell-spec.js';

/** Commands about the session and its settings: open, user, close, bye, modes and toggles. */
export const SESSION_COMMANDS: CommandSpec[] = [
  {
    names: ['open', 'ftp'],
    usage: 'open host [port]',
    help: 'connect to remote ftp server',
    minArgs: 1,
    run: async (s, a) => {
      const port = a[1] !== undefined ? Number(a[1]) : 21;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        s.print(`ftp: bad port: ${a[1]}`);
        return false;
      }
      return s.open(a[0]!, port);
    },
  },
  {
    names: ['user'],
    usage: 'user username [password [account]]',
    help: 'send new user information',
    connected: true,
    minArgs: 1,
    run: (s, a) => s.login(a[0]!, a[1], a[2]),
  },
  {
    names: ['close', 'disconnect'],
    usage: 'close',
    help: 'terminate ftp session',
    connected: true,
    run: async (s) => {
      await s.client.quit();
      return true;
    },
  },
  {
    names: ['bye', 'quit', 'exit'],
    usage: 'bye',
    help: 'terminate ftp session and exit',
    run: async (s) => {
      if (s.client.connected) await s.client.quit();
      s.done = true;
      return true;
    },
  },
  {
    names: ['binary', 'image'],
    usage: 'binary',
    help: 'set binary transfer type',
    run: (s) => setType(s, 'I'),
  },
  {
    names: ['ascii'],
    usage: 'ascii',
    help: 'set ascii transfer type',
    run: (s) => setType(s, 'A'),
  },
  {
    names: ['type'],
    usage: 'type [ascii|binary]',
    help: 'set file transfer type',
    run: async (s, a) => {
      const t = a[0]?.toLowerCase();
      if (t === undefined) {
        s.print(`Using ${s.client.type === 'A' ? 'ascii' : 'binary'} mode to transfer files.`);
        return true;
      }
      if (t === 'ascii' || t === 'a') return setType(s, 'A');
      if (t === 'binary' || t === 'image' || t === 'i') return setType(s, 'I');
      s.print(`${a[0]}: unknown mode.`);
      return false;
    },
  },
  toggleCommand(['passive'], 'toggle passive transfer mode', (s) => s.client.mode === 'passive', (s, v) => (s.client.mode = v ? 'passive' : 'active'), (v) => `Passive mode: ${on(v)}.`),
  toggleCommand(['verbose'], "toggle verbose mode (show the server's replies)", (s) => s.verbose, (s, v) => (s.verbose = v), (v) => `Verbose mode: ${on(v)}.`),
  toggleCommand(['debug'], 'toggle debugging mode (show the commands sent, ---> PORT ...)', (s) => s.debug, (s, v) => (s.debug = v), (v) => `Debugging ${on(v)} (debug=${v ? 1 : 0}).`),
  toggleCommand(['hash'], "toggle printing `#' for each kilobyte transferred", (s) => s.hash, (s, v) => (s.hash = v), (v) => `Hash mark printing: ${on(v)} (1024 bytes/hash mark).`),
  toggleCommand(['progress'], 'toggle the progress bar (on a terminal)', (s) => s.progress, (s, v) => (s.progress = v), (v) => `Progress bar: ${on(v)}.`),
  toggleCommand(['prompt'], 'force interactive prompting on multiple commands', (s) => s.prompting, (s, v) => (s.prompting = v), (v) => `Interactive mode: ${on(v)}.`),
  toggleCommand(['sunique'], 'toggle store unique for remote files (STOU)', (s) => s.storeUnique, (s, v) => (s.storeUnique = v), (v) => `Store unique: ${on(v)}.`),
  toggleCommand(['runique'], 'toggle store unique for local files (name.1, name.2, ...)', (s) => s.receiveUnique, (s, v) => (s.receiveUnique = v), (v) => `Receive unique: ${on(v)}.`),
  {
    names: ['rate'],
    usage: 'rate all|get|put [maximum-bytes-per-second|off]',
    help: 'set transfer rate limit (in bytes/second)',
    minArgs: 1,
    run: async (s, a) => {
      const direction = a[0]!.toLowerCase();
      const directions: ('get' | 'put')[] = direction === 'all' ? ['get', 'put'] : direction === 'get' || direction === 'put' ? [direction] : [];
      if (directions.length === 0) {
        s.print('usage: rate all|get|put [maximum-bytes-per-second|off]');
        return false;
      }
      if (a[1] !== undefined) {
        const limit = a[1].toLowerCase() === 'off' || a[1] === '0' ? undefined : Number(a[1]);
        if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
          s.print(`rate: bad rate value: ${a[1]}`);
          return false;
        }
        for (const d of directions) s.rate[d] = limit;
      }
      for (const d of directions) s.print(`${d} rate: ${s.rate[d] === undefined ? 'off' : `${s.rate[d]} bytes/s`}`);
      return true;
    },
  },
  {
    names: ['status'],
    usage: 'status',
    help: 'show current status',
    run: async (s) => {
      s.status();
      return true;
    },
  },
  {
    names: ['quote', 'literal'],
    usage: 'quote line-to-send',
    help: 'send arbitrary ftp command',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      const reply = await s.client.raw(a.join(' '));
      showReply(s, reply);
      return reply.code < 400;
    },
  },
  {
    names: ['site'],
    usage: 'site arguments',
    help: 'send site specific command to remote server',
    connected: true,
    minArgs: 1,
    run: async (s, a) => {
      showReply(s, await s.client.site(a.join(' ')));
      return true;
    },
  },
  {
    names: ['system'],
    usage: 'system',
    help: 'show remote system type',
    connected: true,
    run: async (s) => {
      showReply(s, await s.client.system());
      return true;
    },
  },
  {
    names: ['features', 'feat'],
    usage: 'features',
    help: 'show FEATures supported by remote system',
    connected: true,
    run: async (s) => {
      const reply = await s.client.raw('FEAT');
      showReply(s, reply);
      return reply.code < 400;
    },
  },
  {
    names: ['rhelp', 'remotehelp'],
    usage: 'rhelp [command]',
    help: 'get help from remote server',
    connected: true,
    run: async (s, a) => {
      const reply = await s.client.raw(a.length > 0 ? `HELP ${a.join(' ')}` : 'HELP');
      showReply(s, reply);
      return reply.code < 400;
    },
  },
];

/**
 * binary/ascii: send TYPE at once when connected (so the server's answer is seen, as
 * in BSD ftp); every later transfer uses it.
 */
async function setType(s: FtpShell, type: 'A' | 'I'): Promise<boolean> {
  if (s.client.connected) {
    const reply = await s.client.raw(`TYPE ${type}`);
    showReply(s, reply);
    if (reply.code >= 400) return false;
  }
  s.client.type = type;
  return true;
}

/** An on/off setting: `NAME` flips it, `NAME on|off` sets it; then says what it is, in BSD ftp's words. */
function toggleCommand(
  names: string[],
  help: string,
  read: (s: FtpShell) => boolean,
  write: (s: FtpShell, value: boolean) => void,
  say: (value: boolean) => string,
): CommandSpec {
  return {
    names,
    usage: `${names[0]} [on|off]`,
    help,
    run: async (s, a) => {
      write(s, toggle(read(s), a[0]));
      s.print(say(read(s)));
      return true;
    },
  };
}
