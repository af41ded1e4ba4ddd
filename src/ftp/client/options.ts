/**
 * What a caller gives the FTP client and gets back from it: the client's options, the
 * options of one transfer, and the results of get() and put() (client.ts).
 */
import type { Clock } from '../../stack/clock.js';
import type { Counters } from '../../stack/counters.js';
import type { TcpApi } from '../../tcp/api.js';

/** RFC 959 3.1.1: A = ASCII (lines end in CRLF on the wire), I = image (bytes as they are). */
export type TransferType = 'A' | 'I';
/** Who opens the data connection: the server (active, PORT/EPRT) or we (passive, PASV/EPSV). */
export type DataMode = 'active' | 'passive';

export interface FtpClientOptions {
  /** Our TCP (or any TcpApi): the client opens every connection through it. */
  tcp: TcpApi;
  /** For every timeout. Default: the real clock. */
  clock?: Clock;
  /** Name to IPv4 address, e.g. our DNS resolver's resolve4. Needed only for names. */
  lookup?: (name: string) => Promise<string>;
  /** Default 'passive'. */
  mode?: DataMode;
  /** Type for transfers. Default 'I'. (The server starts in 'A': RFC 959 4.1.2, TYPE.) */
  type?: TransferType;
  /** Active mode: first local data port; each transfer takes the next one (5001, 5002, ...). Default 5001. */
  activePortBase?: number;
  /** Active mode: how many ports from the base before wrapping around. Default 1000. */
  activePortCount?: number;
  /** Active mode: send EPRT (falling back to PORT) instead of PORT. Default false, as in the seed session. */
  useEprt?: boolean;
  /** Passive mode: try EPSV before PASV. Default true. */
  useEpsv?: boolean;
  /**
   * Passive mode: connect to the address inside a 227 reply. Default false: connect to
   * the control connection's peer, as curl and basic-ftp do, because servers behind
   * NAT announce private addresses and a hostile server could aim us elsewhere.
   */
  trustPasvAddress?: boolean;
  /** Milliseconds to set up the control or a data connection. Default 15 000. */
  connectTimeout?: number;
  /** Milliseconds to wait for a reply. Default 30 000. */
  replyTimeout?: number;
  /** Milliseconds a data connection may stay idle in the middle of a transfer. Default 30 000. */
  dataTimeout?: number;
  /** Where the `ftp.client.*` counters go (the host's, for --stats). Default: a private set. */
  counters?: Counters;
}

export interface TransferOptions {
  /** Called as bytes move: bytes so far (including a resumed offset) and the total when known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Transfer type for this transfer; default: the client's `type`. */
  type?: TransferType;
  /** At most this many bytes per second (BSD ftp's `rate`). Default: no limit. */
  maxRate?: number;
}

export interface DownloadOptions extends TransferOptions {
  /** Start at this byte of the remote file (REST, RFC 3659 5). */
  offset?: number;
  /** End the destination stream when done. Default true. */
  end?: boolean;
}

export interface GetOptions extends TransferOptions {
  /** Continue a download: start from the size of the partial (or existing) local file. */
  resume?: boolean;
}

export interface PutOptions extends TransferOptions {
  /** APPE instead of STOR. */
  append?: boolean;
  /** Continue an upload: ask SIZE, then append the rest of the local file. */
  resume?: boolean;
  /**
   * STOU (RFC 959 4.1.3): the server picks a name that does not exist yet (BSD ftp's
   * `sunique`). The size is not checked afterwards: only the server knows the name.
   */
  unique?: boolean;
}

export interface GetResult {
  path: string;
  /** Bytes received in this transfer, as on the wire (not counting a resumed offset). */
  bytes: number;
  /** Where the transfer started. */
  offset: number;
}

export interface PutResult {
  /** Bytes sent in this transfer, as on the wire. */
  bytes: number;
  /**
   * The remote file's size after the upload, as SIZE (TYPE I) told us, which equals
   * the local file's (else put() fails). Undefined when it could not be checked: TYPE
   * A, or a server that does not answer SIZE for the file.
   */
  verifiedSize: number | undefined;
}
