import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasForbiddenCharacters, joinVirtual, VirtualRoot } from '../../../../src/ftp/server/path.js';
import { tempDir } from '../../../support/ftp-server-harness.js';

describe('joinVirtual', () => {
  it.each([
    ['/', 'pub', '/pub'],
    ['/pub', 'readme.txt', '/pub/readme.txt'],
    ['/pub', '..', '/'],
    ['/', '..', '/'],
    ['/', '../../../etc/passwd', '/etc/passwd'],
    ['/pub/a', '../../../../x', '/x'],
    ['/pub', '/abs//./path/', '/abs/path'],
    ['/pub', '.', '/pub'],
    ['/pub', '', '/pub'],
    ['/', 'a/./b/../c', '/a/c'],
    ['/', '...', '/...'],
    ['/', 'name with spaces', '/name with spaces'],
    ['/', 'ünïcødé/файл', '/ünïcødé/файл'],
  ])('%s + %s = %s', (cwd, arg, want) => {
    expect(joinVirtual(cwd, arg)).toBe(want);
  });

  it('flags CR, LF and NUL', () => {
    expect(hasForbiddenCharacters('a\rb')).toBe(true);
    expect(hasForbiddenCharacters('a\nb')).toBe(true);
    expect(hasForbiddenCharacters('a\0b')).toBe(true);
    expect(hasForbiddenCharacters('a b\t')).toBe(false);
  });
});

describe('VirtualRoot', () => {
  let outside: string;
  let rootDir: string;
  let cleanups: Array<() => Promise<void>> = [];
  let root: VirtualRoot;

  beforeAll(async () => {
    const a = await tempDir();
    const b = await tempDir();
    cleanups = [a.cleanup, b.cleanup];
    rootDir = a.dir;
    outside = b.dir;
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await mkdir(join(rootDir, 'pub'));
    await writeFile(join(rootDir, 'pub', 'readme.txt'), 'hello');
    await symlink(join(outside, 'secret.txt'), join(rootDir, 'escape-file'));
    await symlink(outside, join(rootDir, 'escape-dir'));
    await symlink('pub/readme.txt', join(rootDir, 'inside-link'));
    await symlink('/nonexistent/nowhere', join(rootDir, 'dangling'));
    root = await VirtualRoot.open(rootDir);
  });
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  /** existing(), closed again; the values a test looks at. */
  async function existing(cwd: string, arg: string) {
    const r = await root.existing(cwd, arg);
    if (!r.ok) return r;
    await r.value.close();
    return { ok: true, virtual: r.value.virtual, real: r.value.real, size: r.value.stats.size };
  }
  async function parent(cwd: string, arg: string, followLink = false) {
    const r = await root.parentOf(cwd, arg, followLink);
    if (!r.ok) return r;
    await r.value.dir.close();
    return { ok: true, virtual: r.value.virtual, dir: r.value.dir.real, name: r.value.name, exists: r.value.entry !== undefined };
  }

  it('resolves existing paths inside the root', async () => {
    expect(await existing('/pub', 'readme.txt')).toMatchObject({ ok: true, virtual: '/pub/readme.txt', size: 5 });
    expect(await existing('/pub', '../..')).toMatchObject({ ok: true, real: root.realRoot });
  });

  it('follows symlinks that stay inside', async () => {
    expect(await existing('/', 'inside-link')).toMatchObject({ ok: true, size: 5, real: join(root.realRoot, 'pub', 'readme.txt') });
  });

  it('refuses symlinks that lead outside, for reading and for writing through them', async () => {
    expect(await existing('/', 'escape-file')).toEqual({ ok: false, error: 'outside-root' });
    expect(await existing('/', 'escape-dir/secret.txt')).toEqual({ ok: false, error: 'outside-root' });
    expect(await parent('/', 'escape-file', true)).toEqual({ ok: false, error: 'outside-root' });
    expect(await parent('/', 'escape-dir/new.txt')).toEqual({ ok: false, error: 'outside-root' });
    expect(await parent('/', 'dangling', true)).toEqual({ ok: false, error: 'outside-root' });
  });

  it('acts on a symlink itself (DELE, RNFR) unless asked to write through it; never on one that leads outside', async () => {
    expect(await parent('/', 'escape-file')).toEqual({ ok: false, error: 'outside-root' });
    expect(await parent('/', 'inside-link')).toEqual({ ok: true, virtual: '/inside-link', dir: root.realRoot, name: 'inside-link', exists: true });
    expect(await parent('/', 'inside-link', true)).toEqual({ ok: true, virtual: '/inside-link', dir: join(root.realRoot, 'pub'), name: 'readme.txt', exists: true });
  });

  it('treats .. above the root as the root', async () => {
    expect(await existing('/', '../../../../pub/readme.txt')).toMatchObject({ ok: true, virtual: '/pub/readme.txt' });
    expect(await existing('/', `../../../..${outside}/secret.txt`)).toEqual({ ok: false, error: 'not-found' });
  });

  it('refuses names with CR, LF or NUL', async () => {
    expect(await existing('/', 'a\rb')).toEqual({ ok: false, error: 'bad-name' });
    expect(await parent('/', 'x\0y')).toEqual({ ok: false, error: 'bad-name' });
    expect(await parent('/', 'new\nname')).toEqual({ ok: false, error: 'bad-name' });
  });

  it('parentOf: a new name in an existing directory, never the root itself', async () => {
    expect(await parent('/pub', 'new.txt')).toEqual({ ok: true, virtual: '/pub/new.txt', dir: join(root.realRoot, 'pub'), name: 'new.txt', exists: false });
    expect(await parent('/', 'missing-dir/new.txt')).toEqual({ ok: false, error: 'not-found' });
    expect(await parent('/', '..')).toEqual({ ok: false, error: 'bad-name' });
  });

  it('checks the object it opened, not the name: a directory swapped for an outside link after a check is still refused', async () => {
    await mkdir(join(rootDir, 'swap'));
    const before = await root.parentOf('/', 'swap/x');
    expect(before.ok).toBe(true);
    if (before.ok) await before.value.dir.close();
    await rm(join(rootDir, 'swap'), { recursive: true });
    await symlink(outside, join(rootDir, 'swap'));
    expect(await parent('/', 'swap/x')).toEqual({ ok: false, error: 'outside-root' });
    expect(await existing('/', 'swap/secret.txt')).toEqual({ ok: false, error: 'outside-root' });
  });

  it('maps real paths back to virtual ones', () => {
    expect(root.toVirtual(root.realRoot)).toBe('/');
    expect(root.toVirtual(join(root.realRoot, 'pub'))).toBe('/pub');
    expect(root.toVirtual(outside)).toBeUndefined();
    expect(root.contains(root.realRoot + 'x')).toBe(false);
  });
});
