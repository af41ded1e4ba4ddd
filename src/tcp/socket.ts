import { Duplex } from 'node:stream';
import { formatIpv4 } from '../wire/address.js';
import { NetError, type TcpAddressInfo, type TcpSocketLike } from './api.js';
import type { ConnectionUser, TcpConnection, TcpInfo } from './connection.js';
import type { TcpState } from './state.js';
import { DeadlineTimer } from './timer.js';
import type { Clock } from '../stack/clock.js';

export interface TcpSocketOptions {
  allowHalfOpen?: boolean;
  /** The connection is already established (accepted by a server). */
  connected?: boolean;
}

/**
 * A connection as a stream.Duplex, like net.Socket. Writes go into the send buffer
 * (the write callback waits while it is full: backpressure); arriving data is pushed
 * to the readable side, and what the application has not read yet shrinks the
 * window we advertise, so a slow reader slows the sender down.
 */
export class TcpSocket extends Duplex implements TcpSocketLike, ConnectionUser {
  private conn: TcpConnection | null;
  private _bytesRead = 0;
  private _bytesWritten = 0;
  private _finAcked = false;
  private pendingWrite: ((err?: Error | null) => void) | null = null;
  private idleTimer: DeadlineTimer | null = null;
  private idleMs = 0;
  /** Written buffers are kept by reference, not copied (setZeroCopy). */
  private zeroCopy = false;
  /** A window check is queued for this tick (see read()). */
  private windowCheckScheduled = false;
  /** True until the handshake completes, as net.Socket#connecting. */
  connecting: boolean;
  /** The connection, kept (read-only) after the socket let go of it. */
  private readonly control: TcpConnection;

  constructor(
    conn: TcpConnection,
    private readonly clock: Clock,
    options: TcpSocketOptions = {},
  ) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      readableHighWaterMark: 64 * 1024,
      writableHighWaterMark: 64 * 1024,
    });
    this.conn = conn;
    this.control = conn;
    this.connecting = !options.connected;
    conn.attachUser(this);
  }

  // ------------------------------------------------------------------ properties

  /**
   * The RFC 9293 state of the connection, for teaching. It keeps following the
   * connection after the socket closed (LAST-ACK, TIME-WAIT, then CLOSED).
   */
  get state(): TcpState {
    return this.control.state;
  }

  /** Negotiated options, RTT, windows, cwnd: what `ss -ti` shows for a kernel socket. */
  tcpInfo(): TcpInfo {
    return this.control.info();
  }

  /** As net.Socket#resetAndDestroy: abort with a RST (what destroy() does here too). */
  resetAndDestroy(): this {
    return this.destroy();
  }

  /** As net.Socket: our timers never keep the process alive, so these change nothing. */
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  /** As net.Socket: true until connected. */
  get pending(): boolean {
    return this.connecting;
  }

  /** As net.Socket: 'opening', 'open', 'readOnly', 'writeOnly' or 'closed'. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed) return 'closed';
    const readable = this.readable;
    const writable = this.writable;
    if (readable && writable) return 'open';
    if (readable) return 'readOnly';
    if (writable) return 'writeOnly';
    return 'closed';
  }

  // The four-tuple is fixed when the connection is made, so these never go undefined.
  get remoteAddress(): string {
    return formatIpv4(this.control.tuple.remoteAddr);
  }
  get remotePort(): number {
    return this.control.tuple.remotePort;
  }
  get remoteFamily(): string {
    return 'IPv4';
  }
  get localAddress(): string {
    return formatIpv4(this.control.tuple.localAddr);
  }
  get localPort(): number {
    return this.control.tuple.localPort;
  }
  get bytesRead(): number {
    return this._bytesRead;
  }
  get bytesWritten(): number {
    return this._bytesWritten;
  }
  /**
   * Written bytes the peer has acknowledged. What is not yet acknowledged is still in
   * the send buffer: unsent plus sent-unacknowledged (which counts our FIN as one
   * more while it is in flight, so this may then be one short). Once our FIN is
   * acknowledged everything was.
   */
  get bytesAcked(): number {
    if (this._finAcked) return this._bytesWritten;
    const info = this.control.info();
    return Math.max(0, this._bytesWritten - info.unsent - info.unacked);
  }

  /** Our FIN was acknowledged: the peer has all we wrote. Emitted once as 'finAcked'. */
  get finAcked(): boolean {
    return this._finAcked;
  }

  address(): TcpAddressInfo {
    return { address: this.localAddress, family: 'IPv4', port: this.localPort };
  }

  setNoDelay(noDelay = true): this {
    if (this.conn) this.conn.nagle = !noDelay;
    return this;
  }

  /**
   * Keep written buffers by reference until the peer acknowledges them, instead of
   * copying each write (the idea of Linux's MSG_ZEROCOPY). The writer promises not to
   * change a buffer until `bytesAcked` has passed its last byte: until then TCP may
   * need its bytes again for a retransmission. For bulk senders that own their
   * buffers (the FTP server's RETR); the copy costs about a tenth of a bulk send.
   */
  setZeroCopy(enable = true): this {
    this.zeroCopy = enable;
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.conn?.setKeepAlive(enable, initialDelay);
    return this;
  }

  setTimeout(ms: number, callback?: () => void): this {
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.idleMs = ms;
    if (ms === 0) {
      this.idleTimer?.stop();
      return this;
    }
    this.idleTimer ??= new DeadlineTimer(this.clock, () => this.emit('timeout'));
    this.idleTimer.start(ms);
    return this;
  }

  private touch(): void {
    if (this.idleMs > 0) this.idleTimer?.start(this.idleMs);
  }

  // ------------------------------------------------------------------ ConnectionUser

  onEstablished(): void {
    this.connecting = false;
    this.emit('connect');
    this.emit('ready');
  }

  onData(data: Uint8Array): void {
    this._bytesRead += data.length;
    this.touch();
    this.push(data);
  }

  onEof(): void {
    this.push(null);
  }

  onSendSpace(): void {
    if (this.pendingWrite && this.conn && this.conn.sendSpace > 0) {
      const cb = this.pendingWrite;
      this.pendingWrite = null;
      cb();
    }
  }

  onFinAcked(): void {
    this._finAcked = true;
    this.emit('finAcked');
  }

  onError(err: NetError): void {
    this.conn = null;
    this.connecting = false;
    this.destroy(err);
  }

  onShutdown(): void {
    this.conn = null;
    this.connecting = false;
    this.destroy();
  }

  get readableBacklog(): number {
    return this.readableLength;
  }

  // ------------------------------------------------------------------ Duplex

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.queue([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.queue(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  private queue(chunks: Uint8Array[], callback: (err?: Error | null) => void): void {
    const conn = this.conn;
    if (!conn) {
      callback(new NetError('EPIPE', 'the connection is closed'));
      return;
    }
    for (const c of chunks) {
      // Copy: the caller may reuse its buffer once the callback ran, and we keep
      // the bytes until they are acknowledged. Not when the writer promised to wait
      // for the acknowledgement itself (setZeroCopy).
      conn.send(this.zeroCopy ? c : new Uint8Array(c));
      this._bytesWritten += c.length;
    }
    this.touch();
    if (conn.sendSpace > 0) callback();
    else this.pendingWrite = callback;
  }

  override _final(callback: (err?: Error | null) => void): void {
    // end(): half-close, the FIN follows the data already written (RFC 9293 3.10.4).
    this.conn?.close();
    callback();
  }

  override _read(): void {
    // Nothing to do: data is pushed as it arrives. The window is looked at after each
    // read that consumed data (below), not here: right after the handshake the reader
    // has consumed nothing, and an update then would only repeat the window (Linux too
    // considers an update only once the application has copied data out).
  }

  /**
   * Every consumption of buffered data passes through read() (flowing mode, pipe,
   * async iteration). Node calls _read only once until the next push, so we look at
   * the window after each read instead: when the reader has caught up, the window
   * opens and the peer hears about it (RFC 1122 4.2.3.3). Checked once per tick,
   * after the read has removed the data from the buffer.
   */
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.scheduleWindowCheck();
    return chunk;
  }

  private scheduleWindowCheck(): void {
    if (this.windowCheckScheduled) return;
    this.windowCheckScheduled = true;
    queueMicrotask(() => {
      this.windowCheckScheduled = false;
      this.conn?.onAppRead();
    });
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const conn = this.conn;
    this.conn = null;
    this.idleTimer?.stop();
    if (conn) {
      // After a graceful close both ways the connection finishes by itself (LAST-ACK,
      // TIME-WAIT). destroy() in mid-stream aborts it with a RST, as resetAndDestroy()
      // does in net (a kernel close() resets only when unread data is left), so the
      // peer learns at once that nobody will read or write any more.
      if (this.writableFinished && this.readableEnded) conn.detachUser();
      else conn.abort();
    }
    const pending = this.pendingWrite;
    this.pendingWrite = null;
    pending?.(err ?? new NetError('EPIPE', 'socket destroyed'));
    callback(err);
  }
}
