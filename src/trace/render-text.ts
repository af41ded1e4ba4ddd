/**
 * The sequence diagram as plain text, in the seed's form: participants across the
 * top with their ports as columns (FTP Client with its ports, DNS, FTP Server with
 * 21 and 20), a vertical lifeline per port, section headings across the page, and
 * for each message its name above an arrow between two ports, the fields beside the
 * arrow, and the explanation below them.
 *
 *                FTP Client                              DNS          FTP Server
 *                192.168.0.2                             192.168.0.1  192.168.0.1
 *                47162/udp   41338                       53/udp       21
 *                    |          |                           |           |
 *                    |  DNS Query                           |           |
 *           1        |------------------------------------->|           |   recdesired = 1, ...
 *                    |          |                           |           |   The FTP client sends ...
 */
import { formatIpv4 } from '../wire/address.js';
import { endpointKey, messageTitle, portLabel, type SessionMessage, type SessionModel } from './session.js';

export interface TextOptions {
  /** A title line, e.g. the capture's file name. */
  title?: string;
  /** Explanations wrap at this many characters (default 72). */
  wrap?: number;
}

const GUTTER = 8; // frame numbers
const MIN_GAP = 12; // between two lifelines

interface Layout {
  x: Map<string, number>; // column key -> character position
  width: number; // where the remarks start
  columns: string[];
}

function layout(model: SessionModel): Layout {
  const x = new Map<string, number>();
  const columns: string[] = [];
  let pos = GUTTER + 2;
  for (const p of model.participants) {
    const start = pos;
    for (const c of p.columns) {
      x.set(c.key, pos);
      columns.push(c.key);
      pos += Math.max(MIN_GAP, portLabel(c.endpoint).length + 3);
    }
    // A participant is at least as wide as its name and address.
    const need = Math.max(p.label.length, formatIpv4(p.address).length) + 3;
    if (pos - start < need) pos = start + need;
  }
  return { x, width: pos, columns };
}

/** A row of the drawing: a char buffer with every lifeline, plus text to the right. */
class Row {
  readonly chars: string[];
  constructor(private readonly l: Layout) {
    this.chars = Array.from({ length: l.width }, () => ' ');
    for (const key of l.columns) this.chars[l.x.get(key)!] = '|';
  }
  put(at: number, text: string): this {
    for (let i = 0; i < text.length; i++) this.chars[at + i] = text[i]!;
    return this;
  }
  toString(remark = ''): string {
    const body = this.chars.join('');
    return remark ? `${body.padEnd(this.l.width)}  ${remark}`.trimEnd() : body.trimEnd();
  }
}

export function wrapText(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

export function renderText(model: SessionModel, options: TextOptions = {}): string {
  const l = layout(model);
  const wrap = options.wrap ?? 72;
  const out: string[] = [];
  const rule = '='.repeat(Math.max(l.width + 40, 100));

  if (options.title) out.push(options.title, '');
  // Participant header: name, address, then each port under its lifeline.
  for (const line of ['label', 'address', 'ports'] as const) {
    const row = Array.from({ length: l.width + 12 }, () => ' ');
    const put = (at: number, text: string) => {
      for (let i = 0; i < text.length; i++) row[at + i] = text[i]!;
    };
    for (const p of model.participants) {
      const first = l.x.get(p.columns[0]!.key)!;
      if (line === 'label') put(first - 1, p.label);
      else if (line === 'address') put(first - 1, formatIpv4(p.address));
      else for (const c of p.columns) put(l.x.get(c.key)! - 1, portLabel(c.endpoint));
    }
    out.push((line === 'ports' ? 'Port' : '').padEnd(GUTTER) + row.join('').slice(GUTTER).trimEnd());
  }
  out.push(new Row(l).toString());

  for (const item of model.items) {
    if (item.type === 'section') {
      out.push(new Row(l).toString(), rule, ` ${item.title}`, rule, new Row(l).toString());
    } else if (item.type === 'step') {
      out.push(new Row(l).toString(`# ${item.title}`));
    } else {
      out.push(...renderMessage(item.message, l, wrap));
    }
  }
  out.push(new Row(l).toString(), '');
  const notDrawn = Object.entries(model.skipped).map(([k, n]) => `${n} ${k}`);
  const bad = Object.entries(model.malformed).map(([k, n]) => `${n} malformed (${k})`);
  out.push(`${model.messages.length} messages from ${model.frames} frames${notDrawn.length + bad.length > 0 ? `; not drawn: ${[...notDrawn, ...bad].join(', ')}` : ''}.`);
  return out.join('\n') + '\n';
}

function renderMessage(m: SessionMessage, l: Layout, wrap: number): string[] {
  const from = l.x.get(endpointKey(m.from))!;
  const to = l.x.get(endpointKey(m.to))!;
  const left = Math.min(from, to);
  const right = Math.max(from, to);
  const name = messageTitle(m);

  const label = new Row(l).put(left + 2, name);
  const arrow = new Row(l).put(0, String(m.frame).padStart(GUTTER - 2));
  if (from === to) {
    arrow.put(from + 1, '--+ (to itself)');
  } else {
    for (let i = left + 1; i < right; i++) arrow.chars[i] = '-';
    if (to > from) arrow.chars[to - 1] = '>';
    else arrow.chars[to + 1] = '<';
  }
  const remarks = [m.fields, ...wrapText(m.explanation, wrap)].filter(Boolean);
  const lines = [label.toString(), arrow.toString(remarks[0] ?? '')];
  for (const r of remarks.slice(1)) lines.push(new Row(l).toString(r));
  return lines;
}
