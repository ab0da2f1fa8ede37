/**
 * Binance spot L2 depth adapter: stream/REST URLs and parsers from Binance JSON to BookDelta/BookSnapshot.
 * Pure functions, no I/O. Parsers never throw: they return { error } for anything malformed and
 * { ignored } for messages that are fine but not depth (subscribe acks, bookTicker, aggTrade, kline...).
 *
 * Diff stream: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#diff-depth-stream
 * Local book recipe (U/u rule): same page, "How to manage a local order book correctly".
 */
import { intervalRule } from '../core/sequence.js';
import type { BookDelta, Level } from '../core/types.js';
import { asciiBytes, intAt, intEnd, isPlainBody, literalAt, literal, stringLevelsAt } from '../wire/textscan.js';
import { decimal, type JsonObject, MAX_LEVELS_PER_SIDE, parseJsonObject, trimSlash } from './decimal.js';
import { concatenatedSymbols } from './symbols.js';
import type { ParsedSnapshot, VenueAdapter } from './types.js';

const STREAM_HEAD = literal('{"stream":"');
const DATA_KEY = literal(',"data":');
const T_KEY = literal(',"T":');
const SYMBOL_KEY = literal(',"s":"');
const PAIR_KEY = literal('","ps":"');
const FIRST_ID_KEY = literal('","U":');
const LAST_ID_KEY = literal(',"u":');
const PREV_ID_KEY = literal(',"pu":');
const BIDS_KEY = literal(',"b":');
const ASKS_KEY = literal(',"a":');
const ST_KEY = literal(',"st":');

/** Binance spot's U/u rule: interval cover with lo = U-1 (core/sequence.ts). */
export { intervalRule as sequenceRule } from '../core/sequence.js';

export const BINANCE_VENUE = 'binance';
export const BINANCE_WS_BASE = 'wss://stream.binance.com:9443';
export const BINANCE_REST_BASE = 'https://api.binance.com';

export type DepthSpeed = '100ms' | '1000ms';
/** combined: /stream?streams=..., messages wrapped as {stream,data}; raw: /ws/..., bare payloads. */
export type StreamMode = 'combined' | 'raw';

export interface ParsedMessage {
  delta?: BookDelta;
  /** Why a well-formed message was skipped (e.g. 'aggTrade', 'bookTicker', 'response'). */
  ignored?: string;
  error?: string;
}

export type { ParsedSnapshot } from './types.js';
/** Plain decimal strings to numbers (shared by every adapter; re-exported here for existing importers). */
export { decimal } from './decimal.js';

/** Diff-depth stream name. 1000ms is Binance's default speed and has no suffix. */
export function streamName(symbol: string, speed: DepthSpeed = '100ms'): string {
  const s = symbol.toLowerCase();
  return speed === '100ms' ? `${s}@depth@100ms` : `${s}@depth`;
}

/** Diff-depth websocket URL for one connection (base e.g. BINANCE_WS_BASE or a simulator). */
export function wsUrl(
  base: string,
  symbols: readonly string[],
  mode: StreamMode = 'combined',
  speed: DepthSpeed = '100ms',
): string {
  if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
  const names = symbols.map((s) => streamName(s, speed)).join('/');
  const b = trimSlash(base);
  return mode === 'combined' ? `${b}/stream?streams=${names}` : `${b}/ws/${names}`;
}

/** REST snapshot URL (base e.g. BINANCE_REST_BASE). */
export function snapshotUrl(base: string, symbol: string, limit = 1000): string {
  return `${trimSlash(base)}/api/v3/depth?symbol=${symbol.toUpperCase()}&limit=${limit}`;
}

/** GET /api/v3/exchangeInfo for one symbol: 400 with code -1121 when the venue does not list it. */
export function exchangeInfoUrl(base: string, symbol: string): string {
  return `${trimSlash(base)}/api/v3/exchangeInfo?symbol=${symbol.toUpperCase()}`;
}

/** exchangeInfo of several symbols: one request of weight 20 instead of 20 per symbol. */
export function exchangeInfoManyUrl(base: string, symbols: readonly string[]): string {
  const list = encodeURIComponent(JSON.stringify(symbols.map((s) => s.toUpperCase())));
  return `${trimSlash(base)}/api/v3/exchangeInfo?symbols=${list}`;
}

/** Request weight of GET /api/v3/depth for a limit (Binance caps limit at 5000). */
export function snapshotWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

/** Set by toLevels when it returns undefined; avoids allocating a result object per call on the hot path. */
let levelsError = '';

function toLevels(x: unknown, field: string): Level[] | undefined {
  if (!Array.isArray(x)) {
    levelsError = `"${field}" must be an array of [price, size] string pairs`;
    return undefined;
  }
  const out: Level[] = [];
  for (let i = 0; i < x.length; i++) {
    const l = x[i];
    if (!Array.isArray(l) || l.length < 2) {
      levelsError = `"${field}"[${i}] must be a [price, size] pair`;
      return undefined;
    }
    const p = decimal(l[0]);
    const s = decimal(l[1]);
    if (!(p > 0) || !(s >= 0)) {
      levelsError = `"${field}"[${i}] has a non-numeric or out-of-range price/size: ${JSON.stringify(l).slice(0, 80)}`;
      return undefined;
    }
    out.push([p, s]);
  }
  return out;
}

function venueError(o: JsonObject): string | undefined {
  if (o.error !== undefined) return `venue error: ${JSON.stringify(o.error).slice(0, 200)}`;
  if (typeof o.code === 'number' && typeof o.msg === 'string') return `venue error ${o.code}: ${o.msg}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Fast path: a scanner for depthUpdate frames exactly as Binance writes them (fixed key order, no whitespace,
// no escapes). It reads numbers straight from the text instead of materialising a JSON tree and ~13 strings
// per event. Anything it does not recognise returns undefined and goes through JSON.parse (parseMessageJson),
// so results are identical either way; only the speed differs (tests check the two agree).

/** The last symbol seen, as spelled in the text and upper-cased. */
let lastSymbolText = '';
let lastSymbol = '';

/** The fast path of parseMessage: a BookDelta, or undefined when the frame is not in Binance's exact shape. */
export function scanDepthUpdate(
  text: string,
  collector: string,
  recvTime: number,
  venue = BINANCE_VENUE,
): BookDelta | undefined {
  // a frame that is not a depthUpdate costs the copy to bytes and then goes to JSON.parse
  const b = asciiBytes(text);
  if (b === undefined) return undefined;
  let i = 0;
  let envelope = false;
  if (b[2] === 115) {
    // {"stream":"<name>","data":{...}}
    i = literalAt(b, 0, STREAM_HEAD);
    if (i < 0) return undefined;
    const end = text.indexOf('"', i);
    if (end < 0 || !isPlainBody(text, i, end)) return undefined;
    i = literalAt(b, end + 1, DATA_KEY);
    if (i < 0) return undefined;
    envelope = true;
  }
  // the longest literal: indexOf compares it in one builtin call (twice as fast here as a loop)
  if (text.indexOf('{"e":"depthUpdate","E":', i) !== i) return undefined;
  i += 23;
  const exchTime = intAt(b, i);
  if (exchTime < 0) return undefined;
  i = intEnd;
  // USD-M futures add the transaction time T after E (and pu after u, below)
  // (the optional fields are looked for only when their first letter is there: spot frames have none)
  if (b[i + 2] === 84) {
    const j = literalAt(b, i, T_KEY);
    if (j < 0 || intAt(b, j) < 0) return undefined;
    i = intEnd;
  }
  i = literalAt(b, i, SYMBOL_KEY);
  if (i < 0) return undefined;
  const symStart = i;
  const symEnd = text.indexOf('"', symStart);
  if (symEnd <= symStart) return undefined;
  // a connection carries few symbols: the last one's string is reused (and was checked plain when first seen)
  const sameSymbol = symEnd - symStart === lastSymbolText.length && text.startsWith(lastSymbolText, symStart);
  if (!sameSymbol && !isPlainBody(text, symStart, symEnd)) return undefined;
  i = symEnd;
  if (b[i + 3] === 112) {
    // USD-M: the pair ("ps") after the symbol
    const j = literalAt(b, i, PAIR_KEY);
    if (j < 0) return undefined;
    const psEnd = text.indexOf('"', j);
    if (psEnd < 0 || !isPlainBody(text, j, psEnd)) return undefined;
    i = psEnd;
  }
  i = literalAt(b, i, FIRST_ID_KEY);
  if (i < 0) return undefined;
  const first = intAt(b, i);
  if (first < 0) return undefined;
  i = literalAt(b, intEnd, LAST_ID_KEY);
  if (i < 0) return undefined;
  const last = intAt(b, i);
  if (last < first) return undefined;
  i = intEnd;
  let prev = -1;
  if (b[i + 2] === 112) {
    const j = literalAt(b, i, PREV_ID_KEY);
    if (j < 0) return undefined;
    prev = intAt(b, j);
    if (prev < 0 || prev >= first) return undefined;
    i = intEnd;
  }
  i = literalAt(b, i, BIDS_KEY);
  if (i < 0) return undefined;
  const bids: Level[] = [];
  i = stringLevelsAt(b, i, bids, 0, MAX_LEVELS_PER_SIDE);
  if (i < 0) return undefined;
  i = literalAt(b, i, ASKS_KEY);
  if (i < 0) return undefined;
  const asks: Level[] = [];
  i = stringLevelsAt(b, i, asks, 0, MAX_LEVELS_PER_SIDE);
  if (i < 0) return undefined;
  // USD-M frames end with "st" (2026: "st":1), which the JSON path ignores as well
  if (b[i + 2] === 115) {
    const j = literalAt(b, i, ST_KEY);
    if (j < 0 || intAt(b, j) < 0) return undefined;
    i = intEnd;
  }
  if (b[i] !== 125) return undefined; // }
  i++;
  if (envelope) {
    if (b[i] !== 125) return undefined;
    i++;
  }
  if (i !== text.length) return undefined;
  if (!sameSymbol) {
    lastSymbolText = text.slice(symStart, symEnd);
    lastSymbol = lastSymbolText.toUpperCase();
  }
  const delta: BookDelta = {
    type: 'delta',
    venue,
    symbol: lastSymbol,
    first,
    last,
    exchTime,
    recvTime,
    collector,
    bids,
    asks,
    raw: text,
  };
  if (prev >= 0) delta.prev = prev;
  return delta;
}

/**
 * Parse one websocket text frame (combined envelope or raw payload) into a BookDelta.
 * Keeps the original text in delta.raw. Never throws.
 */
export function parseMessage(text: string, collector: string, recvTime: number, venue = BINANCE_VENUE): ParsedMessage {
  const delta = scanDepthUpdate(text, collector, recvTime, venue);
  return delta !== undefined ? { delta } : parseMessageJson(text, collector, recvTime, venue);
}

/** parseMessage through JSON.parse: handles any key order, whitespace, escapes and non-depth messages. */
export function parseMessageJson(
  text: string,
  collector: string,
  recvTime: number,
  venue = BINANCE_VENUE,
): ParsedMessage {
  const msg = parseJsonObject(text);
  if (typeof msg === 'string') return { error: msg };
  let data = msg;
  const stream = msg.stream;
  if (stream !== undefined) {
    if (typeof stream !== 'string' || typeof msg.data !== 'object' || msg.data === null) {
      return { error: 'combined envelope needs a string "stream" and an object "data"' };
    }
    data = msg.data;
  }

  const e = data.e;
  if (e !== 'depthUpdate') {
    if (typeof e === 'string') return { ignored: e };
    const err = venueError(msg);
    if (err !== undefined) return { error: err };
    if (stream === undefined && 'id' in msg && 'result' in msg) return { ignored: 'response' };
    if (typeof stream === 'string' && !stream.includes('@depth'))
      return { ignored: stream.slice(stream.indexOf('@') + 1) };
    // bookTicker payloads carry no "e"; they are recognisable by string best bid/ask
    if (stream === undefined && typeof data.b === 'string' && typeof data.a === 'string')
      return { ignored: 'bookTicker' };
    return { error: 'unrecognised message: no "e" event type' };
  }

  const first = data.U;
  const last = data.u;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) return { error: '"U" and "u" must be integers' };
  if (first > last) return { error: `"U" (${first}) > "u" (${last})` };
  const prev = data.pu;
  if (prev !== undefined && (!Number.isSafeInteger(prev) || prev < 0 || prev >= first))
    return { error: `"pu" must be an integer below "U" (${first})` };
  const symbol = data.s;
  if (typeof symbol !== 'string' || symbol.length === 0) return { error: '"s" must be a non-empty string' };
  const exchTime = data.E;
  if (typeof exchTime !== 'number' || !Number.isFinite(exchTime)) return { error: '"E" must be a number' };
  const bids = toLevels(data.b, 'b');
  if (bids === undefined) return { error: levelsError };
  const asks = toLevels(data.a, 'a');
  if (asks === undefined) return { error: levelsError };

  const delta: BookDelta = {
    type: 'delta',
    venue,
    symbol: symbol.toUpperCase(),
    first,
    last,
    exchTime,
    recvTime,
    collector,
    bids,
    asks,
    raw: text,
  };
  if (prev !== undefined) delta.prev = prev;
  return { delta };
}

/** Parse a GET /api/v3/depth body. Rejects missing/mistyped fields and crossed books. Never throws. */
export function parseSnapshot(
  text: string,
  symbol: string,
  collector: string,
  recvTime: number,
  venue = BINANCE_VENUE,
): ParsedSnapshot {
  const o = parseJsonObject(text);
  if (typeof o === 'string') return { error: o };
  const err = venueError(o);
  if (err !== undefined) return { error: err };
  const seq = o.lastUpdateId;
  if (!Number.isSafeInteger(seq) || seq < 0) return { error: '"lastUpdateId" must be a non-negative integer' };
  const bids = toLevels(o.bids, 'bids');
  if (bids === undefined) return { error: levelsError };
  const asks = toLevels(o.asks, 'asks');
  if (asks === undefined) return { error: levelsError };

  let bestBid = -Infinity;
  let bestAsk = Infinity;
  for (let i = 0; i < bids.length; i++) if (bids[i][1] > 0 && bids[i][0] > bestBid) bestBid = bids[i][0];
  for (let i = 0; i < asks.length; i++) if (asks[i][1] > 0 && asks[i][0] < bestAsk) bestAsk = asks[i][0];
  if (bestBid >= bestAsk) return { error: `crossed snapshot: best bid ${bestBid} >= best ask ${bestAsk}` };

  return {
    snapshot: {
      type: 'snapshot',
      venue,
      symbol: symbol.toUpperCase(),
      seq,
      recvTime,
      collector,
      bids,
      asks,
      raw: text,
    },
  };
}

/** Binance spot as a venue adapter (src/venues/types.ts). */
export const binanceSpot: VenueAdapter = {
  id: BINANCE_VENUE,
  name: 'Binance spot',
  markets: ['spot'],
  rule: intervalRule,
  // ids per symbol (an estimate: over an hour at 1e3 ids/s)
  seqWindow: 1e7,
  snapshotSource: 'rest',
  defaultWsUrl: BINANCE_WS_BASE,
  defaultRestUrl: BINANCE_REST_BASE,
  // 1,024 streams per connection (limit); the URL carries the stream names (~20 bytes each), so 200 keeps it
  // near 4 KB, well below URL length limits: 2,000 books are 10 connections, far from 300 per 5 min per IP
  maxBooksPerConnection: 200,
  // developers.binance.com spot "LIMITS": 6,000 weight per minute per IP, X-MBX-USED-WEIGHT-1M on every answer
  restLimit: { weight: 6000, windowMs: 60_000, usedWeightHeader: 'x-mbx-used-weight-1m' },
  symbolCheckWeight: 20,
  // spot "WebSocket Streams": 300 connections per attempt every 5 minutes per IP
  connectionLimit: { connections: 300, windowMs: 300_000 },
  defaultSnapshotLimit: 1000,
  ...concatenatedSymbols('spot'),
  wsUrl: (base, symbols, o) => wsUrl(base, symbols, o?.mode, o?.speed === '1000ms' ? '1000ms' : '100ms'),
  subscribeMessages: () => [],
  parse: (text, collector, recvTime) => parseMessage(text, collector, recvTime),
  snapshotRequest: (base, symbol, limit) => ({ url: snapshotUrl(base, symbol, limit), weight: snapshotWeight(limit) }),
  parseSnapshot: (text, symbol, collector, recvTime) => parseSnapshot(text, symbol, collector, recvTime),
  symbolCheckUrl: exchangeInfoUrl,
  symbolsCheckUrl: exchangeInfoManyUrl,
};
