/**
 * Gemini's current market-data API (`wss://ws.gemini.com`), differential depth `{symbol}@depth@100ms`. Pure,
 * no I/O; the parser never throws: { error } for anything malformed, { ignored } for acks, trades, tickers.
 * The archived v2 `l2` feed is gemini-v2.ts.
 *
 * Docs: https://docs.gemini.com/websocket/introduction (connection parameter `snapshot`),
 * https://docs.gemini.com/websocket/fast-api/streams (also developer.gemini.com/websocket/streams.md).
 * Recorded messages: test/fixtures/real/tardis_gemini_depth.jsonl (tardis-node's mapper tests, 2026).
 * - Connect to `wss://ws.gemini.com?snapshot=-1` (-1: a full book on subscribe; the default 0 sends none),
 *   subscribe `{"id":"s","method":"SUBSCRIBE","params":["btcusd@depth@100ms",...]}` (stream names lower case);
 *   the reply is `{"id":...,"status":200}` (tardis-node ignores it as the acknowledgement).
 * - `{"e":"depthUpdate","E":<ns>,"s":"btcusd","U":...,"u":...,"b":[["price","qty"]],"a":[...]}`: strings,
 *   absolute quantities, "0" deletes. `E` is in nanoseconds (beyond 2^53: only its milliseconds are kept).
 * - Ids: one counter for the whole exchange (tardis' messages interleave: wifusd `U..u` 389289..389676, then
 *   an xrpgusd bookTicker `u` 389752). Each book's messages chain by `U` = the previous message's `u` (gusdgbp:
 *   snapshot `U = u = 767893`, next update `U = 767893`, `u = 813829`; audusd's first message there starts at
 *   767846, below gusdgbp's snapshot: the id its book last changed at). The docs call U "first update ID" but
 *   never say how it links; the recorded pair is the evidence. So a message covers (U, u]: interval cover
 *   with prev = U, as Binance USD-M's pu (merge 'sequence'). Every connection sees the same exchange-wide ids.
 * - The snapshot has no marker (`?snapshot=-1`: "full orderbook snapshot sent immediately on subscribe"): it
 *   is the first depthUpdate of its book on the socket after subscribing (tardis-node marks it the same way,
 *   statefully). parse returns every depthUpdate as a delta; the collector turns the first one of a book
 *   after the connection's subscribe or after a resubscription's unsubscribe was answered into a snapshot
 *   (snapshotFromFirstDelta, at seq u). A resync is a resubscription; its UNSUBSCRIBE carries the id
 *   `u-<symbol>`, whose answer says the old subscription's messages are all in (ParsedFrame.unsubscribed).
 * - No checksum, no REST snapshot with an id (GET /v1/book has none).
 * - Symbols: concatenated (btcusd on the wire, BTCUSD here; unified BTC/USD), as gemini-v2.
 */
import { intervalRule } from '../core/sequence.js';
import type { BookDelta, BookSnapshot, Level } from '../core/types.js';
import { chunks, crossedError, type JsonObject, parseJsonObject, textLevels, trimSlash } from './decimal.js';
import { GEMINI_REST_BASE, geminiUnifiedSymbol, geminiVenueSymbol } from './gemini-v2.js';
import type { ParsedFrame, ParsedSnapshot, VenueAdapter } from './types.js';

export const GEMINI_VENUE = 'gemini';
export const GEMINI_WS_BASE = 'wss://ws.gemini.com';
/** Streams per SUBSCRIBE frame (Gemini documents no limit; small frames keep an error local). */
export const GEMINI_STREAMS_PER_FRAME = 50;
/** The id of the UNSUBSCRIBE that starts a resync of `symbol` (its answer is recognised by it). */
const UNSUBSCRIBE_ID = 'u-';
const MESSAGE_SYMBOL = /^[a-z0-9]{2,30}$/;

/** The diff-depth stream of a book (venue symbol BTCUSD -> btcusd@depth@100ms). */
export function geminiStreamName(symbol: string): string {
  return `${symbol.toLowerCase()}@depth@100ms`;
}

function request(method: 'SUBSCRIBE' | 'UNSUBSCRIBE', id: string, symbols: readonly string[]): string {
  return JSON.stringify({ id, method, params: symbols.map(geminiStreamName) });
}

/** SUBSCRIBE frames naming every book's diff-depth stream, GEMINI_STREAMS_PER_FRAME per frame. */
export function geminiSubscribeMessages(symbols: readonly string[]): string[] {
  return chunks(symbols, GEMINI_STREAMS_PER_FRAME).map((c, i) => request('SUBSCRIBE', `s${i}`, c));
}

/** A fresh snapshot of one book: unsubscribe (id u-<symbol>), then subscribe (its first depthUpdate is the book). */
export function geminiResyncMessages(symbol: string): string[] {
  const s = symbol.toLowerCase();
  return [request('UNSUBSCRIBE', UNSUBSCRIBE_ID + s, [symbol]), request('SUBSCRIBE', `s-${s}`, [symbol])];
}

function shortText(x: unknown): string {
  return (typeof x === 'string' ? x : (JSON.stringify(x) ?? String(x))).slice(0, 200);
}

/** A reply to a request (`{"id","status"}`, or `{"id","result"}`), an error reply, or undefined if it is none. */
function reply(m: JsonObject): ParsedFrame | undefined {
  if (!('id' in m) || (!('status' in m) && !('result' in m) && !('error' in m))) return undefined;
  const r: ParsedFrame = { ignored: 'reply' };
  // an answer to a resync's UNSUBSCRIBE, success or not: the old subscription's messages are all in
  if (typeof m.id === 'string' && m.id.startsWith(UNSUBSCRIBE_ID)) {
    const s = m.id.slice(UNSUBSCRIBE_ID.length);
    if (MESSAGE_SYMBOL.test(s)) r.unsubscribed = s.toUpperCase();
  }
  if (m.error !== undefined || (typeof m.status === 'number' && m.status >= 400)) {
    r.error = `venue error: ${shortText(m.error ?? m.status)}`;
    delete r.ignored;
  }
  return r;
}

/**
 * Parse one text frame: a depthUpdate is a delta covering (U, u] (prev = U, first = U + 1, last = u; U == u
 * covers nothing); a reply, trade, bookTicker or other event is ignored; anything malformed is an error.
 * Keeps the text in raw. Never throws.
 */
export function parseGeminiMessage(text: string, collector: string, recvTime: number): ParsedFrame {
  const o = parseJsonObject(text);
  if (typeof o === 'string') return { error: o.slice(0, 200) };
  const m: JsonObject = o;
  if (m.e !== 'depthUpdate') {
    if (typeof m.e === 'string') return { ignored: m.e.slice(0, 40) };
    const r = reply(m);
    if (r !== undefined) return r;
    if (typeof m.t === 'number') return { ignored: 'trade' };
    // a book ticker; an empty book's has only u, E and s (Gemini omits empty fields)
    if (typeof m.u === 'number' && typeof m.s === 'string') return { ignored: 'bookTicker' };
    if ('lastUpdateId' in m) return { ignored: 'depth' };
    return { error: 'unrecognised message: no "e" event type' };
  }
  const U = m.U;
  const u = m.u;
  if (!Number.isSafeInteger(U) || !Number.isSafeInteger(u) || U < 0) return { error: '"U" and "u" must be integers' };
  if (U > u) return { error: `"U" (${U}) > "u" (${u})` };
  if (typeof m.s !== 'string' || !MESSAGE_SYMBOL.test(m.s)) return { error: '"s" must be a symbol like btcusd' };
  const E = m.E;
  if (typeof E !== 'number' || !(E >= 0 && E < Infinity)) return { error: '"E" must be a number' };
  const b = textLevels(m.b, 'b', 0);
  if (typeof b === 'string') return { error: b };
  const a = textLevels(m.a, 'a', 0);
  if (typeof a === 'string') return { error: a };
  const delta: BookDelta = {
    type: 'delta',
    venue: GEMINI_VENUE,
    symbol: m.s.toUpperCase(),
    prev: U,
    first: U === u ? u : U + 1,
    last: u,
    exchTime: Math.floor(E / 1e6), // nanoseconds -> ms
    recvTime,
    collector,
    bids: b.levels,
    asks: a.levels,
    raw: text,
  };
  return { delta };
}

/** The live levels (quantity > 0) of a full book: a snapshot holds no deletes. */
function live(levels: Level[]): Level[] {
  return levels.every((l) => l[1] > 0) ? levels : levels.filter((l) => l[1] > 0);
}

/** The first depthUpdate of a book after subscribing, as the full book it is: seq u. Refused when crossed. */
export function geminiSnapshotFromDelta(d: BookDelta): ParsedSnapshot {
  const crossed = crossedError('snapshot', d.bids, d.asks);
  if (crossed !== undefined) return { error: `${d.symbol}: ${crossed}` };
  const snapshot: BookSnapshot = {
    type: 'snapshot',
    venue: d.venue,
    symbol: d.symbol,
    seq: d.last,
    exchTime: d.exchTime,
    recvTime: d.recvTime,
    collector: d.collector,
    bids: live(d.bids),
    asks: live(d.asks),
  };
  if (d.raw !== undefined) snapshot.raw = d.raw;
  return { snapshot };
}

/** Gemini spot, current market-data API, diff depth with a snapshot on subscribe. */
export const gemini: VenueAdapter = {
  id: GEMINI_VENUE,
  name: 'Gemini spot',
  markets: ['spot'],
  rule: intervalRule,
  merge: 'sequence',
  // one id space for the whole exchange (~1,000 ids/s in tardis' recording): 1e11 is days of a quiet book
  seqWindow: 1e11,
  snapshotSource: 'websocket',
  defaultWsUrl: GEMINI_WS_BASE,
  defaultRestUrl: GEMINI_REST_BASE,
  // Gemini documents no stream limit per connection; a lost connection costs every book's snapshot again
  maxBooksPerConnection: 50,
  // unused: the websocket sends the full book (snapshot=-1)
  defaultSnapshotLimit: 5000,
  venueSymbol: geminiVenueSymbol,
  unifiedSymbol: geminiUnifiedSymbol,
  // one endpoint for every book: the subscriptions name them; snapshot=-1 asks for the full book on subscribe
  wsUrl(base, symbols) {
    if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
    return `${trimSlash(base)}?snapshot=-1`;
  },
  subscribeMessages: geminiSubscribeMessages,
  resyncMessages: geminiResyncMessages,
  parse: parseGeminiMessage,
  snapshotFromFirstDelta: geminiSnapshotFromDelta,
};
