import type { Ipv4Address, MacAddress } from '../wire/address.js';
import type { Clock } from './clock.js';
import type { Counters } from './counters.js';
import type { Logger } from './log.js';
import type { Random } from './random.js';

/**
 * What the layers of one host share: its addresses, the injected clock and
 * randomness, counters, and `transmit`, which queues a finished Ethernet frame for the
 * next `sendBatch` of the link (see IpHost for the batching rule).
 */
export interface StackServices {
  readonly mac: MacAddress;
  readonly address: Ipv4Address;
  readonly prefixLength: number;
  readonly clock: Clock;
  readonly random: Random;
  readonly counters: Counters;
  /** The host's root logger; each layer takes a child `{ layer }`. */
  readonly log: Logger;
  transmit(frame: Uint8Array): void;
}
