import * as path from 'node:path';
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
      if (url.isDirectory) usageError(`get: ${urlText} names a directory, not a file`);
      const toStdout = opts.output === '-';
      let target: string | undefined;
      if (!toStdout) {
        try {
          target = opts.output !== undefined ? path.resolve(opts.output) : safeLocalPath(process.cwd(), url.path);
        } catch (err) {
          usageError((err as Error).message);
        }
      }
      const run = startHost(opts);
      const client = createClient(run, config, 'I');
      const bar = toStdout ? undefined : progressBar(path.basename(url.path));
      let code = 0;
      try {
        await openUrl(client, url, opts.verbose === true);
        const onProgress = (bytes: number, total: number | undefined) => bar?.update(bytes, total);
        if (toStdout) await client.download(url.path, process.stdout, { onProgress, end: false });
        else await client.get(url.path, target, { onProgress, resume: opts.continue === true });
      } catch (err) {
        bar?.stop();
        process.stderr.write(`tapstack: get ${urlText}: ${describeFailure(err)}\n`);
        code = 1;
      }
      bar?.stop();
      if (client.connected) await client.quit().catch(() => undefined);
      await finishFtp(run, code);
    });
}
