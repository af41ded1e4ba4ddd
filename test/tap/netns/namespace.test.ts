import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Namespace, listNamespaces } from '../../../src/netns/index.js';
import { ensureCliBuilt } from '../support/cli.js';
import { describeTap } from '../support/gate.js';
import { createTestNet } from '../support/netns.js';

/** src/netns, the one namespace builder: what it makes, and that it always cleans up. */
describeTap('Namespace (src/netns)', () => {
  it('makes tapstack-<tag>-<pid> with lo up and IPv6 off, and removes it (twice is fine)', async () => {
    const ns = await Namespace.create('nstest');
    expect(ns.name).toMatch(new RegExp(`^tapstack-nstest-${process.pid}(-\\d+)?$`));
    expect(await listNamespaces()).toContain(ns.name);
    const lo = await ns.exec('ip', ['-br', 'link', 'show', 'lo']);
    expect(lo.stdout).toMatch(/UP|UNKNOWN/);
    const v6 = await ns.exec('sysctl', ['-n', 'net.ipv6.conf.default.disable_ipv6']);
    expect(v6.stdout.trim()).toBe('1');
    await ns.remove();
    await ns.remove();
    expect(await listNamespaces()).not.toContain(ns.name);
  });

  it('joins two namespaces with a veth and runs commands inside each', async () => {
    const a = await Namespace.create('nsa');
    const b = await Namespace.create('nsb');
    try {
      await a.addVeth(b, { dev: 'va', cidr: '10.77.0.1/24' }, { dev: 'vb', cidr: '10.77.0.2/24' });
      const r = await a.exec('ping', ['-c', '3', '-i', '0.5', '-W', '5', '10.77.0.2']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      await a.remove();
      await b.remove();
    }
    expect(await listNamespaces()).not.toContain(a.name);
  });

  it('refuses a fixed name that exists (it may be someone else\'s) and leaves that one alone', async () => {
    const name = `tapstack-nsfixed-${process.pid}`;
    const first = await Namespace.create('nsfixed', { name });
    await expect(Namespace.create('nsfixed', { name })).rejects.toThrow(/already exists/);
    expect(await listNamespaces()).toContain(name);
    await first.remove();
  });

  it('removes a half-built network when a step fails', async () => {
    const before = (await listNamespaces()).filter((n) => n.startsWith('tapstack-nsfail-'));
    await expect(createTestNet('nsfail', { kernelCidr: '10.0.0.300/24' })).rejects.toThrow(/ip .*addr add/);
    const after = (await listNamespaces()).filter((n) => n.startsWith('tapstack-nsfail-'));
    expect(after).toEqual(before);
  });

  it('a process that made a namespace and is killed with SIGTERM removes it and dies of the signal', async () => {
    ensureCliBuilt(); // the child loads the builder from dist/
    const dist = join(__dirname, '../../../dist/netns/index.js');
    const child = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `const { Namespace } = await import(${JSON.stringify(dist)}); const ns = await Namespace.create('nssig'); console.log(ns.name); setInterval(() => {}, 1000);`,
    ]);
    const name = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').once('data', (s: string) => resolve(s.trim()));
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    expect(await listNamespaces()).toContain(name);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(await listNamespaces()).not.toContain(name);
  });
});
