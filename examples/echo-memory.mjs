// TCP echo between two of our stacks on the in-memory wire: no TAP device, no root.
// Run it: npm run build && node examples/echo-memory.mjs (the README shows the same code)
import { MemoryNetwork, connect, createServer } from 'tapstack';

const net = new MemoryNetwork(); // two of our stacks on an in-memory Ethernet hub
const server = net.host('10.0.0.1');
const client = net.host('10.0.0.2');

createServer(server, { port: 7 }, (socket) => socket.pipe(socket)); // echo, like net.createServer

const socket = connect(client, { host: '10.0.0.1', port: 7 }); // a stream.Duplex, like net.connect
socket.end('hello over our own TCP\n'); // our FIN follows the data
for await (const chunk of socket) process.stdout.write(`echoed: ${chunk}`);

console.log(`the client closed first, so its socket waits in ${socket.state} (RFC 9293 3.6)`);
await net.close();
