import { createWriteStream } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type { FtpClient } from '../ftp/client/client.js';
import type { Command } from 'commander';
import { safeLocalPath } from '../ftp/client/local-path.js';
import { addFtpOptions, checkFtpOptions, createClient, describeFailure, finishFtp, openUrl, progressBar, urlArg, type FtpCommonCliOptions } from './ftp-client-setup.js';
import { addHostOptions, startHost, usageError } from './common.js';

interface GetCliOptions extends FtpCommonCliOptions {
  output?: string;
  continue?: boolean;
}

/**
 * `tapstack get ftp://[user[:pass]@]host[:port]/path [-o FILE]`: one download, like
 * curl. Anonymous unless the URL has a user. The file appears under its name only
 * when complete; with -o - it goes to stdout.
 */
export function register(program: Command): void {
  addFtpOptions(
    addHostOptions(
      program
        .command('get')
        .description('download one file from an ftp:// URL with our stack')
        .argument('<url>', 'ftp://[user[:password]@]host[:port]/path (percent-encoded)')
        .option('-o, --output <file>', 'write to FILE (or - for stdout); default: the remote name in the current directory')
        .option('-C, --continue', 'resume a partial download (REST)')
        .option('-v, --verbose', 'show the protocol exchange on stderr'),
    ),
  )
    .addHelpText('after', '\nExample:\n  tapstack get ftp://ftp.any-domain.com/pub/readme.txt --tap tap0 --ip 192.168.0.2/24 --dns 192.168.0.1')
    .action(async (urlText: string, opts: GetCliOptions) => {
      const url = urlArg(urlText);
      const config = checkFtpOptions(opts, 'passive');
      const listing = url.type === 'D';
      if (url.isDirectory && !listing) usageError(`get: ${urlText} names a directory, not a file (;type=d lists it)`);
      // RFC 1738 3.2.2: ;type=d lists the directory (NLST), to stdout unless -o says where.
      const toStdout = opts.output === '-' || (listing && opts.output === undefined);
      let target: string | undefined;
      if (!toStdout) {
        try {
          target = opts.output !== undefined ? path.resolve(opts.output) : safeLocalPath(process.cwd(), url.path);
        } catch (err) {
          usageError((err as Error).message);
        }
      }
      const run = startHost(opts);
      // Binary unless the URL says ;type=a (RFC 1738 3.2.2).
      const client = createClient(run, config, url.type === 'A' ? 'A' : 'I');
      let bar = toStdout ? undefined : progressBar(path.basename(url.path), run.clock.now(), run.clock);
      let code = 0;
      try {
        await openUrl(client, url, opts.verbose === true);
        const onProgress = (bytes: number, total: number | undefined) => bar?.update(bytes, total);
        if (listing) await listNames(client, url.path, toStdout ? process.stdout : createWriteStream(target!));
        else if (toStdout) await client.download(url.path, process.stdout, { onProgress, end: false });
        else await client.get(url.path, target, { onProgress, resume: opts.continue === true });
      } catch (err) {
        bar?.stop();
        bar = undefined;
        process.stderr.write(`tapstack: get ${urlText}: ${describeFailure(err)}\n`);
        code = 1;
      }
      bar?.stop();
      if (client.connected) await client.quit().catch(() => undefined);
      await finishFtp(run, code);
    });
}

/** ;type=d: the names in the directory (NLST), one a line. */
async function listNames(client: FtpClient, dir: string, out: Writable): Promise<void> {
  const names = await client.nlst(dir === '' ? undefined : dir);
  for (const n of names) out.write(`${n}\n`);
  if (out !== process.stdout) await new Promise<void>((resolve) => out.end(resolve));
}
