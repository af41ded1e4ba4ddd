import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CrlfToLf, LfToCrlf } from '../../../../src/ftp/common/ascii.js';
import { partialPath, safeLocalPath } from '../../../../src/ftp/client/local-path.js';
import { parseFtpUrl } from '../../../../src/ftp/client/url.js';
import { parseQuotedPath } from '../../../../src/ftp/client/client.js';

async function through(t: CrlfToLf | LfToCrlf, chunks: string[]): Promise<string> {
  const out: Buffer[] = [];
  await new Promise<void>((done, fail) => {
    Readable.from(chunks.map((c) => Buffer.from(c, 'latin1')))
      .pipe(t)
      .on('data', (b: Buffer) => out.push(b))
      .on('end', done)
      .on('error', fail);
  });
  return Buffer.concat(out).toString('latin1');
}

describe('safeLocalPath: a server-supplied name never leaves the target directory', () => {
  const dir = '/tmp/target';
  it('keeps only the last component', () => {
    expect(safeLocalPath(dir, 'readme.txt')).toBe(join(dir, 'readme.txt'));
    expect(safeLocalPath(dir, 'pub/readme.txt')).toBe(join(dir, 'readme.txt'));
    expect(safeLocalPath(dir, '/etc/passwd')).toBe(join(dir, 'passwd'));
    expect(safeLocalPath(dir, '../../../../etc/cron.d/evil')).toBe(join(dir, 'evil'));
    expect(safeLocalPath(dir, '..\\..\\windows\\system.ini')).toBe(join(dir, 'system.ini'));
    expect(safeLocalPath(dir, 'dir/')).toBe(join(dir, 'dir'));
  });

  it('refuses names that are no file name', () => {
    for (const bad of ['', '/', '.', '..', 'pub/..', 'a/.', 'x\0y', '//']) {
      expect(() => safeLocalPath(dir, bad), JSON.stringify(bad)).toThrow(/refusing/);
    }
  });

  it('replaces control characters (terminal escapes) in names', () => {
    expect(safeLocalPath(dir, 'bad\x1b[31mname\r\n')).toBe(join(dir, 'bad_[31mname__'));
  });

  it('always lands directly inside the directory (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (name) => {
        let p: string;
        try {
          p = safeLocalPath(dir, name);
        } catch {
          return;
        }
        expect(resolve(p, '..')).toBe(resolve(dir));
      }),
    );
  });

  it('writes downloads under a hidden .part name first', () => {
    expect(partialPath('/tmp/target/readme.txt')).toBe('/tmp/target/.readme.txt.part');
  });
});

describe('TYPE A line ends (RFC 959 3.1.1.1)', () => {
  it('turns CRLF into LF, also when CR and LF arrive in different chunks', async () => {
    expect(await through(new CrlfToLf(), ['a\r\nb\r', '\nc\r\n'])).toBe('a\nb\nc\n');
    expect(await through(new CrlfToLf(), ['a\r', 'b\r'])).toBe('a\rb\r'); // lone CRs stay
    expect(await through(new CrlfToLf(), ['\r', '\r', '\n'])).toBe('\r\n');
  });

  it('turns LF into CRLF without doubling an existing CRLF', async () => {
    expect(await through(new LfToCrlf({ keepCrlf: true }), ['a\nb\r\n', 'c\n'])).toBe('a\r\nb\r\nc\r\n');
    expect(await through(new LfToCrlf({ keepCrlf: true }), ['a\r', '\nb'])).toBe('a\r\nb');
    expect(await through(new LfToCrlf({ keepCrlf: true }), ['\n\n'])).toBe('\r\n\r\n');
  });

  it('round-trips LF text split anywhere (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }).map((s) => s.replace(/\r/g, '')), fc.integer({ min: 1, max: 7 }), async (text, step) => {
        const chunks: string[] = [];
        const wire = await through(new LfToCrlf({ keepCrlf: true }), [text]);
        for (let i = 0; i < wire.length; i += step) chunks.push(wire.slice(i, i + step));
        expect(await through(new CrlfToLf(), chunks)).toBe(text);
      }),
    );
  });
});

describe('ftp:// URLs (RFC 1738 3.2)', () => {
  it('reads user, password, host, port and a percent-encoded path', () => {
    expect(parseFtpUrl('ftp://alice:s%40cret@ftp.any-domain.com:2121/pub/big%20file.bin')).toEqual({
      host: 'ftp.any-domain.com',
      port: 2121,
      user: 'alice',
      password: 's@cret',
      path: 'pub/big file.bin',
      isDirectory: false,
    });
    expect(parseFtpUrl('ftp://10.0.0.1')).toEqual({ host: '10.0.0.1', port: 21, path: '', isDirectory: true });
    expect(parseFtpUrl('FTP://h/incoming/')).toMatchObject({ path: 'incoming/', isDirectory: true });
    expect(parseFtpUrl('ftp://h/a.txt;type=i')).toMatchObject({ path: 'a.txt', isDirectory: false });
    expect(parseFtpUrl('ftp://anonymous@h/x')).toMatchObject({ user: 'anonymous' });
    expect(parseFtpUrl('ftp://anonymous@h/x').password).toBeUndefined();
  });

  it('refuses what is not an FTP URL, and line breaks that would inject commands', () => {
    for (const bad of ['http://h/x', 'ftp://', 'ftp://h:99999/x', 'ftp://h/%E0%A4%A', 'ftp://h/a%0d%0aDELE%20b', 'ftp://u%0a@h/x']) {
      expect(() => parseFtpUrl(bad), bad).toThrow();
    }
  });
});

describe('257 replies (RFC 959 Appendix II)', () => {
  it('reads the quoted path, with "" as a quote', () => {
    expect(parseQuotedPath('"/pub" is the current directory')).toBe('/pub');
    expect(parseQuotedPath('"/a ""quoted"" dir" created')).toBe('/a "quoted" dir');
    expect(parseQuotedPath('no quotes')).toBeUndefined();
    expect(parseQuotedPath('"unterminated')).toBeUndefined();
  });
});
