// HTTP GET from our stack to the Linux kernel's: python3's http.server listens in a
// network namespace that this program creates (and deletes), behind a TAP device that
// our stack drives. Needs root (CAP_NET_ADMIN). Run it: sudo node examples/http-get-tap.mjs
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { TapLink, connect, createHost } from 'tapstack';

if (process.getuid?.() !== 0) {
  console.error('http-get-tap: needs root (CAP_NET_ADMIN) to make a namespace and a TAP device');
  process.exit(2);
}
const ns = `tapstack-example-${process.pid}`;
const dev = `tapex${process.pid % 1_000_000}`; // device names have at most 15 characters
const ip = (...args) => execFileSync('ip', args);
ip('netns', 'add', ns);
// Delete the namespace (and with it the device and the server) however we leave.
process.once('exit', () => ip('netns', 'delete', ns));
process.once('SIGINT', () => process.exit(130));

const link = TapLink.open({ name: dev }); // made by this process; our file descriptor...
ip('link', 'set', dev, 'netns', ns); // ...keeps working when the kernel's side moves away
ip('-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', dev);
ip('-n', ns, 'link', 'set', dev, 'up');
const server = spawn('ip', ['netns', 'exec', ns, 'python3', '-u', '-m', 'http.server', '--bind', '10.0.0.1', '8000'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
await once(server.stdout, 'data'); // "Serving HTTP on 10.0.0.1 port 8000 ..."

const host = createHost({ link, address: '10.0.0.2', prefixLength: 24 });
const socket = connect(host, { host: '10.0.0.1', port: 8000 });
socket.end('GET / HTTP/1.0\r\nHost: 10.0.0.1\r\n\r\n');
let response = '';
for await (const chunk of socket) response += chunk;
const [head, body = ''] = response.split('\r\n\r\n');
console.log(`${head}\n\n(${body.length} bytes of body from the kernel's TCP to ours)`);

server.kill();
await host.close();
