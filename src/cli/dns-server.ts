import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DnsResponder } from '../dns/responder.js';
import { ZoneData, parseRecordArgument, parseZoneFile } from '../dns/zone.js';
import { formatIpv4 } from '../wire/address.js';
import { addHostOptions, fatal, runUntilSignal, startHost, usageError, type HostCliOptions } from './common.js';

interface DnsServerCliOptions extends HostCliOptions {
  record: string[];
  zone?: string;
}

/**
 * `tapstack dns-server`: an authoritative DNS server on UDP and TCP port 53 of our
 * stack, serving --record NAME=IPV4 entries and/or a zone file (format: src/dns/zone.ts).
 * Serves until SIGINT/SIGTERM.
 */
export function register(program: Command): void {
  addHostOptions(
    program
      .command('dns-server')
      .description('serve A/CNAME/MX/TXT/NS records authoritatively on port 53 of our stack')
      .option('--record <name=ipv4>', 'an A record; repeat for more (its parent domain becomes a zone)', (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--zone <file>', 'a zone file ($ORIGIN, $TTL, NAME [TTL] TYPE DATA lines)')
      .addHelpText('after', '\nExample:\n  tapstack dns-server --tap tap0 --ip 10.0.0.53/24 --record ftp.any-domain.com=10.0.0.21'),
  ).action(async (opts: DnsServerCliOptions) => {
    const zones = new ZoneData();
    for (const text of opts.record) {
      const rec = parseRecordArgument(text);
      if (typeof rec === 'string') usageError(rec);
      zones.add(rec);
    }
    if (opts.zone !== undefined) {
      let text: string;
      try {
        text = readFileSync(opts.zone, 'utf8');
      } catch (err) {
        usageError(`--zone: cannot read ${opts.zone}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const errors = parseZoneFile(text, zones);
      if (errors.length > 0) usageError(`--zone ${opts.zone}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`);
    }
    if (zones.zones.length === 0) usageError('nothing to serve: give --record NAME=IPV4 or --zone FILE');
    const run = startHost(opts);
    const { host } = run;
    const responder = new DnsResponder({ zones, udp: host.udp, tcp: host.tcp, clock: host.clock, counters: host.counters, log: run.log.child({ layer: 'dns' }) });
    try {
      responder.start();
    } catch (err) {
      fatal(`cannot serve DNS: ${(err as Error).message}`);
    }
    const origins = zones.zones.map((z) => z.origin || '.').join(', ');
    process.stderr.write(`serving ${zones.recordCount} records for ${origins} on ${formatIpv4(host.address)} port 53 (UDP, TCP)\n`);
    await runUntilSignal(run);
  });
}
