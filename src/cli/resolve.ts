import type { Command } from 'commander';
import { Resolver } from '../dns/resolver.js';
import { DnsType, formatIpv6, nameToLabels } from '../wire/dns.js';
import { formatIpv4 } from '../wire/address.js';
import { addHostOptions, checkDnsServerArgs, parseIntArg, startHost, stopHost, usageError, type HostCliOptions } from './common.js';

interface ResolveCliOptions extends HostCliOptions {
  dns: string[];
  verbose?: boolean;
  timeout?: string;
  tries?: string;
}

/**
 * `tapstack resolve NAME`: ask DNS servers for the IPv4 addresses of NAME with our own
 * UDP (and TCP for long answers), and print one address a line. With --verbose, the
 * CNAME chain and the server that answered go to stderr first.
 */
export function register(program: Command): void {
  addHostOptions(
    program
      .command('resolve')
      .description('resolve a name to IPv4 addresses with our stack (A query, CNAMEs followed)')
      .argument('<name>', 'domain name to resolve')
      .option('--dns <server>', 'DNS server IPv4[:port]; repeat for more (asked in order)', (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--timeout <ms>', 'first wait for an answer, doubled each round', '2000')
      .option('--tries <n>', 'rounds over the server list', '2')
      .option('-v, --verbose', 'show the CNAME chain, the TTL and the server that answered')
      .addHelpText('after', '\nExample:\n  tapstack resolve ftp.any-domain.com --tap tap0 --ip 10.0.0.2/24 --dns 10.0.0.1'),
  ).action(async (name: string, opts: ResolveCliOptions) => {
    if (nameToLabels(name) === null) usageError(`resolve: "${name}" is not a valid domain name`);
    if (opts.dns.length === 0) usageError('--dns SERVER is required (repeat it for more servers)');
    checkDnsServerArgs(opts.dns);
    const timeoutMs = parseIntArg('--timeout', opts.timeout ?? '2000', 1, 600_000);
    const tries = parseIntArg('--tries', opts.tries ?? '2', 1, 10);
    const run = startHost(opts);
    const { host } = run;
    let resolver: Resolver;
    try {
      resolver = new Resolver({ udp: host.udp, tcp: host.tcp, servers: opts.dns, clock: host.clock, random: host.random, counters: host.counters, timeoutMs, tries });
    } catch (err) {
      usageError(`--dns: ${(err as Error).message}`);
    }
    try {
      const result = await resolver.resolve(name, DnsType.A, 'queryA');
      if (opts.verbose) {
        for (let i = 0; i + 1 < result.chain.length; i++) process.stderr.write(`${result.chain[i]} is an alias for ${result.chain[i + 1]}\n`);
        process.stderr.write(`answer from ${result.source}, ttl ${result.ttl}s\n`);
      }
      for (const r of result.records) {
        if (r.data.kind === 'A') process.stdout.write(`${formatIpv4(r.data.address)}\n`);
        else if (r.data.kind === 'AAAA') process.stdout.write(`${formatIpv6(r.data.address)}\n`);
      }
      await stopHost(run, 0);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { reason?: string };
      const why = (e.reason ?? e.message).replace(/\s+/g, ' ');
      process.stderr.write(`tapstack: cannot resolve ${name}: ${why}${e.code ? ` (${e.code})` : ''}\n`);
      await stopHost(run, 1);
    }
  });
}
