import * as path from 'node:path';
import type { Command } from 'commander';
import { FtpReplyError } from '../ftp/client/errors.js';
import { safeLocalPath } from '../ftp/client/local-path.js';
import { parseFtpUrl, type FtpUrl } from '../ftp/client/url.js';
import { addFtpOptions, checkFtpOptions, createClient, finishFtp, progressBar, type FtpCommonCliOptions } from './ftp.js';
import { addHostOptions, startHost, usageError } from './common.js';

interface GetCliOptions extends FtpCommonCliOptions {
  output?: string;
  continue?: boolean;
}

/** Parse an ftp:// URL argument, exiting 2 (one line) when it is not one. */
export function urlArg(text: string): FtpUrl {
  try {
    return parseFtpUrl(text);
  } catch (err) {
    usageError((err as Error).message);
  }
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
      checkFtpOptions(opts);
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
      const client = createClient(run, opts, opts.active ? 'active' : 'passive', 'I');
      if (opts.verbose) {
        client.on('command', (l: string) => process.stderr.write(`---> ${l}\n`));
        client.on('reply', (r: { lines: string[] }) => process.stderr.write(`${r.lines.join('\n')}\n`));
      }
      const bar = toStdout ? undefined : progressBar(path.basename(url.path));
      let code = 0;
      try {
        await client.connect(url.host, url.port);
        await client.login(url.user ?? 'anonymous', url.password ?? (url.user === undefined ? 'guest@' : ''));
        const onProgress = (bytes: number, total: number | undefined) => bar?.update(bytes, total);
        if (toStdout) await client.download(url.path, process.stdout, { onProgress, end: false });
        else await client.get(url.path, target, { onProgress, resume: opts.continue === true });
      } catch (err) {
        bar?.stop();
        process.stderr.write(`tapstack: get ${urlText}: ${describe(err)}\n`);
        code = 1;
      }
      bar?.stop();
      if (client.connected) await client.quit().catch(() => undefined);
      await finishFtp(run, code);
    });
}

export function describe(err: unknown): string {
  if (err instanceof FtpReplyError) return `${err.code} ${err.text.replace(/\n/g, ' ')}`;
  return (err as Error).message ?? String(err);
}
