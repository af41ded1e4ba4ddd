import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { addFtpOptions, checkFtpOptions, createClient, describeFailure, finishFtp, openUrl, progressBar, urlArg, type FtpCommonCliOptions } from './ftp-client-setup.js';
import { addHostOptions, startHost, usageError } from './common.js';

interface PutCliOptions extends FtpCommonCliOptions {
  append?: boolean;
  continue?: boolean;
}

/**
 * `tapstack put FILE ftp://[user[:pass]@]host[:port]/dir/[name]`: one upload. A URL
 * ending in '/' names a directory: the file keeps its local name there.
 */
export function register(program: Command): void {
  addFtpOptions(
    addHostOptions(
      program
        .command('put')
        .description('upload one file to an ftp:// URL with our stack')
        .argument('<file>', 'local file to send')
        .argument('<url>', 'ftp://[user[:password]@]host[:port]/dir/[name] (percent-encoded)')
        .option('-a, --append', 'append to the remote file (APPE)')
        .option('-C, --continue', 'resume a partial upload (SIZE, then APPE of the rest)')
        .option('-v, --verbose', 'show the protocol exchange on stderr'),
    ),
  )
    .addHelpText('after', '\nExample:\n  tapstack put notes.txt ftp://alice:secret@192.168.0.1/upload/ --tap tap0 --ip 192.168.0.2/24')
    .action(async (file: string, urlText: string, opts: PutCliOptions) => {
      const url = urlArg(urlText);
      const config = checkFtpOptions(opts, 'passive');
      if (url.type === 'D') usageError(`put: ${urlText}: ;type=d lists a directory, it cannot receive a file`);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st?.isFile()) usageError(`put: ${file}: no such file`);
      const remote = url.isDirectory ? `${url.path}${path.basename(file)}` : url.path;
      const run = startHost(opts);
      // Binary unless the URL says ;type=a (RFC 1738 3.2.2).
      const client = createClient(run, config, url.type === 'A' ? 'A' : 'I');
      const bar = progressBar(path.basename(file), run.clock.now(), run.clock);
      let code = 0;
      try {
        await openUrl(client, url, opts.verbose === true);
        await client.put(file, remote, {
          append: opts.append === true,
          resume: opts.continue === true,
          onProgress: (bytes) => bar?.update(bytes, st.size),
        });
      } catch (err) {
        process.stderr.write(`tapstack: put ${file}: ${describeFailure(err)}\n`);
        code = 1;
      }
      bar?.stop();
      if (client.connected) await client.quit().catch(() => undefined);
      await finishFtp(run, code);
    });
}
