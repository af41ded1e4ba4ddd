/**
 * Named counters on every path (the PyTCP idea): each drop, retransmission and state
 * change bumps one. Names are dotted, layer first: `ipv4.rx.bad_checksum`,
 * `arp.tx.request`, `tcp.retransmit.rto`. Tests assert them, `--stats` prints them.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** Every counter with a non-zero value, sorted by name. */
  snapshot(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of [...this.values.keys()].sort()) {
      if (name.startsWith(prefix)) out[name] = this.values.get(name)!;
    }
    return out;
  }

  /** Sum of all counters whose name starts with `prefix`. */
  sum(prefix: string): number {
    let total = 0;
    for (const [name, v] of this.values) if (name.startsWith(prefix)) total += v;
    return total;
  }

  /** Human-readable table, one counter a line. */
  format(prefix = ''): string {
    const snap = this.snapshot(prefix);
    const width = Math.max(0, ...Object.keys(snap).map((k) => k.length));
    return Object.entries(snap)
      .map(([k, v]) => `${k.padEnd(width)}  ${v}`)
      .join('\n');
  }
}
