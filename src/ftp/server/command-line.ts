/**
 * Reading commands from the control connection (RFC 959 4.1, 5.3).
 *
 * A command is `VERB[ SP argument] CRLF`, the verb case-insensitive. Lines are cut by
 * the LineReader shared with the client's reply parser (common/line-reader.ts): it
 * bounds the unfinished line, so an over-long command is answered with 500 and
 * skipped, removes Telnet IP/DM sent before ABOR, and decodes UTF-8 (RFC 2640).
 */
export interface ParsedCommand {
  /** Upper-cased verb, e.g. `RETR`. */
  verb: string;
  /** Everything after the first space, unchanged (file names may have spaces). */
  arg: string;
}

/** Split a command line into verb and argument. Leading Telnet leftovers are gone already. */
export function parseCommand(line: string): ParsedCommand {
  const trimmed = line.replace(/^\s+/, '');
  const space = trimmed.indexOf(' ');
  if (space < 0) return { verb: trimmed.toUpperCase(), arg: '' };
  return { verb: trimmed.slice(0, space).toUpperCase(), arg: trimmed.slice(space + 1) };
}
