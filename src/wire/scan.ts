/**
 * Fast path for decoding raw.* deltas: a scanner for the exact JSON head our own encoder writes
 * (encodeCollectorEvent: fixed key order, no whitespace, plain strings, plain decimals). It reads numbers
 * straight from the text instead of building a JSON tree, and keeps the text of the bids/asks arrays so
 * the arbiter can republish them without formatting numbers again. Anything else returns undefined and
 * goes through JSON.parse (messages.ts), so the result is the same either way; only the speed differs
 * (test/wire/scan.test.ts checks the two agree).
 */
import type { BookDelta, Level } from '../core/types.js';
import type { ConsolidatedDelta } from '../core/consolidated.js';
import { TextScanner } from './textscan.js';

const sc = new TextScanner();

// The last venue/symbol/collector strings seen: a bus carries few of them, so reuse instead of allocating.
let lastVenue = '';
let lastSymbol = '';
let lastCollector = '';

/** `{"v":1,"type":"delta","venue":V,"symbol":S` at the start of `text`, then `next`; sets lastVenue/lastSymbol. */
function deltaHead(text: string, next: string): boolean {
  sc.at(text);
  if (!sc.expect('{"v":1,"type":"delta","venue":')) return false;
  const venue = sc.cachedString(lastVenue);
  if (venue === undefined || !sc.expect(',"symbol":')) return false;
  lastVenue = venue;
  const symbol = sc.cachedString(lastSymbol);
  if (symbol === undefined || !sc.expect(next)) return false;
  lastSymbol = symbol;
  return true;
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
export function scanCollectorDelta(
  text: string,
  wanted?: LevelsWanted,
): (BookDelta & { levelsSkipped?: true }) | undefined {
  if (!deltaHead(text, ',"first":')) return undefined;
  const venue = lastVenue;
  const symbol = lastSymbol;
  const first = sc.int();
  if (first < 0 || !sc.expect(',"last":')) return undefined;
  const last = sc.int();
  if (last < first) return undefined;
  let prev: number | undefined;
  if (sc.expect(',"prev":')) {
    prev = sc.int();
    if (prev < 0) return undefined;
  }
  if (!sc.expect(',"exchTime":')) return undefined;
  const exchTime = sc.int();
  if (exchTime < 0 || !sc.expect(',"recvTime":')) return undefined;
  const recvTime = sc.int();
  if (recvTime < 0 || !sc.expect(',"collector":')) return undefined;
  const collector = sc.cachedString(lastCollector);
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
  // what the levels say, without parsing them: the arbiter (the one reader passing `wanted`) compares copies
  // of the same ids by it
  if (wanted !== undefined) ev.levelsPrint = levelsPrint(text, sc.pos);
  if (wanted !== undefined && !wanted(venue, symbol, first, last)) {
    ev.levelsSkipped = true;
    return ev;
  }
  if (!sc.expect(',"bids":')) return undefined;
  const bidsStart = sc.pos;
  const bids: Level[] = [];
  if (!sc.levels(bids)) return undefined;
  const bidsEnd = sc.pos;
  if (!sc.expect(',"asks":')) return undefined;
  const asksStart = sc.pos;
  const asks: Level[] = [];
  if (!sc.levels(asks) || sc.charCode() !== 125 || sc.pos + 1 !== text.length) return undefined;
  ev.bids = bids;
  ev.asks = asks;
  ev.bidsJson = text.slice(bidsStart, bidsEnd);
  ev.asksJson = text.slice(asksStart, sc.pos);
  return ev;
}

/**
 * A fingerprint of a raw.* delta's levels from their text (`,"bids":[[p,q],...],"asks":[...]}` from `from`):
 * the sum of a hash of each level's text with its side, so two copies listing the same levels in another
 * order print alike. Two collectors encode the same venue message's levels the same way, so copies of the
 * same ids that print differently say different things: one of them was corrupted (core/arbiter.ts).
 */
export function levelsPrint(text: string, from: number): number {
  let sum = 0;
  let side = 0x9e3779b9; // bids, then asks
  let h = 0;
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 /* [ */) {
      depth++;
      if (depth === 2) h = side;
    } else if (c === 93 /* ] */) {
      if (depth === 2) sum = (sum + fmix(h)) >>> 0;
      else if (depth === 1) side = 0x85ebca6b; // the bids array ended
      depth--;
    } else if (depth === 2) h = Math.imul(h ^ c, 0x01000193);
  }
  return sum;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Scan a consolidated delta (book.*) exactly as encodeConsolidatedDelta writes it: the clients' fast path.
 * Undefined for any other shape (snapshots, error replies, other encoders): the caller uses JSON.parse.
 */
export function scanConsolidatedDelta(text: string): ConsolidatedDelta | undefined {
  if (!deltaHead(text, ',"seq":')) return undefined;
  const venue = lastVenue;
  const symbol = lastSymbol;
  const seq = sc.int();
  if (seq < 0 || !sc.expect(',"prev":')) return undefined;
  const prev = sc.int();
  if (prev < 0 || !sc.expect(',"first":')) return undefined;
  const first = sc.int();
  if (first < 0 || !sc.expect(',"bids":')) return undefined;
  const bids: Level[] = [];
  if (!sc.levels(bids) || !sc.expect(',"asks":')) return undefined;
  const asks: Level[] = [];
  if (!sc.levels(asks) || !sc.expect(',"exchTime":')) return undefined;
  const exchTime = sc.int();
  if (exchTime < 0 || !sc.expect(',"recvTime":')) return undefined;
  const recvTime = sc.int();
  if (recvTime < 0 || !sc.expect(',"pubTime":')) return undefined;
  const pubTime = sc.int();
  if (pubTime < 0 || !sc.expect(',"feed":')) return undefined;
  const feed = sc.cachedString(lastCollector);
  if (feed === undefined || !sc.expect('}') || sc.pos !== text.length) return undefined;
  lastCollector = feed;
  return { v: 1, type: 'delta', venue, symbol, seq, prev, first, bids, asks, exchTime, recvTime, pubTime, feed };
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
