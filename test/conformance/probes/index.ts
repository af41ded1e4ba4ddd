import type { Probe } from '../probe.js';
import { acceptabilityProbes } from './acceptability.js';
import { arpProbes } from './arp.js';
import { closeProbes } from './close.js';
import { handshakeProbes } from './handshake.js';
import { icmpProbes } from './icmp.js';
import { ipv4Probes } from './ipv4.js';
import { malformedProbes } from './malformed.js';
import { pawsProbes } from './paws.js';
import { retransmitProbes } from './retransmit.js';
import { sackProbes } from './sack.js';
import { segmentProbes } from './segments.js';
import { windowProbes } from './window.js';

/** Every probe, in table order (a probe's position fixes its ports). */
export const PROBES: Probe[] = [
  ...handshakeProbes,
  ...acceptabilityProbes,
  ...windowProbes,
  ...pawsProbes,
  ...sackProbes,
  ...closeProbes,
  ...retransmitProbes,
  ...segmentProbes,
  ...icmpProbes,
  ...malformedProbes,
  ...ipv4Probes,
  ...arpProbes,
];
