import type { Probe } from '../probe.js';
import { handshakeProbes } from './handshake.js';

/** Every probe, in table order. A probe's position fixes its ports: append, do not reorder lightly. */
export const PROBES: Probe[] = [...handshakeProbes];
