/**
 * The sequence diagram as Mermaid `sequenceDiagram` source (https://mermaid.js.org):
 * one participant per port, grouped in a box per host role (FTP Client, DNS, FTP
 * Server), sections and steps as notes across the diagram, each message an arrow
 * labelled with its name and fields, and its explanation as a note under it.
 */
import { formatIpv4 } from '../wire/address.js';
import { columnKeys, columnLabel, endpointKey, messageTitle, type SessionModel } from './session.js';

/** Mermaid reads `;` and `#` specially and `<`/`>` as markup: write them as entities. */
function escape(text: string): string {
  const entities: Record<string, string> = { '#': '#35;', ';': '#59;', '<': '#lt;', '>': '#gt;' };
  return text.replace(/[#;<>]/g, (c) => entities[c]!).replace(/[\r\n]+/g, ' ');
}

export function renderMermaid(model: SessionModel, options: { title?: string } = {}): string {
  const out: string[] = ['sequenceDiagram'];
  // The front matter is YAML: a title with a colon in it must be quoted, and a JSON
  // string is a valid YAML double-quoted scalar.
  if (options.title) out.unshift('---', `title: ${JSON.stringify(options.title.replace(/[\r\n]+/g, ' '))}`, '---');
  const ids = new Map<string, string>();
  let n = 0;
  for (const p of model.participants) {
    out.push(`  box rgb(244,246,250) ${escape(`${p.label} ${formatIpv4(p.address)}`)}`);
    for (const c of p.columns) {
      const id = `p${n++}`;
      for (const key of columnKeys(c)) ids.set(key, id);
      const what = c.members ? 'data ports' : `port ${columnLabel(c)}`;
      out.push(`    participant ${id} as ${escape(`${p.label} ${what}`)}`);
    }
    out.push('  end');
  }
  const all = [...new Set(ids.values())];
  const span = all.length > 1 ? `${all[0]},${all[all.length - 1]}` : (all[0] ?? 'p0');
  for (const item of model.items) {
    if (item.type === 'section') out.push(`  Note over ${span}: ${escape(item.title)}`);
    else if (item.type === 'step') out.push(`  Note over ${span}: ${escape(`» ${item.title}`)}`);
    else {
      const m = item.message;
      const from = ids.get(endpointKey(m.from))!;
      const to = ids.get(endpointKey(m.to))!;
      const name = messageTitle(m);
      const label = m.fields ? `${name}<br/>${m.fields}` : name;
      // A lost frame: an arrow that ends in a cross (Mermaid's -x).
      out.push(`  ${from}${m.lost ? '-x' : '->>'}${to}: ${m.frame}. ${escape(label).replace(/#lt;br\/#gt;/g, '<br/>')}`);
      if (m.explanation) out.push(`  Note over ${from === to ? from : `${from},${to}`}: ${escape(m.explanation)}`);
    }
  }
  return out.join('\n') + '\n';
}
