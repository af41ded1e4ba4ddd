import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ArpLayer } from '../../../src/stack/arp.js';
import { formatMac, parseIpv4 } from '../../../src/wire/address.js';
import { fakeServices } from '../../support/hosts.js';

// Our host (fakeServices): 10.0.0.1/24 at 02:00:00:00:00:01.
const OUR_MAC = [0x02, 0, 0, 0, 0, 0x01];
const OUR_IP = [10, 0, 0, 1];
const PEER_MAC = [0x02, 0, 0, 0, 0, 0x02];
const PEER_IP = [10, 0, 0, 2];
const PEER = parseIpv4('10.0.0.2')!;
const ZERO_MAC = [0, 0, 0, 0, 0, 0];

/** An ARP packet (RFC 826, Ethernet/IPv4), written out byte by byte. */
function arp(op: 1 | 2, senderMac: number[], senderIp: number[], targetMac: number[], targetIp: number[]): Uint8Array {
  return Uint8Array.from([
    0x00, 0x01, // hardware type: Ethernet
    0x08, 0x00, // protocol type: IPv4
    6, 4, // address lengths
    0x00, op,
    ...senderMac, ...senderIp,
    ...targetMac, ...targetIp,
  ]);
}
const request = (senderMac: number[], senderIp: number[], targetIp = OUR_IP) => arp(1, senderMac, senderIp, ZERO_MAC, targetIp);

function setup(logLevel: 'silent' | 'warn' = 'silent') {
  const env = fakeServices();
  const logLines: { msg: string; count?: number }[] = [];
  const log = pino({ level: logLevel }, { write: (line: string) => logLines.push(JSON.parse(line) as { msg: string }) });
  const layer = new ArpLayer({ ...env.services, log });
  const receive = (packet: Uint8Array, ethSrc = packet.subarray(8, 14)) => layer.receive(packet, ethSrc);
  return { ...env, layer, receive, logLines };
}

describe('ArpLayer: who may teach us (RFC 826 + RFC 1122 2.3.2.1, as Linux)', () => {
  it('answers a sane request with these bytes and learns the sender as STALE', () => {
    const { receive, sent, layer, counters } = setup();
    receive(request(PEER_MAC, PEER_IP));
    expect(sent).toEqual([
      Uint8Array.from([
        ...PEER_MAC, ...OUR_MAC, 0x08, 0x06, // Ethernet: to the asker, from us, ARP
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02, // Ethernet/IPv4 reply
        ...OUR_MAC, ...OUR_IP, // sender: us
        ...PEER_MAC, ...PEER_IP, // target: the asker
      ]),
    ]);
    expect(layer.neighbours.snapshot()).toEqual([{ ip: '10.0.0.2', state: 'stale', mac: '02:00:00:00:00:02' }]);
    expect(counters.get('arp.cache.added_stale')).toBe(1);
  });

  it.each([
    ['broadcast', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ['zero', ZERO_MAC],
    ['multicast', [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]],
  ])('drops a request from a %s sender MAC: no entry, no answer', (_kind, mac) => {
    const { receive, sent, layer, counters } = setup();
    receive(request(mac, PEER_IP));
    expect(sent).toEqual([]);
    expect(layer.neighbours.size).toBe(0);
    expect(counters.get('arp.rx.bad_sender_mac')).toBe(1);
  });

  it.each([
    ['off our subnet', [10, 0, 1, 2], 'arp.rx.sender_off_subnet'],
    ['our subnet broadcast', [10, 0, 0, 255], 'arp.rx.bad_sender_ip'],
    ['our network address', [10, 0, 0, 0], 'arp.rx.bad_sender_ip'],
    ['limited broadcast', [255, 255, 255, 255], 'arp.rx.bad_sender_ip'],
    ['multicast', [224, 0, 0, 1], 'arp.rx.bad_sender_ip'],
    ['loopback', [127, 0, 0, 1], 'arp.rx.bad_sender_ip'],
  ])('drops a request from a sender IP %s: no entry, no answer', (_kind, ip, counter) => {
    const { receive, sent, layer, counters } = setup();
    receive(request(PEER_MAC, ip));
    expect(sent).toEqual([]);
    expect(layer.neighbours.size).toBe(0);
    expect(counters.get(counter)).toBe(1);
  });

  it('drops a request that wears our own MAC', () => {
    const { receive, sent, layer, counters } = setup();
    receive(request(OUR_MAC, PEER_IP));
    expect(sent).toEqual([]);
    expect(layer.neighbours.size).toBe(0);
    expect(counters.get('arp.rx.own_mac')).toBe(1);
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) without learning anything', () => {
    const { receive, sent, layer, counters } = setup();
    receive(request(PEER_MAC, [0, 0, 0, 0]));
    expect(sent.length).toBe(1);
    expect(sent[0]!.subarray(0, 6)).toEqual(Uint8Array.from(PEER_MAC));
    expect(sent[0]!.subarray(14 + 24, 14 + 28)).toEqual(Uint8Array.from([0, 0, 0, 0])); // target IP as asked
    expect(layer.neighbours.size).toBe(0);
    expect(counters.get('arp.rx.probe')).toBe(1);
  });

  it('does not let one forged reply redirect a REACHABLE neighbour', () => {
    const { receive, sent, layer, counters } = setup();
    // We ask, the peer answers: REACHABLE.
    layer.neighbours.send(PEER, new Uint8Array(20));
    receive(arp(2, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP));
    sent.length = 0;
    const forged = [0x02, 0, 0, 0, 0, 0x66];
    receive(arp(2, forged, PEER_IP, OUR_MAC, OUR_IP));
    expect(formatMac(layer.neighbours.lookup(PEER)!)).toBe('02:00:00:00:00:02');
    expect(counters.get('arp.cache.override_refused')).toBe(1);
    // ... and asks the MAC it believes, unicast, whether it is still there.
    expect(sent.length).toBe(1);
    expect(sent[0]!.subarray(0, 6)).toEqual(Uint8Array.from(PEER_MAC));
    expect(sent[0]![14 + 7]).toBe(1); // a request
  });

  it('counts every address conflict but logs one line per 10 s, then how many more there were', () => {
    const { receive, clock, counters, logLines, sent } = setup('warn');
    for (let i = 0; i < 1000; i++) receive(request([0x02, 0, 0, 0, 0, 0x77], OUR_IP, [10, 0, 0, 9]));
    expect(counters.get('arp.rx.address_conflict')).toBe(1000);
    expect(sent).toEqual([]);
    expect(logLines.map((l) => l.msg)).toEqual(['another host uses our IPv4 address']);
    clock.advance(10_000);
    expect(logLines.length).toBe(2);
    expect(logLines[1]!.count).toBe(999);
    clock.advance(60_000); // quiet: nothing more to say
    expect(logLines.length).toBe(2);
    receive(request([0x02, 0, 0, 0, 0, 0x77], OUR_IP, [10, 0, 0, 9]));
    expect(logLines.length).toBe(3);
  });
});
