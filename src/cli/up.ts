import type { Command } from 'commander';
import { addHostOptions, describeHost, runUntilSignal, startHost, type HostCliOptions } from './common.js';

/**
 * `tapstack up`: run a host on a TAP device that answers ARP and ping until SIGINT or
 * SIGTERM. The smallest useful stack: try `ping` from the kernel side.
 */
export function register(program: Command): void {
  addHostOptions(
    program
      .command('up')
      .description('run a host on a TAP device that answers ARP and ping, until Ctrl-C')
      .addHelpText('after', '\nExample:\n  tapstack up --tap tap0 --ip 10.0.0.2/24 --pcap up.pcapng --stats'),
  ).action(async (opts: HostCliOptions) => {
    const run = startHost(opts);
    process.stdout.write(`tapstack up: ${describeHost(run)}${run.config.pcap ? `, capture ${run.config.pcap}` : ''} (Ctrl-C to stop)\n`);
    await runUntilSignal(run);
  });
}
