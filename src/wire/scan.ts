/**
 * Fast path for decoding raw.* deltas: a scanner for the exact JSON head our own encoder writes
 * (encodeCollectorEvent: fixed key order, no whitespace, plain strings, plain decimals). It reads numbers
 * straight from the text instead of building a JSON tree, and keeps the text of the bids/asks arrays so
 * the arbiter can republish them without formatting numbers again. Anything else returns undefined and
 * goes through JSON.parse (messages.ts), so the result is the same either way; only the speed differs
 * (test/wire/scan.test.ts checks the two agree).
 */
import type { BookDelta, Level } from '../core/types.js';

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** Cursor; module state keeps the helpers allocation-free. */
let pos = 0;

function expect(text: string, lit: string): boolean {
  if (!text.startsWith(lit, pos)) return false;
  pos += lit.length;
  return true;
}

/** Non-negative JSON integer at pos, or -1. */
function scanInt(text: string): number {
  let i = pos;
  let c = text.charCodeAt(i);
  if (!(c >= 48 && c <= 57)) return -1;
  if (c === 48 && (c = text.charCodeAt(i + 1)) >= 48 && c <= 57) return -1; // no leading zeros in JSON
  let v = 0;
  c = text.charCodeAt(i);
  do {
    v = v * 10 + (c - 48);
    c = text.charCodeAt(++i);
  } while (c >= 48 && c <= 57);
  pos = i;
  return v <= Number.MAX_SAFE_INTEGER ? v : -1;
}

/**
 * Non-negative JSON number without exponent at pos, or -1. m / 10^k with m < 2^53 and k <= 22 is one
 * correctly rounded division of two exact doubles: the same value JSON.parse gives.
 */
function scanDecimal(text: string): number {
  let i = pos;
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
  pos = i;
  return m / POW10[k];
}

/** A JSON string at pos with no escapes or control characters; its body, or undefined. */
function scanPlainString(text: string): string | undefined {
  if (text.charCodeAt(pos) !== 34) return undefined;
  const start = pos + 1;
  const end = text.indexOf('"', start);
  if (end < 0) return undefined;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 || c < 32) return undefined;
  }
  pos = end + 1;
  return text.slice(start, end);
}

/** [[price,size],...] at pos; prices > 0, sizes >= 0 (what the slow path's validation accepts, narrowed). */
function scanLevels(text: string, out: Level[]): boolean {
  if (text.charCodeAt(pos) !== 91) return false;
  pos++;
  if (text.charCodeAt(pos) === 93) {
    pos++;
    return true;
  }
  for (;;) {
    if (text.charCodeAt(pos) !== 91) return false;
    pos++;
    const p = scanDecimal(text);
    if (!(p > 0) || text.charCodeAt(pos) !== 44) return false;
    pos++;
    const s = scanDecimal(text);
    if (s < 0 || text.charCodeAt(pos) !== 93) return false;
    out.push([p, s]);
    const c = text.charCodeAt(++pos);
    pos++;
    if (c === 93) return true;
    if (c !== 44) return false;
  }
}

// The last venue/symbol/collector strings seen: a bus carries few of them, so reuse instead of allocating.
let lastVenue = '';
let lastSymbol = '';
let lastCollector = '';

function scanCached(text: string, prev: string): string | undefined {
  if (text.charCodeAt(pos) === 34 && text.startsWith(prev, pos + 1) && text.charCodeAt(pos + 1 + prev.length) === 34 && prev.length > 0) {
    pos += prev.length + 2;
    return prev;
  }
  return scanPlainString(text);
}

/**
 * Decide, once venue, symbol and the sequence range are known, whether the levels are needed at all.
 * The arbiter answers false for a copy it will drop as already seen: the rest of the head is not read.
 */
export type LevelsWanted = (venue: string, symbol: string, first: number, last: number) => boolean;

const NO_LEVELS: Level[] = Object.freeze([]) as unknown as Level[];

/**
 * Scan a raw.* delta head as encodeCollectorEvent writes it. Returns undefined when the text is not in
 * that exact shape (the caller then uses JSON.parse). When `wanted` says no, the returned delta has empty,
 * frozen bids/asks and `levelsSkipped: true`: it carries the range, the times and the collector only.
 */
export function scanCollectorDelta(text: string, wanted?: LevelsWanted): (BookDelta & { levelsSkipped?: true }) | undefined {
  pos = 0;
  if (!expect(text, '{"v":1,"type":"delta","venue":')) return undefined;
  const venue = scanCached(text, lastVenue);
  if (venue === undefined || !expect(text, ',"symbol":')) return undefined;
  lastVenue = venue;
  const symbol = scanCached(text, lastSymbol);
  if (symbol === undefined || !expect(text, ',"first":')) return undefined;
  lastSymbol = symbol;
  const first = scanInt(text);
  if (first < 0 || !expect(text, ',"last":')) return undefined;
  const last = scanInt(text);
  if (last < first) return undefined;
  let prev: number | undefined;
  if (expect(text, ',"prev":')) {
    prev = scanInt(text);
    if (prev < 0) return undefined;
  }
  if (!expect(text, ',"exchTime":')) return undefined;
  const exchTime = scanInt(text);
  if (exchTime < 0 || !expect(text, ',"recvTime":')) return undefined;
  const recvTime = scanInt(text);
  if (recvTime < 0 || !expect(text, ',"collector":')) return undefined;
  const collector = scanCached(text, lastCollector);
  if (collector === undefined) return undefined;
  lastCollector = collector;
  const ev: BookDelta & { levelsSkipped?: true } = {
    type: 'delta',
    venue,
    symbol,
    first,
    last,
    exchTime,
    recvTime,
    collector,
    bids: NO_LEVELS,
    asks: NO_LEVELS,
  };
  if (prev !== undefined) ev.prev = prev;
  if (wanted !== undefined && !wanted(venue, symbol, first, last)) {
    ev.levelsSkipped = true;
    return ev;
  }
  if (!expect(text, ',"bids":')) return undefined;
  const bidsStart = pos;
  const bids: Level[] = [];
  if (!scanLevels(text, bids)) return undefined;
  const bidsEnd = pos;
  if (!expect(text, ',"asks":')) return undefined;
  const asksStart = pos;
  const asks: Level[] = [];
  if (!scanLevels(text, asks) || text.charCodeAt(pos) !== 125 || pos + 1 !== text.length) return undefined;
  ev.bids = bids;
  ev.asks = asks;
  ev.bidsJson = text.slice(bidsStart, bidsEnd);
  ev.asksJson = text.slice(asksStart, pos);
  return ev;
}

/**
 * The integer right after the first `key` (e.g. '"seq":') in a JSON text, if it is a plain integer
 * followed by , or }. A cheap peek for readers (recorder, database sink) that need one or two fields.
 */
export function intAfterKey(text: string, key: string): number | undefined {
  const i = text.indexOf(key);
  if (i < 0) return undefined;
  const start = i + key.length;
  let j = start;
  for (let c = text.charCodeAt(j); (c >= 48 && c <= 57) || c === 45; c = text.charCodeAt(++j));
  const end = text.charCodeAt(j);
  if (j === start || (end !== 44 && end !== 125)) return undefined;
  return Number(text.slice(start, j));
}
