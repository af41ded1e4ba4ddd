/**
 * The command table: every verb the server knows, whether it needs a login, what
 * argument it takes, and its HELP text. The session looks a verb up here before
 * running its handler, so the generic answers come from one place:
 *   500 unknown verb, 502 known but not implemented, 530 not logged in,
 *   501 argument missing or not allowed (RFC 959 4.2.1, 5.4).
 */
export type ArgRule = 'none' | 'required' | 'optional';

export interface CommandSpec {
  /** Needs a logged-in user (530 otherwise). */
  login: boolean;
  arg: ArgRule;
  /** Syntax line for HELP. */
  help: string;
}

function cmd(login: boolean, arg: ArgRule, help: string): CommandSpec {
  return { login, arg, help };
}

export const COMMANDS = {
  // RFC 959 4.1.1 access control
  USER: cmd(false, 'required', 'USER <sp> username'),
  PASS: cmd(false, 'optional', 'PASS <sp> password'),
  ACCT: cmd(false, 'required', 'ACCT <sp> account-information'),
  CWD: cmd(true, 'required', 'CWD <sp> pathname'),
  XCWD: cmd(true, 'required', 'XCWD <sp> pathname'),
  CDUP: cmd(true, 'none', 'CDUP (change to parent directory)'),
  XCUP: cmd(true, 'none', 'XCUP (change to parent directory)'),
  REIN: cmd(false, 'none', 'REIN (reinitialize the session)'),
  QUIT: cmd(false, 'none', 'QUIT (end the session)'),
  // RFC 959 4.1.2 transfer parameters, RFC 2428
  PORT: cmd(true, 'required', 'PORT <sp> h1,h2,h3,h4,p1,p2'),
  PASV: cmd(true, 'none', 'PASV (enter passive mode)'),
  EPRT: cmd(true, 'required', 'EPRT <sp> |1|address|port|'),
  EPSV: cmd(true, 'optional', 'EPSV [<sp> 1 | ALL]'),
  TYPE: cmd(true, 'required', 'TYPE <sp> A | I'),
  STRU: cmd(true, 'required', 'STRU <sp> F'),
  MODE: cmd(true, 'required', 'MODE <sp> S'),
  // RFC 959 4.1.3 service commands
  RETR: cmd(true, 'required', 'RETR <sp> pathname'),
  STOR: cmd(true, 'required', 'STOR <sp> pathname'),
  STOU: cmd(true, 'optional', 'STOU [<sp> pathname]'),
  APPE: cmd(true, 'required', 'APPE <sp> pathname'),
  ALLO: cmd(true, 'required', 'ALLO <sp> decimal-integer [<sp> R <sp> decimal-integer]'),
  REST: cmd(true, 'required', 'REST <sp> byte-offset'),
  RNFR: cmd(true, 'required', 'RNFR <sp> pathname'),
  RNTO: cmd(true, 'required', 'RNTO <sp> pathname'),
  ABOR: cmd(true, 'none', 'ABOR (abort the transfer)'),
  DELE: cmd(true, 'required', 'DELE <sp> pathname'),
  RMD: cmd(true, 'required', 'RMD <sp> pathname'),
  XRMD: cmd(true, 'required', 'XRMD <sp> pathname'),
  MKD: cmd(true, 'required', 'MKD <sp> pathname'),
  XMKD: cmd(true, 'required', 'XMKD <sp> pathname'),
  PWD: cmd(true, 'none', 'PWD (print working directory)'),
  XPWD: cmd(true, 'none', 'XPWD (print working directory)'),
  LIST: cmd(true, 'optional', 'LIST [<sp> pathname]'),
  NLST: cmd(true, 'optional', 'NLST [<sp> pathname]'),
  SITE: cmd(true, 'required', 'SITE <sp> HELP'),
  SYST: cmd(true, 'none', 'SYST (system type)'),
  STAT: cmd(true, 'optional', 'STAT [<sp> pathname]'),
  HELP: cmd(false, 'optional', 'HELP [<sp> command]'),
  NOOP: cmd(false, 'none', 'NOOP'),
  // RFC 2389
  FEAT: cmd(false, 'none', 'FEAT (list extensions)'),
  OPTS: cmd(false, 'required', 'OPTS <sp> UTF8 ON | MLST facts'),
  // RFC 3659
  SIZE: cmd(true, 'required', 'SIZE <sp> pathname'),
  MDTM: cmd(true, 'required', 'MDTM <sp> pathname'),
  MLST: cmd(true, 'optional', 'MLST [<sp> pathname]'),
  MLSD: cmd(true, 'optional', 'MLSD [<sp> pathname]'),
} satisfies Record<string, CommandSpec>;

/** A verb the server knows; the session's handler table is keyed by it, so the compiler sees a verb without a handler. */
export type Verb = keyof typeof COMMANDS;

/** Look up a verb as the client sent it (upper-cased); undefined when we do not know it. */
export function lookUpVerb(verb: string): Verb | undefined {
  return Object.hasOwn(COMMANDS, verb) ? (verb as Verb) : undefined;
}

/** RFC 959 commands we recognise but do not offer: 502, not 500. */
export const NOT_IMPLEMENTED = new Set(['SMNT']);

/** Commands that may arrive while a transfer runs and are answered at once (RFC 959 4.1.3). */
export const DURING_TRANSFER = new Set(['ABOR', 'STAT', 'QUIT']);
