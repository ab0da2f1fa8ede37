/**
 * Parsing helpers shared by the venue adapters: plain decimal strings, JSON objects, and price levels sent as
 * strings. Pure, never throw: exchange input is hostile until checked.
 */
import type { StringLevel } from '../core/book.js';
import type { Level } from '../core/types.js';
import { POW10 } from '../wire/textscan.js';

/**
 * Venues send plain decimal strings ("0.35210000"): digits with at most one '.', starting with a digit.
 * Anything else ("", "-1", "1e5", "0x1f", " 1", "Infinity") is NaN. With at most 15 significant digits
 * (mantissa below 2^53) and at most 22 decimals, mantissa / 10^decimals is one correctly rounded division
 * of two exact doubles, i.e. exactly Number(s), and several times faster than Number(s).
 */
export function decimal(s: unknown): number {
  if (typeof s !== 'string') return NaN;
  const n = s.length;
  if (n === 0) return NaN;
  let m = 0;
  let k = 0;
  let dot = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      if (dot) k++;
    } else if (c === 46 && !dot && i > 0) dot = true;
    else return NaN;
  }
  return m <= Number.MAX_SAFE_INTEGER && k <= 22 ? m / POW10[k] : +s;
}

/** A plain non-negative integer string ("0", "42"; no sign, dot or exponent) that is a safe integer, else NaN. */
export function plainInteger(s: unknown): number {
  if (typeof s !== 'string' || !/^[0-9]{1,16}$/.test(s)) return NaN;
  const v = Number(s);
  return Number.isSafeInteger(v) ? v : NaN;
}

/** A parsed venue message: untyped JSON whose fields are checked one by one where they are read. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;

/** JSON.parse a frame that must be an object; the reason as a string otherwise. Never throws. */
export function parseJsonObject(text: string): JsonObject | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    return `malformed JSON: ${(e as Error).message}`;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'message is not a JSON object';
  return o as JsonObject;
}

/**
 * Most levels one side of one message may carry. The deepest book any adapter reads is OKX's REST
 * books-full (5000 per side); a frame with more is malformed or hostile and is refused before it is copied.
 */
export const MAX_LEVELS_PER_SIDE = 5000;

/** One side of a message, as numbers (for the book) and as the venue's strings (for checksums). */
export interface TextLevels {
  levels: Level[];
  text: StringLevel[];
}

/**
 * Parse one side: an array of at most MAX_LEVELS_PER_SIDE arrays whose first two entries are plain decimal
 * strings, price > 0 and size >= 0 (0 deletes), both finite. `extra` is how many further entries a level may
 * have (OKX: 2, the deprecated "0" and the order count, both checked to be plain integers; Bybit: 0).
 * Returns the reason as a string when anything is off.
 */
export function textLevels(x: unknown, field: string, extra: 0 | 2): TextLevels | string {
  if (!Array.isArray(x)) return `"${field}" must be an array of [price, size] string pairs`;
  if (x.length > MAX_LEVELS_PER_SIDE) return `"${field}" has ${x.length} levels (at most ${MAX_LEVELS_PER_SIDE})`;
  const levels: Level[] = new Array<Level>(x.length);
  const text: StringLevel[] = new Array<StringLevel>(x.length);
  for (let i = 0; i < x.length; i++) {
    const l: unknown = x[i];
    if (!Array.isArray(l) || l.length < 2 || l.length > 2 + extra) {
      return `"${field}"[${i}] must be an array of 2${extra > 0 ? `-${2 + extra}` : ''} strings`;
    }
    const p = decimal(l[0]);
    const s = decimal(l[1]);
    if (!(p > 0 && p < Infinity) || !(s >= 0 && s < Infinity)) {
      return `"${field}"[${i}] has a non-numeric or out-of-range price/size: ${JSON.stringify(l).slice(0, 80)}`;
    }
    for (let j = 2; j < l.length; j++) {
      if (Number.isNaN(plainInteger(l[j]))) return `"${field}"[${i}][${j}] must be a non-negative integer string`;
    }
    levels[i] = [p, s];
    text[i] = [l[0] as string, l[1] as string];
  }
  return { levels, text };
}

/**
 * Why a full book is invalid, or undefined: its best live bid (size > 0) is at or above its best live ask.
 * `what` names the book in the message ("snapshot").
 */
export function crossedError(what: string, bids: readonly Level[], asks: readonly Level[]): string | undefined {
  let bestBid = -Infinity;
  let bestAsk = Infinity;
  for (let i = 0; i < bids.length; i++) if (bids[i][1] > 0 && bids[i][0] > bestBid) bestBid = bids[i][0];
  for (let i = 0; i < asks.length; i++) if (asks[i][1] > 0 && asks[i][0] < bestAsk) bestAsk = asks[i][0];
  return bestBid >= bestAsk ? `crossed ${what}: best bid ${bestBid} >= best ask ${bestAsk}` : undefined;
}

/** `base` without one trailing slash. */
export function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

/** Split `items` into consecutive chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
