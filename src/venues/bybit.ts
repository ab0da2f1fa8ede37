/**
 * Bybit v5 order-book adapters, spot (`bybit`) and linear perpetuals (`bybit-linear`): one protocol on two
 * endpoints. Both spell a book BTCUSDT, so the two need distinct venue ids for their topics. Pure, no I/O;
 * parsers never throw: { error } for anything malformed, { ignored } for acks, pongs and other topics.
 *
 * Docs: https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook
 * - `{"topic":"orderbook.50.BTCUSDT","type":"snapshot"|"delta","ts","data":{"s","b":[[px,sz]],"a","u","seq"},
 *   "cts"}`; strings; sizes absolute, "0" deletes. `u` counts the messages of one topic (+1 each); `seq` is
 *   a cross sequence shared across depths (not used for chaining).
 * - Merge: interval cover with prev = u-1, first = last = u. A `snapshot` replaces the book (sent on
 *   subscribe, and again "if there is a problem on Bybit's end").
 * - u = 1: the docs say "Occasionally, you'll receive "u"=1, which is a snapshot data due to the restart of
 *   the service. So please overwrite your local orderbook." The content is a full book, so a u = 1 frame is
 *   returned as a snapshot (seq 1) whatever its `type`: a delta with `reset` would leave the book holding
 *   levels from before the restart.
 * - Each depth (1/50/200/1000) is its own topic with its own `u`. The REST book's `u` belongs to one ws depth
 *   only (the docs have named the 50-, 200/500- and 1000-level streams over time), not to orderbook.50, so
 *   the ws snapshot is the source; snapshotRequest/parseSnapshot serve a collector configured for that depth.
 */
import { intervalRule } from '../core/sequence.js';
import type { BookDelta, BookSnapshot, Level } from '../core/types.js';
import { asciiBytes, intAt, intEnd, literalAt, literal, stringLevelsAt } from '../wire/textscan.js';
import {
  chunks,
  crossedError,
  type JsonObject,
  MAX_LEVELS_PER_SIDE,
  parseJsonObject,
  textLevels,
  trimSlash,
} from './decimal.js';
import { concatenatedSymbols } from './symbols.js';
import type { Market, ParsedFrame, ParsedSnapshot, VenueAdapter } from './types.js';

const DELTA_THEN_TS = literal(',"type":"delta","ts":');
const TS_KEY = literal(',"ts":');
const DELTA_TYPE = literal(',"type":"delta"');
const DATA_SYMBOL_KEY = literal(',"data":{"s":"');
const BIDS_KEY = literal(',"b":');
const ASKS_KEY = literal(',"a":');
const UPDATE_ID_KEY = literal(',"u":');
const SEQ_KEY = literal(',"seq":');
const CTS_KEY = literal(',"cts":');

export const BYBIT_SPOT_VENUE = 'bybit';
export const BYBIT_LINEAR_VENUE = 'bybit-linear';
export const BYBIT_SPOT_WS_BASE = 'wss://stream.bybit.com/v5/public/spot';
export const BYBIT_LINEAR_WS_BASE = 'wss://stream.bybit.com/v5/public/linear';
export const BYBIT_REST_BASE = 'https://api.bybit.com';
/** Depths Bybit publishes for spot and linear books (levels per side; 200 is linear-only in older docs). */
export const BYBIT_DEPTHS = [1, 50, 200, 1000] as const;
export type BybitDepth = (typeof BYBIT_DEPTHS)[number];
export const BYBIT_DEFAULT_DEPTH: BybitDepth = 50;
/** Topics per subscribe request (Bybit's limit on spot; used for linear too). */
export const BYBIT_SUBSCRIBE_BATCH = 10;

export type BybitCategory = 'spot' | 'linear';

/** Topic of one book: orderbook.{depth}.{SYMBOL}. */
export function bybitTopic(symbol: string, depth: BybitDepth = BYBIT_DEFAULT_DEPTH): string {
  return `orderbook.${depth}.${symbol.toUpperCase()}`;
}

function opFrame(op: 'subscribe' | 'unsubscribe', symbols: readonly string[], depth: BybitDepth): string {
  return JSON.stringify({ op, args: symbols.map((s) => bybitTopic(s, depth)) });
}

/** Subscribe frames, BYBIT_SUBSCRIBE_BATCH topics each. */
export function bybitSubscribeMessages(symbols: readonly string[], depth: BybitDepth = BYBIT_DEFAULT_DEPTH): string[] {
  return chunks(symbols, BYBIT_SUBSCRIBE_BATCH).map((c) => opFrame('subscribe', c, depth));
}

/** A fresh snapshot of one book: unsubscribe, then subscribe (Bybit refuses a topic already subscribed). */
export function bybitResyncMessages(symbol: string, depth: BybitDepth = BYBIT_DEFAULT_DEPTH): string[] {
  return [opFrame('unsubscribe', [symbol], depth), opFrame('subscribe', [symbol], depth)];
}

/** GET /v5/market/orderbook (limit per side: spot up to 200, linear up to 500 in the current docs). */
export function bybitSnapshotUrl(base: string, category: BybitCategory, symbol: string, limit: number): string {
  return `${trimSlash(base)}/v5/market/orderbook?category=${category}&symbol=${symbol.toUpperCase()}&limit=${limit}`;
}

/** GET /v5/market/instruments-info for one symbol: an empty list (or retCode != 0) when Bybit does not list it. */
export function bybitInstrumentsUrl(base: string, category: BybitCategory, symbol: string): string {
  return `${trimSlash(base)}/v5/market/instruments-info?category=${category}&symbol=${symbol.toUpperCase()}`;
}

const TOPIC = /^orderbook\.([0-9]{1,4})\.([A-Z0-9]{1,40})$/;

function safeUint(x: unknown): boolean {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

/** Bybit's book fields, checked: levels, u (>= 1), seq and ts when present. */
function bookFields(
  d: JsonObject,
  where: string,
): { bids: BookDelta['bids']; asks: BookDelta['asks']; u: number } | string {
  const bids = textLevels(d.b, `${where}.b`, 0);
  if (typeof bids === 'string') return bids;
  const asks = textLevels(d.a, `${where}.a`, 0);
  if (typeof asks === 'string') return asks;
  const u = d.u;
  if (!Number.isSafeInteger(u) || u < 1) return `"${where}.u" must be a positive integer`;
  if (d.seq !== undefined && !safeUint(d.seq)) return `"${where}.seq" must be a non-negative integer`;
  return { bids: bids.levels, asks: asks.levels, u };
}

// ------------------------------------------------------------------------------------------ fast path
// A scanner for orderbook delta frames exactly as Bybit writes them (fixed key order -- spot puts ts before
// type, linear type before ts --, no whitespace, no escapes). It reads numbers straight from the text instead
// of materialising a JSON tree and ~3 strings per level. Anything it does not recognise -- snapshots, u = 1,
// other topics, unusual spellings, anything the JSON path would refuse -- returns undefined and goes through
// JSON.parse (parseBybitMessageJson), so results are identical either way; only the speed differs (tests
// check the two agree).

/** The last symbol seen, as spelled in the text. */
let lastSymbol = '';

/** The fast path of parseBybitMessage: a BookDelta for an ordinary orderbook delta, else undefined. */
export function scanBybitDelta(
  text: string,
  collector: string,
  recvTime: number,
  venue: string,
): BookDelta | undefined {
  if (!text.startsWith('{"topic":"orderbook.')) return undefined;
  const b = asciiBytes(text);
  if (b === undefined) return undefined;
  let i = 20;
  // depth: 1-4 digits, then '.'
  const depthStart = i;
  let c = text.charCodeAt(i);
  while (c >= 48 && c <= 57) c = text.charCodeAt(++i);
  if (i === depthStart || i - depthStart > 4 || c !== 46) return undefined;
  const symStart = i + 1;
  const symEnd = text.indexOf('"', symStart);
  const len = symEnd - symStart;
  if (len <= 0 || len > 40) return undefined;
  // a connection carries few books: reuse the last symbol's string (checked when first seen)
  const sameSymbol = len === lastSymbol.length && text.startsWith(lastSymbol, symStart);
  if (!sameSymbol) {
    for (let k = symStart; k < symEnd; k++) {
      c = text.charCodeAt(k);
      if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return undefined; // [A-Z0-9]
    }
  }
  let ts: number;
  if (text.charCodeAt(symEnd + 4) === 121) {
    // linear: type, then ts
    i = literalAt(b, symEnd + 1, DELTA_THEN_TS);
    if (i < 0) return undefined;
    ts = intAt(b, i);
    if (ts < 0) return undefined;
    i = intEnd;
  } else {
    // spot: ts, then type
    i = literalAt(b, symEnd + 1, TS_KEY);
    if (i < 0) return undefined;
    ts = intAt(b, i);
    if (ts < 0) return undefined;
    i = literalAt(b, intEnd, DELTA_TYPE);
    if (i < 0) return undefined;
  }
  i = literalAt(b, i, DATA_SYMBOL_KEY);
  if (i < 0) return undefined;
  // data.s must be the topic's symbol
  if (text.charCodeAt(i + len) !== 34) return undefined;
  for (let k = 0; k < len; k++) if (text.charCodeAt(i + k) !== text.charCodeAt(symStart + k)) return undefined;
  i = literalAt(b, i + len + 1, BIDS_KEY);
  if (i < 0) return undefined;
  const bids: Level[] = [];
  i = stringLevelsAt(b, i, bids, 0, MAX_LEVELS_PER_SIDE);
  if (i < 0) return undefined;
  i = literalAt(b, i, ASKS_KEY);
  if (i < 0) return undefined;
  const asks: Level[] = [];
  i = stringLevelsAt(b, i, asks, 0, MAX_LEVELS_PER_SIDE);
  if (i < 0) return undefined;
  i = literalAt(b, i, UPDATE_ID_KEY);
  if (i < 0) return undefined;
  const u = intAt(b, i);
  if (u < 2) return undefined; // u = 1 is a snapshot (a restart): the JSON path
  i = intEnd;
  if (text.charCodeAt(i + 2) === 115) {
    i = literalAt(b, i, SEQ_KEY);
    if (i < 0 || intAt(b, i) < 0) return undefined;
    i = intEnd;
  }
  if (text.charCodeAt(i) !== 125) return undefined; // } of data
  i++;
  if (text.charCodeAt(i + 2) === 99) {
    i = literalAt(b, i, CTS_KEY);
    if (i < 0 || intAt(b, i) < 0) return undefined;
    i = intEnd;
  }
  if (text.charCodeAt(i) !== 125 || i + 1 !== text.length) return undefined;
  if (!sameSymbol) lastSymbol = text.slice(symStart, symEnd);
  return {
    type: 'delta',
    venue,
    symbol: lastSymbol,
    first: u,
    last: u,
    prev: u - 1,
    exchTime: ts,
    recvTime,
    collector,
    bids,
    asks,
    raw: text,
  };
}

/**
 * Parse one text frame of venue `venue` (bybit or bybit-linear): a snapshot (type snapshot, or u = 1) or a
 * delta (prev = u-1, first = last = u). Keeps the text in raw. Never throws.
 */
export function parseBybitMessage(text: string, collector: string, recvTime: number, venue: string): ParsedFrame {
  const delta = scanBybitDelta(text, collector, recvTime, venue);
  return delta !== undefined ? { delta } : parseBybitMessageJson(text, collector, recvTime, venue);
}

/** parseBybitMessage through JSON.parse: any key order, whitespace, escapes, every frame type. */
export function parseBybitMessageJson(text: string, collector: string, recvTime: number, venue: string): ParsedFrame {
  const o = parseJsonObject(text);
  if (typeof o === 'string') return { error: o };
  if (o.topic === undefined) {
    if (typeof o.op === 'string') {
      // subscribe/unsubscribe acks and pongs; a refused request says success:false and why
      if (o.success === false)
        return { error: `venue error on "${o.op.slice(0, 20)}": ${String(o.ret_msg).slice(0, 200)}` };
      return { ignored: o.op.slice(0, 40) };
    }
    return { error: 'unrecognised message: no "topic" and no "op"' };
  }
  if (typeof o.topic !== 'string') return { error: '"topic" must be a string' };
  if (!o.topic.startsWith('orderbook.')) return { ignored: o.topic.split('.')[0].slice(0, 40) };
  const m = TOPIC.exec(o.topic);
  if (!m) return { error: `unrecognised orderbook topic ${JSON.stringify(o.topic.slice(0, 80))}` };
  const symbol = m[2];
  const type = o.type;
  if (type !== 'snapshot' && type !== 'delta') return { error: '"type" must be "snapshot" or "delta"' };
  const ts = o.ts;
  if (!safeUint(ts)) return { error: '"ts" must be a non-negative integer (ms)' };
  if (o.cts !== undefined && !safeUint(o.cts)) return { error: '"cts" must be a non-negative integer (ms)' };
  const d = o.data;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return { error: '"data" must be an object' };
  if (d.s !== symbol)
    return { error: `"data.s" (${JSON.stringify(d.s)?.slice(0, 40)}) is not the topic's symbol ${symbol}` };
  const f = bookFields(d, 'data');
  if (typeof f === 'string') return { error: f };
  if (type === 'snapshot' || f.u === 1) {
    const crossed = crossedError('snapshot', f.bids, f.asks);
    if (crossed !== undefined) return { error: `${symbol}: ${crossed}` };
    const snapshot: BookSnapshot = {
      type: 'snapshot',
      venue,
      symbol,
      seq: f.u,
      exchTime: ts,
      recvTime,
      collector,
      bids: f.bids,
      asks: f.asks,
      raw: text,
      ...(f.u === 1 ? { reset: true as const } : {}),
    };
    return { snapshot };
  }
  const delta: BookDelta = {
    type: 'delta',
    venue,
    symbol,
    first: f.u,
    last: f.u,
    prev: f.u - 1,
    exchTime: ts,
    recvTime,
    collector,
    bids: f.bids,
    asks: f.asks,
    raw: text,
  };
  return { delta };
}

/**
 * Parse a GET /v5/market/orderbook body `{"retCode":0,"result":{"s","b","a","ts","u","seq","cts"}}`:
 * seq = result.u. Refuses a venue error, another symbol, malformed fields and a crossed book. Never throws.
 */
export function parseBybitSnapshot(
  text: string,
  symbol: string,
  collector: string,
  recvTime: number,
  venue: string,
): ParsedSnapshot {
  const o = parseJsonObject(text);
  if (typeof o === 'string') return { error: o };
  if (o.retCode !== 0)
    return { error: `venue error ${String(o.retCode).slice(0, 20)}: ${String(o.retMsg).slice(0, 200)}` };
  const r = o.result;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return { error: '"result" must be an object' };
  const sym = symbol.toUpperCase();
  if (r.s !== sym) return { error: `"result.s" (${JSON.stringify(r.s)?.slice(0, 40)}) is not ${sym}` };
  if (!safeUint(r.ts)) return { error: '"result.ts" must be a non-negative integer (ms)' };
  const f = bookFields(r, 'result');
  if (typeof f === 'string') return { error: f };
  const crossed = crossedError('snapshot', f.bids, f.asks);
  if (crossed !== undefined) return { error: crossed };
  return {
    snapshot: {
      type: 'snapshot',
      venue,
      symbol: sym,
      seq: f.u,
      exchTime: r.ts,
      recvTime,
      collector,
      bids: f.bids,
      asks: f.asks,
      raw: text,
    },
  };
}

/**
 * A Bybit adapter for one category. `depth` picks the orderbook topic (default 50: every 20 ms; 200 and 1000
 * are slower but deeper).
 */
export function bybitAdapter(category: BybitCategory, depth: BybitDepth = BYBIT_DEFAULT_DEPTH): VenueAdapter {
  const id = category === 'spot' ? BYBIT_SPOT_VENUE : BYBIT_LINEAR_VENUE;
  const markets: Market[] = category === 'spot' ? ['spot'] : ['perp'];
  return {
    id,
    name: category === 'spot' ? 'Bybit spot' : 'Bybit linear perpetuals',
    markets,
    rule: intervalRule,
    // u per symbol
    seqWindow: 1e7,
    // a snapshot arrives on the websocket after each subscribe (REST u is in another depth's id space)
    snapshotSource: 'websocket',
    defaultWsUrl: category === 'spot' ? BYBIT_SPOT_WS_BASE : BYBIT_LINEAR_WS_BASE,
    defaultRestUrl: BYBIT_REST_BASE,
    // Bybit documents no topic limit per public connection; orderbook.50 pushes every 20 ms per book, so
    // 25 books are up to ~1,250 frames/s on one socket, and a lost connection costs 25 resubscriptions.
    maxBooksPerConnection: 25,
    // "Do not build over 500 connections in 5 minutes" (per domain: spot and linear share it)
    connectionLimit: { connections: 500, windowMs: 300_000 },
    // spot: "up to 10 args for each subscription request" (linear: none; 10 for both); no subscribe rate is
    // documented; 21,000 characters of args per connection: 25 books are ~600
    subscribeLimit: { argsPerRequest: BYBIT_SUBSCRIBE_BATCH },
    // Bybit drops a connection without traffic; it wants {"op":"ping"} every 20 s
    ping: { intervalMs: 20_000, text: '{"op":"ping"}' },
    defaultSnapshotLimit: 200,
    ...concatenatedSymbols(category === 'spot' ? 'spot' : 'quote'),
    wsUrl(base, symbols) {
      if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
      return trimSlash(base);
    },
    subscribeMessages: (symbols) => bybitSubscribeMessages(symbols, depth),
    resyncMessages: (symbol) => bybitResyncMessages(symbol, depth),
    parse: (text, collector, recvTime) => parseBybitMessage(text, collector, recvTime, id),
    // 600 requests per 5 s per IP for market data; each call counts 1
    snapshotRequest: (base, symbol, limit) => ({ url: bybitSnapshotUrl(base, category, symbol, limit), weight: 1 }),
    parseSnapshot: (text, symbol, collector, recvTime) => parseBybitSnapshot(text, symbol, collector, recvTime, id),
    symbolCheckUrl: (base, symbol) => bybitInstrumentsUrl(base, category, symbol),
  };
}

/** Bybit spot, orderbook.50. */
export const bybitSpot: VenueAdapter = bybitAdapter('spot');
/** Bybit linear (USDT/USDC-settled) perpetuals, orderbook.50. */
export const bybitLinear: VenueAdapter = bybitAdapter('linear');
