import type { TransferType } from './options.js';
import { FtpSizeMismatchError } from './errors.js';

/**
 * Checking that a transfer moved exactly the bytes it should. A server says "226
 * Transfer complete." even when the data connection was cut short by a middlebox, or
 * when the file was converted on the way (TYPE A), so the reply code alone proves
 * nothing. What we compare against:
 *
 * - SIZE (RFC 3659 4), asked in TYPE I before RETR: the exact size of the file.
 * - "(N bytes)" in the 150 reply (vsftpd, proftpd): the size of the file on the
 *   server's disk, not of the rest after REST, and not of what TYPE A puts on the wire.
 *
 * In TYPE I the wire carries the file byte for byte, so the count must be equal. In
 * TYPE A a Unix server may turn each LF into CRLF (RFC 959 3.1.1.1: proftpd and
 * Pure-FTPd do, vsftpd sends the bytes as they are), so the wire can only be checked
 * for being short.
 */

/** "Opening BINARY mode data connection for readme.txt (1715 bytes)." -> 1715 */
export function announcedSize(text: string): number | undefined {
  const m = /\((\d+) bytes\)/i.exec(text);
  return m ? Number(m[1]) : undefined;
}

export interface DownloadCheck {
  type: TransferType;
  /** Where the transfer started (REST). */
  offset: number;
  /** Bytes that came over the data connection, before any line-end conversion. */
  received: number;
  /** The answer to SIZE in TYPE I, if the server gave one. */
  size?: number | undefined;
  /** The "(N bytes)" of the 150 reply, if there was one. */
  announced?: number | undefined;
}

/** Throws FtpSizeMismatchError when the download is short (or, in TYPE I, long). */
export function checkDownload(c: DownloadCheck): void {
  const fileSize = c.size ?? c.announced;
  if (fileSize === undefined) return; // nothing to compare with (the server said nothing)
  const expected = Math.max(0, fileSize - c.offset);
  if (c.type === 'A') {
    if (c.received < expected) throw partial(expected, c.received);
    return;
  }
  if (c.received === expected) return;
  // A 150 announcement after REST might give the rest instead of the whole file:
  // accept that reading too (SIZE, when we have it, is never ambiguous).
  if (c.size === undefined && c.offset > 0 && c.received === fileSize) return;
  throw c.received < expected ? partial(expected, c.received) : new FtpSizeMismatchError(expected, c.received, `too many bytes: received ${c.received} where the server announced ${expected}`);
}

/** After an upload in TYPE I: the server's SIZE must equal what the whole file should be. */
export function checkUpload(remote: string, expected: number, remoteSize: number): void {
  if (remoteSize === expected) return;
  throw new FtpSizeMismatchError(expected, remoteSize, `upload of ${remote} is damaged: the server has ${remoteSize} bytes, the local file ${expected}`);
}

function partial(expected: number, received: number): FtpSizeMismatchError {
  return new FtpSizeMismatchError(expected, received, `partial file: received ${received} of ${expected} bytes`);
}
