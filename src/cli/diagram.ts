import { createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { CaptureStreamError, openCaptureStream } from '../trace/capture-stream.js';
import { renderHtml } from '../trace/render-html.js';
import { renderMermaid } from '../trace/render-mermaid.js';
import { renderText } from '../trace/render-text.js';
import { SessionAnalyzer, type SessionModel } from '../trace/session.js';
import { fatal, parseIntArg, usageError } from './common.js';

const FORMATS = ['text', 'mermaid', 'html'] as const;
type Format = (typeof FORMATS)[number];

/**
 * A diagram is for reading: past some thousands of arrows nobody reads it, and the
 * model of every message is what costs memory. The capture itself is streamed, so
 * its size does not matter; the number of drawn messages is bounded by this.
 */
export const DEFAULT_MAX_MESSAGES = 20_000;

interface DiagramOptions {
  format: string;
  output?: string;
  maxMessages: string;
}

/**
 * `tapstack diagram CAPTURE [--format text|mermaid|html] [-o FILE] [--max-messages N]`:
 * draw the sequence diagram of any pcap or pcapng file in the seed's style.
 */
export function register(program: Command): void {
  program
    .command('diagram')
    .description('draw a sequence diagram (DNS, FTP control and data connections) from a pcap or pcapng capture')
    .argument('<capture>', 'a pcap or pcapng file (tcpdump -w, Wireshark, tapstack --pcap)')
    .option('-f, --format <format>', 'text, mermaid or html', 'text')
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .option('--max-messages <n>', 'stop with an error past this many drawn messages (the file is read as a stream; this bounds memory)', String(DEFAULT_MAX_MESSAGES))
    .action(async (capture: string, opts: DiagramOptions) => {
      if (!(FORMATS as readonly string[]).includes(opts.format)) usageError(`--format: "${opts.format}" is not one of ${FORMATS.join(', ')}`);
      const maxMessages = parseIntArg('--max-messages', opts.maxMessages, 1, 10_000_000);
      let stream;
      try {
        stream = await openCaptureStream(capture);
      } catch (err) {
        usageError(`cannot read ${capture}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const analyzer = new SessionAnalyzer();
      let count = 0;
      try {
        for await (const packet of stream.packets) {
          if (analyzer.add(packet) && ++count > maxMessages) {
            fatal(`${capture} has more than ${maxMessages} messages to draw (stopped at frame ${analyzer.frameCount}); draw a part of it (editcap -r ${basename(capture)} part.pcapng 1-${analyzer.frameCount - 1}) or raise --max-messages`);
          }
        }
      } catch (err) {
        if (err instanceof CaptureStreamError) usageError(`${capture} is not a readable capture: ${err.message} (at byte ${err.offset})`);
        fatal(`cannot read ${capture}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const model = analyzer.model();
      const title = `Sequence diagram of ${basename(capture)}${stream.truncated ? ' (the file ends in the middle of a packet)' : ''}`;
      const text = render(opts.format as Format, model, title);
      if (!opts.output) {
        process.stdout.write(text);
        return;
      }
      await new Promise<void>((resolve) => {
        const out = createWriteStream(opts.output!);
        out.on('error', (err) => fatal(`cannot write ${opts.output}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
        out.end(text, resolve);
      });
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
