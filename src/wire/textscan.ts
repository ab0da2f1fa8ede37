/**
 * Reading JSON text in a shape known in advance (fixed key order, no whitespace, no escapes): the shared
 * part of the fast decoders for venue frames (venues/binance.ts, okx.ts, bybit.ts: the free functions at the
 * end of this file) and our own raw.* heads (wire/scan.ts: TextScanner, a cursor). Both read numbers straight
 * from the text instead of building a JSON tree. Everything returns a "no" (-1, false, undefined) on anything
 * outside that shape, and the caller then falls back to JSON.parse, so results never depend on which path
 * ran -- only the speed does.
 */
import type { Level } from '../core/types.js';

/** Exact powers of ten: m / 10^k with m < 2^53 and k <= 22 is one correctly rounded division of two
 * exact doubles, which is the value JSON.parse (and Number()) gives for the decimal text. */
export const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

export class TextScanner {
  text = '';
  pos = 0;

  /** Start scanning `text` at `pos`. */
  at(text: string, pos = 0): this {
    this.text = text;
    this.pos = pos;
    return this;
  }

  /** Consume `lit` if the text continues with it. */
  expect(lit: string): boolean {
    // a loop over the characters: a little faster for these short literals than startsWith(lit, pos)
    const text = this.text;
    const p = this.pos;
    const n = lit.length;
    if (p + n > text.length) return false;
    for (let i = 0; i < n; i++) if (text.charCodeAt(p + i) !== lit.charCodeAt(i)) return false;
    this.pos = p + n;
    return true;
  }

  charCode(): number {
    return this.text.charCodeAt(this.pos);
  }

  /** Non-negative JSON integer (no leading zeros), or -1. */
  int(): number {
    const text = this.text;
    let i = this.pos;
    let c = text.charCodeAt(i);
    if (!(c >= 48 && c <= 57)) return -1;
    if (c === 48 && (c = text.charCodeAt(i + 1)) >= 48 && c <= 57) return -1; // JSON: "0" alone starts with 0
    c = text.charCodeAt(i);
    let v = 0;
    do {
      v = v * 10 + (c - 48);
      c = text.charCodeAt(++i);
    } while (c >= 48 && c <= 57);
    this.pos = i;
    return v <= Number.MAX_SAFE_INTEGER ? v : -1;
  }

  /** Non-negative JSON number without exponent (digits, optional fraction), or -1. */
  decimal(): number {
    const text = this.text;
    let i = this.pos;
    let c = text.charCodeAt(i);
    if (!(c >= 48 && c <= 57)) return -1;
    if (c === 48 && (c = text.charCodeAt(i + 1)) >= 48 && c <= 57) return -1;
    c = text.charCodeAt(i);
    let m = 0;
    do {
      m = m * 10 + (c - 48);
      c = text.charCodeAt(++i);
    } while (c >= 48 && c <= 57);
    let k = 0;
    if (c === 46) {
      c = text.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) return -1;
      do {
        m = m * 10 + (c - 48);
        k++;
        c = text.charCodeAt(++i);
      } while (c >= 48 && c <= 57);
    }
    if (c === 101 || c === 69 || m > Number.MAX_SAFE_INTEGER || k > 22) return -1; // exponent etc.: slow path
    this.pos = i;
    return m / POW10[k];
  }

  /**
   * A level array [[price,size],...] of plain decimals into `out` (quoted ones, as venues send them:
   * stringLevelsAt). Prices must be > 0 and sizes >= 0 (a zero size deletes the level).
   */
  levels(out: Level[]): boolean {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== 91) return false; // [
    this.pos++;
    if (text.charCodeAt(this.pos) === 93) {
      this.pos++;
      return true;
    }
    for (;;) {
      if (text.charCodeAt(this.pos) !== 91) return false;
      this.pos++;
      const p = this.decimal();
      if (!(p > 0) || text.charCodeAt(this.pos) !== 44) return false; // ,
      this.pos++;
      const s = this.decimal();
      if (s < 0 || text.charCodeAt(this.pos) !== 93) return false; // ]
      out.push([p, s]);
      const c = text.charCodeAt(++this.pos);
      this.pos++;
      if (c === 93) return true;
      if (c !== 44) return false;
    }
  }

  /** A JSON string that needs no decoding (no escapes, no control characters): its body, or undefined. */
  plainString(): string | undefined {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== 34) return undefined;
    const start = this.pos + 1;
    const end = text.indexOf('"', start);
    if (end < 0 || !isPlainBody(text, start, end)) return undefined;
    this.pos = end + 1;
    return text.slice(start, end);
  }

  /** Like plainString, but returns `prev` itself (no new string) when the text holds that same string. */
  cachedString(prev: string): string | undefined {
    const text = this.text;
    const p = this.pos;
    if (
      prev.length > 0 &&
      text.charCodeAt(p) === 34 &&
      text.startsWith(prev, p + 1) &&
      text.charCodeAt(p + 1 + prev.length) === 34
    ) {
      this.pos = p + prev.length + 2;
      return prev;
    }
    return this.plainString();
  }
}

/** True if text[start, end) is a JSON string body that needs no decoding: no escapes, no control characters. */
export function isPlainBody(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 || c < 32) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// The same reading as free functions over the frame's bytes, for the venue frame scanners' hot paths: each
// takes (bytes, index) and returns the index just past what it read, or -1. Called a dozen times per frame,
// a method call on a scanner object does not always get inlined; these keep the cursor in a local and the
// level loop whole (measured: Binance spot frames parse ~30 % faster than through TextScanner). They read
// bytes, not the string: String.prototype.charCodeAt costs several checks per character (the string's
// representation and width), a Uint8Array load one; copying the frame first (TextEncoder.encodeInto, one
// builtin call) and reading bytes is faster over a whole frame (measured, docs/performance.md).

/** The buffer asciiBytes reuses: grown on demand up to KEEP_BYTES; larger frames get one of their own. */
let scanBuffer = new Uint8Array(1 << 16);
const KEEP_BYTES = 1 << 20;
const encoder = new TextEncoder();

/** Zero bytes written after the frame: the scanners look ahead at most 3 bytes past where they stand. */
const PAD = 4;

/**
 * The frame as bytes, followed by PAD zero bytes, or undefined when it has a character outside ASCII (then the
 * scanner says no and the JSON path reads it). Byte i is then text.charCodeAt(i), so indices are shared with
 * the text. The array is reused by the next call: read it before scanning another frame. The zeros end every
 * read and every look-ahead (b[i + 2] === 115: is "st" next?): nothing a scanner accepts contains a 0, and
 * without them a look-ahead past the end would see an earlier, longer frame's bytes and take a wrong turn.
 */
export function asciiBytes(text: string): Uint8Array | undefined {
  const n = text.length;
  let b = scanBuffer;
  if (n + PAD > b.length) {
    let size = b.length;
    while (size < n + PAD) size *= 2;
    b = new Uint8Array(size);
    if (size <= KEEP_BYTES) scanBuffer = b;
  }
  const r = encoder.encodeInto(text, b);
  if (r.read !== n || r.written !== n) return undefined; // non-ASCII: more bytes than characters
  b[n] = 0;
  b[n + 1] = 0;
  b[n + 2] = 0;
  b[n + 3] = 0;
  return b;
}

/**
 * The index just past `lit` (made once with literal()) if the bytes continue with it at i, else -1.
 * Comparing two byte arrays is ~20 % faster than reading a string literal's characters with charCodeAt (a
 * Coinbase message's scan: 1.31 -> 1.05 µs). Declare the literals above the functions that use them: below,
 * V8's hole checks cost more than that.
 */
export function literalAt(b: Uint8Array, i: number, lit: Uint8Array): number {
  const n = lit.length;
  for (let j = 0; j < n; j++) if (b[i + j] !== lit[j]) return -1;
  return i + n;
}

/** An ASCII literal's bytes, for literalAt (made once, at module load). */
export function literal(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let j = 0; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c > 127) throw new RangeError(`literal: not ASCII: ${s}`);
    out[j] = c;
  }
  return out;
}

/** Where the last intAt (that did not return -1) stopped: the index after its digits. */
export let intEnd = 0;

const UPDATE = literal('update');
const SNAPSHOT = literal('snapshot');

/** The kind read by bookKindAt: 'update' or 'snapshot'. */
export let bookKind: 'snapshot' | 'update' = 'update';

/**
 * Index after the literal `update` or `snapshot` at i (the kind of a book message, as Kraken and Coinbase
 * spell it), with the kind in `bookKind`; -1 when neither is there.
 */
export function bookKindAt(b: Uint8Array, i: number): number {
  if (b[i] === 117) {
    bookKind = 'update';
    return literalAt(b, i, UPDATE);
  }
  bookKind = 'snapshot';
  return literalAt(b, i, SNAPSHOT);
}

/** A non-negative JSON integer at i (no leading zeros, at most 2^53 - 1), its end in intEnd; or -1. */
export function intAt(b: Uint8Array, i: number): number {
  let c = b[i];
  if (!(c >= 48 && c <= 57)) return -1;
  if (c === 48) {
    const d = b[i + 1];
    if (d >= 48 && d <= 57) return -1; // JSON: "0" alone starts with 0
  }
  let v = 0;
  do {
    v = v * 10 + (c - 48);
    c = b[++i];
  } while (c >= 48 && c <= 57);
  if (v > Number.MAX_SAFE_INTEGER) return -1;
  intEnd = i;
  return v;
}

/** Where the last bytesDecimalAt (that did not return -1) stopped: the index after the closing quote. */
export let bytesDecimalEnd = 0;

/**
 * A decimal in quotes at i ("65000.01"), with Number()'s value, its end in bytesDecimalEnd; or -1 (exponents,
 * signs, escapes: for the JSON path).
 */
export function bytesDecimalAt(b: Uint8Array, i: number): number {
  if (b[i] !== 34) return -1;
  const start = ++i;
  let c = b[i];
  if (!(c >= 48 && c <= 57)) return -1;
  // the integer part, then the fraction: two tight loops (no "seen the dot" test per digit)
  let m = 0;
  do {
    m = m * 10 + (c - 48);
    c = b[++i];
  } while (c >= 48 && c <= 57);
  const dot = i;
  if (c === 46) {
    c = b[++i];
    while (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      c = b[++i];
    }
  }
  if (c !== 34) return -1;
  bytesDecimalEnd = i + 1;
  const k = i > dot ? i - dot - 1 : 0; // digits after the dot ("1." has none)
  return m <= Number.MAX_SAFE_INTEGER && k <= 22 ? m / POW10[k] : Number(asciiText(b, start, i));
}

/** b[start, end) as a string (ASCII): for the rare number bytesDecimalAt leaves to Number(). */
function asciiText(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let j = start; j < end; j++) s += String.fromCharCode(b[j]);
  return s;
}

/**
 * Levels sent as strings at i, [["price","size"(,"int"...)],...], into `out`: the index after the closing
 * bracket, or -1. What the adapters' textLevels accepts with `extra` further strings per level, each 1-15
 * digits (OKX: the deprecated "0" and the order count); price > 0, size >= 0 (0 deletes), at most `max`
 * levels. Numbers get Number()'s value (bytesDecimalAt).
 */
export function stringLevelsAt(b: Uint8Array, i: number, out: Level[], extra: number, max: number): number {
  if (b[i] !== 91) return -1; // [
  let c = b[++i];
  if (c === 93) return i + 1;
  for (;;) {
    if (c !== 91 || out.length === max) return -1; // [
    const p = bytesDecimalAt(b, i + 1);
    if (!(p > 0 && p < Infinity) || b[bytesDecimalEnd] !== 44) return -1; // ,
    const s = bytesDecimalAt(b, bytesDecimalEnd + 1);
    if (!(s >= 0 && s < Infinity)) return -1;
    i = bytesDecimalEnd;
    if (extra > 0 && (i = extraStringsAt(b, i, extra)) < 0) return -1;
    if (b[i] !== 93) return -1; // ]
    out.push([p, s]);
    c = b[i + 1];
    i += 2;
    if (c === 93) return i;
    if (c !== 44) return -1;
    c = b[i];
  }
}

/**
 * `extra` strings of 1-15 digits at i, each after a comma (OKX's ,"0","3"): the index after them, or -1.
 * Apart from stringLevelsAt so that its loop stays small enough for V8 to inline into the venue scanners.
 */
function extraStringsAt(b: Uint8Array, i: number, extra: number): number {
  for (let e = 0; e < extra; e++) {
    if (b[i] !== 44 || b[i + 1] !== 34) return -1;
    i += 2;
    const start = i;
    let c = b[i];
    while (c >= 48 && c <= 57) c = b[++i];
    if (c !== 34 || i === start || i - start > 15) return -1;
    i++;
  }
  return i;
}

/** The last time's whole seconds (`2026-08-12T19:28:08`) and their ms: a second holds many messages. */
let lastSecond = '';
const lastSecondBytes = new Uint8Array(19);
let lastSecondMs = 0;

/**
 * ms since epoch of an RFC 3339 UTC time at i, `2026-08-12T19:28:08(.fraction of 1-9 digits)Z`, ending just
 * before `end` (the index of its closing quote); NaN for anything else or before 1970. The value Date.parse
 * gives the time cut to ms (krakenTime, coinbaseTime), without a Date.parse per time: the whole seconds' ms
 * are kept for the next time in the same second. Hour 24 is left to the careful paths (Date.parse takes
 * 24:00:00.000 only, so seconds + ms would be wrong there).
 */
export function utcTimeAt(b: Uint8Array, text: string, i: number, end: number): number {
  // the same second as the last time read (most are): those 19 characters were checked then
  let sameSecond = lastSecond.length === 19;
  for (let j = 0; sameSecond && j < 19; j++) sameSecond = b[i + j] === lastSecondBytes[j];
  if (!sameSecond) {
    if (b[i + 11] > 50 || (b[i + 11] === 50 && b[i + 12] > 51)) return NaN;
    for (let j = 0; j < 19; j++) {
      const c = b[i + j];
      const sep = j === 4 || j === 7 ? 45 : j === 10 ? 84 : j === 13 || j === 16 ? 58 : 0;
      if (sep === 0 ? !(c >= 48 && c <= 57) : c !== sep) return NaN;
    }
  }
  let j = i + 19;
  let ms = 0;
  if (b[j] === 46) {
    j++;
    const from = j;
    for (let c = b[j]; c >= 48 && c <= 57; c = b[++j]) if (j - from < 3) ms = ms * 10 + (c - 48);
    const digits = j - from;
    if (digits === 0 || digits > 9) return NaN;
    if (digits === 1) ms *= 100;
    else if (digits === 2) ms *= 10;
  }
  if (b[j] !== 90 || j + 1 !== end) return NaN; // Z"
  if (!sameSecond) {
    lastSecond = text.slice(i, i + 19);
    lastSecondBytes.set(b.subarray(i, i + 19));
    lastSecondMs = Date.parse(`${lastSecond}.000Z`);
  }
  const t = lastSecondMs + ms;
  return Number.isFinite(t) && t >= 0 ? t : NaN;
}
