import { describe, expect, it } from 'vitest';
import {
  PLAIN_VIRTIO_NET_HEADER,
  VIRTIO_NET_HDR_LEN,
  parseVirtioNetHeader,
  tcpSuperFrame,
  writeVirtioNetHeader,
  type VirtioNetHeader,
} from '../../../src/wire/virtio-net.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/ /g, ''), 'hex'));

// What the Linux kernel (6.18) put before a TCP super-frame that it sent to a TAP
// opened with IFF_VNET_HDR and TUN_F_CSUM|TUN_F_TSO4 (read with python3 from such a
// device, bulk TCP between two namespaces): checksum to finish, TCP/IPv4, 66 header bytes
// (14 Ethernet + 20 IP + 32 TCP with timestamps), 1448 bytes per segment, checksum
// from byte 34 (the TCP header), its field 16 bytes further on.
const KERNEL_TSO = hex('01 01 4200 a805 2200 1000');
const KERNEL_TSO_FIELDS: VirtioNetHeader = {
  needsChecksum: true,
  dataValid: false,
  gsoType: 'tcpv4',
  ecn: false,
  headerLength: 66,
  gsoSize: 1448,
  checksumStart: 34,
  checksumOffset: 16,
};

describe('wire/virtio-net (struct virtio_net_hdr)', () => {
  it('is 10 bytes', () => {
    expect(VIRTIO_NET_HDR_LEN).toBe(10);
  });

  it("reads the kernel's header of a TSO super-frame (little-endian fields)", () => {
    const r = parseVirtioNetHeader(KERNEL_TSO);
    expect(r).toEqual({ ok: true, value: KERNEL_TSO_FIELDS });
  });

  it('writes the same fields back byte for byte, at an offset', () => {
    const out = new Uint8Array(2 + VIRTIO_NET_HDR_LEN).fill(0xee);
    writeVirtioNetHeader(out, 2, KERNEL_TSO_FIELDS);
    expect(Buffer.from(out).toString('hex')).toBe('eeee' + Buffer.from(KERNEL_TSO).toString('hex'));
  });

  it('encodes DATA_VALID, ECN and the other GSO types', () => {
    const out = new Uint8Array(VIRTIO_NET_HDR_LEN);
    writeVirtioNetHeader(out, 0, { ...PLAIN_VIRTIO_NET_HEADER, dataValid: true, gsoType: 'tcpv6', ecn: true, gsoSize: 0x1234 });
    expect(Buffer.from(out).toString('hex')).toBe('02840000341200000000');
    writeVirtioNetHeader(out, 0, { ...PLAIN_VIRTIO_NET_HEADER, gsoType: 'udp' });
    expect(out[1]).toBe(3);
  });

  it('a plain header is ten zero bytes, and parses as nothing to do', () => {
    const out = new Uint8Array(VIRTIO_NET_HDR_LEN).fill(0xff);
    writeVirtioNetHeader(out, 0, PLAIN_VIRTIO_NET_HEADER);
    expect([...out]).toEqual(new Array(10).fill(0));
    expect(parseVirtioNetHeader(out)).toEqual({ ok: true, value: PLAIN_VIRTIO_NET_HEADER });
  });

  it('refuses a short buffer and an unknown gso_type', () => {
    expect(parseVirtioNetHeader(KERNEL_TSO.subarray(0, 9))).toEqual({ ok: false, error: 'truncated' });
    expect(parseVirtioNetHeader(KERNEL_TSO, 1)).toEqual({ ok: false, error: 'truncated' });
    expect(parseVirtioNetHeader(hex('00 02 0000 0000 0000 0000'))).toEqual({ ok: false, error: 'unknown_gso_type' });
  });
});

describe('tcpSuperFrame: what the kernel is told about a TCP frame longer than the MTU', () => {
  /** Ethernet + IPv4 (20 bytes) + TCP with `tcpHeader` bytes + `payload` bytes. */
  function tcpFrame(payload: number, tcpHeader = 32, protocol = 6): Uint8Array {
    const f = new Uint8Array(14 + 20 + tcpHeader + payload);
    f.set([0x08, 0x00], 12);
    f[14] = 0x45;
    const total = 20 + tcpHeader + payload;
    f.set([total >> 8, total & 0xff], 16);
    f[14 + 9] = protocol;
    f[14 + 20 + 12] = (tcpHeader / 4) << 4;
    return f;
  }

  it('gives hdr_len and gso_size (MTU less IP and TCP headers) of a super-frame', () => {
    expect(tcpSuperFrame(tcpFrame(42 * 1448), 1500)).toEqual({ headerLength: 66, segmentSize: 1448, payload: 60816, tcpStart: 34 });
    expect(tcpSuperFrame(tcpFrame(3000, 20), 1500)).toEqual({ headerLength: 54, segmentSize: 1460, payload: 3000, tcpStart: 34 });
  });

  it('leaves frames that fit the MTU, and non-TCP frames, alone', () => {
    expect(tcpSuperFrame(tcpFrame(1448), 1500)).toBeUndefined(); // exactly 1500 bytes of IP
    expect(tcpSuperFrame(tcpFrame(5000, 32, 17), 1500)).toBeUndefined();
    const arp = tcpFrame(5000);
    arp.set([0x08, 0x06], 12);
    expect(tcpSuperFrame(arp, 1500)).toBeUndefined();
  });
});
