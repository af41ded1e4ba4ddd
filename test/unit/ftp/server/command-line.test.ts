import { describe, expect, it } from 'vitest';
import { LineReader } from '../../../../src/ftp/common/line-reader.js';
import { parseCommand } from '../../../../src/ftp/server/command-line.js';

describe('command lines', () => {
  it('splits lines across chunks, with CRLF or bare LF', () => {
    const r = new LineReader(100);
    expect(r.push(Buffer.from('US'))).toEqual([]);
    expect(r.push(Buffer.from('ER ftp\r\nPASS x\nNO'))).toEqual([
      { kind: 'line', line: 'USER ftp' },
      { kind: 'line', line: 'PASS x' },
    ]);
    expect(r.push(Buffer.from('OP\r\n'))).toEqual([{ kind: 'line', line: 'NOOP' }]);
  });

  it('reports an over-long line once and skips it without buffering it', () => {
    const r = new LineReader(10);
    expect(r.push(Buffer.from('A'.repeat(8)))).toEqual([]);
    expect(r.push(Buffer.from('B'.repeat(1000)))).toEqual([{ kind: 'too-long' }]);
    expect(r.push(Buffer.from('C'.repeat(100000)))).toEqual([]);
    expect(r.push(Buffer.from('D\r\nNOOP\r\n'))).toEqual([{ kind: 'line', line: 'NOOP' }]);
  });

  it('removes Telnet IP/DM before ABOR (RFC 959 4.1.3)', () => {
    const r = new LineReader(100);
    expect(r.push(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR\r\n')]))).toEqual([{ kind: 'line', line: 'ABOR' }]);
  });

  it('decodes UTF-8 names', () => {
    const r = new LineReader(100);
    expect(r.push(Buffer.from('RETR файл.txt\r\n', 'utf8'))).toEqual([{ kind: 'line', line: 'RETR файл.txt' }]);
  });

  it('parses verb and argument, keeping spaces in names', () => {
    expect(parseCommand('retr  two  spaces ')).toEqual({ verb: 'RETR', arg: ' two  spaces ' });
    expect(parseCommand('PWD')).toEqual({ verb: 'PWD', arg: '' });
  });
});
