import type { Command } from 'commander';
import { register as demo } from './demo.js';
import { register as diagram } from './diagram.js';
import { register as trace } from './trace.js';
import { register as ping } from './ping.js';
import { register as resolve } from './resolve.js';
import { register as dnsServer } from './dns-server.js';
import { register as up } from './up.js';
import { register as ftpServer } from './ftp-server.js';
import { register as ftp } from './ftp.js';
import { register as nc } from './nc.js';
import { register as netns } from './netns.js';

/** Each command lives in its own file and exports `register(program)`; list it here. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  demo,
  up,
  ping,
  ftpServer,
  diagram,
  trace,
  resolve,
  dnsServer,
  ftp,
  nc,
  netns,
];
