import { Writable } from 'node:stream';
import type { TcpApi, TcpServerLike, TcpSocketLike } from '../../src/tcp/api.js';
import { formatEpsvReply, formatPasvReply, parseEprtArgument, parsePortArgument, type HostPort } from '../../src/ftp/common/hostport.js';
import { formatReply } from '../../src/ftp/common/reply.js';

/**
 * A small scripted FTP server for the client's unit tests, on any TcpApi. It keeps
 * files in memory, logs every command it gets, and can be told to misbehave (cut a
 * transfer, stay silent, send odd replies). It is NOT the project's FTP server
 * (src/ftp/server); it exists so the client can be tested before and besides it.
 */
export interface FakeServerOptions {
  tcp: TcpApi;
  /** Our address, put into 227 replies. */
  address: string;
  port?: number;
  /** user -> password; 'anonymous' and 'ftp' always log in. */
  users?: Record<string, string>;
  greeting?: string[];
  /** Cut a RETR data connection (RST) after this many bytes, then reply 426. */
  cutRetrAfter?: number;
  /** Never answer this command (to test timeouts). */
  silentOn?: string;
  /** Reply to EPSV/EPRT with 500 (old servers). */
  noExtended?: boolean;
  /** Address to put in 227 instead of ours. */
  pasvAddress?: string;
  /** Answer every data command with 425 without opening a data connection. */
  refuseData?: boolean;
  /** Send text in TYPE A with CRLF line ends (as RFC 959 wants). Default true. */
  convertAscii?: boolean;
  /**
   * Lie in RETR: send this many bytes fewer (negative: more) than the file has, while
   * announcing the true size and ending with 226 (a damaged transfer nobody noticed).
   */
  retrShortBy?: number;
  /** Keep this many bytes fewer of every STOR/APPE than arrived, and still say 226. */
  storeShortBy?: number;
  /** Leave "(N bytes)" out of the 150 reply (as Pure-FTPd does). */
  quiet150?: boolean;
  /** Answer SIZE with 502 (servers without RFC 3659). */
  noSize?: boolean;
  /** The SYST answer (215). Default "UNIX Type: L8". */
  system?: string;
}

export class FakeFtpServer {
  readonly files = new Map<string, Buffer>();
  readonly dirs = new Set<string>(['/']);
  /** Every command line received, in order (PASS included, for assertions). */
  readonly log: string[] = [];
  /** Local port each active-mode data connection was made from, and to. */
  readonly activeConnections: { from: number; to: HostPort }[] = [];
  private readonly listener: TcpServerLike;
  private readonly sessions = new Set<TcpSocketLike>();

  constructor(readonly options: FakeServerOptions) {
    this.listener = options.tcp.listen({ port: options.port ?? 21 }, (s) => this.session(s));
  }

  addFile(path: string, content: string | Buffer): void {
    this.files.set(path, Buffer.from(content));
  }

  /** End every session as an idle timeout does: "421 Timeout." and close. */
  kick(): void {
    for (const s of this.sessions) {
      s.write(formatReply(421, 'Timeout.'));
      s.end();
    }
  }

  close(): void {
    this.listener.close();
    for (const s of this.sessions) s.destroy();
  }

  private session(control: TcpSocketLike): void {
    this.sessions.add(control);
    control.on('close', () => this.sessions.delete(control));
    control.on('error', () => undefined);
    const o = this.options;
    let user = '';
    let loggedIn = false;
    let cwd = '/';
    let type = 'A';
    let rest = 0;
    let renameFrom: string | undefined;
    let active: HostPort | undefined;
    let passive: TcpServerLike | undefined;
    let passivePort = 30000;
    let pending: Promise<TcpSocketLike> | undefined;

    const reply = (code: number, text: string | string[]) => {
      if (!control.destroyed) control.write(formatReply(code, text));
    };
    const abs = (p: string) => {
      const parts = (p.startsWith('/') ? p : `${cwd}/${p}`).split('/');
      const out: string[] = [];
      for (const part of parts) {
        if (part === '' || part === '.') continue;
        if (part === '..') out.pop();
        else out.push(part);
      }
      return '/' + out.join('/');
    };
    const openData = async (): Promise<TcpSocketLike | undefined> => {
      if (pending) {
        const p = pending;
        pending = undefined;
        return p;
      }
      if (active) {
        const to = active;
        active = undefined;
        const s = o.tcp.connect({ host: to.address, port: to.port, localPort: 20 });
        return new Promise((resolve) => {
          s.once('connect', () => {
            this.activeConnections.push({ from: 20, to });
            resolve(s);
          });
          s.once('error', () => resolve(undefined));
        });
      }
      return undefined;
    };
    const listing = (dir: string, kind: 'LIST' | 'NLST' | 'MLSD') => {
      const lines: string[] = [];
      const prefix = dir === '/' ? '/' : dir + '/';
      for (const d of this.dirs) {
        if (d !== dir && d.startsWith(prefix) && !d.slice(prefix.length).includes('/')) {
          const name = d.slice(prefix.length);
          lines.push(kind === 'NLST' ? name : kind === 'MLSD' ? `type=dir;modify=20261121114249; ${name}` : `drwxr-xr-x    2 0        0            4096 Nov 21 11:42 ${name}`);
        }
      }
      for (const [f, data] of this.files) {
        if (f.startsWith(prefix) && !f.slice(prefix.length).includes('/')) {
          const name = f.slice(prefix.length);
          lines.push(
            kind === 'NLST'
              ? name
              : kind === 'MLSD'
                ? `type=file;size=${data.length};modify=20261121114249; ${name}`
                : `-rw-r--r--    1 0        0     ${String(data.length).padStart(11)} Nov 21 11:42 ${name}`,
          );
        }
      }
      return Buffer.from(lines.map((l) => l + '\r\n').join(''));
    };
    const sendData = async (what: string, data: Buffer, cut?: number, announced = data.length) => {
      if (o.refuseData) {
        active = undefined;
        return reply(425, "Can't open data connection.");
      }
      const sock = await openData();
      if (!sock) return reply(425, "Can't open data connection.");
      const size = o.quiet150 ? '' : ` (${announced} bytes)`;
      reply(150, `Opening ${type === 'A' ? 'ASCII' : 'BINARY'} mode data connection for ${what}${size}.`);
      sock.on('error', () => undefined);
      sock.resume(); // read (and ignore) the client's side so its FIN is seen and 'close' comes
      if (cut !== undefined) {
        sock.write(data.subarray(0, cut));
        setImmediate(() => {
          (sock as unknown as { reset?: () => void }).reset?.() ?? sock.destroy();
          reply(426, 'Connection closed; transfer aborted.');
        });
        return;
      }
      sock.end(data);
      sock.once('close', () => reply(226, 'Transfer complete.'));
    };
    const receiveData = async (path: string, append: boolean) => {
      const sock = await openData();
      if (!sock) return reply(425, "Can't open data connection.");
      reply(150, 'Ok to send data.');
      const chunks: Buffer[] = [];
      const start = append ? (this.files.get(path) ?? Buffer.alloc(0)) : rest > 0 ? (this.files.get(path) ?? Buffer.alloc(0)).subarray(0, rest) : Buffer.alloc(0);
      rest = 0;
      sock.pipe(
        new Writable({
          write(c: Buffer, _e, done) {
            chunks.push(c);
            done();
          },
        }),
      );
      sock.once('end', () => {
        let body = Buffer.concat(chunks);
        if (type === 'A' && (o.convertAscii ?? true)) body = Buffer.from(body.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
        if (o.storeShortBy) body = body.subarray(0, Math.max(0, body.length - o.storeShortBy));
        this.files.set(path, Buffer.concat([start, body]));
        reply(226, 'Transfer complete.');
      });
    };

    reply(220, o.greeting ?? 'Fake FTP server for client tests');

    let buffer = '';
    control.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\r\n'); nl >= 0; nl = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        void handle(line);
      }
    });

    const handle = async (line: string) => {
      this.log.push(line);
      const sp = line.indexOf(' ');
      const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp < 0 ? '' : line.slice(sp + 1);
      if (o.silentOn === verb) return;
      if (!loggedIn && !['USER', 'PASS', 'QUIT', 'FEAT'].includes(verb)) return reply(530, 'Please login with USER and PASS.');
      switch (verb) {
        case 'USER':
          user = arg;
          return reply(331, 'Please specify the password.');
        case 'PASS': {
          const ok = user === 'anonymous' || user === 'ftp' || o.users?.[user] === arg;
          loggedIn = ok;
          return ok ? reply(230, 'Login successful.') : reply(530, 'Login incorrect.');
        }
        case 'FEAT':
          return reply(211, ['Features:', ' EPSV', ' MDTM', ' REST STREAM', ' SIZE', 'End']);
        case 'PWD':
          return reply(257, `"${cwd.replace(/"/g, '""')}" is the current directory`);
        case 'CWD': {
          const d = abs(arg);
          if (!this.dirs.has(d)) return reply(550, 'Failed to change directory.');
          cwd = d;
          return reply(250, 'Directory successfully changed.');
        }
        case 'CDUP':
          cwd = abs('..');
          return reply(250, 'Directory successfully changed.');
        case 'TYPE':
          type = arg.toUpperCase().startsWith('A') ? 'A' : 'I';
          return reply(200, `Switching to ${type === 'A' ? 'ASCII' : 'Binary'} mode.`);
        case 'PORT': {
          const p = parsePortArgument(arg);
          if (!p.ok) return reply(501, 'Illegal PORT command.');
          active = p.value;
          return reply(200, 'PORT command successful. Consider using PASV.');
        }
        case 'EPRT': {
          if (o.noExtended) return reply(500, 'Unknown command.');
          const p = parseEprtArgument(arg);
          if (!p.ok) return reply(522, 'Bad network protocol, use (1)');
          active = p.value;
          return reply(200, 'EPRT command successful.');
        }
        case 'PASV':
        case 'EPSV': {
          if (verb === 'EPSV' && o.noExtended) return reply(500, 'Unknown command.');
          passive?.close();
          const port = passivePort++;
          const srv = o.tcp.listen({ port, backlog: 1 });
          passive = srv;
          pending = new Promise((resolve) => {
            srv.once('connection', (s: TcpSocketLike) => {
              srv.close();
              resolve(s);
            });
          });
          return verb === 'EPSV'
            ? reply(229, formatEpsvReply(port))
            : reply(227, formatPasvReply({ address: o.pasvAddress ?? o.address, port }));
        }
        case 'REST':
          rest = Number(arg);
          return reply(350, `Restart position accepted (${rest}).`);
        case 'NLST':
          if (arg.includes('*')) {
            // A glob in the last component, as vsftpd expands it: names come back with the given directory.
            const slash = arg.lastIndexOf('/');
            const prefix = slash < 0 ? '' : arg.slice(0, slash + 1);
            const re = new RegExp(`^${arg.slice(slash + 1).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
            const names = listing(abs(prefix || '.'), 'NLST').toString().split('\r\n').filter((n) => n && re.test(n));
            return sendData(arg, Buffer.from(names.map((n) => `${prefix}${n}\r\n`).join('')));
          }
          // NLST of a file names the file (as vsftpd does): mget and mdelete rely on it.
          if (this.files.has(abs(arg))) return sendData(arg, Buffer.from(`${arg}\r\n`));
          return sendData(abs(arg), listing(abs(arg), 'NLST'));
        case 'LIST':
        case 'MLSD': {
          const d = abs(arg.startsWith('-') ? '' : arg);
          return sendData(d, listing(d, verb));
        }
        case 'RETR': {
          const data = this.files.get(abs(arg));
          if (!data) {
            pending = undefined;
            active = undefined;
            return reply(550, 'Failed to open file.');
          }
          let body = data.subarray(rest);
          rest = 0;
          if (type === 'A' && (o.convertAscii ?? true)) body = Buffer.from(body.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
          const announced = body.length;
          const lie = o.retrShortBy ?? 0;
          if (lie > 0) body = body.subarray(0, Math.max(0, body.length - lie));
          if (lie < 0) body = Buffer.concat([body, Buffer.alloc(-lie, 0x2a)]);
          return sendData(arg, body, o.cutRetrAfter, announced);
        }
        case 'STOR':
        case 'APPE':
          return receiveData(abs(arg), verb === 'APPE');
        case 'STOU': {
          // RFC 959 4.1.3: a name that does not exist yet (here: the wanted one plus .1, .2, ...).
          const want = abs(arg || 'stou');
          let name = want;
          for (let i = 1; this.files.has(name); i++) name = `${want}.${i}`;
          return receiveData(name, false);
        }
        case 'HELP':
          return reply(214, ['The following commands are recognized.', ' USER PASS RETR STOR STOU', 'Help OK.']);
        case 'SIZE': {
          if (o.noSize) return reply(502, 'SIZE not implemented.');
          const data = this.files.get(abs(arg));
          return data ? reply(213, String(data.length)) : reply(550, 'Could not get file size.');
        }
        case 'MDTM':
          return this.files.has(abs(arg)) ? reply(213, '20261121114249') : reply(550, 'Could not get file modification time.');
        case 'MKD': {
          const d = abs(arg);
          if (this.dirs.has(d)) return reply(550, 'Create directory operation failed.');
          this.dirs.add(d);
          return reply(257, `"${d}" created`);
        }
        case 'RMD':
          return this.dirs.delete(abs(arg)) ? reply(250, 'Remove directory operation successful.') : reply(550, 'Remove directory operation failed.');
        case 'DELE':
          return this.files.delete(abs(arg)) ? reply(250, 'Delete operation successful.') : reply(550, 'Delete operation failed.');
        case 'RNFR':
          if (!this.files.has(abs(arg))) return reply(550, 'RNFR command failed.');
          renameFrom = abs(arg);
          return reply(350, 'Ready for RNTO.');
        case 'RNTO': {
          if (!renameFrom) return reply(503, 'RNFR required first.');
          this.files.set(abs(arg), this.files.get(renameFrom)!);
          this.files.delete(renameFrom);
          renameFrom = undefined;
          return reply(250, 'Rename successful.');
        }
        case 'SITE':
          return reply(200, `SITE ${arg} ok`);
        case 'SYST':
          return reply(215, o.system ?? 'UNIX Type: L8');
        case 'NOOP':
          return reply(200, 'NOOP ok.');
        case 'QUIT':
          reply(221, 'Goodbye.');
          control.end();
          return;
        default:
          return reply(500, 'Unknown command.');
      }
    };
  }
}
