import { describe, expect, it } from 'vitest';
import { dissect } from '../../../src/trace/dissect.js';
import { CLIENT, SERVER, udp } from './frames.js';

// Ethernet (14) + IPv4 (20): the UDP checksum field sits at bytes 40-41 of the frame.
const UDP_CHECKSUM_AT = 14 + 20 + 6;

describe('dissect', () => {
  it('decodes a UDP datagram whose checksum does not verify (offloaded on the sender), without changing the capture', () => {
    const frame = udp(CLIENT, SERVER, 40000, 53, new Uint8Array([1, 2, 3, 4]));
    frame[UDP_CHECKSUM_AT] ^= 0xff;
    const before = Uint8Array.from(frame);
    const d = dissect(frame);
    expect(d.kind).toBe('udp');
    if (d.kind !== 'udp') return;
    expect(d.checksumOk).toBe(false);
    // The header shows the checksum as captured, and the caller's bytes are untouched.
    expect(d.udp.checksum).toBe((frame[UDP_CHECKSUM_AT]! << 8) | frame[UDP_CHECKSUM_AT + 1]!);
    expect([...d.payload]).toEqual([1, 2, 3, 4]);
    expect(frame).toEqual(before);
  });

  it('marks a datagram whose checksum verifies as such', () => {
    const d = dissect(udp(CLIENT, SERVER, 40000, 53, new Uint8Array([9])));
    expect(d.kind === 'udp' && d.checksumOk).toBe(true);
  });
});
