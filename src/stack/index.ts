/** The host layers (below the transports). */
export { IpHost, type IpHostOptions } from './ip-host.js';
export { PingError, type PingOptions, type PingReply } from './ping.js';
export type { NeighbourOptions, NeighbourSnapshot } from './neighbour.js';
export type { ReassemblyOptions } from './reassembly.js';
export type { IcmpOptions } from './icmp.js';
