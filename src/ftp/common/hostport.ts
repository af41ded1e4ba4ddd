/**
 * Data connection addresses in FTP commands and replies.
 *
 *   PORT h1,h2,h3,h4,p1,p2                       RFC 959 4.1.2 (client -> server)
 *   227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)  RFC 959 4.1.2 / 5.4 (server -> client)
 *   EPRT |1|192.168.0.2|5001|                    RFC 2428 2 (client -> server)
 *   229 Entering Extended Passive Mode (|||5001|) RFC 2428 3 (server -> client)
 *
 * The port in the six-number form is split into bytes: port = p1 * 256 + p2, so
 * `192,168,0,2,19,137` means 192.168.0.2 port 5001.
 *
 * Parsers never throw; they return `{ ok: true, value }` or `{ ok: false, error }`.
 * Command arguments (PORT, EPRT) are read strictly, since our server decides whether
 * to open a connection from them; reply texts (227, 229) are read tolerantly, since
 * real servers word them in many ways.
 */
import { formatIpv4, parseIpv4 } from '../../wire/address.js';

export interface HostPort {
  /** Dotted-quad IPv4 address. */
  address: string;
  port: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}
function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

function checkHostPort(hp: HostPort): void {
  if (parseIpv4(hp.address) === null) throw new RangeError(`not an IPv4 address: ${hp.address}`);
  if (!Number.isInteger(hp.port) || hp.port < 0 || hp.port > 65535) throw new RangeError(`not a port: ${hp.port}`);
}

// ---------------------------------------------------------------------------
// PORT / PASV: h1,h2,h3,h4,p1,p2
// ---------------------------------------------------------------------------

/** `192.168.0.2:5001` -> `192,168,0,2,19,137` (the argument of PORT and the numbers of 227). */
export function encodeHostPort(hp: HostPort): string {
  checkHostPort(hp);
  return `${hp.address.split('.').join(',')},${hp.port >> 8},${hp.port & 0xff}`;
}

function fromSixNumbers(parts: readonly string[]): Parsed<HostPort> {
  const n = parts.map(Number);
  if (n.length !== 6 || n.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) {
    return fail('each of the six numbers must be 0-255');
  }
  const address = formatIpv4(((n[0]! << 24) | (n[1]! << 16) | (n[2]! << 8) | n[3]!) >>> 0);
  return ok({ address, port: n[4]! * 256 + n[5]! });
}

/** The argument of a PORT command, e.g. `192,168,0,2,19,137` (spaces around commas allowed). */
export function parsePortArgument(arg: string): Parsed<HostPort> {
  const m = /^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$/.exec(arg);
  if (!m) return fail('PORT argument must be h1,h2,h3,h4,p1,p2');
  return fromSixNumbers(m.slice(1));
}

/** The text of a 227 reply: `Entering Passive Mode (192,168,0,2,19,137).` */
export function formatPasvReply(hp: HostPort): string {
  return `Entering Passive Mode (${encodeHostPort(hp)}).`;
}

/**
 * Find h1,h2,h3,h4,p1,p2 in the text of a 227 reply. RFC 959 does not fix the
 * wording around the numbers (RFC 1123 4.1.2.6 asks clients to scan for them), so
 * any case, with or without parentheses or the final period, with text before or
 * after, is accepted: `Entering Passive Mode (1,2,3,4,5,6).`, `entering passive mode
 * 1,2,3,4,5,6`, `=1,2,3,4,5,6`, `Passive (1, 2, 3, 4, 5, 6) ok`.
 */
export function parsePasvReply(text: string): Parsed<HostPort> {
  const m = /(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})/.exec(text);
  if (!m) return fail('no h1,h2,h3,h4,p1,p2 in the 227 reply');
  return fromSixNumbers(m.slice(1));
}

// ---------------------------------------------------------------------------
// EPRT / EPSV: <d>proto<d>address<d>port<d>
// ---------------------------------------------------------------------------

/** RFC 2428 2: the delimiter is any printable ASCII character (33-126); '|' is usual. */
function isDelimiter(ch: string): boolean {
  if (ch.length !== 1) return false;
  const c = ch.charCodeAt(0);
  return c >= 33 && c <= 126;
}

/** The argument of EPRT: `|1|192.168.0.2|5001|` (network protocol 1 = IPv4). */
export function encodeEprtArgument(hp: HostPort, delimiter = '|'): string {
  checkHostPort(hp);
  if (!isDelimiter(delimiter) || /[0-9.]/.test(delimiter)) throw new RangeError(`bad EPRT delimiter: ${delimiter}`);
  const d = delimiter;
  return `${d}1${d}${hp.address}${d}${hp.port}${d}`;
}

export interface EprtArgument extends HostPort {
  /** RFC 2428 network protocol: 1 = IPv4, 2 = IPv6. */
  protocol: number;
}

/**
 * Parse an EPRT argument. Only protocol 1 (IPv4) gives an address we can use; any
 * other protocol number fails with `unsupportedProtocol` set, for which a server
 * answers 522 rather than 501 (RFC 2428 2).
 */
export function parseEprtArgument(arg: string): Parsed<EprtArgument> | { ok: false; error: string; unsupportedProtocol: number } {
  const s = arg.trim();
  const d = s.charAt(0);
  if (!isDelimiter(d)) return fail('EPRT argument must start with a delimiter');
  if (!s.endsWith(d)) return fail('EPRT argument must end with its delimiter');
  const fields = s.slice(1, -1).split(d);
  if (fields.length !== 3) return fail('EPRT argument must be <d>proto<d>address<d>port<d>');
  const [proto, address, portText] = fields as [string, string, string];
  if (!/^\d+$/.test(proto)) return fail('EPRT network protocol must be a number');
  const protocol = Number(proto);
  if (protocol !== 1) return { ok: false, error: `unsupported network protocol ${protocol}, use (1)`, unsupportedProtocol: protocol };
  if (parseIpv4(address) === null) return fail('EPRT address is not a dotted-quad IPv4 address');
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return fail('EPRT port must be 0-65535');
  return ok({ protocol, address, port: Number(portText) });
}

/** The text of a 229 reply: `Entering Extended Passive Mode (|||5001|)`. */
export function formatEpsvReply(port: number, delimiter = '|'): string {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`not a port: ${port}`);
  if (!isDelimiter(delimiter) || /[0-9]/.test(delimiter)) throw new RangeError(`bad EPSV delimiter: ${delimiter}`);
  const d = delimiter;
  return `Entering Extended Passive Mode (${d}${d}${d}${port}${d})`;
}

/**
 * Find the port in the text of a 229 reply (RFC 2428 3): `(|||5001|)` with any
 * printable delimiter repeated, e.g. `(!!!5001!)`. Text around it and the case of
 * the words do not matter; parentheses may be missing. The address fields are empty
 * by definition: the data connection goes to the control connection's peer.
 */
export function parseEpsvReply(text: string): Parsed<number> {
  const m = /\(([\x21-\x7e])\1\1(\d{1,5})\1\)/.exec(text) ?? /([\x21-\x2f\x3a-\x7e])\1\1(\d{1,5})\1/.exec(text);
  if (!m || /\d/.test(m[1]!)) return fail('no (|||port|) in the 229 reply');
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return fail('229 port must be 1-65535');
  return ok(port);
}

/**
 * The optional argument of EPSV (RFC 2428 3/4): empty, a network protocol number,
 * or `ALL` (the client promises to use only EPSV from now on).
 */
export function parseEpsvArgument(arg: string): Parsed<{ all: boolean; protocol?: number }> {
  const s = arg.trim();
  if (s === '') return ok({ all: false });
  if (s.toUpperCase() === 'ALL') return ok({ all: true });
  if (/^\d+$/.test(s)) return ok({ all: false, protocol: Number(s) });
  return fail('EPSV argument must be empty, a protocol number or ALL');
}
