import { describe, expect, it } from 'vitest';
import { formatUserLine, hashPassword, normaliseHome, parseUsersFile, UserDatabase, verifyPassword } from '../../../../src/ftp/server/users.js';

const cheap = { N: 1024, r: 8, p: 1 };

describe('users file', () => {
  it('hashes with scrypt and verifies', async () => {
    const h = await hashPassword('s3cret', cheap);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(h).not.toContain('s3cret');
    expect(await verifyPassword('s3cret', h)).toBe(true);
    expect(await verifyPassword('S3cret', h)).toBe(false);
    expect(await verifyPassword('s3cret', 'scrypt$3$8$1$AA==$AA==')).toBe(false);
  });

  it('parses lines and reports bad ones', async () => {
    const h = await hashPassword('pw', cheap);
    const text = `# comment\n${formatUserLine({ name: 'alice', hash: h, home: '/alice', writable: true })}\nbob:${h}:/:ro\nanonymous:${h}:/:rw\nbad line\n`;
    const { users, errors } = parseUsersFile(text);
    expect(users.map((u) => [u.name, u.home, u.writable])).toEqual([
      ['alice', '/alice', true],
      ['bob', '/', false],
    ]);
    expect(errors.map((e) => e.line)).toEqual([4, 5]);
    const db = new UserDatabase(users);
    expect((await db.authenticate('alice', 'pw'))?.name).toBe('alice');
    expect(await db.authenticate('alice', 'nope')).toBeUndefined();
    expect(await db.authenticate('mallory', 'pw')).toBeUndefined();
  });

  it('normalises homes and refuses those that climb (ftp-user add --home /home/../..)', async () => {
    expect(normaliseHome('/alice')).toBe('/alice');
    expect(normaliseHome('//alice/./pub/')).toBe('/alice/pub');
    expect(normaliseHome('/')).toBe('/');
    expect(normaliseHome('/home/../..')).toBeUndefined();
    expect(normaliseHome('/a/../b')).toBeUndefined();
    expect(normaliseHome('alice')).toBeUndefined();
    expect(normaliseHome('/a:b')).toBeUndefined();
    const h = await hashPassword('pw', cheap);
    // The users file only holds normal forms: a hand-edited '..' is a reported error.
    const { users, errors } = parseUsersFile(`eve:${h}:/home/../..:rw\ncarol:${h}:/carol/:ro\n`);
    expect(users).toEqual([]);
    expect(errors.map((e) => e.line)).toEqual([1, 2]);
  });
});
