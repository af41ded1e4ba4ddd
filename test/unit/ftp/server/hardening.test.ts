import { describe, expect, it } from 'vitest';
import { replyForOsError } from '../../../../src/ftp/server/errors.js';
import { parseGlob } from '../../../../src/ftp/server/glob.js';
import { LoginGuard } from '../../../../src/ftp/server/login-guard.js';
import { VirtualClock } from '../../../../src/stack/clock.js';
import { Counters } from '../../../../src/stack/counters.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

describe('reply codes from OS errors', () => {
  it.each([
    ['ENOENT', 550],
    ['EACCES', 550],
    ['EPERM', 550],
    ['EROFS', 550],
    ['EEXIST', 550],
    ['ENAMETOOLONG', 553],
    ['EDQUOT', 552],
    ['ENOSPC', 452],
    ['EIO', 451],
    ['EMFILE', 451],
  ])('%s -> %i', (code, reply) => {
    expect(replyForOsError(errno(code)).code).toBe(reply);
  });

  it('an error without errno is a local fault (451)', () => {
    expect(replyForOsError(new Error('x')).code).toBe(451);
  });
});

describe('NLST/LIST glob arguments', () => {
  it('expands wildcards in the last component only', () => {
    const g = parseGlob('*.txt')!;
    expect(g.directory).toBe('');
    expect(['a.txt', 'b.bin', '.hidden.txt', 'c.txt'].filter(g.match)).toEqual(['a.txt', 'c.txt']);
    const sub = parseGlob('pub/[ab]?.bin')!;
    expect(sub.directory).toBe('pub/');
    expect(['a1.bin', 'b22.bin', 'c1.bin', 'b2.bin'].filter(sub.match)).toEqual(['a1.bin', 'b2.bin']);
    expect(parseGlob('readme.txt')).toBeUndefined();
    expect(parseGlob('*/x.txt')).toBeUndefined();
    // Braces are not expanded: a name is matched as it is written.
    expect(parseGlob('{a,b}*')!.match('a1')).toBe(false);
  });
});

describe('login guard', () => {
  function guard(clock: VirtualClock, counters = new Counters()): LoginGuard {
    return new LoginGuard({ baseDelayMs: 1000, banAfter: 4, banMs: 60_000, maxConcurrent: 2 }, clock, counters);
  }

  it('delays each failure from one address more, and only that address', () => {
    const clock = new VirtualClock();
    const g = guard(clock);
    expect([g.failed('10.0.0.9'), g.failed('10.0.0.9'), g.failed('10.0.0.9')]).toEqual([1000, 2000, 4000]);
    expect(g.failed('10.0.0.1')).toBe(1000);
  });

  it('bans an address after banAfter failures for banMs, then forgets it', () => {
    const clock = new VirtualClock();
    const counters = new Counters();
    const g = guard(clock, counters);
    for (let i = 0; i < 3; i++) g.failed('10.0.0.9');
    expect(g.isBanned('10.0.0.9')).toBe(false);
    g.failed('10.0.0.9');
    expect(g.isBanned('10.0.0.9')).toBe(true);
    expect(g.isBanned('10.0.0.1')).toBe(false);
    expect(counters.get('ftp.server.login.banned')).toBe(1);
    clock.advance(60_001);
    expect(g.isBanned('10.0.0.9')).toBe(false);
    expect(g.failed('10.0.0.9')).toBe(1000);
  });

  it('runs one check per address at a time, and others get the free slot', async () => {
    const g = guard(new VirtualClock());
    const order: string[] = [];
    const gates: Array<() => void> = [];
    const slow = (name: string) => () =>
      new Promise<void>((resolve) => {
        order.push(`start ${name}`);
        gates.push(() => {
          order.push(`end ${name}`);
          resolve();
        });
      });
    const attacker = [g.check('10.0.0.9', slow('a1')), g.check('10.0.0.9', slow('a2')), g.check('10.0.0.9', slow('a3'))];
    const user = g.check('10.0.0.1', slow('u'));
    await new Promise((r) => setImmediate(r));
    // The attacker's second check waits for its first; the user's runs at once.
    expect(order).toEqual(['start a1', 'start u']);
    gates[1]!();
    await user;
    gates[0]!();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['start a1', 'start u', 'end u', 'end a1', 'start a2']);
    gates[2]!();
    await new Promise((r) => setImmediate(r));
    gates[3]!();
    await Promise.all(attacker);
  });
});
