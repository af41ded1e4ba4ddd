import type { Probe, ProbeResult } from './probe.js';

/**
 * The packetimpact-style table: one row per probe, the rule, what it expects, and
 * what each dut did. A tapstack cell is `pass`, `FAIL`, or `PENDING` (a known gap,
 * with its reason below the table); the Linux cell is the reference.
 */

export type Status = 'pass' | 'FAIL' | 'PENDING' | 'pass (was pending)';

export function statusOf(probe: Probe, ours: ProbeResult): Status {
  if (ours.ok) return probe.pending ? 'pass (was pending)' : 'pass';
  return probe.pending ? 'PENDING' : 'FAIL';
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function renderTable(probes: readonly Probe[], ours: readonly ProbeResult[], linux: readonly ProbeResult[]): string {
  const lines = [
    '| # | probe | RFC rule | expected | tapstack | Linux |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  probes.forEach((p, i) => {
    const o = ours[i]!;
    const l = linux[i]!;
    lines.push(
      `| ${i + 1} | ${cell(p.name)} | ${cell(p.rule)} | ${cell(p.expected)} | ${statusOf(p, o)}: ${cell(o.saw)} | ${l.ok ? 'ok' : 'differs'}: ${cell(l.saw)} |`,
    );
  });
  const count = (s: Status): number => probes.filter((p, i) => statusOf(p, ours[i]!) === s).length;
  lines.push(
    '',
    `${probes.length} probes. tapstack: ${count('pass') + count('pass (was pending)')} pass, ${count('FAIL')} fail, ${count('PENDING')} pending. ` +
      `Linux: ${linux.filter((r) => r.ok).length} meet the expectation.`,
  );
  const pending = probes.map((p, i) => [p, ours[i]!] as const).filter(([p, o]) => p.pending && !o.ok);
  if (pending.length > 0) {
    lines.push('', 'Pending (known gaps of our stack, being fixed):');
    for (const [p] of pending) lines.push(`- ${p.name}: ${p.pending}`);
  }
  const differs = probes.filter((p, i) => p.linuxDiffers && !linux[i]!.ok);
  if (differs.length > 0) {
    lines.push('', 'Where Linux departs from the expectation:');
    for (const p of differs) lines.push(`- ${p.name}: ${p.linuxDiffers}`);
  }
  const stale = probes.filter((p, i) => p.pending && ours[i]!.ok);
  if (stale.length > 0) {
    lines.push('', 'Now passing, their pending mark can go:');
    for (const p of stale) lines.push(`- ${p.name}`);
  }
  return lines.join('\n');
}
