import { EventEmitter } from 'node:events';
import { NetError } from '../stack/net-error.js';
import { formatIpv4, parseIpv4, type Ipv4Address } from '../wire/address.js';
import type { UdpRemoteInfo, UdpSocketLike } from './api.js';

/** What a socket needs from its Udp layer (kept narrow so the socket stays simple). */
export interface UdpSocketOwner {
  readonly localAddress: Ipv4Address;
  /** False when IP refused the datagram (no route, too big with DF, to ourselves). */
  sendDatagram(localPort: number, data: Uint8Array, dst: Ipv4Address, dstPort: number): boolean;
  unbind(socket: UdpSocket): void;
}

/** RFC 768 length field (16 bits) minus the UDP and the smallest IPv4 header. */
export const UDP_MAX_PAYLOAD = 65535 - 8 - 20;

/**
 * One bound UDP port, in the spirit of dgram.Socket: 'message' (data, rinfo),
 * 'error' (an Error with a Node code), 'close'.
 *
 * Unlike dgram, an 'error' nobody listens for is counted and dropped rather than
 * thrown: an ICMP message from the network must not be able to crash the process.
 */
export class UdpSocket extends EventEmitter implements UdpSocketLike {
  private closed = false;

  constructor(
    private readonly owner: UdpSocketOwner,
    readonly localPort: number,
  ) {
    super();
  }

  send(data: Uint8Array, port: number, address: string, callback?: (err: Error | null) => void): void {
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      // As dgram: a bad port is a programming error, thrown synchronously.
      throw new RangeError(`port must be an integer in 1-65535, got ${port}`);
    }
    const dst = parseIpv4(address);
    let error: NetError | null = null;
    if (this.closed) error = new NetError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'socket is closed');
    else if (dst === null) error = new NetError('EINVAL', `not an IPv4 address: ${address}`);
    else if (data.length > UDP_MAX_PAYLOAD) error = new NetError('EMSGSIZE', `${data.length} bytes do not fit one UDP datagram`);
    if (error === null && !this.owner.sendDatagram(this.localPort, data, dst!, port)) {
      // As the kernel would say for a destination it has no route to.
      error = new NetError('ENETUNREACH', `cannot send to ${address}: no route (see the ipv4.tx counters)`);
    }
    // dgram reports the outcome asynchronously; so do we (and a success nobody waits for costs nothing).
    if (error === null && !callback) return;
    queueMicrotask(() => {
      if (callback) callback(error);
      else if (error) this.emitError(error);
    });
  }

  address(): { address: string; family: 'IPv4'; port: number } {
    return { address: formatIpv4(this.owner.localAddress), family: 'IPv4', port: this.localPort };
  }

  close(callback?: () => void): void {
    if (this.closed) {
      if (callback) queueMicrotask(callback);
      return;
    }
    this.closed = true;
    this.owner.unbind(this);
    if (callback) this.once('close', callback);
    queueMicrotask(() => this.emit('close'));
  }

  /** @internal Called by Udp for each datagram to our port. */
  deliver(data: Buffer, rinfo: UdpRemoteInfo): void {
    if (!this.closed) this.emit('message', data, rinfo);
  }

  /** @internal Returns false when nobody listens for errors (the caller counts it). */
  emitError(error: Error): boolean {
    if (this.closed || this.listenerCount('error') === 0) return false;
    this.emit('error', error);
    return true;
  }
}
