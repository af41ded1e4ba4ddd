import { verdict, type Probe } from '../probe.js';
import { describeOptions } from '../frames.js';
import { ACK, SYN, ackDesc, answerToSyn, bytes, flagNames, is, readSoFar } from './util.js';

/**
 * Malformed TCP headers and options. RFC 9293 3.1 (MUST-6/7 robustness): an option
 * list that is broken must not crash the receiver; Linux stops parsing at the broken
 * option and carries on with the segment, which is the expectation here.
 */

/** MSS 1460, then `tail`. */
const synWith = (tail: number[]): Uint8Array => Uint8Array.from([2, 4, 0x05, 0xb4, ...tail]);

function synProbe(name: string, tail: number[], what: string): Probe {
  return {
    name,
    rule: 'RFC 9293 3.1 (MUST-6/7), Linux tcp_parse_options',
    expected: `SYN,ACK (${what})`,
    async run(t) {
      const { s } = await answerToSyn(t, undefined, { rawOptions: synWith(tail) }, 1500);
      return verdict(is(s, SYN | ACK), `${flagNames(s)}${s ? describeOptions(s.options) : ''}`);
    },
  };
}

export const malformedProbes: Probe[] = [
  synProbe('SYN: option with length 0', [99, 0, 1, 1], 'parsing stops at the option'),
  synProbe('SYN: option with length 1', [99, 1, 1, 1], 'parsing stops at the option'),
  synProbe('SYN: option running past the header', [8, 10, 0, 0], 'timestamps cut short'),
  synProbe('SYN: MSS option of length 3', [1, 2, 3, 0x05, 4, 2], 'the bad MSS ignored'),
  {
    name: 'data with a malformed option',
    rule: 'RFC 9293 3.1 (MUST-6/7), Linux tcp_parse_options',
    expected: 'data acknowledged and delivered',
    async run(t) {
      const { peer } = await t.established();
      peer.data(bytes(100), { rawOptions: Uint8Array.from([1, 1, 99, 0]) });
      const s = await peer.next(1500, (x) => (x.flags & ACK) !== 0);
      const got = await readSoFar(t, (r) => r.bytes >= 100);
      return verdict(s !== undefined && s.ack === peer.sndNxt && got.bytes === 100, `${ackDesc(peer, s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'data offset below 5',
    rule: 'RFC 9293 3.1',
    expected: 'dropped: no ACK, nothing read',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ payload: bytes(100), dataOffsetWords: 4 });
      const s = await peer.next(800);
      const got = await readSoFar(t);
      return verdict(s === undefined && got.bytes === 0, `${flagNames(s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'data offset beyond the segment',
    rule: 'RFC 9293 3.1',
    expected: 'dropped: no ACK, nothing read',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ payload: bytes(8), dataOffsetWords: 15, options: {} });
      const s = await peer.next(800);
      const got = await readSoFar(t);
      return verdict(s === undefined && got.bytes === 0, `${flagNames(s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'data with a bad TCP checksum',
    rule: 'RFC 9293 3.1 (MUST-2/3: verify checksum)',
    expected: 'dropped: no ACK, nothing read',
    async run(t) {
      const { peer } = await t.established();
      peer.send({ payload: bytes(100), badChecksum: true });
      const s = await peer.next(800);
      const got = await readSoFar(t);
      return verdict(s === undefined && got.bytes === 0, `${flagNames(s)}, ${got.bytes} bytes read`);
    },
  },
  {
    name: 'SYN with a bad TCP checksum',
    rule: 'RFC 9293 3.1 (MUST-2/3)',
    expected: 'dropped: no SYN,ACK',
    async run(t) {
      const { s } = await answerToSyn(t, undefined, { badChecksum: true }, 1000);
      return verdict(s === undefined, flagNames(s));
    },
  },
];
