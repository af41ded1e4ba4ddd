import { describe, expect, it } from 'vitest';
import * as build from '../../../src/netns/commands.js';

/**
 * The recipes of src/netns: the exact `ip` argument lists. Every command but the move
 * of a fresh device names its namespace, so nothing is configured in the root one.
 */
describe('netns commands', () => {
  it('a namespace: add, lo up, IPv6 off inside it (or left on)', () => {
    expect(build.namespace('tapstack-x-1')).toEqual([
      ['netns', 'add', 'tapstack-x-1'],
      ['-n', 'tapstack-x-1', 'link', 'set', 'lo', 'up'],
      ['netns', 'exec', 'tapstack-x-1', 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1'],
    ]);
    expect(build.namespace('tapstack-x-1', { disableIpv6: false })).toHaveLength(2);
  });

  it('a veth is created inside the first namespace and one end moved: never in the root namespace', () => {
    const cmds = build.veth({ ns: 'tapstack-a', dev: 'va', cidr: '10.9.0.1/24' }, { ns: 'tapstack-b', dev: 'vb', cidr: '10.9.0.2/24' }, { mtu: 9000 });
    expect(cmds).toEqual([
      ['-n', 'tapstack-a', 'link', 'add', 'va', 'mtu', '9000', 'type', 'veth', 'peer', 'name', 'vb', 'mtu', '9000'],
      ['-n', 'tapstack-a', 'link', 'set', 'vb', 'netns', 'tapstack-b'],
      ['-n', 'tapstack-a', 'addr', 'add', '10.9.0.1/24', 'dev', 'va'],
      ['-n', 'tapstack-a', 'link', 'set', 'va', 'up'],
      ['-n', 'tapstack-b', 'addr', 'add', '10.9.0.2/24', 'dev', 'vb'],
      ['-n', 'tapstack-b', 'link', 'set', 'vb', 'up'],
    ]);
    for (const cmd of cmds) expect(cmd[0]).toBe('-n');
  });

  it('a bridge forwards at once; without multicast it sends no IGMP', () => {
    expect(build.bridge('tapstack-d', 'br0', { multicast: false })).toEqual([
      ['-n', 'tapstack-d', 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0', 'mcast_snooping', '0'],
      ['-n', 'tapstack-d', 'link', 'set', 'br0', 'multicast', 'off'],
    ]);
    expect(build.bridge('tapstack-d', 'br0', { mtu: 1400 })).toEqual([
      ['-n', 'tapstack-d', 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0'],
      ['-n', 'tapstack-d', 'link', 'set', 'br0', 'mtu', '1400'],
    ]);
  });

  it('a device this process made moves in, then is configured inside', () => {
    expect([...build.moveInto('tapstack-t', 'ts1t0'), ...build.configureDevice('tapstack-t', 'ts1t0', { mtu: 1500, txqueuelen: 4096 })]).toEqual([
      ['link', 'set', 'ts1t0', 'netns', 'tapstack-t'],
      ['-n', 'tapstack-t', 'link', 'set', 'ts1t0', 'mtu', '1500'],
      ['-n', 'tapstack-t', 'link', 'set', 'ts1t0', 'txqueuelen', '4096'],
    ]);
  });
});
