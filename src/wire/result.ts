/**
 * What every parser in wire/ returns (smoltcp's `Result<Repr>`): the typed value, or
 * a typed error that names why the bytes were refused. A parser never throws on
 * untrusted input, so the caller's `if (!r.ok)` is the only place a bad frame goes.
 * Each codec names its own error type (a counter suffix like 'bad_checksum', or an
 * object with an offset for DNS); the shape around it is the same everywhere.
 */
export type ParseResult<T, E> = { ok: true; value: T } | { ok: false; error: E };

export function parsed<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function refused<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
