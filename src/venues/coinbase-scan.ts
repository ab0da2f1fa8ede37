/**
 * The fast path of decodeCoinbase (coinbase.ts): reads an l2_data message of one event written exactly as
 * Coinbase writes it -- `{"channel":"l2_data","client_id":"","timestamp":"2026-08-12T19:27:48.098821666Z",
 * "sequence_num":7,"events":[{"type":"update"|"snapshot","product_id":"BTC-USD","updates":[{"side":"bid",
 * "event_time":"...","price_level":"63310.25","new_quantity":"0.5"},...]}]}`, that key order, no whitespace,
 * ASCII only -- straight from the text in one pass, times without a Date.parse each (utcTimeAt). It says no
 * (undefined) to anything else, valid or not, and the careful path (JSON.parse + checks) reads it: whatever
 * it accepts, the careful path accepts with the same result (a property test in test/venues/coinbase.test.ts
 * checks both on generated and mutated messages), so results never depend on which path ran, only the speed.
 */
import type { Level } from '../core/types.js';
import {
  asciiBytes,
  bookKind,
  bookKindAt,
  bytesDecimalAt,
  bytesDecimalEnd,
  intAt,
  intEnd,
  literalAt,
  literal,
  utcTimeAt,
} from '../wire/textscan.js';
import type { CoinbaseBookMessage } from './coinbase.js';

const HEAD = literal('{"channel":"l2_data","client_id":"');
const TIMESTAMP = literal(',"timestamp":"');
const SEQUENCE = literal('","sequence_num":');
const EVENTS = literal(',"events":[{"type":"');
const PRODUCT = literal('","product_id":"');
const UPDATES = literal(',"updates":[');
const SIDE = literal('{"side":"');
const EVENT_TIME = literal(',"event_time":"');
const PRICE = literal('","price_level":');
const QUANTITY = literal(',"new_quantity":');
const TAIL = literal(']}]}');

const OFFER = literal('offer"');

/**
 * Most updates one message may carry. A snapshot is the FULL book (BTC-USD: tens of thousands of levels,
 * a few MB); far above that a frame is malformed or hostile and is refused before it is copied.
 * (Here, not in coinbase.ts, which re-exports it: that file imports this one.)
 */
export const COINBASE_MAX_UPDATES = 200_000;

/** The last product read: most messages repeat it, so it is compared, not checked and sliced again. */
let lastProduct = '';

/** End (index of the closing quote) of a product like BTC-USD at i (PRODUCT in coinbase.ts), or -1. */
function productEnd(b: Uint8Array, i: number): number {
  // 2-4 groups of 1-20 upper-case letters or digits, joined by '-'
  for (let group = 1; ; group++) {
    const from = i;
    for (let c = b[i]; (c >= 48 && c <= 57) || (c >= 65 && c <= 90); c = b[++i]);
    if (i === from || i - from > 20) return -1;
    if (b[i] === 34) return group >= 2 ? i : -1;
    if (b[i] !== 45 || group === 4) return -1;
    i++;
  }
}

/** The time in quotes' body at i (its closing quote the next one): ms, or NaN. End in timeEnd. */
function quotedTimeAt(b: Uint8Array, text: string, i: number): number {
  // an RFC 3339 time is at most 30 characters: look no further for the quote
  let end = i;
  while (b[end] !== 34 && end - i < 31) end++;
  timeEnd = end;
  return utcTimeAt(b, text, i, end);
}
/** Where the last quotedTimeAt stopped: the index of the closing quote. */
let timeEnd = 0;
/** The last valid event_time's text and ms. */
let lastEventTime = '';
let lastEventTimeMs = 0;

/** The message and its sequence_num, when `text` is an l2_data message in Coinbase's own spelling that passes every check; else undefined. */
export function scanCoinbaseL2(text: string): { message: CoinbaseBookMessage; connectionSeq: number } | undefined {
  const b = asciiBytes(text);
  if (b === undefined) return undefined;
  let i = literalAt(b, 0, HEAD);
  if (i < 0) return undefined;
  // client_id: any string that needs no decoding (the careful path does not read it)
  for (let c = b[i]; c !== 34; c = b[++i]) if (c === 92 || c < 32) return undefined;
  i = literalAt(b, i + 1, TIMESTAMP);
  if (i < 0) return undefined;
  const ts = quotedTimeAt(b, text, i);
  if (Number.isNaN(ts)) return undefined;
  i = literalAt(b, timeEnd, SEQUENCE);
  if (i < 0) return undefined;
  const connectionSeq = intAt(b, i);
  if (connectionSeq < 0) return undefined;
  i = literalAt(b, intEnd, EVENTS);
  if (i < 0) return undefined;
  i = bookKindAt(b, i);
  if (i < 0) return undefined;
  const type = bookKind;
  i = literalAt(b, i, PRODUCT);
  if (i < 0) return undefined;
  let product: string;
  const pn = lastProduct.length;
  if (pn > 0 && b[i + pn] === 34 && text.startsWith(lastProduct, i)) {
    product = lastProduct;
    i += pn;
  } else {
    const end = productEnd(b, i);
    if (end < 0) return undefined;
    product = lastProduct = text.slice(i, end);
    i = end;
  }
  i = literalAt(b, i + 1, UPDATES);
  if (i < 0) return undefined;
  const bids: Level[] = [];
  const asks: Level[] = [];
  let eventTime = 0;
  if (b[i] === 93) i++;
  else
    for (let n = 1; ; n++) {
      i = literalAt(b, i, SIDE);
      if (i < 0 || n > COINBASE_MAX_UPDATES) return undefined;
      let side: Level[];
      if (b[i] === 98 && b[i + 1] === 105 && b[i + 2] === 100 && b[i + 3] === 34) {
        side = bids; // bid"
        i += 4;
      } else {
        i = literalAt(b, i, OFFER);
        if (i < 0) return undefined;
        side = asks;
      }
      i = literalAt(b, i, EVENT_TIME);
      if (i < 0) return undefined;
      // the updates of one message mostly share one event_time: compared with the last one, not read again
      let t: number;
      const tn = lastEventTime.length;
      if (tn > 0 && b[i + tn] === 34 && text.startsWith(lastEventTime, i)) {
        t = lastEventTimeMs;
        timeEnd = i + tn;
      } else {
        t = quotedTimeAt(b, text, i);
        if (!(t >= 0)) return undefined;
        lastEventTime = text.slice(i, timeEnd);
        lastEventTimeMs = t;
      }
      if (t > eventTime) eventTime = t;
      i = literalAt(b, timeEnd, PRICE);
      if (i < 0) return undefined;
      const p = bytesDecimalAt(b, i);
      if (!(p > 0 && p < Infinity)) return undefined;
      i = literalAt(b, bytesDecimalEnd, QUANTITY);
      if (i < 0) return undefined;
      const q = bytesDecimalAt(b, i);
      if (!(q >= 0 && q < Infinity) || b[bytesDecimalEnd] !== 125) return undefined; // }
      side.push([p, q]);
      const c = b[bytesDecimalEnd + 1];
      i = bytesDecimalEnd + 2;
      if (c === 93) break; // ]
      if (c !== 44) return undefined; // ,
    }
  // the event's and the message's ends, then the end of the text
  if (literalAt(b, i - 1, TAIL) !== text.length) return undefined;
  return { message: { type, product, bids, asks, ts, eventTime }, connectionSeq };
}
