/**
 * A cursor over JSON text in a shape known in advance (fixed key order, no whitespace, no escapes): the
 * shared part of the fast decoders for Binance frames (venues/binance.ts) and our own raw.* heads
 * (wire/scan.ts). It reads numbers straight from the text instead of building a JSON tree. Every method
 * returns a "no" (-1, false, undefined) on anything outside that shape, and the caller then falls back
 * to JSON.parse, so results never depend on which path ran -- only the speed does.
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
    if (!this.text.startsWith(lit, this.pos)) return false;
    this.pos += lit.length;
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

  /** A decimal in quotes, as exchanges send prices and sizes ("65000.01"), with Number()'s value; or -1. */
  quotedDecimal(): number {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== 34) return -1;
    let i = this.pos + 1;
    const start = i;
    let c = text.charCodeAt(i);
    if (!(c >= 48 && c <= 57)) return -1;
    let m = 0;
    let k = 0;
    let dot = false;
    for (;;) {
      if (c >= 48 && c <= 57) {
        m = m * 10 + (c - 48);
        if (dot) k++;
      } else if (c === 46 && !dot) dot = true;
      else break;
      c = text.charCodeAt(++i);
    }
    if (c !== 34) return -1; // closing quote; anything else (e, x, escapes) is for the slow path
    this.pos = i + 1;
    return m <= Number.MAX_SAFE_INTEGER && k <= 22 ? m / POW10[k] : +text.slice(start, i);
  }

  /**
   * A level array [[price,size],...] into `out`, prices as plain (`quoted` false) or quoted decimals.
   * Prices must be > 0 and sizes >= 0 (a zero size deletes the level).
   */
  levels(out: Level[], quoted: boolean): boolean {
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
      const p = quoted ? this.quotedDecimal() : this.decimal();
      if (!(p > 0) || text.charCodeAt(this.pos) !== 44) return false; // ,
      this.pos++;
      const s = quoted ? this.quotedDecimal() : this.decimal();
      if (s < 0 || text.charCodeAt(this.pos) !== 93) return false; // ]
      out.push([p, s]);
      const c = text.charCodeAt(++this.pos);
      this.pos++;
      if (c === 93) return true;
      if (c !== 44) return false;
    }
  }

  /** A JSON integer that may be negative (no leading zeros, no fraction or exponent), or NaN. */
  signedInt(): number {
    if (this.text.charCodeAt(this.pos) !== 45) {
      const v = this.int();
      return v < 0 ? NaN : v;
    }
    this.pos++;
    const v = this.int();
    if (v < 0) {
      this.pos--;
      return NaN;
    }
    return -v;
  }

  /**
   * A quoted string of 1 to 15 digits (leading zeros allowed: what the adapters' plainInteger accepts, minus
   * the 16-digit strings it may refuse), as a number; or -1.
   */
  quotedDigits(): number {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== 34) return -1;
    let i = this.pos + 1;
    const start = i;
    let v = 0;
    let c = text.charCodeAt(i);
    while (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      c = text.charCodeAt(++i);
    }
    if (c !== 34 || i === start || i - start > 15) return -1;
    this.pos = i + 1;
    return v;
  }

  /**
   * Levels sent as strings, [["price","size"(,"int"...)],...], into `out`: what the adapters' textLevels
   * accepts with `extra` further strings per level, each 1-15 digits (OKX: the deprecated "0" and the order
   * count). Price finite > 0, size finite >= 0 (0 deletes), at most `max` levels. Anything else: false.
   */
  stringLevels(out: Level[], extra: number, max: number): boolean {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== 91) return false; // [
    this.pos++;
    if (text.charCodeAt(this.pos) === 93) {
      this.pos++;
      return true;
    }
    for (;;) {
      if (text.charCodeAt(this.pos) !== 91 || out.length === max) return false;
      this.pos++;
      const p = this.quotedDecimal();
      if (!(p > 0 && p < Infinity) || text.charCodeAt(this.pos) !== 44) return false;
      this.pos++;
      const s = this.quotedDecimal();
      if (!(s >= 0 && s < Infinity)) return false;
      for (let j = 0; j < extra; j++) {
        if (text.charCodeAt(this.pos) !== 44) return false;
        this.pos++;
        if (this.quotedDigits() < 0) return false;
      }
      if (text.charCodeAt(this.pos) !== 93) return false; // ]
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
