export type { UdpApi, UdpRemoteInfo, UdpSocketLike } from './api.js';
export { UdpSocket, UDP_MAX_PAYLOAD } from './socket.js';
export { Udp, EPHEMERAL_FIRST, EPHEMERAL_LAST } from './udp.js';
