import path from 'node:path';
import type { FtpClient } from '../ftp/client/index.js';
import type { FtpReply } from '../ftp/common/reply.js';
import { DEMO_DIRECTORY, DEMO_FILE } from './served-tree.js';

export interface SeedSessionOptions {
  client: FtpClient;
  /** The name the client resolves (the seed: ftp.any-domain.com). */
  hostname: string;
  /** Anonymous login: user "ftp", an e-mail address as the password (the seed's). */
  user?: string;
  password?: string;
  /** Where readme.txt is written. */
  downloadDir: string;
  /** One line of console output. */
  print: (line: string) => void;
  /** Milliseconds since some origin, for the "bytes received in" line. */
  now: () => number;
}

export interface SeedSessionResult {
  listing: string;
  downloadedPath: string;
  downloadedBytes: number;
}

/**
 * The seed session, step by step, as a user would type it into BSD ftp with
 * verbose on: open, (login), dir, cd, get, bye. The client is in active mode, so
 * the server opens each data connection from its port 20 to the ports the client
 * announced with PORT (5001, then 5002), exactly as in the seed.
 */
export async function runSeedSession(options: SeedSessionOptions): Promise<SeedSessionResult> {
  const { client, print } = options;
  // BSD ftp -v: every command we send as "---> ...", every reply line as it came.
  // The listing arrives on the data connection before 226 closes the transfer, but the
  // library hands it over with the final reply: hold the closing reply back while a
  // listing is being received, so the console shows the order of the wire.
  let connected = false;
  let holdFinalReply = false;
  let transferStarted = false;
  const held: FtpReply[] = [];
  const onCommand = (line: string): void => print(`---> ${line}`);
  const onReply = (reply: FtpReply): void => {
    if (!connected) {
      connected = true;
      print(`Connected to ${options.hostname}.`);
    }
    if (holdFinalReply && reply.code < 200) transferStarted = true;
    if (holdFinalReply && transferStarted && reply.code >= 200) held.push(reply);
    else for (const line of reply.lines) print(line);
  };
  client.on('command', onCommand);
  client.on('reply', onReply);
  try {
    print(`ftp> open ${options.hostname}`);
    await client.connect(options.hostname);
    await client.login(options.user ?? 'ftp', options.password ?? 'abc@any-domain.com');

    print('ftp> dir');
    holdFinalReply = true;
    const listing = await client.listRaw();
    holdFinalReply = false;
    for (const line of listing.split(/\r?\n/)) if (line) print(line);
    for (const reply of held.splice(0)) for (const line of reply.lines) print(line);

    print(`ftp> cd ${DEMO_DIRECTORY}`);
    await client.cwd(DEMO_DIRECTORY);

    print(`ftp> get ${DEMO_FILE}`);
    print(`local: ${DEMO_FILE} remote: ${DEMO_FILE}`);
    const started = options.now();
    const result = await client.get(DEMO_FILE, path.join(options.downloadDir, DEMO_FILE), { type: 'A' });
    const seconds = Math.max(0.001, (options.now() - started) / 1000);
    print(`${result.bytes} bytes received in ${seconds.toFixed(3)} secs`);

    print('ftp> bye');
    await client.quit();
    return { listing, downloadedPath: result.path, downloadedBytes: result.bytes };
  } finally {
    client.off('command', onCommand);
    client.off('reply', onReply);
  }
}
