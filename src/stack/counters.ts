/**
 * Named counters on every path (the PyTCP idea): each drop, retransmission and state
 * change bumps one. Names are dotted, layer first: `ipv4.rx.bad_checksum`,
 * `arp.tx.request`, `tcp.retransmit.rto`. Tests assert them, `--stats` prints them.
 */
export class Counters {
  /**
   * One small mutable cell per name: inc() then costs one map lookup instead of a
   * get and a set (it runs several times for every frame).
   */
  private readonly cells = new Map<string, { value: number }>();

  inc(name: string, by = 1): void {
    const cell = this.cells.get(name);
    if (cell) cell.value += by;
    else this.cells.set(name, { value: by });
  }

  get(name: string): number {
    return this.cells.get(name)?.value ?? 0;
  }

  /** Every counter with a non-zero value, sorted by name. */
  snapshot(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of [...this.cells.keys()].sort()) {
      const value = this.cells.get(name)!.value;
      if (name.startsWith(prefix) && value !== 0) out[name] = value;
    }
    return out;
  }

  /** Sum of all counters whose name starts with `prefix`. */
  sum(prefix: string): number {
    let total = 0;
    for (const [name, cell] of this.cells) if (name.startsWith(prefix)) total += cell.value;
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
