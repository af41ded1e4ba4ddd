/**
 * An Error with a Node-style code (ECONNREFUSED, EADDRINUSE, ETIMEDOUT...), as net
 * and dgram produce, so code written against Node's sockets can test `err.code`.
 * TCP and UDP both raise it; it lives here, below both.
 */
export class NetError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'NetError';
  }
}
