#!/usr/bin/env node
import { Command } from 'commander';
import { commands } from './commands.js';

const program = new Command();
program
  .name('tapstack')
  .description('A userspace TCP/IP stack that runs FTP over a Linux TAP device')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  // Commander's own errors (unknown option, missing argument) exit with code 2.
  .exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      process.exit(0);
    }
    process.exit(2);
  });

// `tapstack ... | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

for (const register of commands) register(program);

await program.parseAsync(process.argv);
