import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeEprtArgument,
  encodeHostPort,
  formatEpsvReply,
  formatPasvReply,
  parseEprtArgument,
  parseEpsvArgument,
  parseEpsvReply,
  parsePasvReply,
  parsePortArgument,
} from '../../../../src/ftp/common/hostport.js';

describe('PORT / PASV', () => {
  it('encodes the seed PORT command (192.168.0.2 port 5001 and 5002)', () => {
    expect(encodeHostPort({ address: '192.168.0.2', port: 5001 })).toBe('192,168,0,2,19,137');
    expect(encodeHostPort({ address: '192.168.0.2', port: 5002 })).toBe('192,168,0,2,19,138');
  });

  it('parses a PORT argument', () => {
    expect(parsePortArgument('192,168,0,2,19,137')).toEqual({ ok: true, value: { address: '192.168.0.2', port: 5001 } });
    expect(parsePortArgument(' 10, 0, 0, 1, 0, 20 ')).toEqual({ ok: true, value: { address: '10.0.0.1', port: 20 } });
  });

  it('rejects bad PORT arguments', () => {
    for (const bad of ['', '1,2,3,4,5', '1,2,3,4,5,6,7', '256,0,0,1,0,20', '1,2,3,4,5,256', 'a,b,c,d,e,f', '1.2.3.4,5,6']) {
      expect(parsePortArgument(bad).ok, bad).toBe(false);
    }
  });

  it('formats a 227 text', () => {
    expect(formatPasvReply({ address: '10.1.2.3', port: 40000 })).toBe('Entering Passive Mode (10,1,2,3,156,64).');
  });

  it('parses 227 texts from real and odd servers', () => {
    const want = { address: '192.168.0.2', port: 5001 };
    const texts = [
      'Entering Passive Mode (192,168,0,2,19,137).', // vsftpd, pure-ftpd
      'Entering Passive Mode (192,168,0,2,19,137)', // no period
      'entering passive mode (192,168,0,2,19,137)', // lower case
      'Entering Passive Mode 192,168,0,2,19,137', // no parentheses
      '=192,168,0,2,19,137', // some embedded servers
      'Passive mode on (192, 168, 0, 2, 19, 137) -- enjoy', // spaces, text after
      '227 Entering Passive Mode (192,168,0,2,19,137).', // whole line handed over
    ];
    for (const t of texts) expect(parsePasvReply(t), t).toEqual({ ok: true, value: want });
  });

  it('rejects 227 texts without six numbers in range', () => {
    expect(parsePasvReply('Entering Passive Mode').ok).toBe(false);
    expect(parsePasvReply('Entering Passive Mode (1,2,3,4,5)').ok).toBe(false);
    expect(parsePasvReply('Entering Passive Mode (300,2,3,4,5,6)').ok).toBe(false);
  });

  it('round-trips any address and port (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (address, port) => {
        expect(parsePortArgument(encodeHostPort({ address, port }))).toEqual({ ok: true, value: { address, port } });
        expect(parsePasvReply(formatPasvReply({ address, port }))).toEqual({ ok: true, value: { address, port } });
      }),
    );
  });
});

describe('EPRT / EPSV', () => {
  it('encodes EPRT (RFC 2428 2)', () => {
    expect(encodeEprtArgument({ address: '192.168.0.2', port: 5001 })).toBe('|1|192.168.0.2|5001|');
    expect(encodeEprtArgument({ address: '192.168.0.2', port: 5001 }, '!')).toBe('!1!192.168.0.2!5001!');
  });

  it('parses EPRT with any delimiter', () => {
    expect(parseEprtArgument('|1|132.235.1.2|6275|')).toEqual({ ok: true, value: { protocol: 1, address: '132.235.1.2', port: 6275 } });
    expect(parseEprtArgument('!1!10.0.0.1!21!')).toEqual({ ok: true, value: { protocol: 1, address: '10.0.0.1', port: 21 } });
  });

  it('rejects bad EPRT arguments, and says why for IPv6', () => {
    const v6 = parseEprtArgument('|2|1080::8:800:200C:417A|5282|');
    expect(v6.ok).toBe(false);
    if (!v6.ok) expect(v6.error).toMatch(/protocol 2/);
    for (const bad of ['', '|1|10.0.0.1|21', '|1|10.0.0.1|70000|', '|1|10.0.0|21|', '|x|10.0.0.1|21|', '|1|10.0.0.1|21|extra|']) {
      expect(parseEprtArgument(bad).ok, bad).toBe(false);
    }
  });

  it('formats a 229 text', () => {
    expect(formatEpsvReply(5001)).toBe('Entering Extended Passive Mode (|||5001|)');
  });

  it('parses 229 texts from real and odd servers', () => {
    const texts = [
      'Entering Extended Passive Mode (|||5001|)', // vsftpd
      'Extended Passive mode OK (|||5001|)', // pure-ftpd
      'entering extended passive mode (!!!5001!).', // other delimiter, lower case, period
      'EPSV ok |||5001|', // no parentheses
      '229 Entering Extended Passive Mode (|||5001|)', // whole line
    ];
    for (const t of texts) expect(parseEpsvReply(t), t).toEqual({ ok: true, value: 5001 });
  });

  it('rejects 229 texts without a port', () => {
    for (const bad of ['Entering Extended Passive Mode', '(||5001|)', '(|||0|)', '(|||99999|)', '(|!|5001|)']) {
      expect(parseEpsvReply(bad).ok, bad).toBe(false);
    }
  });

  it('parses EPSV arguments', () => {
    expect(parseEpsvArgument('')).toEqual({ ok: true, value: { all: false } });
    expect(parseEpsvArgument('all')).toEqual({ ok: true, value: { all: true } });
    expect(parseEpsvArgument('1')).toEqual({ ok: true, value: { all: false, protocol: 1 } });
    expect(parseEpsvArgument('x').ok).toBe(false);
  });

  it('round-trips EPRT (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), fc.constantFrom('|', '!', '#', '$'), (address, port, d) => {
        expect(parseEprtArgument(encodeEprtArgument({ address, port }, d))).toEqual({ ok: true, value: { protocol: 1, address, port } });
      }),
    );
  });
});
