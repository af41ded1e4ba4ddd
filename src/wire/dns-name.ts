/**
 * Domain names on the wire (RFC 1035 3.1, 4.1.4).
 *
 * A name is a sequence of labels, each a length byte (0-63) and that many bytes,
 * ending with the zero-length root label. To save space a name may end with a
 * two-byte pointer (top bits 11) to an earlier place in the message where the rest
 * of the name is written: "compression".
 *
 * In the rest of the stack a name is text: labels joined by dots, no trailing dot,
 * the root is ''. A label byte that would be ambiguous in text (a dot, a backslash,
 * a space or anything not printable ASCII) is escaped the master-file way (RFC 1035
 * 5.1): `\.`, `\\`, `\DDD`. So any name that can be on the wire has exactly one text
 * form, and text -> wire -> text is lossless.
 */

import { parsed, refused, type ParseResult } from './result.js';

export const MAX_LABEL_LENGTH = 63;
/** RFC 1035 3.1: the wire form, length bytes and root included, is at most 255 bytes. */
export const MAX_NAME_LENGTH = 255;

/** Why a DNS message was refused; each kind is also the counter suffix `dns.rx.<kind>`. */
export type DnsErrorKind =
  | 'truncated' // the message ends inside something
  | 'bad_pointer' // a compression pointer that does not point backwards
  | 'pointer_loop' // pointers that would revisit a place already read
  | 'bad_label_type' // label type bits 01 or 10 (RFC 6891 retired them)
  | 'name_too_long' // more than 255 bytes once the pointers are followed
  | 'bad_count' // header counts promise more than the message can hold
  | 'bad_rdata'; // RDATA that does not fit its type or its RDLENGTH

export interface DnsError {
  kind: DnsErrorKind;
  /** Where in the message the problem was found. */
  offset: number;
  message: string;
}

/** A name and the offset just after its in-place bytes. */
export type NameReadResult = ParseResult<{ name: string; next: number }, DnsError>;

function nameError(kind: DnsErrorKind, offset: number, message: string): NameReadResult {
  return refused({ kind, offset, message });
}

/**
 * Read the name at `offset` of `msg`. Bytes in place must end before `end` (the end of
 * a record's RDATA, say); pointers may reach anywhere before the name. Returns the name
 * and the offset just after its in-place bytes. Never throws.
 *
 * Loop safety: the first pointer must point before the name's own start, and every
 * further pointer before the target of the previous one. Targets strictly decrease,
 * so the walk always ends; an encoder that only points to names it already wrote
 * (which is what compression means) never breaks the rule.
 */
export function readName(msg: Uint8Array, offset: number, end = msg.length): NameReadResult {
  const labels: string[] = [];
  let pos = offset;
  let bound = Math.min(end, msg.length);
  let limit = offset; // a pointer must point below this
  let next = -1; // where reading continues after the name, once known
  let wireLength = 0;
  for (;;) {
    if (pos >= bound) return nameError('truncated', pos, 'message ends inside a name');
    const len = msg[pos]!;
    const type = len & 0xc0;
    if (type === 0xc0) {
      if (pos + 1 >= bound) return nameError('truncated', pos, 'message ends inside a compression pointer');
      const target = ((len & 0x3f) << 8) | msg[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (target >= limit) {
        return target >= pos
          ? nameError('bad_pointer', pos, `pointer to ${target} does not point backwards`)
          : nameError('pointer_loop', pos, `pointer to ${target} would read ${target}..${limit} again`);
      }
      limit = target;
      pos = target;
      bound = msg.length;
      continue;
    }
    if (type !== 0) return nameError('bad_label_type', pos, `label type 0x${type.toString(16)} is not supported`);
    wireLength += len + 1;
    if (wireLength > MAX_NAME_LENGTH) return nameError('name_too_long', pos, 'name longer than 255 bytes');
    if (len === 0) break;
    if (pos + 1 + len > bound) return nameError('truncated', pos, 'message ends inside a label');
    labels.push(labelToText(msg, pos + 1, len));
    pos += 1 + len;
  }
  if (next < 0) next = pos + 1;
  return parsed({ name: labels.join('.'), next });
}

/** One label as text, escaping bytes that would be ambiguous (RFC 1035 5.1). */
function labelToText(msg: Uint8Array, start: number, len: number): string {
  let out = '';
  for (let i = start; i < start + len; i++) {
    const b = msg[i]!;
    if (b === 0x2e || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b <= 0x20 || b >= 0x7f) out += '\\' + b.toString().padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

/**
 * Split text into wire labels, undoing the escapes. A trailing dot is allowed ('a.b.'
 * is 'a.b'); '' and '.' are the root. Returns null for text that is not a valid name:
 * an empty label, a label over 63 bytes, a name over 255 bytes, a bad escape.
 */
export function nameToLabels(name: string): Uint8Array[] | null {
  if (name === '' || name === '.') return [];
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  let wireLength = 1; // the root label
  const endLabel = (): boolean => {
    if (current.length === 0 || current.length > MAX_LABEL_LENGTH) return false;
    labels.push(Uint8Array.from(current));
    wireLength += current.length + 1;
    current = [];
    return true;
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (!endLabel()) return null;
      if (i === name.length - 1) return wireLength <= MAX_NAME_LENGTH ? labels : null;
    } else if (c === 0x5c) {
      const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) return null;
        current.push(v);
        i += 3;
      } else if (i + 1 < name.length && name.charCodeAt(i + 1) < 0x80) {
        current.push(name.charCodeAt(i + 1));
        i += 1;
      } else {
        return null;
      }
    } else if (c < 0x80) {
      current.push(c);
    } else {
      return null; // non-ASCII text must be given as \DDD (or IDNA-encoded first)
    }
  }
  if (!endLabel()) return null;
  return wireLength <= MAX_NAME_LENGTH ? labels : null;
}

/** Labels of a name in text form, escapes kept ('a\\.b.c' is ['a\\.b', 'c']). */
export function splitName(name: string): string[] {
  if (name === '' || name === '.') return [];
  const labels: string[] = [];
  let current = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === '\\') {
      current += c + (name[i + 1] ?? '');
      i += 1;
    } else if (c === '.') {
      labels.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  if (current !== '' || labels.length > 0) labels.push(current);
  // A trailing dot leaves an empty last label: the root, which text leaves implicit.
  if (labels.length > 0 && labels[labels.length - 1] === '') labels.pop();
  return labels;
}

/** Canonical text of a name, for comparison: ASCII case folded (RFC 4343), no trailing dot. */
export function canonicalName(name: string): string {
  return splitName(name)
    .join('.')
    .replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** True when `name` equals `zone` or lies below it (compared label by label, case folded). */
export function isSubdomain(name: string, zone: string): boolean {
  const n = splitName(canonicalName(name));
  const z = splitName(canonicalName(zone));
  if (z.length > n.length) return false;
  for (let i = 1; i <= z.length; i++) if (n[n.length - i] !== z[z.length - i]) return false;
  return true;
}
