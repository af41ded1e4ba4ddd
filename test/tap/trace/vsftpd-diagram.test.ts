import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { renderText } from '../../../src/trace/render-text.js';
import { buildSession } from '../../../src/trace/session.js';
import { readCapture } from '../../../src/wire/pcapng.js';
import { seedSections } from '../../support/seed-check.js';
import { describeTap } from '../support/gate.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../fixtures/trace/make-ftp-fixture.sh', import.meta.url));
const tag = `d${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'tapstack-vsftpd-diagram-'));

afterAll(() => {
  // The script deletes its namespaces on exit; make sure, even if it was killed.
  for (const side of ['c', 's']) spawnSync('ip', ['netns', 'del', `tapstack-fixture-ftp-${side}-${tag}`], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Live: the Linux ftp client (tnftp) against vsftpd, with dnsmasq for the name, in two
 * namespaces of our own (test/fixtures/trace/make-ftp-fixture.sh), captured by
 * tcpdump; the diagram of that capture has the seed's sections.
 */
describeTap('tapstack diagram on a live tcpdump of tnftp and vsftpd', () => {
  for (const [mode, port] of [
    ['port', 'PORT'],
    ['epsv', 'EPSV'],
  ] as const) {
    it(`finds the seed's sections (${port})`, async () => {
      const out = join(dir, `${mode}.pcap`);
      const { stdout } = await run('sh', [script, mode], { env: { ...process.env, OUT_FILE: out, NS_TAG: tag }, timeout: 60_000 });
      expect(stdout).toContain('readme.txt transferred intact');
      const file = readCapture(new Uint8Array(readFileSync(out)));
      if (!file.ok) throw new Error(file.error.message);
      const model = buildSession(file.value.packets);
      const text = renderText(model);
      const headings = seedSections(port);
      expect(model.items.flatMap((i) => (i.type === 'section' ? [i.title] : []))).toEqual(headings);
      for (const h of [...headings, 'DNS Query', 'TCP SYN', 'FTP 220', 'USER ftp', 'FTP 331', 'PASS abc@any-domain.com', 'FTP 230', 'LIST', 'FTP DATA', 'CWD pub', 'RETR readme.txt', 'QUIT', 'FTP 221']) {
        expect(text.indexOf(h), h).toBeGreaterThanOrEqual(0);
      }
      let at = 0;
      for (const h of headings) {
        const found = text.indexOf(h, at);
        expect(found, `${h} in order`).toBeGreaterThanOrEqual(at);
        at = found;
      }
      // Two data connections, each at least SYN, SYN+ACK, ACK, data, FIN, FIN, ACK (ACKs may merge).
      expect(model.messages.filter((m) => m.kind === 'ftp-data').length).toBeGreaterThanOrEqual(12);
      expect(Object.keys(model.malformed)).toEqual([]);
    });
  }
});
