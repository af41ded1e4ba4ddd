/**
 * Helpers for fuzzing parsers. "Never reads past the buffer" is checked two ways:
 * - the parser gets a guarded view that throws on any index outside [0, length)
 *   (in JavaScript such a read gives `undefined`, which bit operations silently turn
 *   into 0: a wrong answer instead of a crash, so it has to be caught explicitly);
 * - the same bytes are parsed as views into two larger buffers with different
 *   surroundings: every view the parser returns must lie inside its input, and both
 *   answers must be equal.
 */

/** Turn a parse result into plain data (views become arrays) for deep comparison. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

/** Every Uint8Array inside `value` lies within `bounds` (same buffer, inside its range). */
export function viewsInside(value: unknown, bounds: Uint8Array): boolean {
  if (value instanceof Uint8Array) {
    if (value.buffer !== bounds.buffer) return true; // a fresh copy, not a view
    return value.byteOffset >= bounds.byteOffset && value.byteOffset + value.length <= bounds.byteOffset + bounds.length;
  }
  if (Array.isArray(value)) return value.every((v) => viewsInside(v, bounds));
  if (value && typeof value === 'object') return Object.values(value).every((v) => viewsInside(v, bounds));
  return true;
}

/** `bytes` as a view in the middle of a larger buffer whose other bytes are `fill`. */
export function embed(bytes: Uint8Array, fill: number): Uint8Array {
  const big = new Uint8Array(bytes.length + 64).fill(fill);
  big.set(bytes, 32);
  return big.subarray(32, 32 + bytes.length);
}

/**
 * Parse `bytes` twice with different surroundings; throws (failing the property) if
 * the parser threw, returned views outside its input, or depended on outside bytes.
 */
export function checkParseIsLocal(parse: (buf: Uint8Array) => unknown, bytes: Uint8Array): void {
  parse(guarded(bytes));
  const a = embed(bytes, 0x00);
  const b = embed(bytes, 0xff);
  const ra = parse(a);
  const rb = parse(b);
  if (!viewsInside(ra, a) || !viewsInside(rb, b)) throw new Error('parser returned a view outside its input');
  const pa = JSON.stringify(plain(ra));
  const pb = JSON.stringify(plain(rb));
  if (pa !== pb) throw new Error(`parser read outside its input:\n${pa}\n${pb}`);
}

/** Apply (index, value) mutations to a copy of `bytes`; indexes wrap around. */
export function mutate(bytes: Uint8Array, edits: readonly { at: number; value: number }[], cut: number): Uint8Array {
  const out = bytes.slice(0, Math.max(0, bytes.length - cut));
  for (const e of edits) if (out.length > 0) out[e.at % out.length] = e.value;
  return out;
}

/** A proxy of `bytes` that throws on an indexed read or write outside [0, length). */
export function guarded(bytes: Uint8Array): Uint8Array {
  return new Proxy(bytes, {
    get(target, prop) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < 0 || i >= target.length) throw new RangeError(`read at index ${i} of a ${target.length}-byte buffer`);
        return target[i];
      }
      const v = Reflect.get(target, prop, target) as unknown;
      // Typed-array methods must run on the real array, not on the proxy.
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    set(target, prop, value) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) throw new RangeError(`parser wrote index ${prop}`);
      return Reflect.set(target, prop, value, target);
    },
  });
}
