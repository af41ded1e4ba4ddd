import { describe, expect, it } from 'vitest';
import {
  formatIpv4, formatMac, localMac, parseCidr, parseIpv4, parseMac, prefixMask, readIpv4, sameSubnet, writeIpv4,
} from '../../../src/wire/address.js';

describe('IPv4 addresses', () => {
  it('parses and formats dotted quads', () => {
    expect(parseIpv4('192.168.0.2')).toBe(0xc0a80002);
    expect(formatIpv4(0xc0a80002)).toBe('192.168.0.2');
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
  });

  it('refuses malformed text', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.x', ' 1.2.3.4']) {
      expect(parseIpv4(bad), bad).toBeNull();
    }
  });

  it('parses CIDR and compares subnets', () => {
    expect(parseCidr('10.0.0.2/24')).toEqual({ address: 0x0a000002, prefixLength: 24 });
    expect(parseCidr('10.0.0.2/33')).toBeNull();
    expect(parseCidr('10.0.0.2')).toBeNull();
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(0)).toBe(0);
    expect(sameSubnet(0x0a000002, 0x0a0000fe, 24)).toBe(true);
    expect(sameSubnet(0x0a000002, 0x0a000102, 24)).toBe(false);
  });

  it('reads and writes network byte order', () => {
    const buf = new Uint8Array(6);
    writeIpv4(buf, 1, 0xc0a80002);
    expect([...buf]).toEqual([0, 192, 168, 0, 2, 0]);
    expect(readIpv4(buf, 1)).toBe(0xc0a80002);
  });
});

describe('MAC addresses', () => {
  it('parses with colons or dashes and formats lower case', () => {
    expect(formatMac(parseMac('02:AB:cd:00:11:ff')!)).toBe('02:ab:cd:00:11:ff');
    expect(formatMac(parseMac('02-ab-cd-00-11-ff')!)).toBe('02:ab:cd:00:11:ff');
    expect(parseMac('02:ab:cd-00:11:ff')).toBeNull();
    expect(parseMac('02:ab:cd:00:11')).toBeNull();
  });

  it('makes locally administered unicast addresses', () => {
    const mac = localMac(new Uint8Array([0xff, 1, 2, 3, 4, 5]));
    expect(mac[0]! & 0x01).toBe(0); // unicast
    expect(mac[0]! & 0x02).toBe(2); // locally administered
  });
});
