/**
 * tapstack as a library: a userspace TCP/IP stack (ARP, IPv4, ICMP, UDP, DNS, TCP)
 * and an FTP server and client on top, over a Linux TAP device or an in-memory wire.
 *
 * A host is a link plus an address: {@link createHost}, or {@link MemoryNetwork} for
 * hosts on one in-memory wire. Links are the in-memory hub ({@link MemoryHub}), a TAP
 * device ({@link TapLink}), and middleware that wraps either: {@link CaptureLink}
 * (pcapng) and {@link FaultLink} (seeded loss, reordering, ...). On a host,
 * {@link connect} and {@link createServer} work like Node's `net`, `host.udp.bind()`
 * like `dgram`, and {@link Resolver}, {@link FtpServer} and {@link FtpClient} run on
 * its sockets.
 *
 * ```js
 * import { MemoryNetwork, connect, createServer } from 'tapstack';
 *
 * const net = new MemoryNetwork(); // two of our stacks on an in-memory Ethernet hub
 * const server = net.host('10.0.0.1');
 * const client = net.host('10.0.0.2');
 * createServer(server, { port: 7 }, (socket) => socket.pipe(socket)); // an echo server
 * const socket = connect(client, { host: '10.0.0.1', port: 7 });
 * socket.end('hello\n');
 * for await (const chunk of socket) process.stdout.write(chunk);
 * await net.close();
 * ```
 *
 * This file only gathers exports (and the two net-like helpers below); each layer's
 * code lives in its own folder under src/.
 *
 * @packageDocumentation
 */

import type { Host } from './host.js';
import type { TcpConnectOptions, TcpListenOptions } from './tcp/api.js';
import type { TcpServer, TcpSocket } from './tcp/index.js';

// ------------------------------------------------------------------ hosts
export { Host, createHost, type HostOptions } from './host.js';
export { MemoryNetwork, type MemoryHostOptions, type MemoryNetworkOptions } from './memory-network.js';
export { IpHost, type IpHostOptions } from './stack/ip-host.js';
export { RealClock, VirtualClock, type Clock, type Timer } from './stack/clock.js';
export { SeededRandom, SystemRandom, type Random } from './stack/random.js';
export { Counters } from './stack/counters.js';
export { createLogger, silentLogger, type Logger, type LogLevel } from './stack/log.js';
export { NetError } from './stack/net-error.js';
export { PingError, type PingErrorCode, type PingOptions, type PingReply } from './stack/ping.js';
export type { IcmpError } from './stack/network.js';
export type { NeighbourOptions } from './stack/neighbour.js';
export type { ReassemblyOptions } from './stack/reassembly.js';
export type { IcmpOptions } from './stack/icmp.js';
export { formatIpv4, formatMac, parseIpv4, parseMac, type Ipv4Address, type MacAddress } from './wire/address.js';

// ------------------------------------------------------------------ links
export { LinkDecorator, RX_CHECKSUM_BAD, RX_CHECKSUM_GOOD, RX_CHECKSUM_NOT_CHECKED, type Link, type LinkClock, type ReceiveHandler } from './link/link.js';
export { MemoryHub } from './link/memory.js';
export { TapLink, type TapOptions, type TapStats } from './link/tap.js';
export { CaptureLink, type CaptureOptions, type CaptureStats, type FrameCommenter } from './link/capture.js';
export {
  FaultLink,
  type FaultDirection,
  type FaultDirectionStats,
  type FaultOptions,
  type FaultProfile,
  type FaultRandom,
} from './link/faults.js';

// ------------------------------------------------------------------ transports
export { Tcp, TcpServer, TcpSocket, type TcpConfig, type TcpInfo, type TcpOptions, type TcpState } from './tcp/index.js';
export type {
  TcpAddressInfo,
  TcpApi,
  TcpConnectOptions,
  TcpListenOptions,
  TcpServerLike,
  TcpSocketLike,
} from './tcp/api.js';
export { Udp, UdpSocket, UDP_MAX_PAYLOAD, type UdpApi, type UdpRemoteInfo, type UdpSocketLike } from './udp/index.js';

// ------------------------------------------------------------------ DNS
export {
  DnsError,
  DnsResponder,
  Resolver,
  ZoneData,
  parseRecordArgument,
  parseZoneFile,
  type RecordWithTtl,
  type ResolveResult,
  type ResolverOptions,
  type ResponderOptions,
  type Zone,
} from './dns/index.js';
export type { DnsRecord, DnsRecordData } from './wire/dns-records.js';

// ------------------------------------------------------------------ FTP
export { FtpServer, type FtpServerOptions } from './ftp/server/server.js';
export type { ResolvedServerOptions } from './ftp/server/options.js';
export { UserDatabase, hashPassword, type FtpUser } from './ftp/server/users.js';
export {
  FtpClient,
  FtpConnectionError,
  FtpReplyError,
  FtpUsageError,
  parseFtpUrl,
  type DataMode,
  type DownloadOptions,
  type FtpClientOptions,
  type FtpUrl,
  type GetOptions,
  type GetResult,
  type PutOptions,
  type PutResult,
  type TransferOptions,
  type TransferType,
} from './ftp/client/index.js';
export type { FtpReply } from './ftp/common/reply.js';
export type { ListEntry, ListEntryType } from './ftp/common/list-parse.js';

// ------------------------------------------------------------------ captures and diagrams
export { readCapture } from './wire/pcapng.js';
export type { CaptureFile, CapturedPacket, CaptureReadError, CaptureReadErrorKind, CaptureReadResult, PacketDirection, TimestampResolution } from './wire/pcap.js';
export type { ParseResult } from './wire/result.js';
export {
  buildSession,
  createFrameExplainer,
  type AddFrame,
  type Column,
  type Endpoint,
  type MessageKind,
  type Participant,
  type Role,
  type SessionMessage,
  type SessionModel,
  type TimelineItem,
  type Transport,
} from './trace/session.js';
export type { HeaderLayer } from './trace/dissect.js';
export { renderText, type TextOptions } from './trace/render-text.js';
export { renderMermaid } from './trace/render-mermaid.js';
export { renderHtml, type HtmlOptions } from './trace/render-html.js';
export {
  StateRecorder,
  type ConnectionLookup,
  type ConnectionTrace,
  type StateSample,
  type TcpStateInfo,
  type TracedHost,
} from './trace/state-trace.js';

// ------------------------------------------------------------------ net-like helpers

/**
 * Listen for TCP connections on `host`, like `net.createServer(onConnection).listen(port)`.
 *
 * Unlike `net`, the port is bound at once (a table lookup in a userspace stack): a port
 * in use throws a {@link NetError} with code `EADDRINUSE` here, and `'listening'` still
 * follows on the next tick for code written against `net`.
 *
 * @param host - the host whose TCP listens (its address is the server's address)
 * @param options - a port number, or the full listen options (`port: 0` picks a free one)
 * @param onConnection - added as a `'connection'` listener; each socket is a {@link TcpSocket}
 */
export function createServer(host: Host, options: number | TcpListenOptions, onConnection?: (socket: TcpSocket) => void): TcpServer {
  const listen = typeof options === 'number' ? { port: options } : options;
  // Our Tcp hands out its own classes; TcpApi types them by the interfaces that ftp/
  // and dns/ need, so a user of the concrete host gets the concrete types back.
  return host.tcp.listen(listen, onConnection as ((socket: unknown) => void) | undefined) as TcpServer;
}

/**
 * Open a TCP connection from `host`, like `net.connect({ host, port }, onConnect)`.
 * The socket is a `stream.Duplex`; failures (`ECONNREFUSED`, `ETIMEDOUT`, ...) arrive
 * as its `'error'` event.
 *
 * @param host - the host whose TCP connects (the source address)
 * @param options - `host` is the peer's dotted-quad address (resolve names first, with {@link Resolver})
 * @param onConnect - added as a `'connect'` listener
 */
export function connect(host: Host, options: TcpConnectOptions, onConnect?: () => void): TcpSocket {
  return host.tcp.connect(options, onConnect) as TcpSocket;
}
