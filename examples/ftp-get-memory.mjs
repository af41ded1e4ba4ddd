// FTP get in ten lines: our FTP client downloads a file from our FTP server, each on
// its own stack, over the in-memory wire. Run it: node examples/ftp-get-memory.mjs [FILE]
import { FtpClient, FtpServer, MemoryNetwork } from 'tapstack';

const net = new MemoryNetwork();
const server = net.host('10.0.0.1');
const client = net.host('10.0.0.2');
await new FtpServer({ tcp: server.tcp, clock: net.clock, root: process.cwd() }).listen(); // this folder, read-only
const ftp = new FtpClient({ tcp: client.tcp, clock: net.clock });
await ftp.connect('10.0.0.1');
await ftp.login(); // anonymous
const got = await ftp.get(process.argv[2] ?? 'package.json', 'downloaded.tmp');
console.log(`${got.bytes} bytes into ${got.path}`);
await ftp.quit();
await net.close();
