import type { FtpReply } from '../common/reply.js';

/**
 * The server answered with a negative (4yz/5yz) or unexpected reply. Carries the
 * reply code and text so callers and the shell can show exactly what the server said.
 */
export class FtpReplyError extends Error {
  readonly code: number;
  readonly text: string;
  constructor(
    /** The command that got this reply (PASS is masked). */
    readonly command: string,
    readonly reply: FtpReply,
  ) {
    super(`${command}: ${reply.code} ${reply.text.split('\n').join(' ')}`);
    this.name = 'FtpReplyError';
    this.code = reply.code;
    this.text = reply.text;
  }
}

/**
 * The control or data connection failed: refused, reset, closed in the middle of a
 * reply or a transfer, timed out, or the server broke the protocol. `code` is a
 * Node-style string: ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EPROTO, ENOTCONN.
 */
export class FtpConnectionError extends Error {
  constructor(
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(`${code}: ${message}`);
    this.name = 'FtpConnectionError';
  }
}

/** A caller error: bad argument, unsafe name, local file problem. */
export class FtpUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FtpUsageError';
  }
}

/**
 * The transfer ended "successfully" (226) but the byte count does not match what the
 * server announced (SIZE, or "(N bytes)" in the 150 reply): a damaged file. Like
 * curl's exit 18 (CURLE_PARTIAL_FILE), this is a failure, never a success.
 */
export class FtpSizeMismatchError extends Error {
  /** A download's `.part` file, kept for reget, when there is one. */
  keptPath: string | undefined;
  constructor(
    readonly expected: number,
    readonly actual: number,
    message: string,
  ) {
    super(message);
    this.name = 'FtpSizeMismatchError';
  }
}
