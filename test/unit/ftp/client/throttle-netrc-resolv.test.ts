import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { candidateNames, parseResolvConf } from '../../../../src/dns/resolv-conf.js';
import { findNetrcEntry, parseFtpUrl, parseNetrc } from '../../../../src/ftp/client/index.js';
import { throttle } from '../../../../src/ftp/client/throttle.js';
import { VirtualClock } from '../../../../src/stack/clock.js';

describe('throttle (rate): bytes are let through when they are due', () => {
  it('10 000 bytes at 1000 bytes/s take 10 s of the (virtual) clock, in tenth-of-a-second pieces', async () => {
    const clock = new VirtualClock();
    let passed = 0;
    const sink = new Writable({
      write(c: Buffer, _e, done) {
        passed += c.length;
        done();
      },
    });
    const done = pipeline(Readable.from([Buffer.alloc(6000), Buffer.alloc(4000)]), throttle(clock, 1000), sink);
    const at = async (ms: number) => {
      clock.advance(ms);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      return passed;
    };
    expect(await at(0)).toBe(0); // the first piece is due at 0.5 s (512 bytes, the smallest piece)
    expect(await at(1000)).toBeGreaterThanOrEqual(512);
    expect(passed).toBeLessThanOrEqual(1024);
    expect(await at(4000)).toBeLessThanOrEqual(5000);
    expect(await at(5000)).toBe(10_000);
    await done;
  });
});

describe('.netrc (BSD ftp auto-login)', () => {
  const text = 'machine ftp.example.org\n  login alice\n  password "with space"\n  account acct\nmacdef init\nbinary\nprompt\n\nmachine other login bob\ndefault login anonymous password me@here\n';

  it('reads machine, login, password (quoted), account; skips macdef bodies', () => {
    expect(parseNetrc(text)).toEqual([
      { machine: 'ftp.example.org', login: 'alice', password: 'with space', account: 'acct' },
      { machine: 'other', login: 'bob' },
      { machine: undefined, login: 'anonymous', password: 'me@here' },
    ]);
  });

  it('finds the host (any case), else the default entry', () => {
    const entries = parseNetrc(text);
    expect(findNetrcEntry(entries, 'FTP.example.org')?.login).toBe('alice');
    expect(findNetrcEntry(entries, 'elsewhere')?.login).toBe('anonymous');
    expect(findNetrcEntry(parseNetrc('machine a login b'), 'c')).toBeUndefined();
  });
});

describe('resolv.conf', () => {
  it('keeps up to three IPv4 nameservers that are not loopback, and the last search line', () => {
    const conf = parseResolvConf('# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nnameserver ::1\n; other comment\ndomain old.example\nsearch any-domain.com example.org\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n');
    expect(conf).toEqual({ nameservers: ['10.0.0.1', '10.0.0.2', '10.0.0.3'], search: ['any-domain.com', 'example.org'] });
  });

  it('tries search domains first for a name without a dot, last for one with a dot', () => {
    const conf = { nameservers: [], search: ['any-domain.com'] };
    expect(candidateNames('ftp', conf)).toEqual(['ftp.any-domain.com', 'ftp']);
    expect(candidateNames('ftp.example.org', conf)).toEqual(['ftp.example.org', 'ftp.example.org.any-domain.com']);
    expect(candidateNames('ftp.example.org.', conf)).toEqual(['ftp.example.org']);
  });
});

describe('ftp:// URL ;type= (RFC 1738 3.2.2)', () => {
  it('reads a, i and d, and takes it off the path', () => {
    expect(parseFtpUrl('ftp://h/a.txt;type=a')).toMatchObject({ path: 'a.txt', type: 'A' });
    expect(parseFtpUrl('ftp://h/a.bin;type=I')).toMatchObject({ path: 'a.bin', type: 'I' });
    expect(parseFtpUrl('ftp://h/pub;type=d')).toMatchObject({ path: 'pub', type: 'D' });
    expect(parseFtpUrl('ftp://h/a.bin').type).toBeUndefined();
  });
});
