/**
 * Coinbase Advanced Trade WebSocket `level2` adapter. Pure, no I/O; parsers never throw: { error } for
 * anything malformed, { ignored } for heartbeats, subscription acks and other channels.
 *
 * Docs: https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels
 * (level2, heartbeats) and websocket-overview (subscribe: one channel per message).
 * - `wss://advanced-trade-ws.coinbase.com`; `{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}`
 *   and the same for `heartbeats` (channels without updates are closed after 60-90 s otherwise).
 * - `{"channel":"l2_data","client_id":"","timestamp":"...","sequence_num":N,"events":[{"type":"snapshot"|
 *   "update","product_id":"BTC-USD","updates":[{"side":"bid"|"offer","event_time":"...","price_level":"...",
 *   "new_quantity":"..."}]}]}`: strings, absolute sizes, "0" deletes. The snapshot is the full book.
 * - `sequence_num` counts every message of a connection across all its channels (acks and heartbeats too):
 *   it is not per book and not shared by connections, so books merge as replicas (merge 'replica': parse
 *   leaves first = last = 0, prev unset; snapshot.seq 0; the collector numbers each book's messages) and the
 *   counter goes out as ParsedFrame.connectionSeq on every frame that has one, ignored or not.
 * - One frame is one book event here. Every recorded message carries one event of one product; several
 *   events of the SAME product and type are applied in order (their updates concatenated), events of several
 *   products in one message are refused as an error (dropping one would corrupt that book silently).
 * - A fresh snapshot comes from resubscribing (unsubscribe, subscribe: resyncMessages).
 * - Symbols: Coinbase spells BTC-USD; unified BTC/USD.
 */
import { intervalRule } from '../core/sequence.js';
import type { BookDelta, BookSnapshot, Level } from '../core/types.js';
import { chunks, crossedError, decimal, type JsonObject, parseJsonObject, trimSlash } from './decimal.js';
import { COINBASE_MAX_UPDATES, scanCoinbaseL2 } from './coinbase-scan.js';
import type { ParsedFrame, VenueAdapter } from './types.js';

export const COINBASE_VENUE = 'coinbase';
export const COINBASE_WS_BASE = 'wss://advanced-trade-ws.coinbase.com';
export const COINBASE_REST_BASE = 'https://api.coinbase.com';
/** Products per subscribe frame (Coinbase documents no limit; small frames keep an error local). */
export const COINBASE_SUBSCRIBE_BATCH = 50;
export { COINBASE_MAX_UPDATES };
/** Most events one message may carry (every recorded message has one). */
const MAX_EVENTS = 64;
/** Longest text a timestamp, product id or error may have before it is refused (hostile input). */
const MAX_FIELD_CHARS = 64;

// ------------------------------------------------------------------------------------------ symbols

const SYMBOL = /^([A-Z0-9]{1,20})[-/]([A-Z0-9]{1,20})$/;

/** Coinbase's spelling (BTC-USD) of BTC-USD, btc-usd or BTC/USD; undefined for anything else (BTCUSD: no split). */
export function coinbaseVenueSymbol(input: string): string | undefined {
  const m = SYMBOL.exec(input.toUpperCase());
  return m ? `${m[1]}-${m[2]}` : undefined;
}

/** The unified spelling BTC/USD of a Coinbase product id; undefined if it is not one (spot only). */
export function coinbaseUnifiedSymbol(venueSymbol: string): string | undefined {
  const m = /^([A-Z0-9]{1,20})-([A-Z0-9]{1,20})$/.exec(venueSymbol);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

// ------------------------------------------------------------------------------------------ frames to send

function channelFrame(type: 'subscribe' | 'unsubscribe', channel: string, products: readonly string[]): string {
  return JSON.stringify({ type, product_ids: products, channel });
}

/**
 * Subscribe frames: level2 for the products, COINBASE_SUBSCRIBE_BATCH per frame, and heartbeats for the same
 * products (one channel per frame, as Coinbase requires; heartbeats keep quiet books' channels open).
 */
export function coinbaseSubscribeMessages(products: readonly string[]): string[] {
  const batches = chunks(products, COINBASE_SUBSCRIBE_BATCH);
  return [
    ...batches.map((c) => channelFrame('subscribe', 'level2', c)),
    ...batches.map((c) => channelFrame('subscribe', 'heartbeats', c)),
  ];
}

/** A fresh snapshot of one book: unsubscribe then subscribe its level2 (Coinbase sends a snapshot on subscribe). */
export function coinbaseResyncMessages(product: string): string[] {
  return [channelFrame('unsubscribe', 'level2', [product]), channelFrame('subscribe', 'level2', [product])];
}

// ------------------------------------------------------------------------------------------ parsing

/** RFC 3339 in UTC as Coinbase writes it: 2026-08-12T19:27:48.098821666Z (0-9 fraction digits). */
const TIMESTAMP = /^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?Z$/;
const PRODUCT = /^[A-Z0-9]{1,20}(?:-[A-Z0-9]{1,20}){1,3}$/;

/** The last whole seconds coinbaseTime read (`2026-08-12T19:27:48`) and their ms: a second holds many times. */
let lastSecond = '';
let lastSecondMs = NaN;

/** ms since epoch of a Coinbase timestamp, or NaN. */
export function coinbaseTime(x: unknown): number {
  if (typeof x !== 'string' || x.length > MAX_FIELD_CHARS) return NaN;
  const m = TIMESTAMP.exec(x);
  if (!m) return NaN;
  const fraction = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  let ms: number;
  if (x.charCodeAt(11) === 50 && x.charCodeAt(12) === 52) {
    // hour 24: Date.parse takes 24:00:00.000 only, so whole seconds + ms would be wrong
    ms = Date.parse(`${m[1]}.${fraction}Z`);
  } else {
    if (m[1] !== lastSecond) {
      lastSecond = m[1];
      lastSecondMs = Date.parse(`${m[1]}.000Z`);
    }
    ms = lastSecondMs + +fraction;
  }
  return Number.isFinite(ms) && ms >= 0 ? ms : NaN;
}

/** One checked l2_data message: one product, its levels by side in message order. */
export interface CoinbaseBookMessage {
  type: 'snapshot' | 'update';
  product: string;
  bids: Level[];
  asks: Level[];
  /** The message's timestamp, ms (0 if absent). */
  ts: number;
  /** The latest event_time of its updates, ms (0 if none: snapshots stamp 1970). */
  eventTime: number;
}

function shortText(x: unknown): string {
  return String(x).slice(0, 200);
}

/** Add one event's updates to `out`; the reason as a string when anything is off. */
function addUpdates(x: unknown, out: CoinbaseBookMessage, ei: number): string | undefined {
  if (!Array.isArray(x)) return `"events"[${ei}].updates must be an array`;
  if (out.bids.length + out.asks.length + x.length > COINBASE_MAX_UPDATES)
    return `too many updates in one message (at most ${COINBASE_MAX_UPDATES})`;
  for (let i = 0; i < x.length; i++) {
    const u: unknown = x[i];
    if (typeof u !== 'object' || u === null || Array.isArray(u)) return `"updates"[${i}] must be an object`;
    const o = u as JsonObject;
    const p = decimal(o.price_level);
    const q = decimal(o.new_quantity);
    if (!(p > 0 && p < Infinity) || !(q >= 0 && q < Infinity))
      return `"updates"[${i}] has a non-plain or out-of-range price_level/new_quantity: ${shortText(o.price_level).slice(0, 40)} ${shortText(o.new_quantity).slice(0, 40)}`;
    if (o.event_time !== undefined) {
      const t = coinbaseTime(o.event_time);
      if (Number.isNaN(t)) return `"updates"[${i}].event_time must be an RFC 3339 UTC time`;
      if (t > out.eventTime) out.eventTime = t;
    }
    if (o.side === 'bid') out.bids.push([p, q]);
    else if (o.side === 'offer') out.asks.push([p, q]);
    else return `"updates"[${i}].side must be "bid" or "offer"`;
  }
  return undefined;
}

/** The l2_data part of a message whose envelope is checked. */
function l2Data(m: JsonObject): CoinbaseBookMessage | string {
  const events = m.events;
  if (!Array.isArray(events) || events.length === 0) return '"events" must be a non-empty array';
  if (events.length > MAX_EVENTS) return `"events" has ${events.length} events (at most ${MAX_EVENTS})`;
  let out: CoinbaseBookMessage | undefined;
  for (let i = 0; i < events.length; i++) {
    const e: unknown = events[i];
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return `"events"[${i}] must be an object`;
    const o = e as JsonObject;
    if (o.type !== 'snapshot' && o.type !== 'update') return `"events"[${i}].type must be "snapshot" or "update"`;
    if (typeof o.product_id !== 'string' || !PRODUCT.test(o.product_id))
      return `"events"[${i}].product_id must be a product like BTC-USD`;
    if (out === undefined) {
      out = { type: o.type, product: o.product_id, bids: [], asks: [], ts: 0, eventTime: 0 };
    } else if (o.product_id !== out.product || o.type !== out.type) {
      // one frame is one event of one book: a second book could not be returned, dropping it would be silent
      return `events of several books or types in one message (${out.type} ${out.product}, ${o.type} ${o.product_id})`;
    }
    const bad = addUpdates(o.updates, out, i);
    if (bad !== undefined) return bad;
  }
  return out!;
}

/**
 * First stage of parse: the envelope (channel, sequence_num, timestamp) and, for l2_data, the book message.
 * Returns the connection counter whenever the message has a valid one. An l2_data message of one event in
 * Coinbase's own spelling is read by a scanner (coinbase-scan.ts); anything else, valid or not, by
 * decodeCoinbaseJson, with the same result.
 */
export function decodeCoinbase(text: string): {
  message?: CoinbaseBookMessage;
  connectionSeq?: number;
  ignored?: string;
  error?: string;
} {
  return scanCoinbaseL2(text) ?? decodeCoinbaseJson(text);
}

/** decodeCoinbase's careful path: JSON.parse, then every field checked. */
export function decodeCoinbaseJson(text: string): {
  message?: CoinbaseBookMessage;
  connectionSeq?: number;
  ignored?: string;
  error?: string;
} {
  const m = parseJsonObject(text);
  if (typeof m === 'string') return { error: m.slice(0, 240) };
  if (m.type === 'error') return { error: `venue error: ${shortText(m.message)}` };
  const seq: unknown = m.sequence_num;
  let connectionSeq: number | undefined;
  if (seq !== undefined) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
      return { error: '"sequence_num" must be a non-negative integer' };
    connectionSeq = seq;
  }
  const withSeq = <T extends object>(r: T) => (connectionSeq === undefined ? r : { ...r, connectionSeq });
  if (typeof m.channel !== 'string') return { error: 'unrecognised message: no "channel"' };
  if (m.channel !== 'l2_data') return withSeq({ ignored: m.channel.slice(0, 40) });
  if (connectionSeq === undefined) return { error: 'l2_data without "sequence_num"' };
  let ts = 0;
  if (m.timestamp !== undefined) {
    ts = coinbaseTime(m.timestamp);
    if (Number.isNaN(ts)) return withSeq({ error: '"timestamp" must be an RFC 3339 UTC time' });
  }
  const message = l2Data(m);
  if (typeof message === 'string') return withSeq({ error: message });
  message.ts = ts;
  return { message, connectionSeq };
}

/**
 * Parse one text frame into a snapshot (seq 0) or a delta (first = last = 0, prev unset): Coinbase has no
 * per-book sequence, the collector numbers the messages (merge 'replica'); connectionSeq is sequence_num.
 * Keeps the text in raw. Never throws.
 */
export function parseCoinbaseMessage(text: string, collector: string, recvTime: number): ParsedFrame {
  const r = decodeCoinbase(text);
  const msg = r.message;
  if (msg === undefined) {
    const seq = r.connectionSeq === undefined ? {} : { connectionSeq: r.connectionSeq };
    return r.ignored !== undefined ? { ignored: r.ignored, ...seq } : { error: r.error, ...seq };
  }
  const seq = r.connectionSeq === undefined ? {} : { connectionSeq: r.connectionSeq };
  if (msg.type === 'snapshot') {
    // a snapshot lists live levels; a "0" in one would mean no level
    const bids = msg.bids.filter((l) => l[1] > 0);
    const asks = msg.asks.filter((l) => l[1] > 0);
    const crossed = crossedError('snapshot', bids, asks);
    if (crossed !== undefined) return { error: `${msg.product}: ${crossed}`, ...seq };
    const snapshot: BookSnapshot = {
      type: 'snapshot',
      venue: COINBASE_VENUE,
      symbol: msg.product,
      seq: 0,
      recvTime,
      collector,
      bids,
      asks,
      raw: text,
    };
    if (msg.ts > 0) snapshot.exchTime = msg.ts;
    return { snapshot, ...seq };
  }
  const delta: BookDelta = {
    type: 'delta',
    venue: COINBASE_VENUE,
    symbol: msg.product,
    first: 0,
    last: 0,
    exchTime: msg.eventTime || msg.ts,
    recvTime,
    collector,
    bids: msg.bids,
    asks: msg.asks,
    raw: text,
  };
  // the hot path: one object of a fixed shape, no spread
  return r.connectionSeq === undefined ? { delta } : { delta, connectionSeq: r.connectionSeq };
}

// ------------------------------------------------------------------------------------------ adapter

/** Coinbase Advanced Trade spot, level2 (full book) with heartbeats. */
export const coinbase: VenueAdapter = {
  id: COINBASE_VENUE,
  name: 'Coinbase Advanced Trade',
  markets: ['spot'],
  // unused by replica merge (no per-book ids); kept for the interface
  rule: intervalRule,
  merge: 'replica',
  // no venue ids per book: the collector's own per-connection numbering is checked instead; the window only
  // has to be wider than anything that numbering produces
  seqWindow: 1e12,
  snapshotSource: 'websocket',
  defaultWsUrl: COINBASE_WS_BASE,
  defaultRestUrl: COINBASE_REST_BASE,
  // level2 sends the FULL book on subscribe (BTC-USD: a few MB) and every change after: few books per
  // connection keep a resync's snapshots and a lost connection's cost small, and one busy connection's
  // lag (Coinbase drops messages of slow consumers: a sequence_num hole) local
  maxBooksPerConnection: 10,
  // no application ping: the heartbeats channel (subscribed with the books) shows the server is alive
  // unused (snapshots come on the websocket, the full book); config validation wants a REST-style depth
  defaultSnapshotLimit: 1000,
  venueSymbol: coinbaseVenueSymbol,
  unifiedSymbol: coinbaseUnifiedSymbol,
  // one public endpoint for every book: the subscriptions name them
  wsUrl(base, symbols) {
    if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
    return trimSlash(base);
  },
  subscribeMessages: coinbaseSubscribeMessages,
  resyncMessages: coinbaseResyncMessages,
  parse: parseCoinbaseMessage,
};
