import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../src/wire/address.js';
import {
  encodeTcp,
  encodeTcpOptions,
  formatTcpFlags,
  parseTcp,
  parseTcpOptions,
  setTcpChecksum,
  TcpFlags,
  tcpOptionsLength,
} from '../../../src/wire/tcp.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

// A SYN sent by Linux 6.x (python3 create_connection) out of a TAP device, read by
// our own process: the kernel completed the checksum, so it verifies. 10.9.0.1 -> 10.9.0.2.
const LINUX_SYN_FRAME = hex(
  '020000000002de66a528d85908004500003c07ce400040061eda0a0900010a090002' +
    'd7b81389bfd1e17600000000a002faf0c7cf0000020405b40402080a418fa30e000000000103030a',
);
const SYN_TCP = LINUX_SYN_FRAME.subarray(34);
const A = parseIpv4('10.9.0.1')!;
const B = parseIpv4('10.9.0.2')!;

// Linux data segment captured on a veth pair (checksum left partial by offload, so
// only the fields are pinned): ACK+PSH with timestamps and "hello\n".
const LINUX_DATA = hex('977e1389350049f118075b6d8018004014400000' + '0101080ae9c97888da126044' + '68656c6c6f0a');

describe('wire/tcp parse', () => {
  it('parses a real Linux SYN and verifies its checksum', () => {
    const r = parseTcp(SYN_TCP, { src: A, dst: B });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const h = r.value.header;
    expect(h.srcPort).toBe(0xd7b8);
    expect(h.dstPort).toBe(5001);
    expect(h.seq).toBe(0xbfd1e176);
    expect(h.ack).toBe(0);
    expect(h.flags).toBe(TcpFlags.SYN);
    expect(h.window).toBe(64240);
    expect(h.headerLength).toBe(40);
    expect(h.options).toEqual({
      mss: 1460,
      sackPermitted: true,
      timestamp: { value: 0x418fa30e, echo: 0 },
      windowScale: 10,
    });
    expect(r.value.payload.length).toBe(0);
  });

  it('rejects a corrupted segment with bad_checksum', () => {
    const bad = SYN_TCP.slice();
    bad[30] = bad[30]! ^ 0x01;
    expect(parseTcp(bad, { src: A, dst: B })).toEqual({ ok: false, error: 'bad_checksum' });
    // Wrong pseudo-header (other destination) fails too.
    expect(parseTcp(SYN_TCP, { src: A, dst: A })).toEqual({ ok: false, error: 'bad_checksum' });
  });

  it('parses a Linux data segment with timestamps and payload', () => {
    const r = parseTcp(LINUX_DATA);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header.flags).toBe(TcpFlags.ACK | TcpFlags.PSH);
    expect(r.value.header.options).toEqual({ timestamp: { value: 0xe9c97888, echo: 0xda126044 } });
    expect(Buffer.from(r.value.payload).toString()).toBe('hello\n');
  });

  it('reports truncation and a bad data offset', () => {
    expect(parseTcp(SYN_TCP.subarray(0, 19))).toEqual({ ok: false, error: 'truncated' });
    expect(parseTcp(SYN_TCP.subarray(0, 30))).toEqual({ ok: false, error: 'truncated' });
    const low = SYN_TCP.slice();
    low[12] = 0x40;
    expect(parseTcp(low)).toEqual({ ok: false, error: 'bad_data_offset' });
  });

  it('skips unknown options by length and stops at EOL', () => {
    // kind 30 (MPTCP) len 4, then MSS, then EOL and garbage.
    const r = parseTcpOptions(hex('1e04abcd 020405b4 00 ff ff ff'));
    expect(r).toEqual({ ok: true, value: { mss: 1460 } });
  });

  it('malformed option lists: keeps the options before the problem and says what it was (as Linux, RFC 9293 MUST-7)', () => {
    const ok = (value: object) => ({ ok: true, value });
    expect(parseTcpOptions(hex('020405b4 0201'))).toEqual(ok({ mss: 1460, malformed: 'bad_option_length' })); // len < 2
    expect(parseTcpOptions(hex('020405b4 0100'))).toEqual(ok({ mss: 1460 })); // NOP, EOL: fine
    expect(parseTcpOptions(hex('0402 0800'))).toEqual(ok({ sackPermitted: true, malformed: 'bad_option_length' })); // len 0
    expect(parseTcpOptions(hex('020805b4'))).toEqual(ok({ malformed: 'option_overrun' })); // runs past the header
    expect(parseTcpOptions(hex('010102'))).toEqual(ok({ malformed: 'option_overrun' })); // no length byte
    // A known option with the wrong length is skipped by its length; parsing goes on.
    expect(parseTcpOptions(hex('0203ff 0402 00'))).toEqual(ok({ sackPermitted: true, malformed: 'bad_option_length' })); // MSS len 3
    expect(parseTcpOptions(hex('050b000000010000000200'))).toEqual(ok({ malformed: 'bad_option_length' }));
    expect(parseTcpOptions(hex('080900000000000000'))).toEqual(ok({ malformed: 'bad_option_length' }));
  });

  it('parses SACK blocks', () => {
    const r = parseTcpOptions(hex('0101 0512 00000010 00000020 fffffff0 00000005'));
    expect(r).toEqual({
      ok: true,
      value: {
        sack: [
          { left: 0x10, right: 0x20 },
          { left: 0xfffffff0, right: 5 },
        ],
      },
    });
  });
});

describe('wire/tcp encode', () => {
  it('reproduces the Linux SYN byte for byte, checksum included', () => {
    const out = encodeTcp(
      {
        srcPort: 0xd7b8,
        dstPort: 5001,
        seq: 0xbfd1e176,
        ack: 0,
        flags: TcpFlags.SYN,
        window: 64240,
        options: { mss: 1460, sackPermitted: true, timestamp: { value: 0x418fa30e, echo: 0 }, windowScale: 10 },
      },
      new Uint8Array(0),
      { src: A, dst: B },
    );
    expect(Buffer.from(out).toString('hex')).toBe(Buffer.from(SYN_TCP).toString('hex'));
  });

  it('reproduces the Linux data segment header except the offloaded checksum', () => {
    const payload = Buffer.from('hello\n');
    const out = encodeTcp(
      { srcPort: 0x977e, dstPort: 5001, seq: 0x350049f1, ack: 0x18075b6d, flags: TcpFlags.ACK | TcpFlags.PSH, window: 64, options: { timestamp: { value: 0xe9c97888, echo: 0xda126044 } } },
      payload,
      { src: A, dst: B },
    );
    const expected = LINUX_DATA.subarray(0, 32).slice();
    expected[16] = out[16]!;
    expected[17] = out[17]!;
    expect(Buffer.from(out).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
    // The checksum we wrote verifies over header + payload.
    const whole = new Uint8Array(out.length + payload.length);
    whole.set(out);
    whole.set(payload, out.length);
    expect(parseTcp(whole, { src: A, dst: B }).ok).toBe(true);
  });

  it('round-trips every option combination with 4-byte alignment', () => {
    const cases = [
      {},
      { mss: 536 },
      { mss: 1460, sackPermitted: true, windowScale: 7 },
      { mss: 1460, windowScale: 0 },
      { timestamp: { value: 1, echo: 2 } },
      { timestamp: { value: 1, echo: 2 }, sack: [{ left: 1, right: 2 }, { left: 3, right: 4 }, { left: 5, right: 6 }] },
      { sack: [{ left: 1, right: 2 }, { left: 3, right: 4 }, { left: 5, right: 6 }, { left: 7, right: 8 }] },
    ];
    for (const options of cases) {
      const len = tcpOptionsLength(options);
      expect(len % 4).toBe(0);
      const buf = new Uint8Array(40);
      expect(encodeTcpOptions(options, buf)).toBe(len);
      expect(parseTcpOptions(buf.subarray(0, len))).toEqual({ ok: true, value: options });
    }
  });

  it('formats flags as Wireshark does', () => {
    expect(formatTcpFlags(TcpFlags.SYN | TcpFlags.ACK)).toBe('ACK,SYN');
    expect(formatTcpFlags(TcpFlags.FIN | TcpFlags.ACK | TcpFlags.PSH)).toBe('ACK,PSH,FIN');
  });
});

describe('wire/tcp setTcpChecksum', () => {
  it("fills in Linux's checksum of a real SYN from scratch, whatever the field held", () => {
    const segment = SYN_TCP.slice();
    segment[16] = 0xde;
    segment[17] = 0xad;
    setTcpChecksum(segment, { src: A, dst: B });
    expect(Buffer.from(segment).toString('hex')).toBe(Buffer.from(SYN_TCP).toString('hex'));
  });
});
