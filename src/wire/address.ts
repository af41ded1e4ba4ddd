/**
 * IPv4 and MAC addresses. Inside the stack an IPv4 address is an unsigned 32-bit
 * number (cheap to compare and hash); strings appear only at the API edge.
 */

export type Ipv4Address = number;

/** Parse dotted-quad text; returns null for anything that is not exactly a.b.c.d. */
export function parseIpv4(text: string): Ipv4Address | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let out = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return null; // no octal-looking forms
    const v = Number(part);
    if (v > 255) return null;
    out = out * 256 + v;
  }
  return out >>> 0;
}

export function formatIpv4(addr: Ipv4Address): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** Parse `a.b.c.d/len`; returns null when malformed. */
export function parseCidr(text: string): { address: Ipv4Address; prefixLength: number } | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseIpv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (address === null || !/^\d{1,2}$/.test(lenText)) return null;
  const prefixLength = Number(lenText);
  if (prefixLength > 32) return null;
  return { address, prefixLength };
}

export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function sameSubnet(a: Ipv4Address, b: Ipv4Address, prefixLength: number): boolean {
  const mask = prefixMask(prefixLength);
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/**
 * An address no host can have, so nothing from it can be answered: "this network"
 * 0/8 and loopback 127/8 (RFC 1122 3.2.1.3), multicast 224/4 (RFC 5771), and the
 * reserved 240/4 with the limited broadcast 255.255.255.255.
 */
export function isNoHostIpv4(addr: Ipv4Address): boolean {
  const first = addr >>> 24;
  return first === 0 || first === 127 || first >= 224;
}

export function readIpv4(buf: Uint8Array, offset: number): Ipv4Address {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

export function writeIpv4(buf: Uint8Array, offset: number, addr: Ipv4Address): void {
  buf[offset] = addr >>> 24;
  buf[offset + 1] = (addr >>> 16) & 0xff;
  buf[offset + 2] = (addr >>> 8) & 0xff;
  buf[offset + 3] = addr & 0xff;
}

/** A MAC address is 6 bytes. */
export type MacAddress = Uint8Array;

export const BROADCAST_MAC: MacAddress = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export function parseMac(text: string): MacAddress | null {
  const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(text);
  if (!m) return null;
  return new Uint8Array([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h!, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A locally administered, unicast MAC (02:xx:..) drawn from the given bytes. */
export function localMac(random: Uint8Array): MacAddress {
  const mac = new Uint8Array(6);
  mac.set(random.subarray(0, 6));
  mac[0] = (mac[0]! & 0xfc) | 0x02; // locally administered bit set, multicast bit clear
  return mac;
}
