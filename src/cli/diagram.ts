import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { renderHtml } from '../trace/render-html.js';
import { renderMermaid } from '../trace/render-mermaid.js';
import { renderText } from '../trace/render-text.js';
import { buildSession, type SessionModel } from '../trace/session.js';
import { readCapture } from '../wire/pcapng.js';
import { fatal, usageError } from './common.js';

const FORMATS = ['text', 'mermaid', 'html'] as const;
type Format = (typeof FORMATS)[number];

interface DiagramOptions {
  format: string;
  output?: string;
}

/**
 * `tapstack diagram CAPTURE [--format text|mermaid|html] [-o FILE]`: draw the
 * sequence diagram of any pcap or pcapng file in the seed's style.
 */
export function register(program: Command): void {
  program
    .command('diagram')
    .description('draw a sequence diagram (DNS, FTP control and data connections) from a pcap or pcapng capture')
    .argument('<capture>', 'a pcap or pcapng file (tcpdump -w, Wireshark, tapstack --pcap)')
    .option('-f, --format <format>', 'text, mermaid or html', 'text')
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .action((capture: string, opts: DiagramOptions) => {
      if (!(FORMATS as readonly string[]).includes(opts.format)) usageError(`--format: "${opts.format}" is not one of ${FORMATS.join(', ')}`);
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(capture);
      } catch (err) {
        usageError(`cannot read ${capture}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const file = readCapture(bytes);
      if (!file.ok) usageError(`${capture} is not a readable capture: ${file.error.message} (at byte ${file.error.offset})`);
      const model = buildSession(file.value.packets);
      const title = `Sequence diagram of ${basename(capture)}${file.value.truncated ? ' (the file ends in the middle of a packet)' : ''}`;
      const text = render(opts.format as Format, model, title);
      if (opts.output) {
        try {
          writeFileSync(opts.output, text);
        } catch (err) {
          fatal(`cannot write ${opts.output}: ${(err as Error).message}`);
        }
      } else {
        process.stdout.write(text);
      }
    });
}

function render(format: Format, model: SessionModel, title: string): string {
  switch (format) {
    case 'text':
      return renderText(model, { title });
    case 'mermaid':
      return renderMermaid(model, { title });
    case 'html':
      return renderHtml(model, { title });
  }
}
