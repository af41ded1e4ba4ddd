/**
 * Dissection: one captured frame -> typed layers, with the project's own codecs
 * (src/wire). Nothing here parses TCP/IP by hand: Ethernet, IPv4, TCP, UDP and DNS
 * come from wire/, so the diagram shows what our stack itself would understand.
 *
 * Captures are evidence, not input to a stack, so the dissector is lenient where a
 * stack is strict: Linux hands frames to tcpdump before the NIC (or veth) fills in
 * TCP/UDP checksums ("checksum offload"), so a capture on the sending host carries
 * wrong checksums. Like Wireshark, we decode such segments anyway and only note that
 * the checksum did not verify.
 */
import { formatIpv4, formatMac } from '../wire/address.js';
import { DnsClass, parseDnsMessage, typeName, type DnsMessage } from '../wire/dns.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, parseEthernet } from '../wire/ethernet.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, isFragment, parseIpv4Packet, type Ipv4Header } from '../wire/ipv4.js';
import { formatTcpFlags, parseTcp, type TcpHeader } from '../wire/tcp.js';
import { parseUdp, type UdpHeader } from '../wire/udp.js';


/** Link types we can take frames from (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;

/** One decoded header, as a list of name/value pairs for people (the HTML panel). */
export interface HeaderLayer {
  layer: string;
  fields: [string, string][];
}

interface DissectedBase {
  /** Human-readable layers, outermost first. */
  layers: HeaderLayer[];
}

export interface DissectedTcp extends DissectedBase {
  kind: 'tcp';
  ip: Ipv4Header;
  tcp: TcpHeader;
  payload: Uint8Array;
  /** False when the TCP checksum did not verify (often checksum offload, see above). */
  checksumOk: boolean;
}

export interface DissectedUdp extends DissectedBase {
  kind: 'udp';
  ip: Ipv4Header;
  udp: UdpHeader;
  payload: Uint8Array;
  checksumOk: boolean;
  /** Set when either port is 53 and the payload parses as DNS. */
  dns?: DnsMessage;
}

/** ARP, ICMP, IPv6, fragments...: shown as "other", not part of the FTP story. */
export interface DissectedOther extends DissectedBase {
  kind: 'other';
  summary: string;
}

export interface DissectedMalformed extends DissectedBase {
  kind: 'malformed';
  layer: string;
  error: string;
}

export type Dissected = DissectedTcp | DissectedUdp | DissectedOther | DissectedMalformed;

/** Dissect one frame of the given link type. Never throws. */
export function dissect(data: Uint8Array, linktype = LINKTYPE_ETHERNET): Dissected {
  const layers: HeaderLayer[] = [];
  let etherType: number;
  let network: Uint8Array;
  if (linktype === LINKTYPE_ETHERNET) {
    const eth = parseEthernet(data);
    if (!eth.ok) return { kind: 'malformed', layer: 'Ethernet', error: eth.error, layers };
    etherType = eth.value.etherType;
    network = eth.value.payload;
    layers.push({
      layer: 'Ethernet II',
      fields: [
        ['Destination', formatMac(eth.value.dst)],
        ['Source', formatMac(eth.value.src)],
        ['Type', hex16(etherType)],
      ],
    });
  } else if (linktype === LINKTYPE_LINUX_SLL) {
    // Linux "cooked" header (tcpdump -i any): 16 bytes, protocol in the last two.
    if (data.length < 16) return { kind: 'malformed', layer: 'Linux cooked', error: 'truncated', layers };
    etherType = (data[14]! << 8) | data[15]!;
    network = data.subarray(16);
    layers.push({ layer: 'Linux cooked capture', fields: [['Protocol', hex16(etherType)]] });
  } else if (linktype === LINKTYPE_RAW || linktype === LINKTYPE_IPV4) {
    etherType = data.length > 0 && data[0]! >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    network = data;
  } else {
    return { kind: 'other', summary: `link type ${linktype}`, layers };
  }

  if (etherType === ETHERTYPE_ARP) return { kind: 'other', summary: 'ARP', layers };
  if (etherType === ETHERTYPE_IPV6) return { kind: 'other', summary: 'IPv6', layers };
  if (etherType !== ETHERTYPE_IPV4) return { kind: 'other', summary: `EtherType 0x${etherType.toString(16)}`, layers };

  let ipResult = parseIpv4Packet(network);
  let ipChecksumOk = true;
  if (!ipResult.ok && ipResult.error === 'bad_checksum') {
    ipChecksumOk = false;
    ipResult = parseIpv4Packet(network, { verifyChecksum: false });
  }
  if (!ipResult.ok) return { kind: 'malformed', layer: 'IPv4', error: ipResult.error, layers };
  const ip = ipResult.value.header;
  layers.push({
    layer: 'Internet Protocol Version 4',
    fields: [
      ['Source', formatIpv4(ip.src)],
      ['Destination', formatIpv4(ip.dst)],
      ['Total length', String(ip.totalLength)],
      ['Identification', hex16(ip.identification)],
      ['Flags', ip.dontFragment ? "DF (don't fragment)" : ip.moreFragments ? 'MF (more fragments)' : 'none'],
      ['TTL', String(ip.ttl)],
      ['Protocol', protocolName(ip.protocol)],
      ['Header checksum', `${hex16(ip.checksum)}${ipChecksumOk ? '' : ' (incorrect)'}`],
    ],
  });
  // Fragments are not reassembled here: the diagram counts them instead of drawing them.
  if (isFragment(ip)) return { kind: 'other', summary: 'IPv4 fragment', layers };
  const segment = ipResult.value.payload;

  if (ip.protocol === IPPROTO_TCP) return dissectTcp(ip, segment, layers);
  if (ip.protocol === IPPROTO_UDP) return dissectUdp(ip, segment, layers);
  return { kind: 'other', summary: ip.protocol === IPPROTO_ICMP ? 'ICMP' : `IP protocol ${ip.protocol}`, layers };
}

function dissectTcp(ip: Ipv4Header, bytes: Uint8Array, layers: HeaderLayer[]): Dissected {
  let r = parseTcp(bytes, { src: ip.src, dst: ip.dst });
  let checksumOk = true;
  if (!r.ok && r.error === 'bad_checksum') {
    checksumOk = false;
    r = parseTcp(bytes);
  }
  if (!r.ok) return { kind: 'malformed', layer: 'TCP', error: r.error, layers };
  const tcp = r.value.header;
  const fields: [string, string][] = [
    ['Source port', String(tcp.srcPort)],
    ['Destination port', String(tcp.dstPort)],
    ['Sequence number (raw)', String(tcp.seq)],
    ['Acknowledgment number (raw)', String(tcp.ack)],
    ['Header length', `${tcp.headerLength} bytes`],
    ['Flags', formatTcpFlags(tcp.flags) || 'none'],
    ['Window', String(tcp.window)],
    ['Checksum', `${hex16(tcp.checksum)}${checksumOk ? '' : ' (not verified: offloaded or corrupt)'}`],
    ['Payload', `${r.value.payload.length} bytes`],
  ];
  const o = tcp.options;
  if (o.mss !== undefined) fields.push(['Option MSS', String(o.mss)]);
  if (o.windowScale !== undefined) fields.push(['Option window scale', String(o.windowScale)]);
  if (o.sackPermitted) fields.push(['Option SACK permitted', 'yes']);
  if (o.sack) fields.push(['Option SACK', o.sack.map((b) => `${b.left}-${b.right}`).join(', ')]);
  if (o.timestamp) fields.push(['Option timestamps', `TSval ${o.timestamp.value}, TSecr ${o.timestamp.echo}`]);
  layers.push({ layer: 'Transmission Control Protocol', fields });
  return { kind: 'tcp', ip, tcp, payload: r.value.payload, checksumOk, layers };
}

function dissectUdp(ip: Ipv4Header, bytes: Uint8Array, layers: HeaderLayer[]): Dissected {
  let r = parseUdp(bytes, ip.src, ip.dst);
  let checksumOk = true;
  if (!r.ok && r.error.kind === 'bad_checksum') {
    checksumOk = false;
    r = parseUdp(bytes, ip.src, ip.dst, { verifyChecksum: false });
  }
  if (!r.ok) return { kind: 'malformed', layer: 'UDP', error: r.error.kind, layers };
  const udp = r.value.header;
  layers.push({
    layer: 'User Datagram Protocol',
    fields: [
      ['Source port', String(udp.srcPort)],
      ['Destination port', String(udp.dstPort)],
      ['Length', String(udp.length)],
      ['Checksum', `${hex16(udp.checksum)}${checksumOk ? '' : ' (not verified: offloaded or corrupt)'}`],
    ],
  });
  const out: DissectedUdp = { kind: 'udp', ip, udp, payload: r.value.payload, checksumOk, layers };
  if (udp.srcPort === 53 || udp.dstPort === 53) {
    const dns = parseDnsMessage(out.payload);
    if (dns.ok) {
      out.dns = dns.value;
      layers.push(dnsLayer(dns.value));
    }
  }
  return out;
}

function dnsLayer(m: DnsMessage): HeaderLayer {
  const fields: [string, string][] = [
    ['Transaction ID', hex16(m.header.id)],
    ['Response', m.header.qr ? 'yes' : 'no (query)'],
    ['Recursion desired', m.header.rd ? '1' : '0'],
    ['Recursion available', m.header.ra ? '1' : '0'],
    ['Reply code', String(m.header.rcode)],
  ];
  for (const q of m.questions) fields.push(['Question', `${q.name} type ${typeName(q.type)} class ${q.class === DnsClass.IN ? 'IN' : q.class}`]);
  for (const a of m.answers) fields.push(['Answer', `${a.name} ${typeName(a.type)} ${dnsData(a.data)} (TTL ${a.ttl})`]);
  return { layer: 'Domain Name System', fields };
}

function dnsData(d: DnsMessage['answers'][number]['data']): string {
  switch (d.kind) {
    case 'A':
      return formatIpv4(d.address);
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return d.target;
    default:
      return d.kind;
  }
}

/** A 16-bit field as Wireshark shows it: 0x0800. */
function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

function protocolName(p: number): string {
  return p === IPPROTO_TCP ? 'TCP (6)' : p === IPPROTO_UDP ? 'UDP (17)' : p === IPPROTO_ICMP ? 'ICMP (1)' : String(p);
}
