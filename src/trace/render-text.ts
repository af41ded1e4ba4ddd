/**
 * The sequence diagram as plain text, in the seed's form: participants across the
 * top with their ports as columns (FTP Client with its ports, DNS, FTP Server with
 * 21 and 20), a vertical lifeline per port, section headings across the page, and
 * for each message its name above an arrow between two ports, then its fields and
 * explanation: beside the arrows when they fit, else under each arrow, so that no
 * line is longer than 120 characters (a host's many data connections share one
 * column, see MAX_DATA_COLUMNS in session.ts). A lost frame's arrow stops at an X.
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
import { columnKeys, columnLabel, endpointKey, messageTitle, type SessionMessage, type SessionModel } from './session.js';

export interface TextOptions {
  /** A title line, e.g. the capture's file name. */
  title?: string;
  /** No line is longer than this (default 120, a terminal or a printed page in landscape). */
  width?: number;
}

const GUTTER = 8; // frame numbers
const MIN_GAP = 10; // between two lifelines
/** Remarks need at least this many characters beside the diagram, else they go below each arrow. */
const MIN_REMARK = 40;

interface Layout {
  x: Map<string, number>; // endpoint key -> character position of its lifeline
  width: number; // where the remarks start
  lifelines: number[];
}

function layout(model: SessionModel): Layout {
  const x = new Map<string, number>();
  const lifelines: number[] = [];
  let pos = GUTTER + 2;
  for (const p of model.participants) {
    const start = pos;
    for (const c of p.columns) {
      for (const key of columnKeys(c)) x.set(key, pos);
      lifelines.push(pos);
      pos += Math.max(MIN_GAP, columnLabel(c).length + 3);
    }
    // A participant is at least as wide as its name and address.
    const need = Math.max(p.label.length, formatIpv4(p.address).length) + 3;
    if (pos - start < need) pos = start + need;
  }
  return { x, width: pos, lifelines };
}

/** A row of the drawing: a char buffer with every lifeline, plus text to the right. */
class Row {
  readonly chars: string[];
  constructor(private readonly l: Layout) {
    this.chars = Array.from({ length: l.width }, () => ' ');
    for (const at of l.lifelines) this.chars[at] = '|';
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
  const maxWidth = options.width ?? 120;
  // Remarks beside the arrows when they fit, else under each arrow across the page.
  const beside = maxWidth - l.width - 2 >= MIN_REMARK;
  const wrap = beside ? maxWidth - l.width - 2 : maxWidth - GUTTER - 2;
  const out: string[] = [];
  const rule = '='.repeat(Math.min(maxWidth, Math.max(l.width + 40, 100)));

  if (options.title) out.push(...wrapText(options.title, maxWidth), '');
  // Participant header: name, address, then each port under its lifeline.
  for (const line of ['label', 'address', 'ports'] as const) {
    const row = Array.from({ length: l.width + 12 }, () => ' ');
    const put = (at: number, text: string) => {
      for (let i = 0; i < text.length; i++) row[at + i] = text[i]!;
    };
    for (const p of model.participants) {
      const first = l.x.get(columnKeys(p.columns[0]!)[0]!)!;
      if (line === 'label') put(first - 1, p.label);
      else if (line === 'address') put(first - 1, formatIpv4(p.address));
      else for (const c of p.columns) put(l.x.get(columnKeys(c)[0]!)! - 1, columnLabel(c));
    }
    out.push((line === 'ports' ? 'Port' : '').padEnd(GUTTER) + row.join('').slice(GUTTER).trimEnd());
  }
  out.push(new Row(l).toString());

  for (const item of model.items) {
    if (item.type === 'section') {
      out.push(new Row(l).toString(), rule, ...wrapText(item.title, maxWidth - 1).map((t) => ` ${t}`), rule, new Row(l).toString());
    } else if (item.type === 'step') {
      out.push(beside ? new Row(l).toString(`# ${item.title}`) : `${' '.repeat(GUTTER)}# ${item.title}`);
    } else {
      out.push(...renderMessage(item.message, l, wrap, beside));
    }
  }
  out.push(new Row(l).toString(), '');
  const notDrawn = Object.entries(model.skipped).map(([k, n]) => `${n} ${k}`);
  const bad = Object.entries(model.malformed).map(([k, n]) => `${n} malformed (${k})`);
  out.push(...wrapText(`${model.messages.length} messages from ${model.frames} frames${notDrawn.length + bad.length > 0 ? `; not drawn: ${[...notDrawn, ...bad].join(', ')}` : ''}.`, maxWidth));
  const folded = model.participants.flatMap((p) => p.columns.filter((c) => c.members).map((c) => `${p.label} ${formatIpv4(p.address)}: ${c.members!.length} data connection endpoints`));
  if (folded.length > 0) out.push(...wrapText(`Folded into one "data" column (each arrow's fields name its ports): ${folded.join('; ')}.`, maxWidth));
  if (model.messages.some((m) => m.lost)) out.push('An arrow that ends in X is a frame that was lost on the way.');
  return out.join('\n') + '\n';
}

function renderMessage(m: SessionMessage, l: Layout, wrap: number, beside: boolean): string[] {
  const from = l.x.get(endpointKey(m.from))!;
  const to = l.x.get(endpointKey(m.to))!;
  const left = Math.min(from, to);
  const right = Math.max(from, to);
  const name = messageTitle(m);

  const label = new Row(l).put(left + 2, name);
  const arrow = new Row(l).put(0, String(m.frame).padStart(GUTTER - 2));
  if (from === to) {
    arrow.put(from + 1, '--+ (to itself)');
  } else if (m.lost) {
    // A lost frame stops half-way at an X: it never reached the other lifeline.
    const mid = Math.round((from + to) / 2);
    for (let i = Math.min(from, mid) + 1; i < Math.max(from, mid); i++) arrow.chars[i] = '-';
    arrow.chars[mid] = 'X';
  } else {
    for (let i = left + 1; i < right; i++) arrow.chars[i] = '-';
    if (to > from) arrow.chars[to - 1] = '>';
    else arrow.chars[to + 1] = '<';
  }
  const remarks = [...wrapText(m.fields, wrap), ...wrapText(m.explanation, wrap)];
  if (!beside) return [label.toString(), arrow.toString(), ...remarks.map((r) => `${' '.repeat(GUTTER + 2)}${r}`)];
  const lines = [label.toString(), arrow.toString(remarks[0] ?? '')];
  for (const r of remarks.slice(1)) lines.push(new Row(l).toString(r));
  return lines;
}
