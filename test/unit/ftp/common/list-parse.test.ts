import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  detectListFormat,
  parseDosLine,
  parseFtpTime,
  parseList,
  parseMlsd,
  parseUnixLine,
  type ListEntry,
} from '../../../../src/ftp/common/list-parse.js';
import { formatTimeVal } from '../../../../src/ftp/common/listing.js';

const fixture = (name: string) => readFileSync(new URL(`../../../fixtures/ftp/${name}`, import.meta.url), 'utf8');
/** The capture was made at 2026-11-21 11:43 UTC; parse as if it were then. */
const CAPTURED = new Date(Date.UTC(2026, 10, 21, 11, 43));
const RECENT = new Date(Date.UTC(2026, 10, 21, 11, 42));
const OLD = new Date(Date.UTC(2019, 2, 4));

function byName(entries: ListEntry[]): Record<string, ListEntry> {
  return Object.fromEntries(entries.map((e) => [e.name, e]));
}

describe.each(['vsftpd', 'pureftpd', 'proftpd', 'pyftpdlib'])('LIST from %s (real capture)', (server) => {
  it('parses every line of the directory listing', () => {
    const text = fixture(`${server}-list.txt`);
    expect(text).toContain('\r\n');
    const { entries, unparsed } = parseList(text, CAPTURED);
    expect(unparsed).toEqual([]);
    const e = byName(entries);
    expect(Object.keys(e).sort()).toEqual(['data.bin', 'docs', 'file with spaces.txt', 'link-to-readme', 'my dir', 'old.tar.gz', 'readme.txt']);
    expect(e['data.bin']).toMatchObject({ type: 'file', size: 1715, modified: RECENT, permissions: 'rw-r--r--' });
    expect(e['readme.txt']).toMatchObject({ type: 'file', size: 14 });
    expect(e['docs']!.type).toBe('dir');
    expect(e['my dir']!.type).toBe('dir');
    expect(e['file with spaces.txt']).toMatchObject({ type: 'file', size: 2 });
    expect(e['link-to-readme']).toMatchObject({ type: 'link', target: 'readme.txt' });
    expect(e['old.tar.gz']).toMatchObject({ type: 'file', size: 0, modified: OLD });
    expect(detectListFormat(entries[0]!.raw)).toBe('unix');
  });

  it('parses a subdirectory listing', () => {
    const { entries } = parseList(fixture(`${server}-list-docs.txt`), CAPTURED);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ name: 'big.iso', type: 'file', size: 123456 });
  });
});

describe.each(['pureftpd', 'proftpd', 'pyftpdlib'])('MLSD from %s (real capture)', (server) => {
  it('parses facts and names, dropping cdir and pdir', () => {
    const { entries, unparsed } = parseMlsd(fixture(`${server}-mlsd.txt`));
    expect(unparsed).toEqual([]);
    const e = byName(entries);
    expect(Object.keys(e).sort()).toEqual(['data.bin', 'docs', 'file with spaces.txt', 'link-to-readme', 'my dir', 'old.tar.gz', 'readme.txt']);
    expect(e['data.bin']).toMatchObject({ type: 'file', size: 1715, modified: new Date(Date.UTC(2026, 10, 21, 11, 42, 49)) });
    expect(e['docs']!.type).toBe('dir');
    expect(e['file with spaces.txt']!.size).toBe(2);
    expect(e['old.tar.gz']!.modified).toEqual(new Date(Date.UTC(2019, 2, 4, 5, 6, 7)));
    // pyftpdlib follows the link and reports a file; the others say it is a link.
    expect(e['link-to-readme']!.type).toBe(server === 'pyftpdlib' ? 'file' : 'link');
    expect(detectListFormat(entries[0]!.raw)).toBe('mlsd');
  });
});

describe('LIST from IIS (MS-DOS format)', () => {
  it('parses directories, sizes, 12-hour times and names with spaces', () => {
    const { entries, unparsed } = parseList(fixture('iis-list.txt'), CAPTURED);
    expect(unparsed).toEqual([]);
    const e = byName(entries);
    expect(e['aspnet_client']).toMatchObject({ type: 'dir', modified: new Date(Date.UTC(2017, 2, 18, 2, 6)) });
    expect(e['aspnet_client']!.size).toBeUndefined();
    expect(e['iisstart.htm']).toMatchObject({ type: 'file', size: 689, modified: new Date(Date.UTC(2017, 2, 17, 17, 37)) });
    expect(e['Program Files (x86)']).toMatchObject({ type: 'dir', modified: new Date(Date.UTC(2019, 1, 3, 0, 28)) });
    expect(e['.rnd']!.size).toBe(1024);
    expect(detectListFormat(entries[0]!.raw)).toBe('dos');
  });
});

describe('line parsers', () => {
  it('picks last year for a recent-style date that would be in the future', () => {
    const e = parseUnixLine('-rw-r--r--    1 0        0            1715 Dec 30 23:59 late.txt', CAPTURED);
    expect(e!.modified).toEqual(new Date(Date.UTC(2025, 11, 30, 23, 59)));
  });

  it('accepts a listing without a group column and keeps leading spaces in names', () => {
    const e = parseUnixLine('-rw-r--r--   1 owner        12 Jan  2 10:00  two spaces', CAPTURED);
    expect(e).toMatchObject({ owner: 'owner', size: 12, name: ' two spaces' });
    expect(e!.group).toBeUndefined();
  });

  it('rejects lines that are not listings, without throwing', () => {
    for (const bad of ['', 'total 12', 'hello world', '-rw-r--r-- 1 a b 12 Foo 2 10:00 x', '13-45-17  05:37PM 689 x', 'drwx']) {
      expect(parseUnixLine(bad, CAPTURED), bad).toBeUndefined();
      expect(parseDosLine(bad), bad).toBeUndefined();
    }
    expect(parseList('total 12\r\nsomething odd\r\n', CAPTURED)).toEqual({ entries: [], unparsed: ['something odd'] });
  });

  it('handles 12 AM and 12 PM in DOS listings', () => {
    expect(parseDosLine('01-02-03  12:05AM                    1 a')!.modified).toEqual(new Date(Date.UTC(2003, 0, 2, 0, 5)));
    expect(parseDosLine('01-02-03  12:05PM                    1 a')!.modified).toEqual(new Date(Date.UTC(2003, 0, 2, 12, 5)));
    expect(parseDosLine('01-02-1999  23:05                    1 a')!.modified).toEqual(new Date(Date.UTC(1999, 0, 2, 23, 5)));
  });

  it('reads and writes MDTM time-vals (RFC 3659 2.3)', () => {
    expect(parseFtpTime('20261121114249')).toEqual(new Date(Date.UTC(2026, 10, 21, 11, 42, 49)));
    expect(parseFtpTime('20261121114249.5')).toEqual(new Date(Date.UTC(2026, 10, 21, 11, 42, 49, 500)));
    expect(parseFtpTime('2026112111424')).toBeUndefined();
    expect(parseFtpTime('20261321114249')).toBeUndefined();
    expect(formatTimeVal(Date.UTC(2019, 2, 4, 5, 6, 7))).toBe('20190304050607');
  });
});
