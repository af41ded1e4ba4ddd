/**
 * The sequence diagram as one self-contained HTML page: inline SVG drawn here (no
 * library, no network), one `<g class="message">` per message; clicking a message
 * (or focusing it and pressing Enter) shows its decoded headers in a side panel;
 * `session.html#frame=N` opens with frame N selected.
 */
import { formatIpv4 } from '../wire/address.js';
import { wrapText } from './render-text.js';
import { renderStateSvg, STATE_PLOT_CSS, STATE_PLOT_LEGEND } from './render-state.js';
import { columnKeys, columnLabel, endpointKey, formatEndpoint, messageTitle, type SessionModel } from './session.js';
import type { ConnectionTrace, StateSample } from './state-trace.js';
import { xml } from './xml.js';

const LEFT = 70; // frame numbers
const COL = 118; // between two lifelines
const PARTICIPANT_GAP = 24;
const HEADER = 92;
const REMARK_WIDTH = 470;
/** Pages wider than this put each explanation under its arrow, so a 1024x768 projector shows it all. */
const MAX_WIDTH = 1000;
/** Width of a character of the remarks (12px sans-serif), for wrapping. */
const CHAR = 6.6;
const LINE = 15;

/** JSON that is safe inside <script>: no "</script>", no HTML comment openers. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export interface HtmlOptions {
  title?: string;
  /** Our stacks' own TCP state per connection (tapstack demo): plotted, and shown per frame. */
  trace?: readonly ConnectionTrace[];
}

export function renderHtml(model: SessionModel, options: HtmlOptions = {}): string {
  const title = options.title ?? 'tapstack sequence diagram';
  const trace = options.trace ?? [];
  // Columns.
  const x = new Map<string, number>();
  const boxes: string[] = [];
  let pos = LEFT + 40;
  for (const p of model.participants) {
    const first = pos;
    const at: number[] = [];
    for (const c of p.columns) {
      for (const key of columnKeys(c)) x.set(key, pos);
      at.push(pos);
      pos += COL;
    }
    const last = pos - COL;
    boxes.push(
      `<g class="participant"><rect x="${first - 50}" y="8" width="${last - first + 100}" height="44" rx="6"/>` +
        `<text x="${(first + last) / 2}" y="26" class="pname">${xml(p.label)}</text>` +
        `<text x="${(first + last) / 2}" y="44" class="paddr">${xml(formatIpv4(p.address))}</text>` +
        p.columns.map((c, i) => `<text x="${at[i]}" y="72" class="port">${xml(columnLabel(c))}</text>`).join('') +
        `</g>`,
    );
    pos += PARTICIPANT_GAP;
  }
  const diagramRight = pos - PARTICIPANT_GAP - COL + 60;
  // Explanations beside the arrows when the page stays narrow enough, else under them.
  const below = diagramRight + 20 + REMARK_WIDTH > MAX_WIDTH;
  const remarkX = below ? LEFT + 10 : diagramRight + 20;
  const width = below ? Math.max(diagramRight + 20, 600) : remarkX + REMARK_WIDTH;
  const wrapAt = below ? Math.max(40, Math.floor((width - remarkX - 20) / CHAR)) : 70;

  // Rows.
  const rows: string[] = [];
  const details: unknown[] = [];
  let y = HEADER;
  const firstTime = model.messages[0]?.timestampNs ?? 0n;
  model.items.forEach((item) => {
    if (item.type === 'section') {
      rows.push(`<g class="section"><rect x="10" y="${y + 6}" width="${width - 20}" height="26"/><text x="20" y="${y + 24}">${xml(item.title)}</text></g>`);
      y += 40;
    } else if (item.type === 'step') {
      rows.push(`<g class="step"><text x="${remarkX}" y="${y + 14}">${xml(item.title)}</text></g>`);
      y += 22;
    } else {
      const m = item.message;
      const index = details.length;
      const from = x.get(endpointKey(m.from))!;
      const to = x.get(endpointKey(m.to))!;
      const name = messageTitle(m);
      const remark = wrapText(m.explanation, wrapAt);
      const height = below ? 52 + remark.length * LINE + 8 : Math.max(50, (remark.length + 1) * LINE + 12);
      const remarkY = below ? y + 56 : y + 14;
      const ay = y + 22;
      const dir = to >= from ? 1 : -1;
      const tip = to - dir * 2;
      const anomaly = (m.labels.length > 0 ? ' anomaly' : '') + (m.lost ? ' lost' : '');
      // A lost frame stops half-way, at a cross: it never reached the other side.
      const end = m.lost ? (from + to) / 2 + dir * 20 : tip;
      const head = m.lost
        ? `<path class="cross" d="M${end - 6},${ay - 6} L${end + 6},${ay + 6} M${end - 6},${ay + 6} L${end + 6},${ay - 6}"/>`
        : `<polygon points="${tip},${ay} ${tip - dir * 9},${ay - 4} ${tip - dir * 9},${ay + 4}"/>`;
      rows.push(
        `<g class="message${anomaly}" data-index="${index}" data-frame="${m.frame}" tabindex="0" role="button" aria-label="${xml(`${m.frame} ${name}`)}">` +
          `<title>${xml(`${name}\n${m.fields}\n${m.explanation}`)}</title>` +
          `<rect class="hit" x="10" y="${y}" width="${width - 20}" height="${height}"/>` +
          `<text x="${LEFT}" y="${ay + 4}" class="frame">${m.frame}</text>` +
          `<line x1="${from}" y1="${ay}" x2="${end}" y2="${ay}"/>` +
          head +
          `<text x="${(from + to) / 2}" y="${ay - 6}" class="name">${xml(name)}</text>` +
          `<text x="${(from + to) / 2}" y="${ay + 15}" class="fields">${xml(m.fields.length > 70 ? `${m.fields.slice(0, 67)}...` : m.fields)}</text>` +
          `<text x="${remarkX}" y="${remarkY}" class="remark">${remark.map((r, i) => `<tspan x="${remarkX}" dy="${i === 0 ? 0 : LINE}">${xml(r)}</tspan>`).join('')}</text>` +
          `</g>`,
      );
      details.push({
        frame: m.frame,
        time: `${(Number(m.timestampNs - firstTime) / 1e6).toFixed(3)} ms`,
        name,
        from: formatEndpoint(m.from),
        to: formatEndpoint(m.to),
        fields: m.fields,
        explanation: m.explanation,
        tcp: m.tcp,
        comment: m.captureComment,
        layers: m.layers,
        state: statesAt(trace, m.frame),
      });
      y += height;
    }
  });
  const height = y + 30;
  const lifelines = [...new Set(x.values())].map((lx) => `<line class="lifeline" x1="${lx}" y1="${HEADER - 12}" x2="${lx}" y2="${height - 10}"/>`).join('');

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${xml(title)}</title>
<style>
  body { margin: 0; font: 14px system-ui, sans-serif; color: #1d2330; background: #fff; }
  header { padding: 10px 18px; border-bottom: 1px solid #d8dde8; }
  header h1 { font-size: 18px; margin: 0 0 4px; }
  main { display: flex; align-items: flex-start; }
  #diagram { flex: 1 1 auto; overflow: auto; min-width: 0; max-height: calc(100vh - 70px); }
  svg text { font-size: 12px; }
  .participant rect { fill: #eef2fa; stroke: #6b7a99; }
  .pname { font-weight: 600; text-anchor: middle; font-size: 13px; }
  .paddr, .port { text-anchor: middle; fill: #4a5670; }
  .lifeline { stroke: #b5bfd3; stroke-dasharray: 4 3; }
  .section rect { fill: #1d3f72; }
  .section text { fill: #fff; font-weight: 600; font-size: 13px; }
  .step text { font-style: italic; fill: #1d3f72; font-weight: 600; }
  .message line { stroke: #1d2330; stroke-width: 1.4; }
  .message polygon { fill: #1d2330; }
  .message .hit { fill: transparent; }
  .message:hover .hit, .message:focus .hit, .message.selected .hit { fill: #fff6d6; }
  .message { cursor: pointer; outline: none; }
  .message .name { text-anchor: middle; font-weight: 600; }
  .message .fields { text-anchor: middle; fill: #4a5670; font-size: 11px; font-family: ui-monospace, monospace; }
  .message .frame { fill: #8a93a6; text-anchor: end; }
  .message .remark { fill: #333b4d; paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
  .message.anomaly line { stroke: #b3261e; }
  .message.anomaly polygon, .message.anomaly .name { fill: #b3261e; }
  .message.lost line { stroke-dasharray: 6 4; }
  .message .cross { stroke: #b3261e; stroke-width: 2.5; fill: none; }
  #details { position: sticky; top: 0; flex: 0 0 320px; max-height: calc(100vh - 70px); overflow: auto; border-left: 1px solid #d8dde8; padding: 12px 16px; box-sizing: border-box; font-size: 13px; }
  body.collapsed #details { display: none; }
  #toggle { float: right; font: inherit; padding: 4px 10px; margin-left: 12px; }
  header h1, header div { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  #state { padding: 8px 18px 24px; border-top: 1px solid #d8dde8; }
  #state h2 { font-size: 16px; margin: 8px 0; }
  #state .plots { display: flex; flex-wrap: wrap; }
${STATE_PLOT_CSS}
  #details h2 { font-size: 15px; margin: 4px 0 8px; }
  #details h3 { font-size: 13px; margin: 12px 0 4px; color: #1d3f72; }
  #details table { border-collapse: collapse; width: 100%; }
  #details td { border-top: 1px solid #eef0f4; padding: 2px 4px; vertical-align: top; font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; }
  #details td:first-child { color: #4a5670; width: 45%; font-family: system-ui, sans-serif; }
</style>
</head>
<body>
<header><button id="toggle" type="button" aria-controls="details" aria-expanded="true">Hide details</button><h1>${xml(title)}</h1><div>${model.messages.length} messages from ${model.frames} frames. Click a message to see its decoded headers${trace.length > 0 ? ' and what both TCPs believed at that moment' : ''}.</div></header>
<main>
<div id="diagram">
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
${boxes.join('\n')}
${lifelines}
${rows.join('\n')}
</svg>
</div>
<aside id="details"><p>Click a message in the diagram.</p></aside>
</main>
${statePlots(model, trace)}
<script type="application/json" id="messages">${scriptJson(details)}</script>
<script>
(function () {
  var messages = JSON.parse(document.getElementById('messages').textContent);
  var panel = document.getElementById('details');
  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
  function table(rows) {
    var t = el('table');
    rows.forEach(function (r) { var tr = el('tr'); tr.appendChild(el('td', r[0])); tr.appendChild(el('td', r[1])); t.appendChild(tr); });
    return t;
  }
  function show(g) {
    var m = messages[Number(g.getAttribute('data-index'))];
    document.querySelectorAll('.message.selected').forEach(function (s) { s.classList.remove('selected'); });
    g.classList.add('selected');
    panel.textContent = '';
    panel.appendChild(el('h2', 'Frame ' + m.frame + ': ' + m.name));
    panel.appendChild(el('p', m.explanation));
    var summary = [['Time', m.time], ['From', m.from], ['To', m.to], ['Fields', m.fields]];
    if (m.tcp) summary.push(['Relative seq / ack', m.tcp.seq + ' / ' + m.tcp.ack], ['Flags', m.tcp.flags], ['Data bytes', String(m.tcp.length)], ['Window', String(m.tcp.window)]);
    if (m.comment) summary.push(['Capture comment', m.comment]);
    panel.appendChild(table(summary));
    (m.state || []).forEach(function (st) {
      panel.appendChild(el('h3', 'TCP state of the ' + st.who + ' (not on the wire)'));
      panel.appendChild(table(st.rows));
    });
    m.layers.forEach(function (layer) { panel.appendChild(el('h3', layer.layer)); panel.appendChild(table(layer.fields)); });
    if (document.body.classList.contains('collapsed')) setCollapsed(false);
  }
  // The details pane folds away (a projector at 1024x768 needs the width for the
  // diagram); it starts folded on narrow screens and opens when a message is chosen.
  var toggle = document.getElementById('toggle');
  function setCollapsed(on) {
    document.body.classList.toggle('collapsed', on);
    toggle.textContent = on ? 'Show details' : 'Hide details';
    toggle.setAttribute('aria-expanded', String(!on));
  }
  toggle.addEventListener('click', function () { setCollapsed(!document.body.classList.contains('collapsed')); });
  if (window.innerWidth < 1200) setCollapsed(true);
  document.querySelectorAll('g.message').forEach(function (g) {
    g.addEventListener('click', function () { show(g); });
    g.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); show(g); } });
  });
  // A link to one frame (session.html#frame=12) opens with that message selected.
  var wanted = /^#frame=(\\d+)$/.exec(location.hash);
  if (wanted) {
    var target = document.querySelector('g.message[data-frame="' + wanted[1] + '"]');
    if (target) { show(target); target.scrollIntoView({ block: 'center' }); }
  }
  document.body.setAttribute('data-ready', String(messages.length));
})();
</script>
</body>
</html>
`;
}

/** Each end's state at a frame (the latest snapshot at or before it), for the details pane. */
function statesAt(trace: readonly ConnectionTrace[], frame: number): { who: string; rows: [string, string][] }[] {
  const out: { who: string; rows: [string, string][] }[] = [];
  for (const t of trace) {
    let at: StateSample | undefined;
    for (const s of t.samples) {
      if (s.frame > frame) break;
      at = s;
    }
    // Only the connection this frame belongs to was sampled at exactly this frame.
    if (!at || at.frame !== frame) continue;
    out.push({
      who: `${t.host} ${t.local}`,
      rows: [
        ['State', at.state],
        ['cwnd / ssthresh', `${at.cwnd} / ${at.ssthresh ?? 'none yet'}${at.inRecovery ? ' (fast recovery)' : ''}`],
        ['RTO', `${at.rto} ms`],
        ['SND.UNA / SND.NXT', `${at.sndUna} / ${at.sndNxt} (relative)`],
        ['SND.WND / RCV.WND', `${at.sndWnd} / ${at.rcvWnd}`],
      ],
    });
  }
  return out;
}

/** "The sender's mind": one time-sequence plot per connection that carried data. */
function statePlots(model: SessionModel, trace: readonly ConnectionTrace[]): string {
  if (trace.length === 0) return '';
  const marks = model.messages.filter((m) => m.lost || m.labels.some((l) => /Retransmission/.test(l))).map((m) => ({ frame: m.frame, label: messageTitle(m) }));
  const plots = trace
    .filter((t) => t.samples.some((s) => s.sndNxt > 2))
    .map((t) => renderStateSvg(t, marks.filter((m) => t.samples.some((s) => s.frame === m.frame))))
    .join('\n');
  return `<section id="state"><h2>What each TCP believed (recorded by the stack, not visible on the wire)</h2>
${STATE_PLOT_LEGEND}
<div class="plots">
${plots}
</div>
</section>`;
}
