/**
 * Kraken spot WebSocket v2 order-book adapter (channel `book`). Pure, no I/O; parsers never throw: { error }
 * for anything malformed, { ignored } for heartbeats, status, acks, pongs and other channels.
 *
 * Docs: https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/book and "Book checksum (WebSocket
 * v2)" (https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2).
 * - `{"channel":"book","type":"snapshot"|"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,
 *   "qty":0.1}],"asks":[...],"checksum":3310070434,"timestamp":"2026-08-12T19:28:08.631028Z"}]}`. Prices and
 *   quantities are JSON NUMBERS written with the pair's full precision (`0.10000000`); the checksum is
 *   computed over that text, so the parser reads each number's text as sent (quoteNumbers), never through a
 *   double. qty 0 deletes; one message may update a price several times (applied in order).
 * - No sequence number: books merge as replicas (VenueAdapter.merge 'replica'): parse leaves first = last = 0
 *   and prev unset, a snapshot has seq 0, and the collector numbers the messages itself.
 * - Every snapshot and update carries a CRC32 of the book's top 10 (krakenChecksum) AFTER the message: the
 *   integrity check verifies it. The stream keeps `depth` levels per side and sends no delete for a level
 *   pushed out of that range: a client truncates to bookDepth after every message, else the checksum fails.
 * - A fresh snapshot comes from resubscribing (unsubscribe, subscribe: resyncMessages).
 * - Symbols: v2 spells BTC/USD (v1's XBT is accepted as input and mapped to BTC).
 */
import type { StringLevel } from '../core/book.js';
import type { BookIntegrity, IntegrityInfo } from '../core/integrity.js';
import { intervalRule } from '../core/sequence.js';
import type { BookDelta, BookSnapshot, Level } from '../core/types.js';
import { chunks, crossedError, decimal, type JsonObject, MAX_LEVELS_PER_SIDE, trimSlash } from './decimal.js';
import { KRAKEN_CHECKSUM_DEPTH, krakenBookVerify, krakenChecksum } from './kraken-checksum.js';
import { scanKrakenBook } from './kraken-scan.js';
import type { ParsedFrame, VenueAdapter } from './types.js';

export const KRAKEN_VENUE = 'kraken';
export const KRAKEN_WS_BASE = 'wss://ws.kraken.com/v2';
export const KRAKEN_REST_BASE = 'https://api.kraken.com';
/** Depths the book channel offers (levels per side). */
export const KRAKEN_DEPTHS = [10, 25, 100, 500, 1000] as const;
export type KrakenDepth = (typeof KRAKEN_DEPTHS)[number];
/** 100 levels: deep enough for a consolidated book, 10x lighter than 1000 (every level is sent on subscribe). */
export const KRAKEN_DEFAULT_DEPTH: KrakenDepth = 100;
/** Symbols per subscribe frame: ~2 KB a frame (Kraken documents no limit; small frames keep an error local). */
export const KRAKEN_SUBSCRIBE_BATCH = 50;
/** Longest text a message's timestamp, symbol or error may have before it is refused (hostile input). */
const MAX_FIELD_CHARS = 64;

// ------------------------------------------------------------------------------------------ symbols

const SYMBOL = /^([A-Z0-9]{1,20})\/([A-Z0-9]{1,20})$/;

/** v1 and REST spell bitcoin XBT; v2 spells it BTC. */
function v2Asset(a: string): string {
  return a === 'XBT' ? 'BTC' : a;
}

/** The v2 spelling (BTC/USD) of BTC/USD, btc/usd or XBT/USD; undefined for anything else (BTCUSD: no split). */
export function krakenVenueSymbol(input: string): string | undefined {
  const m = SYMBOL.exec(input.toUpperCase());
  return m ? `${v2Asset(m[1])}/${v2Asset(m[2])}` : undefined;
}

/** The unified spelling of a v2 symbol: the same BASE/QUOTE (Kraken spot has no settle suffix). */
export function krakenUnifiedSymbol(venueSymbol: string): string | undefined {
  return krakenVenueSymbol(venueSymbol) === venueSymbol ? venueSymbol : undefined;
}

// ------------------------------------------------------------------------------------------ frames to send

function bookFrame(method: 'subscribe' | 'unsubscribe', symbols: readonly string[], depth: KrakenDepth): string {
  const params =
    method === 'subscribe'
      ? { channel: 'book', symbol: symbols, depth, snapshot: true }
      : { channel: 'book', symbol: symbols, depth };
  return JSON.stringify({ method, params });
}

/** Subscribe frames for the book of each symbol (v2 spelling), KRAKEN_SUBSCRIBE_BATCH per frame. */
export function krakenSubscribeMessages(
  symbols: readonly string[],
  depth: KrakenDepth = KRAKEN_DEFAULT_DEPTH,
): string[] {
  return chunks(symbols, KRAKEN_SUBSCRIBE_BATCH).map((c) => bookFrame('subscribe', c, depth));
}

/** A fresh snapshot of one book: unsubscribe, then subscribe (Kraken sends a snapshot on subscribe). */
export function krakenResyncMessages(symbol: string, depth: KrakenDepth = KRAKEN_DEFAULT_DEPTH): string[] {
  return [bookFrame('unsubscribe', [symbol], depth), bookFrame('subscribe', [symbol], depth)];
}

// ------------------------------------------------------------------------------------------ number text

/** A JSON number token (RFC 8259). */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
/**
 * Prefix quoteNumbers gives a number's text, so a number is told from a string that was quoted on the wire
 * (a price sent as "45283.5" is refused: Kraken sends numbers). U+0001 cannot appear unescaped in JSON text.
 */
const NUM = '\u0001';

/**
 * `text` with every number outside strings turned into a string holding NUM + its exact text
 * (`{"qty":0.10000000}` -> `{"qty":"\u00010.10000000"}`), so JSON.parse keeps the text. undefined when a
 * number token is malformed (`1.2.3`, `01`, `-`); any other malformed JSON is left for JSON.parse to refuse.
 */
export function quoteNumbers(text: string): string | undefined {
  let out = '';
  let from = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // skip the string, escapes included
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) break;
        else i++;
      }
      i++;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) i++;
        else break;
      }
      const token = text.slice(start, i);
      if (!JSON_NUMBER.test(token)) return undefined;
      out += text.slice(from, start) + '"\\u0001' + token + '"';
      from = i;
    } else i++;
  }
  return out + text.slice(from);
}

/** The text of a number read through quoteNumbers, or undefined when the value was not a JSON number. */
function numberText(x: unknown): string | undefined {
  return typeof x === 'string' && x.startsWith(NUM) ? x.slice(1) : undefined;
}

// ------------------------------------------------------------------------------------------ parsing

/** One `data` element of a book message, checked. */
export interface KrakenBookData {
  symbol: string;
  bids: Level[];
  asks: Level[];
  /** The same levels as Kraken wrote them, for the checksum. */
  bidText: StringLevel[];
  askText: StringLevel[];
  /** CRC32 (unsigned) of the top 10 after this message. */
  checksum: number;
  /** Exchange time in ms, when the message has a timestamp. */
  ts?: number;
}

export interface KrakenBookMessage {
  type: 'snapshot' | 'update';
  data: KrakenBookData;
}

/** Symbols as messages spell them: v2 spelling; lower case is allowed (tokenised stocks: AAPLx/USD). */
const MESSAGE_SYMBOL = /^[A-Za-z0-9]{1,20}\/[A-Za-z0-9]{1,20}$/;
/** RFC 3339 in UTC as Kraken writes it: 2026-08-12T19:28:08.631028Z (0-9 fraction digits). */
const TIMESTAMP = /^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?Z$/;

/** ms since epoch of a Kraken timestamp, or NaN. */
export function krakenTime(x: unknown): number {
  if (typeof x !== 'string' || x.length > MAX_FIELD_CHARS) return NaN;
  const m = TIMESTAMP.exec(x);
  if (!m) return NaN;
  const ms = Date.parse(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`);
  return Number.isFinite(ms) && ms >= 0 ? ms : NaN;
}

/** One side: an array of at most MAX_LEVELS_PER_SIDE `{price, qty}` numbers (plain decimals, price > 0). */
function sideLevels(x: unknown, field: string): { levels: Level[]; text: StringLevel[] } | string {
  if (!Array.isArray(x)) return `"${field}" must be an array of {price, qty}`;
  if (x.length > MAX_LEVELS_PER_SIDE) return `"${field}" has ${x.length} levels (at most ${MAX_LEVELS_PER_SIDE})`;
  const levels: Level[] = new Array<Level>(x.length);
  const text: StringLevel[] = new Array<StringLevel>(x.length);
  for (let i = 0; i < x.length; i++) {
    const l: unknown = x[i];
    if (typeof l !== 'object' || l === null || Array.isArray(l)) return `"${field}"[${i}] must be an object`;
    const o = l as JsonObject;
    const keys = Object.keys(o);
    if (keys.length !== 2 || !('price' in o) || !('qty' in o))
      return `"${field}"[${i}] must have exactly "price" and "qty"`;
    const ps = numberText(o.price);
    const qs = numberText(o.qty);
    if (ps === undefined || qs === undefined) return `"${field}"[${i}]: "price" and "qty" must be JSON numbers`;
    // plain decimals only: no sign, no exponent (the checksum is over the digits as written)
    const p = decimal(ps);
    const q = decimal(qs);
    if (!(p > 0 && p < Infinity) || !(q >= 0 && q < Infinity))
      return `"${field}"[${i}] has a non-plain or out-of-range price/qty: ${ps.slice(0, 40)} ${qs.slice(0, 40)}`;
    levels[i] = [p, q];
    text[i] = [ps, qs];
  }
  return { levels, text };
}

/** Check one `data` element. Unknown extra keys are ignored (a field Kraken adds later must not stop books). */
function bookData(d: unknown, type: 'snapshot' | 'update'): KrakenBookData | string {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return '"data"[0] must be an object';
  const o = d as JsonObject;
  if (typeof o.symbol !== 'string' || !MESSAGE_SYMBOL.test(o.symbol)) return '"symbol" must be a symbol like BTC/USD';
  const bids = sideLevels(o.bids, 'bids');
  if (typeof bids === 'string') return bids;
  const asks = sideLevels(o.asks, 'asks');
  if (typeof asks === 'string') return asks;
  const cs = numberText(o.checksum);
  const checksum = cs !== undefined && /^[0-9]{1,10}$/.test(cs) ? Number(cs) : NaN;
  if (!(checksum <= 0xffffffff)) return '"checksum" must be an unsigned 32-bit integer';
  const out: KrakenBookData = {
    symbol: o.symbol,
    bids: bids.levels,
    asks: asks.levels,
    bidText: bids.text,
    askText: asks.text,
    checksum,
  };
  if (o.timestamp !== undefined || type === 'update') {
    const ts = krakenTime(o.timestamp);
    if (Number.isNaN(ts)) return '"timestamp" must be an RFC 3339 UTC time';
    out.ts = ts;
  }
  return out;
}

/** A JSON string (not a number turned into text by quoteNumbers). */
function isString(x: unknown): x is string {
  return typeof x === 'string' && !x.startsWith(NUM);
}

function shortText(x: unknown): string {
  return String(x).slice(0, 200);
}

/**
 * First stage of parse: recognise a book message and check every field. Heartbeats, status, other channels,
 * acks and pongs are ignored; a refused request (`"success":false`) is an error naming Kraken's reason.
 * A book message in Kraken's own spelling is read by a scanner (kraken-scan.ts); anything else, valid or
 * not, by decodeKrakenBookJson, with the same result.
 */
export function decodeKrakenBook(text: string): { message?: KrakenBookMessage; ignored?: string; error?: string } {
  const message = scanKrakenBook(text);
  return message !== undefined ? { message } : decodeKrakenBookJson(text);
}

/** decodeKrakenBook's careful path: quoteNumbers, JSON.parse, then every field checked. */
export function decodeKrakenBookJson(text: string): {
  message?: KrakenBookMessage;
  ignored?: string;
  error?: string;
} {
  const quoted = quoteNumbers(text);
  if (quoted === undefined) return { error: 'malformed JSON: bad number' };
  let o: unknown;
  try {
    o = JSON.parse(quoted);
  } catch (e) {
    return { error: `malformed JSON: ${(e as Error).message.slice(0, 200)}` };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { error: 'message is not a JSON object' };
  const m = o as JsonObject;
  if (m.channel === undefined) {
    if (isString(m.method)) {
      if (m.success === false) return { error: `venue error on "${m.method.slice(0, 20)}": ${shortText(m.error)}` };
      return { ignored: m.method.slice(0, 40) };
    }
    return { error: 'unrecognised message: no "channel" and no "method"' };
  }
  if (!isString(m.channel)) return { error: '"channel" must be a string' };
  if (m.channel !== 'book') return { ignored: m.channel.slice(0, 40) };
  const type = m.type;
  if (type !== 'snapshot' && type !== 'update') return { error: '"type" must be "snapshot" or "update"' };
  // One book per message, as Kraken sends them (every recorded message has one); a frame is one event, so a
  // second element could not be returned and dropping it would corrupt that book.
  if (!Array.isArray(m.data) || m.data.length !== 1) return { error: '"data" must be an array of one book' };
  const data = bookData(m.data[0], type);
  if (typeof data === 'string') return { error: data };
  return { message: { type, data } };
}

/**
 * A message's check value and levels' text. A snapshot's is made by a literal of its own: callers keep a
 * snapshot's, and V8 would then allocate every update's in the old generation (see snapshotMessage in
 * kraken-scan.ts).
 */
function integrityOf(m: KrakenBookMessage): IntegrityInfo {
  const d = m.data;
  if (m.type === 'snapshot') return { bids: d.bidText, asks: d.askText, checksum: d.checksum };
  return { bids: d.bidText, asks: d.askText, checksum: d.checksum };
}

/**
 * Parse one text frame into a snapshot (seq 0) or a delta (first = last = 0, prev unset): Kraken has no
 * sequence, the collector numbers the messages (merge 'replica'). Keeps the text in raw and the checksum
 * with the levels' text in `integrity` (what krakenIntegrity.read(raw) returns). Never throws.
 */
export function parseKrakenMessage(text: string, collector: string, recvTime: number): ParsedFrame {
  const r = decodeKrakenBook(text);
  if (r.message === undefined) return r.ignored !== undefined ? { ignored: r.ignored } : { error: r.error };
  const { type, data } = r.message;
  // the check value and the levels' text, for a verifier in the same process (the arbiter reads them from
  // raw: encodeCollectorEvent leaves this off the bus)
  const integrity = integrityOf(r.message);
  if (type === 'snapshot') {
    const crossed = crossedError('snapshot', data.bids, data.asks);
    if (crossed !== undefined) return { error: `${data.symbol}: ${crossed}` };
    const snapshot: BookSnapshot = {
      type: 'snapshot',
      venue: KRAKEN_VENUE,
      symbol: data.symbol,
      seq: 0,
      recvTime,
      collector,
      bids: data.bids,
      asks: data.asks,
      raw: text,
      integrity,
    };
    if (data.ts !== undefined) snapshot.exchTime = data.ts;
    return { snapshot };
  }
  const delta: BookDelta = {
    type: 'delta',
    venue: KRAKEN_VENUE,
    symbol: data.symbol,
    first: 0,
    last: 0,
    exchTime: data.ts ?? 0,
    recvTime,
    collector,
    bids: data.bids,
    asks: data.asks,
    raw: text,
    integrity,
  };
  return { delta };
}

// ------------------------------------------------------------------------------------------ integrity

/**
 * The book checksum as an integrity check (core/integrity.ts): read from every book message (Kraken sends
 * one with each snapshot and update), verified as krakenChecksum over the book's top 10 in Kraken's
 * spelling (asks low to high, bids high to low: best first, the order `top` has).
 */
export const krakenIntegrity: BookIntegrity = {
  depth: KRAKEN_CHECKSUM_DEPTH,
  read(raw) {
    if (raw.indexOf('"checksum"') < 0) return undefined;
    const m = decodeKrakenBook(raw).message;
    return m === undefined ? undefined : integrityOf(m);
  },
  verify: (top, checksum) => krakenChecksum(top.asks, top.bids) === checksum,
  verifyBook: krakenBookVerify,
};

// ------------------------------------------------------------------------------------------ adapter

/** Kraken spot (WebSocket v2 `book`) at `depth` levels per side. */
export function krakenAdapter(depth: KrakenDepth = KRAKEN_DEFAULT_DEPTH): VenueAdapter {
  return {
    id: KRAKEN_VENUE,
    name: 'Kraken spot',
    markets: ['spot'],
    // unused by replica merge (no ids); kept for the interface
    rule: intervalRule,
    integrity: krakenIntegrity,
    merge: 'replica',
    bookDepth: depth,
    // no venue ids: the collector's own per-connection numbering is checked instead; the window only has to
    // be wider than anything that numbering produces
    seqWindow: 1e12,
    snapshotSource: 'websocket',
    defaultWsUrl: KRAKEN_WS_BASE,
    defaultRestUrl: KRAKEN_REST_BASE,
    // Kraken documents no book limit per connection; it limits connection attempts (~150 per 10 minutes per
    // IP), so few connections with many books. At depth 100 a subscribe sends 200 levels per book at once
    // (~6 KB), 200 books ~1.2 MB of snapshots on connect; a lost connection costs 200 resubscriptions.
    maxBooksPerConnection: 200,
    // Kraken sends a heartbeat each second without other traffic; an application ping (answered by a pong)
    // every 30 s also shows the server that the client is alive
    ping: { intervalMs: 30_000, text: '{"method":"ping"}' },
    defaultSnapshotLimit: depth,
    venueSymbol: krakenVenueSymbol,
    unifiedSymbol: krakenUnifiedSymbol,
    // one public endpoint for every book: the subscriptions name them
    wsUrl(base, symbols) {
      if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
      return trimSlash(base);
    },
    subscribeMessages: (symbols) => krakenSubscribeMessages(symbols, depth),
    resyncMessages: (symbol) => krakenResyncMessages(symbol, depth),
    parse: parseKrakenMessage,
  };
}

/** Kraken spot, book channel at depth 100. */
export const kraken: VenueAdapter = krakenAdapter();
