/**
 * The fast path of decodeKrakenBook (kraken.ts): reads a v2 `book` message written exactly as Kraken writes
 * it -- `{"channel":"book","type":"snapshot"|"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,
 * "qty":0.10000000},...],"asks":[...],"checksum":3310070434,"timestamp":"2026-08-12T19:28:08.631028Z"}]}`,
 * that key order, no whitespace, ASCII only -- straight from the text in one pass, keeping each number's text
 * for the checksum. It says no (undefined) to anything else, valid or not, and the careful path
 * (quoteNumbers + JSON.parse + checks) reads it: whatever it accepts, the careful path accepts with the same
 * result (a property test in test/venues/kraken.test.ts checks both on generated and mutated messages), so
 * results never depend on which path ran, only the speed does.
 */
import type { StringLevel } from '../core/book.js';
import type { Level } from '../core/types.js';
import { asciiBytes, bookKind, bookKindAt, literalAt, literal, POW10, utcTimeAt } from '../wire/textscan.js';
import { MAX_LEVELS_PER_SIDE } from './decimal.js';
import type { KrakenBookMessage } from './kraken.js';

const HEAD = literal('{"channel":"book","type":"');
const DATA = literal('","data":[{"symbol":"');
const BIDS = literal(',"bids":');
const ASKS = literal(',"asks":');
const CHECKSUM = literal(',"checksum":');
const TIMESTAMP = literal(',"timestamp":"');
const PRICE = literal('{"price":');
const QTY = literal(',"qty":');

const TAIL = literal('"}]}');

/**
 * The last symbol read: most messages repeat it, so it is compared, not checked and sliced again (byte by
 * byte: startsWith is a call).
 */
let lastSymbol = '';

/** Whether the bytes at i are lastSymbol and its closing quote (nothing allocated: books alternate). */
function lastSymbolAt(b: Uint8Array, i: number): boolean {
  const n = lastSymbol.length;
  if (n === 0 || b[i + n] !== 34) return false;
  for (let j = 0; j < n; j++) if (b[i + j] !== lastSymbol.charCodeAt(j)) return false;
  return true;
}

/** Where the last numberAt (that did not return -1) stopped. */
let numberEnd = 0;

/**
 * A JSON number with no sign and no exponent at i (`45283.5`, `0.10000000`; not `01`, `1.`), with the value
 * decimal() gives its text; or -1 (also when that value is Infinity).
 */
function numberAt(b: Uint8Array, text: string, i: number): number {
  const start = i;
  let c = b[i];
  if (!(c >= 48 && c <= 57)) return -1;
  let m = 0;
  if (c === 48) {
    c = b[++i];
    if (c >= 48 && c <= 57) return -1; // leading zero: not JSON
  } else
    do {
      m = m * 10 + (c - 48);
      c = b[++i];
    } while (c >= 48 && c <= 57);
  let k = 0;
  if (c === 46) {
    c = b[++i];
    if (!(c >= 48 && c <= 57)) return -1;
    do {
      m = m * 10 + (c - 48);
      k++;
      c = b[++i];
    } while (c >= 48 && c <= 57);
  }
  numberEnd = i;
  // decimal()'s value: one exact division when that is exact, else Number() of the text (finite only)
  if (m <= Number.MAX_SAFE_INTEGER && k <= 22) return m / POW10[k];
  const v = +text.slice(start, i);
  return v < Infinity ? v : -1;
}

/** Where the last levelsAt (that did not return -1) stopped. */
let levelsEnd = 0;

/**
 * levelsAt's levels, reused: the side's arrays are then copied at their exact length (arrays grown by push
 * from empty reserve 17 places each: four of them were half of what a message allocated).
 */
const scratchLevels: Level[] = [];
const scratchStrings: StringLevel[] = [];

/**
 * `[{"price":p,"qty":q},...]` at i into scratchLevels and scratchStrings from 0 (price > 0, qty >= 0, at most
 * MAX_LEVELS_PER_SIDE); returns how many, or -1.
 */
function levelsAt(b: Uint8Array, text: string, i: number): number {
  const levels = scratchLevels;
  const strings = scratchStrings;
  let n = 0;
  if (b[i] !== 91) return -1; // [
  i++;
  if (b[i] === 93) {
    levelsEnd = i + 1;
    return 0;
  }
  for (;;) {
    if (n === MAX_LEVELS_PER_SIDE) return -1;
    i = literalAt(b, i, PRICE);
    if (i < 0) return -1;
    const p = numberAt(b, text, i);
    if (!(p > 0)) return -1;
    const ps = text.slice(i, numberEnd);
    i = literalAt(b, numberEnd, QTY);
    if (i < 0) return -1;
    const q = numberAt(b, text, i);
    if (q < 0 || b[numberEnd] !== 125) return -1; // }
    levels[n] = [p, q];
    strings[n++] = [ps, text.slice(i, numberEnd)];
    i = numberEnd + 1;
    const c = b[i++];
    if (c === 93) {
      levelsEnd = i;
      return n;
    }
    if (c !== 44) return -1;
  }
}

/** The first n of a scratch array as an array of its own: a literal for the usual one or two (slice is a call). */
function exactly<T>(a: T[], n: number): T[] {
  return n === 0 ? [] : n === 1 ? [a[0]] : n === 2 ? [a[0], a[1]] : a.slice(0, n);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Letters and digits, as MESSAGE_SYMBOL allows them. */
function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** End (index of the closing quote) of a symbol like BTC/USD (1-20 letters or digits each side) at i, or -1. */
function symbolEnd(b: Uint8Array, i: number): number {
  let j = i;
  while (isAlnum(b[j])) j++;
  if (j === i || j - i > 20 || b[j] !== 47) return -1; // /
  const q = ++j;
  while (isAlnum(b[j])) j++;
  if (j === q || j - q > 20 || b[j] !== 34) return -1;
  return j;
}

/** The message, when `text` is a book message in Kraken's own spelling that passes every check; else undefined. */
export function scanKrakenBook(text: string): KrakenBookMessage | undefined {
  const b = asciiBytes(text);
  if (b === undefined) return undefined;
  let i = literalAt(b, 0, HEAD);
  if (i < 0) return undefined;
  i = bookKindAt(b, i);
  if (i < 0) return undefined;
  const type = bookKind;
  i = literalAt(b, i, DATA);
  if (i < 0) return undefined;
  let symbol: string;
  if (lastSymbolAt(b, i)) {
    symbol = lastSymbol;
    i += symbol.length + 1;
  } else {
    const end = symbolEnd(b, i);
    if (end < 0) return undefined;
    symbol = lastSymbol = text.slice(i, end);
    i = end + 1;
  }
  i = literalAt(b, i, BIDS);
  if (i < 0) return undefined;
  let n = levelsAt(b, text, i);
  if (n < 0) return undefined;
  const bids = exactly(scratchLevels, n);
  const bidText = exactly(scratchStrings, n);
  i = literalAt(b, levelsEnd, ASKS);
  if (i < 0) return undefined;
  n = levelsAt(b, text, i);
  if (n < 0) return undefined;
  const asks = exactly(scratchLevels, n);
  const askText = exactly(scratchStrings, n);
  i = literalAt(b, levelsEnd, CHECKSUM);
  if (i < 0) return undefined;
  // 1-10 digits, no leading zero, at most 2^32 - 1
  const from = i;
  let checksum = 0;
  while (isDigit(b[i])) checksum = checksum * 10 + (b[i++] - 48);
  if (i === from || i - from > 10 || (b[from] === 48 && i - from > 1) || checksum > 0xffffffff) return undefined;
  i = literalAt(b, i, TIMESTAMP);
  if (i < 0) return undefined;
  const tsEnd = text.indexOf('"', i);
  if (tsEnd < 0 || tsEnd + 4 !== text.length || literalAt(b, tsEnd, TAIL) < 0) return undefined;
  const ts = utcTimeAt(b, text, i, tsEnd);
  if (Number.isNaN(ts)) return undefined;
  if (type === 'snapshot') return snapshotMessage({ symbol, bids, asks, bidText, askText, checksum, ts });
  return { type, data: { symbol, bids, asks, bidText, askText, checksum, ts } };
}

/**
 * A snapshot's message with every array and object made anew here, apart from where the updates' are made.
 * A caller keeps a snapshot (the book it rebuilt from), and V8 allocates every later object of an allocation
 * site whose objects lived long straight in the old generation (allocation-site pretenuring): each update's
 * levels then were, and collecting them cost the Kraken path a fifth of its time (node dist/bench/book.js
 * --venue kraken --quick: bookwire 590,000 events/s, 737,000 with --no-allocation-site-pretenuring).
 */
function snapshotMessage(d: KrakenBookMessage['data']): KrakenBookMessage {
  return {
    type: 'snapshot',
    data: {
      symbol: d.symbol,
      bids: d.bids.map((l): Level => [l[0], l[1]]),
      asks: d.asks.map((l): Level => [l[0], l[1]]),
      bidText: d.bidText.map((l): StringLevel => [l[0], l[1]]),
      askText: d.askText.map((l): StringLevel => [l[0], l[1]]),
      checksum: d.checksum,
      ts: d.ts,
    },
  };
}
