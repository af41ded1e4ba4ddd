import { describe, expect, it } from 'vitest';
import {
  formatListDate,
  formatListLine,
  formatMlsxLine,
  formatTimeVal,
  mlstFeatLine,
  parseMlstOpts,
  stripListFlags,
  type EntryInfo,
} from '../../../../src/ftp/common/listing.js';

const now = new Date(Date.UTC(2026, 10, 21, 11, 41, 3));
const file: EntryInfo = {
  name: 'readme.txt',
  type: 'file',
  size: 1715,
  mtimeMs: Date.UTC(2026, 10, 21, 10, 0, 59),
  mode: 0o100644,
  nlink: 1,
  dev: 0x803,
  ino: 0x2a1,
};
const dir: EntryInfo = { ...file, name: 'pub', type: 'dir', size: 4096, mode: 0o40755, nlink: 2, mtimeMs: Date.UTC(2025, 2, 2, 8, 30) };

describe('LIST lines', () => {
  it('formats ls -l lines with time for recent entries and year for old ones', () => {
    expect(formatListLine(file, now)).toBe('-rw-r--r--    1 ftp      ftp              1715 Nov 21 10:00 readme.txt');
    expect(formatListLine(dir, now)).toBe('drwxr-xr-x    2 ftp      ftp              4096 Mar  2  2025 pub');
  });

  it('switches to the year at six months and for future dates', () => {
    const day = 24 * 3600 * 1000;
    expect(formatListDate(now.getTime() - 180 * day, now)).toMatch(/^May 25 \d\d:\d\d$/);
    expect(formatListDate(now.getTime() - 185 * day, now)).toBe('May 20  2026');
    expect(formatListDate(now.getTime() + 2 * day, now)).toBe('Nov 23  2026');
  });

  it('is parsed by the usual regular expression of clients (curl/lftp/ftplib style)', () => {
    const unixLs = /^([dl-])([rwxsStT-]{9})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4})\s(.+)$/;
    const m = unixLs.exec(formatListLine({ ...file, name: 'a name with  spaces' }, now));
    expect(m?.[6]).toBe('1715');
    expect(m?.[10]).toBe('a name with  spaces');
  });

  it('drops ls flags', () => {
    expect(stripListFlags('-la')).toBe('');
    expect(stripListFlags('-a -l pub')).toBe('pub');
    expect(stripListFlags('pub')).toBe('pub');
    expect(stripListFlags('-l')).toBe('');
  });
});

describe('MLSD/MLST facts (RFC 3659 7)', () => {
  it('formats facts then one space and the name', () => {
    expect(formatMlsxLine(file, { writable: false })).toBe('type=file;size=1715;modify=20261121100059;perm=r;unique=803g2a1; readme.txt');
    expect(formatMlsxLine(dir, { writable: true })).toBe('type=dir;modify=20250302083000;perm=cdeflmp;unique=803g2a1; pub');
    expect(formatMlsxLine(file, { writable: true }, ['size', 'perm'])).toBe('size=1715;perm=adfrw; readme.txt');
  });

  it('time-val is UTC YYYYMMDDHHMMSS', () => {
    expect(formatTimeVal(Date.UTC(1999, 0, 2, 3, 4, 5))).toBe('19990102030405');
  });

  it('OPTS MLST selects facts and FEAT marks them', () => {
    expect(parseMlstOpts('size;TYPE;bogus;')).toEqual(['type', 'size']);
    expect(parseMlstOpts('')).toEqual([]);
    expect(mlstFeatLine(['type', 'size'])).toBe('MLST type*;size*;modify;perm;unique;');
  });
});
