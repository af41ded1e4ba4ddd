import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { runDemo, type DemoResult } from '../demo/index.js';
import { createLogger } from '../stack/log.js';
import { formatEndpoint, messageTitle, type SessionMessage } from '../trace/session.js';
import { formatIpv4 } from '../wire/address.js';
import { fatal, parseIntArg, parseLogLevelArg, parseNumberArg } from './common.js';

interface DemoCliOptions {
  link?: 'tap' | 'memory';
  out: string;
  loss?: string;
  reorder?: string;
  seed: string;
  open: boolean;
  explain?: boolean;
  logLevel: string;
}

/** TAP devices need CAP_NET_ADMIN and /dev/net/tun; without them the demo runs in memory. */
function canUseTap(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  return undefined;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the seed FTP session between two userspace stacks and draw it (capture + sequence diagram)')
    .addOption(new Option('--link <kind>', 'tap (two TAP devices in the tapstack-demo namespace) or memory').choices(['tap', 'memory']))
    .option('--out <dir>', 'where the capture and diagrams go', 'tapstack-demo')
    .option('--loss <p>', 'drop frames on the client link with probability p (0..0.5)')
    .option('--reorder <p>', 'reorder frames on the client link with probability p (0..0.5)')
    .option('--seed <n>', 'seed for ISNs, ports, DNS IDs and faults', '1')
    .option('--no-open', 'do not open session.html in a browser')
    .option('--explain', 'after the session, walk through every frame: who sent it and why, and the counters')
    .option('--log-level <level>', 'stack logs on stderr', 'silent')
    .action(async (opts: DemoCliOptions) => {
      const loss = opts.loss === undefined ? 0 : parseNumberArg('--loss', opts.loss, 0, 0.5);
      const reorder = opts.reorder === undefined ? 0 : parseNumberArg('--reorder', opts.reorder, 0, 0.5);
      const seed = parseIntArg('--seed', opts.seed, 0, 0xffffffff);
      const log = createLogger(parseLogLevelArg(opts.logLevel));

      let link = opts.link;
      const noTap = canUseTap();
      if (link === undefined) {
        link = noTap ? 'memory' : 'tap';
        if (noTap) process.stderr.write(`tapstack demo: ${noTap}, so the session runs over the in-memory link (run as root for TAP devices)\n`);
      } else if (link === 'tap' && noTap) {
        fatal(`--link tap: ${noTap} (CAP_NET_ADMIN is needed to create TAP devices); try --link memory`, 2);
      }

      // Ctrl-C: unwind through runDemo's finally blocks (namespace, devices, capture).
      let interrupted = false;
      const onSignal = (): void => {
        if (interrupted) process.exit(130);
        interrupted = true;
        process.stderr.write('\ntapstack demo: interrupted, cleaning up\n');
        process.exitCode = 130;
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);

      let result: DemoResult;
      try {
        result = await runDemo({
          link,
          outDir: opts.out,
          loss,
          reorder,
          seed,
          // TAP runs on the real clock: real times. The memory demo runs on a virtual
          // clock from a fixed epoch, so the same seed writes the same files.
          epochMs: link === 'tap' ? Date.now() : undefined,
          print: (line) => process.stdout.write(`${line}\n`),
          log,
        });
      } catch (err) {
        fatal(`demo failed: ${(err as Error).message}`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }

      if (opts.explain) printExplanation(result);
      const rel = (p: string): string => path.relative(process.cwd(), p) || p;
      process.stdout.write(
        [
          '',
          `The session ran over the ${link === 'tap' ? 'TAP devices of namespace tapstack-demo (removed again)' : 'in-memory link'}.`,
          `  ${rel(result.files.pcapng).padEnd(36)} every frame, each with a comment (open it in Wireshark)`,
          `  ${rel(result.files.text).padEnd(36)} the sequence diagram in the seed's form`,
          `  ${rel(result.files.mermaid).padEnd(36)} the same as a Mermaid sequenceDiagram`,
          `  ${rel(result.files.html).padEnd(36)} the same as a page; click a message for its headers and both TCPs' state`,
          `  ${rel(result.files.state).padEnd(36)} each TCP's own state at every frame (cwnd, RTO, SND.UNA...; see tapstack trace)`,
          `  ${rel(result.files.download).padEnd(36)} the downloaded file (${result.downloadMatches ? 'identical to the served one' : 'DIFFERS from the served one'})`,
          '',
        ].join('\n'),
      );
      if (!result.downloadMatches) process.exitCode = 1;
      if (opts.open) openInBrowser(result.files.html);
    });
}

/** Which layer sent each frame and why, then what each host's layers counted. */
function printExplanation(result: DemoResult): void {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  out('');
  out('How the session went, frame by frame (frame numbers as in Wireshark):');
  for (const item of result.model.items) {
    if (item.type === 'section') out(`\n== ${item.title}`);
    else if (item.type === 'step') out(`  -- ${item.title}`);
    else {
      const m = item.message;
      const host = m.from.address === result.client.address ? 'client' : 'server';
      out(`  #${String(m.frame).padEnd(4)} ${formatEndpoint(m.from)} -> ${formatEndpoint(m.to)}  ${messageTitle(m)}`);
      out(`         fields: ${m.fields}`);
      out(`         sent by the ${host}: ${senderOf(m)}`);
      if (m.explanation) out(`         why: ${m.explanation}`);
    }
  }
  for (const [name, host] of [['client', result.client], ['server', result.server]] as const) {
    out(`\nCounters of the ${name} host (${formatIpv4(host.address)}):`);
    out(host.counters.format().replace(/^/gm, '  '));
  }
}

/** Which part of our stack produced a message, named by its source file and rule. */
function senderOf(m: SessionMessage): string {
  const name = m.name;
  if (name === 'DNS Query') return 'the resolver (src/dns/resolver.ts), in a UDP datagram (src/udp) from a fresh random port';
  if (name === 'DNS Response') return 'the DNS responder (src/dns/responder.ts), answering over UDP';
  if (m.labels.some((l) => /Retransmission/i.test(l))) return 'TCP (src/tcp), resending data that was not acknowledged in time (RFC 6298, RFC 5681)';
  if (/^FTP \d{3}/.test(name)) return 'the FTP server session (src/ftp/server/session.ts) wrote this reply; TCP sent it as data';
  if (name.startsWith('FTP DATA')) {
    const fin = name.endsWith('+FIN') ? '; end() came with the last write, so the FIN rides on this segment' : '';
    return `the data transfer (src/ftp/server/transfers.ts) wrote it; TCP (src/tcp) cut it into MSS-sized segments${fin}`;
  }
  if (m.kind === 'ftp-control' && !name.startsWith('TCP')) return 'the FTP client (src/ftp/client) wrote this command; TCP sent it as data';
  if (name === 'TCP SYN') return 'TCP (src/tcp/connection.ts): connect() opened the connection, active OPEN (RFC 9293 3.10.1)';
  if (name === 'TCP SYN+ACK') return 'TCP: a listening socket answered the SYN (RFC 9293 3.10.7.2)';
  if (name.startsWith('TCP FIN')) return 'TCP: the application called end() (or destroy after close), CLOSE (RFC 9293 3.10.4)';
  if (name.startsWith('TCP ACK')) return 'TCP: acknowledges what arrived, at once or after the delayed-ACK timer (RFC 9293 3.10.7.4, RFC 1122 4.2.3.2)';
  return `${m.kind === 'dns' || m.kind === 'udp' ? 'UDP' : 'TCP'} (src/${m.kind === 'dns' || m.kind === 'udp' ? 'udp' : 'tcp'})`;
}

/** Open the page in the desktop's browser when there is a desktop; never fail the demo over it. */
function openInBrowser(file: string): void {
  if (!process.stdout.isTTY || !(process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) return;
  if (spawnSync('sh', ['-c', 'command -v xdg-open'], { stdio: 'ignore' }).status !== 0) return;
  const child = spawn('xdg-open', [file], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
}
