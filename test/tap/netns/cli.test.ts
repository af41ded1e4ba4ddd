import { afterAll, expect, it } from 'vitest';
import { listNamespaces } from '../../../src/netns/index.js';
import { CLI, ensureCliBuilt, sh } from '../support/cli.js';
import { describeTap } from '../support/gate.js';

/** `tapstack netns` (what scripts/netns.sh runs): a namespace to try the stack by hand. */
describeTap('tapstack netns up|status|down', () => {
  const name = `nscli${process.pid}`;
  const ns = `tapstack-${name}`;
  const tapstack = (...args: string[]) => sh(process.execPath, [CLI, 'netns', ...args]);

  afterAll(() => {
    sh('ip', ['netns', 'delete', ns]); // only if a failed test left it
  });

  it('makes tapstack-NAME with persistent TAPs on a bridge that carries the kernel address, and removes it', async () => {
    ensureCliBuilt();
    const up = tapstack('up', name, '--taps', '2', '--ip', '10.0.0.1/24');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`${ns} is up: kernel side 10.0.0.1/24 on br0, TAP device(s): tap0 tap1`);
    expect(up.stdout).toContain(`sudo ip netns exec ${ns} tapstack up --tap tap1 --ip 10.0.0.3/24`);
    const links = sh('ip', ['-n', ns, '-d', 'link', 'show', 'tap0']);
    expect(links.stdout).toMatch(/tun type tap/);
    expect(links.stdout).toMatch(/qlen 4096/);
    expect(sh('ip', ['-n', ns, '-br', 'addr', 'show', 'br0']).stdout).toContain('10.0.0.1/24');

    const again = tapstack('up', name);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);

    const status = tapstack('status');
    expect(status.stdout.split('\n')).toContain(ns);

    expect(tapstack('down', name).stdout).toBe(`${ns} removed\n`);
    expect(await listNamespaces()).not.toContain(ns);
    const twice = tapstack('down', name);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('does not exist');
  });

  it('refuses bad arguments with one line and exit code 2, creating nothing', async () => {
    for (const args of [['up', 'BAD'], ['up', name, '--ip', '10.0.0.300/24'], ['up', name, '--taps', '9'], ['up', name, '--tap', 'a b']]) {
      const r = tapstack(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(await listNamespaces()).not.toContain(ns);
  });
});
