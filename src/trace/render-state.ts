/**
 * The state trace (src/trace/state-trace.ts) for people: a CSV for spreadsheets, a
 * text table per connection, and a time-sequence plot per connection as inline SVG
 * (no library, no network) for the HTML page and `tapstack trace --format html`.
 *
 * The plot is Stevens' time-sequence graph seen from inside the sender: time to the
 * right, sequence space (relative to the ISS) upwards; SND.UNA (what the peer has
 * acknowledged) and SND.NXT (what was sent) as steps, and above them the two limits
 * on what may be sent: SND.UNA + cwnd (congestion control, RFC 5681) and
 * SND.UNA + SND.WND (the peer's window, RFC 9293 3.8.6). Below it, cwnd and ssthresh
 * in segments and the RTO in milliseconds (RFC 6298).
 */
import type { ConnectionTrace, StateSample } from './state-trace.js';
import { xml } from './xml.js';

const CSV_HEADER = 'host,local,remote,frame,time_ms,state,cwnd,ssthresh,rto_ms,in_recovery,snd_una,snd_nxt,snd_wnd,rcv_wnd';

export function renderStateCsv(traces: readonly ConnectionTrace[]): string {
  const out = [CSV_HEADER];
  for (const t of traces) {
    for (const s of t.samples) {
      out.push([t.host, t.local, t.remote, s.frame, ms(s.timeMs), s.state, s.cwnd, s.ssthresh ?? '', ms(s.rto), s.inRecovery ? 1 : 0, s.sndUna, s.sndNxt, s.sndWnd, s.rcvWnd].join(','));
    }
  }
  return out.join('\n') + '\n';
}

const COLUMNS: [string, number, (s: StateSample) => string][] = [
  ['frame', 6, (s) => String(s.frame)],
  ['time ms', 9, (s) => ms(s.timeMs)],
  ['state', 12, (s) => s.state],
  ['cwnd', 7, (s) => String(s.cwnd)],
  ['ssthresh', 9, (s) => (s.ssthresh === undefined ? '-' : String(s.ssthresh))],
  ['RTO ms', 7, (s) => ms(s.rto)],
  ['SND.UNA', 8, (s) => String(s.sndUna)],
  ['SND.NXT', 8, (s) => String(s.sndNxt)],
  ['SND.WND', 8, (s) => String(s.sndWnd)],
  ['RCV.WND', 8, (s) => String(s.rcvWnd)],
  ['', 0, (s) => (s.inRecovery ? 'recovery' : '')],
];

/** One table per connection, one row per frame; fits in 100 columns. */
export function renderStateText(traces: readonly ConnectionTrace[]): string {
  const out: string[] = [];
  for (const t of traces) {
    out.push(`${t.host} ${t.local} -> ${t.remote} (MSS ${t.mss}; sequence numbers relative to the ISS)`);
    out.push(COLUMNS.map(([name, w]) => name.padStart(w)).join(' ').trimEnd());
    let last = '';
    for (const s of t.samples) {
      const row = COLUMNS.map(([, w, f]) => f(s).padStart(w)).join(' ').trimEnd();
      // Many frames change nothing for this end: print a row only when something moved.
      const key = row.slice(COLUMNS[0]![1] + COLUMNS[1]![1] + 2);
      if (key === last) continue;
      last = key;
      out.push(row);
    }
    out.push('');
  }
  if (traces.length === 0) out.push('No TCP connection was seen.', '');
  return out.join('\n');
}

function ms(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}

// ------------------------------------------------------------------ SVG

const W = 440;
const H = 170;
const H2 = 80;
const PAD = { left: 52, right: 10, top: 14, bottom: 20 };

/** A polyline drawn as steps (a value holds until the next sample). */
function steps(points: [number, number][]): string {
  const out: string[] = [];
  for (let i = 0; i < points.length; i++) {
    const [x, y] = points[i]!;
    if (i > 0) out.push(`${x.toFixed(1)},${points[i - 1]![1].toFixed(1)}`);
    out.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  return out.join(' ');
}

/**
 * The plots of one connection as an <svg> element. `marks` are frames to flag on the
 * time axis (retransmissions, losses), with their label.
 */
export function renderStateSvg(t: ConnectionTrace, marks: readonly { frame: number; label: string }[] = []): string {
  const s = t.samples;
  if (s.length === 0) return '';
  const t0 = s[0]!.timeMs;
  const t1 = Math.max(s[s.length - 1]!.timeMs, t0 + 1);
  // Scaled to what was sent: the limits (cwnd, the peer's window) are usually far above
  // it on a short connection and are drawn clipped at the top edge ("not limiting").
  const seqMax = Math.max(10, Math.ceil(Math.max(...s.map((x) => x.sndNxt)) * 1.25));
  const x = (time: number) => PAD.left + ((time - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (seq: number, height: number, max: number) => PAD.top + (1 - Math.min(seq, max) / max) * (height - PAD.top - PAD.bottom);
  const seqY = (v: number) => y(v, H, seqMax);
  const line = (cls: string, pts: [number, number][], label: string) => `<polyline class="${cls}" points="${steps(pts)}"><title>${xml(label)}</title></polyline>`;

  const una = s.map((p) => [x(p.timeMs), seqY(p.sndUna)] as [number, number]);
  const nxt = s.map((p) => [x(p.timeMs), seqY(p.sndNxt)] as [number, number]);
  const cwndLimit = s.map((p) => [x(p.timeMs), seqY(p.sndUna + p.cwnd)] as [number, number]);
  const wndLimit = s.map((p) => [x(p.timeMs), seqY(p.sndUna + p.sndWnd)] as [number, number]);

  // Lower plot: cwnd and ssthresh in segments, RTO in ms on its own scale.
  const segs = (bytes: number) => bytes / Math.max(1, t.mss);
  const segMax = Math.max(2, ...s.map((p) => Math.max(segs(p.cwnd), p.ssthresh === undefined ? 0 : Math.min(segs(p.ssthresh), 2 * segs(p.cwnd) + 4))));
  const rtoMax = Math.max(1, ...s.map((p) => p.rto));
  const lowY = (v: number, max: number) => H + y(v, H2, max);
  const cwnd = s.map((p) => [x(p.timeMs), lowY(segs(p.cwnd), segMax)] as [number, number]);
  const ssthresh = s.filter((p) => p.ssthresh !== undefined).map((p) => [x(p.timeMs), lowY(segs(p.ssthresh!), segMax)] as [number, number]);
  const rto = s.map((p) => [x(p.timeMs), lowY(p.rto, rtoMax)] as [number, number]);

  const byFrame = new Map(s.map((p) => [p.frame, p]));
  const markLines = marks
    .map((m) => {
      const p = byFrame.get(m.frame) ?? s.find((q) => q.frame >= m.frame);
      if (!p) return '';
      const mx = x(p.timeMs).toFixed(1);
      return `<line class="mark" x1="${mx}" y1="${PAD.top}" x2="${mx}" y2="${H + H2 - PAD.bottom}"><title>${xml(`frame ${m.frame}: ${m.label}`)}</title></line>`;
    })
    .join('');
  const axisLow = H + H2 - PAD.bottom;
  const label = `${t.host} ${t.local} → ${t.remote}`;
  return (
    `<svg class="state-plot" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + H2}" viewBox="0 0 ${W} ${H + H2}" role="img" aria-label="${xml(`TCP state of ${label}`)}">` +
    `<text x="${PAD.left}" y="10" class="plot-title">${xml(label)}</text>` +
    `<line class="axis" x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}"/>` +
    `<line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${axisLow}"/>` +
    `<line class="axis" x1="${PAD.left}" y1="${axisLow}" x2="${W - PAD.right}" y2="${axisLow}"/>` +
    `<text x="${PAD.left - 4}" y="${PAD.top + 8}" class="tick">${seqMax}</text>` +
    `<text x="${PAD.left - 4}" y="${H - PAD.bottom}" class="tick">0</text>` +
    `<text x="${PAD.left - 4}" y="${H + PAD.top + 8}" class="tick">${Math.round(segMax)} seg</text>` +
    `<text x="${W - PAD.right}" y="${H + H2 - 4}" class="tick">${ms(t1 - t0)} ms</text>` +
    `<text x="${PAD.left + 2}" y="${H + H2 - 4}" class="tick-left">0 ms</text>` +
    markLines +
    line('wnd', wndLimit, 'SND.UNA + SND.WND: the most the peer’s window allows') +
    line('cwnd-limit', cwndLimit, 'SND.UNA + cwnd: the most congestion control allows') +
    line('nxt', nxt, 'SND.NXT: the next byte to send') +
    line('una', una, 'SND.UNA: the oldest byte not yet acknowledged') +
    line('cwnd', cwnd, 'cwnd in segments') +
    (ssthresh.length > 0 ? line('ssthresh', ssthresh, 'ssthresh in segments') : '') +
    line('rto', rto, `RTO (top = ${ms(rtoMax)} ms)`) +
    `</svg>`
  );
}

/** The legend and styles the plots need, once per page. */
export const STATE_PLOT_CSS = `
  .state-plot { background: #fff; border: 1px solid #d8dde8; margin: 4px; }
  .state-plot polyline { fill: none; stroke-width: 1.5; }
  .state-plot .una { stroke: #1d5fbf; } .state-plot .nxt { stroke: #1d2330; stroke-dasharray: 3 2; }
  .state-plot .cwnd-limit { stroke: #d9822b; } .state-plot .wnd { stroke: #2e8b57; stroke-dasharray: 1 3; }
  .state-plot .cwnd { stroke: #d9822b; } .state-plot .ssthresh { stroke: #8e44ad; stroke-dasharray: 4 2; } .state-plot .rto { stroke: #b3261e; stroke-dasharray: 2 2; }
  .state-plot .axis { stroke: #8a93a6; } .state-plot .mark { stroke: #b3261e; stroke-opacity: 0.35; }
  .state-plot text { font-size: 10px; fill: #4a5670; } .state-plot .tick { text-anchor: end; } .state-plot .plot-title { font-weight: 600; fill: #1d2330; }
  .legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
  .legend i { display: inline-block; width: 18px; height: 0; border-top: 2px solid; vertical-align: middle; margin-right: 4px; }
`;

export const STATE_PLOT_LEGEND =
  '<div class="legend">' +
  '<span><i style="border-color:#1d5fbf"></i>SND.UNA</span>' +
  '<span><i style="border-color:#1d2330;border-top-style:dashed"></i>SND.NXT</span>' +
  '<span><i style="border-color:#d9822b"></i>SND.UNA + cwnd (top) / cwnd (bottom)</span>' +
  '<span><i style="border-color:#2e8b57;border-top-style:dotted"></i>SND.UNA + SND.WND</span>' +
  '<span><i style="border-color:#8e44ad;border-top-style:dashed"></i>ssthresh</span>' +
  '<span><i style="border-color:#b3261e;border-top-style:dotted"></i>RTO</span>' +
  '<span><i style="border-color:#b3261e;opacity:.4"></i>retransmission or loss</span>' +
  '</div>';
