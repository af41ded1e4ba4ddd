import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { runDemo, type DemoResult } from '../demo/index.js';
import { renderHtml } from '../trace/render-html.js';
import { renderStateCsv, renderStateText } from '../trace/render-state.js';
import { fatal, parseIntArg, parseNumberArg, usageError } from './common.js';

const FORMATS = ['text', 'csv', 'html'] as const;
type Format = (typeof FORMATS)[number];

interface TraceCliOptions {
  format: string;
  output?: string;
  out?: string;
  loss?: string;
  reorder?: string;
  seed: string;
}

/**
 * `tapstack trace`: what Wireshark cannot show. Plays the seed session over the
 * in-memory link (on the virtual clock: the same seed gives the same trace) and
 * prints, per connection and for both hosts, what each TCP believed at every frame:
 * state, cwnd, ssthresh, RTO, SND.UNA, SND.NXT and the windows. As HTML: the
 * sequence diagram with a time-sequence plot per connection.
 */
export function register(program: Command): void {
  program
    .command('trace')
    .description("play the seed FTP session in memory and show each TCP's own state over time (cwnd, ssthresh, RTO, SND.UNA/NXT, windows)")
    .option('-f, --format <format>', 'text (a table per connection), csv or html (diagram with plots)', 'text')
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .option('--out <dir>', 'keep the session files (capture, diagrams) in DIR (default: a temporary directory, removed)')
    .option('--loss <p>', 'drop frames on the client link with probability p (0..0.5)')
    .option('--reorder <p>', 'reorder frames on the client link with probability p (0..0.5)')
    .option('--seed <n>', 'seed for ISNs, ports, DNS IDs and faults', '1')
    .action(async (opts: TraceCliOptions) => {
      if (!(FORMATS as readonly string[]).includes(opts.format)) usageError(`--format: "${opts.format}" is not one of ${FORMATS.join(', ')}`);
      const loss = opts.loss === undefined ? 0 : parseNumberArg('--loss', opts.loss, 0, 0.5);
      const reorder = opts.reorder === undefined ? 0 : parseNumberArg('--reorder', opts.reorder, 0, 0.5);
      const seed = parseIntArg('--seed', opts.seed, 0, 0xffffffff);
      const outDir = opts.out ?? (await mkdtemp(path.join(tmpdir(), 'tapstack-trace-')));
      // fatal() exits at once (no finally runs after it): remove the temporary directory first.
      const result = await runDemo({ link: 'memory', outDir, loss, reorder, seed }).catch((err: Error) => err);
      if (!opts.out) await rm(outDir, { recursive: true, force: true });
      if (result instanceof Error) fatal(`trace failed: ${result.message}`);
      const text = render(opts.format as Format, result, { loss, reorder, seed });
      if (!opts.output) {
        process.stdout.write(text);
        return;
      }
      try {
        await writeFile(opts.output, text);
      } catch (err) {
        fatal(`cannot write ${opts.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    });
}

function render(format: Format, result: DemoResult, run: { loss: number; reorder: number; seed: number }): string {
  const faults = run.loss || run.reorder ? `, loss ${run.loss}, reorder ${run.reorder}` : '';
  switch (format) {
    case 'text':
      return `TCP state of both hosts at every frame of the seed session (seed ${run.seed}${faults}); rows only where something changed.\n\n${renderStateText(result.trace)}`;
    case 'csv':
      return renderStateCsv(result.trace);
    case 'html':
      return renderHtml(result.model, { title: `tapstack trace: the seed FTP session (seed ${run.seed}${faults})`, trace: result.trace });
  }
}
