/**
 * Gemini market data v2 (archived, `wss://api.gemini.com/v2/marketdata`), subscription `l2`. Pure, no I/O;
 * the parser never throws: { error } for anything malformed, { ignored } for trades, heartbeats, candles.
 *
 * Docs: https://docs.gemini.com/websocket/market-data/v2/about and .../v2/level-2-data (archived at
 * https://developer.gemini.com/websocket/archived/v2.md). Recording: test/fixtures/real/cryptofeed_GEMINI.ws.1.0.
 * - Subscribe `{"type":"subscribe","subscriptions":[{"name":"l2","symbols":["BTCUSD",...]}]}`; unsubscribe
 *   likewise with `"type":"unsubscribe"`.
 * - `{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy"|"sell","9122.04","0.00121425"],...]}`: prices
 *   and quantities are decimal strings, absolute; quantity "0" deletes the level.
 * - The FIRST l2_updates of a symbol after subscribing is the full book. It is told from an update without
 *   state: it alone carries `"trades"` (the last 50 trades; docs: "The initial response message will show
 *   the existing state of the order books and last 50 trades") and, in the recording, `"auction_events"`.
 *   Every one of the 10 first messages of the recording has both; none of its 645 updates has either. So an
 *   l2_updates with a `trades` array is a snapshot, any other is an update.
 * - No sequence number, no checksum: books merge as replicas (VenueAdapter.merge 'replica'): parse leaves
 *   first = last = 0 and prev unset, a snapshot has seq 0, and the collector numbers the messages itself.
 * - `trade` (also sent inside the snapshot), `heartbeat` (every 5 s per connection), candles: ignored.
 * - A fresh snapshot comes from resubscribing (unsubscribe, subscribe: resyncMessages).
 * - Symbols: concatenated upper case (BTCUSD); unified BTC/USD.
 */
import { intervalRule } from '../core/sequence.js';
import type { BookDelta, BookSnapshot, Level } from '../core/types.js';
import { chunks, crossedError, decimal, type JsonObject, parseJsonObject, trimSlash } from './decimal.js';
import { GEMINI_MAX_CHANGES, scanGeminiV2Update } from './gemini-v2-scan.js';
import { parseUnified } from './symbols.js';
import type { ParsedFrame, VenueAdapter } from './types.js';

export const GEMINI_V2_VENUE = 'gemini-v2';
export const GEMINI_V2_WS_BASE = 'wss://api.gemini.com/v2/marketdata';
export const GEMINI_REST_BASE = 'https://api.gemini.com';
/** Symbols per subscribe frame (Gemini documents no limit; small frames keep an error local). */
export const GEMINI_SUBSCRIBE_BATCH = 50;
export { GEMINI_MAX_CHANGES };

// ------------------------------------------------------------------------------------------ symbols

/**
 * Quote assets of Gemini's concatenated symbols, longest first so GUSD wins over USD (BTCGUSD) and USDT over
 * USD. Gemini quotes in USD, GUSD, USDT, USDC, DAI, EUR, GBP, SGD, BTC, ETH, LTC, BCH, FIL.
 */
const QUOTES = ['GUSD', 'USDT', 'USDC', 'USD', 'DAI', 'EUR', 'GBP', 'SGD', 'BTC', 'ETH', 'LTC', 'BCH', 'FIL'];
const CONCATENATED = /^[A-Z0-9]{2,30}$/;

/** The venue's spelling (BTCUSD) of BTCUSD, btcusd or BTC/USD; undefined for anything else. */
export function geminiVenueSymbol(input: string): string | undefined {
  if (input.includes('/')) {
    const u = parseUnified(input);
    return u === undefined || u.settle !== undefined ? undefined : u.base + u.quote;
  }
  const s = input.toUpperCase();
  return CONCATENATED.test(s) ? s : undefined;
}

/** BASE/QUOTE of a venue symbol, split by Gemini's quote assets; undefined if none fits. */
export function geminiUnifiedSymbol(venueSymbol: string): string | undefined {
  if (!CONCATENATED.test(venueSymbol)) return undefined;
  for (const q of QUOTES)
    if (venueSymbol.length > q.length && venueSymbol.endsWith(q)) return `${venueSymbol.slice(0, -q.length)}/${q}`;
  return undefined;
}

// ------------------------------------------------------------------------------------------ frames to send

function l2Frame(type: 'subscribe' | 'unsubscribe', symbols: readonly string[]): string {
  return JSON.stringify({ type, subscriptions: [{ name: 'l2', symbols }] });
}

/** Subscribe frames for the l2 book of each symbol, GEMINI_SUBSCRIBE_BATCH per frame. */
export function geminiV2SubscribeMessages(symbols: readonly string[]): string[] {
  return chunks(symbols, GEMINI_SUBSCRIBE_BATCH).map((c) => l2Frame('subscribe', c));
}

/** A fresh snapshot of one book: unsubscribe, then subscribe (the first l2_updates after it is the book). */
export function geminiV2ResyncMessages(symbol: string): string[] {
  return [l2Frame('unsubscribe', [symbol]), l2Frame('subscribe', [symbol])];
}

// ------------------------------------------------------------------------------------------ parsing

/** One l2_updates message, checked: its levels in message order, per side. */
export interface GeminiL2Message {
  symbol: string;
  snapshot: boolean;
  bids: Level[];
  asks: Level[];
}

/** Symbols as messages spell them. */
const MESSAGE_SYMBOL = /^[A-Za-z0-9]{2,30}$/;

/** `changes`: an array of at most GEMINI_MAX_CHANGES ["buy"|"sell", price > 0, qty >= 0], split by side. */
function changeLevels(x: unknown): { bids: Level[]; asks: Level[] } | string {
  if (!Array.isArray(x)) return '"changes" must be an array of [side, price, quantity]';
  if (x.length > GEMINI_MAX_CHANGES) return `"changes" has ${x.length} entries (at most ${GEMINI_MAX_CHANGES})`;
  const bids: Level[] = [];
  const asks: Level[] = [];
  for (let i = 0; i < x.length; i++) {
    const c: unknown = x[i];
    if (!Array.isArray(c) || c.length !== 3) return `"changes"[${i}] must be [side, price, quantity]`;
    const p = decimal(c[1]);
    const q = decimal(c[2]);
    if (!(p > 0 && p < Infinity) || !(q >= 0 && q < Infinity))
      return `"changes"[${i}] has a non-numeric or out-of-range price/quantity: ${JSON.stringify(c).slice(0, 80)}`;
    if (c[0] === 'buy') bids.push([p, q]);
    else if (c[0] === 'sell') asks.push([p, q]);
    else return `"changes"[${i}][0] must be "buy" or "sell"`;
  }
  return { bids, asks };
}

function shortText(x: unknown): string {
  return (typeof x === 'string' ? x : (JSON.stringify(x) ?? String(x))).slice(0, 200);
}

/**
 * First stage of parse: recognise an l2_updates message and check every field. Trades, heartbeats and other
 * feeds are ignored; an error reply (`"result":"error"` or `"type":"error"`) is an error naming the reason.
 * An update in Gemini's own spelling is read by a scanner (gemini-v2-scan.ts); anything else, valid or not,
 * by decodeGeminiV2Json, with the same result.
 */
export function decodeGeminiV2(text: string): { message?: GeminiL2Message; ignored?: string; error?: string } {
  const message = scanGeminiV2Update(text);
  return message !== undefined ? { message } : decodeGeminiV2Json(text);
}

/** decodeGeminiV2's careful path: JSON.parse, then every field checked. */
export function decodeGeminiV2Json(text: string): { message?: GeminiL2Message; ignored?: string; error?: string } {
  const o = parseJsonObject(text);
  if (typeof o === 'string') return { error: o.slice(0, 200) };
  const m: JsonObject = o;
  if (m.result === 'error' || m.type === 'error')
    return { error: `venue error: ${shortText(m.reason ?? m.message ?? m.type)}` };
  if (typeof m.type !== 'string') return { error: 'unrecognised message: no "type"' };
  if (m.type !== 'l2_updates') return { ignored: m.type.slice(0, 40) };
  if (typeof m.symbol !== 'string' || !MESSAGE_SYMBOL.test(m.symbol))
    return { error: '"symbol" must be a symbol like BTCUSD' };
  if (m.trades !== undefined && !Array.isArray(m.trades)) return { error: '"trades" must be an array' };
  const levels = changeLevels(m.changes);
  if (typeof levels === 'string') return { error: levels };
  return { message: { symbol: m.symbol, snapshot: Array.isArray(m.trades), ...levels } };
}

/** The live levels (quantity > 0) of a full book: a snapshot holds no deletes. */
function live(levels: Level[]): Level[] {
  return levels.every((l) => l[1] > 0) ? levels : levels.filter((l) => l[1] > 0);
}

/**
 * Parse one text frame into a snapshot (seq 0; the l2_updates carrying `trades`) or a delta (first = last = 0,
 * prev unset): Gemini v2 has no sequence, the collector numbers the messages (merge 'replica'). Keeps the
 * text in raw. Never throws.
 */
export function parseGeminiV2Message(text: string, collector: string, recvTime: number): ParsedFrame {
  const r = decodeGeminiV2(text);
  if (r.message === undefined) return r.ignored !== undefined ? { ignored: r.ignored } : { error: r.error };
  const { symbol, bids, asks } = r.message;
  if (r.message.snapshot) {
    const crossed = crossedError('snapshot', bids, asks);
    if (crossed !== undefined) return { error: `${symbol}: ${crossed}` };
    const snapshot: BookSnapshot = {
      type: 'snapshot',
      venue: GEMINI_V2_VENUE,
      symbol,
      seq: 0,
      recvTime,
      collector,
      bids: live(bids),
      asks: live(asks),
      raw: text,
    };
    return { snapshot };
  }
  const delta: BookDelta = {
    type: 'delta',
    venue: GEMINI_V2_VENUE,
    symbol,
    first: 0,
    last: 0,
    // l2_updates carry no time
    exchTime: 0,
    recvTime,
    collector,
    bids,
    asks,
    raw: text,
  };
  return { delta };
}

// ------------------------------------------------------------------------------------------ adapter

/** Gemini spot, market data v2 `l2` (full book). */
export const geminiV2: VenueAdapter = {
  id: GEMINI_V2_VENUE,
  name: 'Gemini spot (market data v2, archived)',
  markets: ['spot'],
  // unused by replica merge (no ids); kept for the interface
  rule: intervalRule,
  merge: 'replica',
  // no venue ids: the collector's own per-connection numbering is checked instead
  seqWindow: 1e12,
  snapshotSource: 'websocket',
  defaultWsUrl: GEMINI_V2_WS_BASE,
  defaultRestUrl: GEMINI_REST_BASE,
  // Gemini documents no book limit per connection; every subscribe sends the whole book (hundreds to
  // thousands of levels), and a lost connection costs every one of them again
  maxBooksPerConnection: 50,
  // no client ping: the server sends a heartbeat every 5 s
  // unused: no REST snapshot (the websocket sends the full book); the config's upper bound
  defaultSnapshotLimit: 5000,
  venueSymbol: geminiVenueSymbol,
  unifiedSymbol: geminiUnifiedSymbol,
  // one endpoint for every book: the subscriptions name them
  wsUrl(base, symbols) {
    if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
    return trimSlash(base);
  },
  subscribeMessages: geminiV2SubscribeMessages,
  resyncMessages: geminiV2ResyncMessages,
  parse: parseGeminiV2Message,
};
