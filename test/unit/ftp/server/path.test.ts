import { mkdir, symlink, writeFile } from 'node:fs/promises';
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

  it('resolves existing paths inside the root', async () => {
    const r = await root.existing('/pub', 'readme.txt');
    expect(r.ok && r.value.virtual).toBe('/pub/readme.txt');
    expect(r.ok && r.value.stats.size).toBe(5);
    const top = await root.existing('/pub', '../..');
    expect(top.ok && top.value.real).toBe(root.realRoot);
  });

  it('follows symlinks that stay inside', async () => {
    const r = await root.existing('/', 'inside-link');
    expect(r.ok && r.value.stats.size).toBe(5);
  });

  it('refuses symlinks that lead outside, for reading and for writing', async () => {
    expect(await root.existing('/', 'escape-file')).toEqual({ ok: false, error: 'outside-root' });
    expect(await root.existing('/', 'escape-dir/secret.txt')).toEqual({ ok: false, error: 'outside-root' });
    expect(await root.entry('/', 'escape-file')).toEqual({ ok: false, error: 'outside-root' });
    expect(await root.entry('/', 'escape-dir/new.txt')).toEqual({ ok: false, error: 'outside-root' });
    expect(await root.entry('/', 'dangling')).toEqual({ ok: false, error: 'outside-root' });
  });

  it('treats .. above the root as the root', async () => {
    const r = await root.existing('/', '../../../../pub/readme.txt');
    expect(r.ok && r.value.virtual).toBe('/pub/readme.txt');
    expect(await root.existing('/', `../../../..${outside}/secret.txt`)).toEqual({ ok: false, error: 'not-found' });
  });

  it('refuses names with CR, LF or NUL', async () => {
    expect(await root.existing('/', 'a\rb')).toEqual({ ok: false, error: 'bad-name' });
    expect(await root.entry('/', 'x\0y')).toEqual({ ok: false, error: 'bad-name' });
    expect(await root.entry('/', 'new\nname')).toEqual({ ok: false, error: 'bad-name' });
  });

  it('entry: a new name in an existing directory, never the root itself', async () => {
    const r = await root.entry('/pub', 'new.txt');
    expect(r).toEqual({ ok: true, value: { virtual: '/pub/new.txt', real: join(root.realRoot, 'pub', 'new.txt'), exists: false } });
    expect(await root.entry('/', 'missing-dir/new.txt')).toEqual({ ok: false, error: 'not-found' });
    expect(await root.entry('/', '..')).toEqual({ ok: false, error: 'bad-name' });
  });

  it('maps real paths back to virtual ones', () => {
    expect(root.toVirtual(root.realRoot)).toBe('/');
    expect(root.toVirtual(join(root.realRoot, 'pub'))).toBe('/pub');
    expect(root.toVirtual(outside)).toBeUndefined();
    expect(root.contains(root.realRoot + 'x')).toBe(false);
  });
});
