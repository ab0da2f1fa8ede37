/**
 * OKX v5 order-book adapter (channel `books`: 400 levels, pushed every 100 ms). Pure, no I/O; parsers never
 * throw: they return { error } for anything malformed and { ignored } for frames that are fine but not book
 * data (subscribe acks, `pong`, tickers...).
 *
 * Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
 * - `{"arg":{"channel":"books","instId"},"action":"snapshot"|"update","data":[{"asks":[[px,sz,"0",orders]],
 *   "bids","ts","checksum","prevSeqId","seqId"}]}`; strings; sizes absolute, "0" deletes.
 * - seqId is per instId and the same on every connection (documented), so books merge by sequence: interval
 *   cover with lo = prevSeqId (core/sequence.ts). Three special cases, all returned, none dropped here:
 *   the snapshot (prevSeqId -1, seq = seqId); a keep-alive after ~60 s without change (empty, prevSeqId ==
 *   seqId: it covers nothing, first = last = seqId); and a maintenance reset (seqId < prevSeqId, e.g. 15 -> 3,
 *   then 3 -> 5), returned as a delta with `reset: true`, first = last = seqId, prev = prevSeqId, whose
 *   content continues a book at prevSeqId (see BookDelta.reset: the interval rule alone would call it stale).
 * - A new snapshot comes from (re)subscribing: resyncMessages unsubscribes and subscribes one book.
 * - Checksum: deprecated (always 0 in production since 2026-06-23) but present in older recordings; okxChecksum
 *   is the legacy algorithm over the exact price/size strings (decodeOkxBooks keeps them; TextBook holds them).
 * - REST GET /api/v5/market/books?source=0 returns seqId (announced 2026-02 as the future snapshot source):
 *   parseSnapshot accepts it and refuses a body without seqId. The ws snapshot stays the default source.
 */
import { crc32 } from 'node:zlib';
import type { StringLevel } from '../core/book.js';
import type { BookIntegrity } from '../core/integrity.js';
import { intervalRule } from '../core/sequence.js';
import type { BookDelta, BookSnapshot, Level } from '../core/types.js';
import { asciiBytes, intAt, intEnd, literalAt, literal, stringLevelsAt } from '../wire/textscan.js';
import {
  chunks,
  crossedError,
  type JsonObject,
  MAX_LEVELS_PER_SIDE,
  parseJsonObject,
  plainInteger,
  textLevels,
  trimSlash,
} from './decimal.js';
import { parseUnifiedDated } from './symbols.js';
import type { TextBook } from './textbook.js';
import type { Market, ParsedFrame, ParsedSnapshot, VenueAdapter } from './types.js';

const BIDS_KEY = literal(',"bids":');
const TS_KEY = literal(',"ts":"');
const CHECKSUM_KEY = literal(',"checksum":');
const PREV_SEQ_ID_KEY = literal(',"prevSeqId":');
const SEQ_ID_KEY = literal(',"seqId":');
const TAIL = literal('}]}');

export const OKX_VENUE = 'okx';
export const OKX_WS_BASE = 'wss://ws.okx.com:8443/ws/v5/public';
export const OKX_REST_BASE = 'https://www.okx.com';
/** The incremental book channel the adapter subscribes to. */
export const OKX_CHANNEL = 'books';
/** Books per subscribe frame: one frame per connection at maxBooksPerConnection (~2.5 KB, far below OKX's 64 KB). */
export const OKX_SUBSCRIBE_BATCH = 50;
/** Levels per side the legacy checksum covers. */
export const OKX_CHECKSUM_DEPTH = 25;
/** Largest `sz` GET /api/v5/market/books accepts (books-full goes to 5000 at 10 req/2 s). */
export const OKX_REST_MAX_DEPTH = 400;

// ------------------------------------------------------------------------------------------ symbols

/** instId: BASE-QUOTE (spot), BASE-QUOTE-SWAP (perpetual), BASE-QUOTE-YYMMDD (dated future). Options are not books we carry. */
const INST_ID = /^([A-Z0-9]{1,20})-([A-Z0-9]{1,20})(?:-(SWAP|[0-9]{6}))?$/;

/** OKX settles USD-quoted contracts in the base coin (inverse) and USDT/USDC-quoted ones in the quote (linear). */
function settleOf(base: string, quote: string): string {
  return quote === 'USD' ? base : quote;
}

/** The market of an instId, or undefined when it is not one we understand. */
export function okxMarket(instId: string): Market | undefined {
  const m = INST_ID.exec(instId.toUpperCase());
  if (!m) return undefined;
  return m[3] === undefined ? 'spot' : m[3] === 'SWAP' ? 'perp' : 'future';
}

/** instId from either spelling: BTC/USDT, BTC/USDT:USDT, BTC/USD:BTC, BTC/USD:BTC-220527, or an instId. */
export function okxVenueSymbol(input: string): string | undefined {
  if (input.includes('/')) {
    const u = parseUnifiedDated(input);
    if (!u) return undefined;
    if (u.settle === undefined) return `${u.base}-${u.quote}`;
    if (u.settle !== settleOf(u.base, u.quote)) return undefined;
    return `${u.base}-${u.quote}-${u.expiry ?? 'SWAP'}`;
  }
  const s = input.toUpperCase();
  return INST_ID.test(s) ? s : undefined;
}

/** Unified (ccxt) spelling of an instId: BTC-USDT-SWAP -> BTC/USDT:USDT, BTC-USD-220527 -> BTC/USD:BTC-220527. */
export function okxUnifiedSymbol(instId: string): string | undefined {
  const m = INST_ID.exec(instId.toUpperCase());
  if (!m) return undefined;
  const [, base, quote, kind] = m;
  if (kind === undefined) return `${base}/${quote}`;
  const settle = settleOf(base, quote);
  return kind === 'SWAP' ? `${base}/${quote}:${settle}` : `${base}/${quote}:${settle}-${kind}`;
}

// ------------------------------------------------------------------------------------------ frames to send

function opFrame(op: 'subscribe' | 'unsubscribe', instIds: readonly string[]): string {
  return JSON.stringify({ op, args: instIds.map((s) => ({ channel: OKX_CHANNEL, instId: s.toUpperCase() })) });
}

/** Subscribe frames for `books` of each instId, OKX_SUBSCRIBE_BATCH per frame. */
export function okxSubscribeMessages(instIds: readonly string[]): string[] {
  return chunks(instIds, OKX_SUBSCRIBE_BATCH).map((c) => opFrame('subscribe', c));
}

/** A fresh snapshot of one book: unsubscribe, then subscribe (OKX sends a snapshot on every subscribe). */
export function okxResyncMessages(instId: string): string[] {
  return [opFrame('unsubscribe', [instId]), opFrame('subscribe', [instId])];
}

// ------------------------------------------------------------------------------------------ checksum

/**
 * OKX's legacy book checksum: the best 25 levels per side (bids high to low, asks low to high) as the venue
 * spelled them, interleaved bid, ask, bid, ask... (a side that has run out is skipped), each level as
 * `price:size`, all joined by ':', CRC32, as a signed 32-bit integer.
 */
export function okxChecksum(bids: readonly StringLevel[], asks: readonly StringLevel[]): number {
  const parts: string[] = [];
  for (let i = 0; i < OKX_CHECKSUM_DEPTH; i++) {
    if (i < bids.length) parts.push(bids[i][0], bids[i][1]);
    if (i < asks.length) parts.push(asks[i][0], asks[i][1]);
  }
  return crc32(parts.join(':')) | 0;
}

/** okxChecksum of a TextBook's current top 25. */
export function okxBookChecksum(book: TextBook): number {
  const t = book.top(OKX_CHECKSUM_DEPTH);
  return okxChecksum(t.bids, t.asks);
}

// ------------------------------------------------------------------------------------------ parsing

/** One element of a books `data` array (also a REST books body's), checked field by field. */
export interface OkxBookData {
  bids: Level[];
  asks: Level[];
  /** The same levels as OKX spelled them, for the checksum. */
  bidText: StringLevel[];
  askText: StringLevel[];
  /** Exchange time, ms since epoch. */
  ts: number;
  /** Legacy CRC32 (signed int32); 0 since its deprecation; absent in REST bodies. */
  checksum?: number;
  /** Absent in recordings before 2022 and (today) in REST bodies without source=0. */
  seqId?: number;
  /** -1 on a snapshot. */
  prevSeqId?: number;
}

/** A `books` frame, decoded but not yet placed in the sequence (decodeOkxBooks). */
export interface OkxBooksMessage {
  instId: string;
  action: 'snapshot' | 'update';
  data: OkxBookData;
}

/** Time field: OKX sends ms as a decimal string ("1652459225496"); a non-negative safe integer number is accepted too. */
function okxTime(x: unknown): number {
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 0 ? x : NaN;
  return plainInteger(x);
}

/** Parse one `data` element: levels (4 strings each), ts, and checksum/seqId/prevSeqId when present. Never throws. */
export function parseOkxBookData(d: unknown): OkxBookData | string {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return '"data" entries must be objects';
  const o = d as JsonObject;
  const bids = textLevels(o.bids, 'bids', 2);
  if (typeof bids === 'string') return bids;
  const asks = textLevels(o.asks, 'asks', 2);
  if (typeof asks === 'string') return asks;
  const ts = okxTime(o.ts);
  if (Number.isNaN(ts)) return '"ts" must be a non-negative integer (ms) string';
  const out: OkxBookData = { bids: bids.levels, asks: asks.levels, bidText: bids.text, askText: asks.text, ts };
  const { checksum, seqId, prevSeqId } = o;
  if (checksum !== undefined) {
    if (!Number.isInteger(checksum) || checksum < -0x80000000 || checksum > 0x7fffffff)
      return '"checksum" must be a signed 32-bit integer';
    out.checksum = checksum;
  }
  if (seqId !== undefined) {
    if (!Number.isSafeInteger(seqId) || seqId < 0) return '"seqId" must be a non-negative integer';
    out.seqId = seqId;
  }
  if (prevSeqId !== undefined) {
    if (!Number.isSafeInteger(prevSeqId) || prevSeqId < -1) return '"prevSeqId" must be an integer >= -1';
    out.prevSeqId = prevSeqId;
  }
  return out;
}

function venueError(o: JsonObject): string {
  return `venue error ${String(o.code).slice(0, 20)}: ${String(o.msg).slice(0, 200)}`;
}

/**
 * First stage of parse: recognise a `books` frame and check every field except that the sequence pair is
 * present. Events (subscribe acks; `error` -> error; `notice` keeps its code and text), `pong` and other
 * channels are ignored. Also reads recordings older than seqId (2022) -- parse then refuses them.
 * `channel`: the incremental channel to read (books; books-l2-tbt and books50-l2-tbt share its format).
 */
export function decodeOkxBooks(
  text: string,
  channel: string = OKX_CHANNEL,
): { message?: OkxBooksMessage; ignored?: string; error?: string } {
  if (text === 'pong') return { ignored: 'pong' };
  const o = parseJsonObject(text);
  if (typeof o === 'string') return { error: o };
  if (o.event !== undefined) {
    if (o.event === 'error') return { error: venueError(o) };
    if (o.event === 'notice')
      return { ignored: `notice ${String(o.code).slice(0, 20)}: ${String(o.msg).slice(0, 200)}` };
    if (typeof o.event === 'string') return { ignored: o.event.slice(0, 40) };
    return { error: '"event" must be a string' };
  }
  const arg = o.arg;
  if (typeof arg !== 'object' || arg === null || typeof arg.channel !== 'string') {
    return { error: 'unrecognised message: no "event" and no "arg.channel"' };
  }
  if (arg.channel !== channel) return { ignored: arg.channel.slice(0, 40) };
  const instId = arg.instId;
  if (typeof instId !== 'string' || !/^[A-Z0-9-]{1,60}$/.test(instId))
    return { error: '"arg.instId" must be an instId' };
  const action = o.action;
  if (action !== 'snapshot' && action !== 'update') return { error: '"action" must be "snapshot" or "update"' };
  if (!Array.isArray(o.data) || o.data.length !== 1) return { error: '"data" must be an array of one book' };
  const data = parseOkxBookData(o.data[0]);
  if (typeof data === 'string') return { error: data };
  return { message: { instId, action, data } };
}

// ------------------------------------------------------------------------------------------ fast path
// A scanner for `books` update frames exactly as OKX writes them (fixed key order, no whitespace, no escapes,
// 4-string levels). It reads numbers straight from the text instead of materialising a JSON tree and ~4
// strings per level. Anything it does not recognise -- other channels, snapshots, keep-alives, resets,
// unusual spellings, anything the JSON path would refuse -- returns undefined and goes through JSON.parse
// (parseOkxMessageJson), so results are identical either way; only the speed differs (tests check the two agree).

/** The last instId seen, as spelled in the text. */
let lastInstId = '';

/** The fast path of parseOkxMessage: a BookDelta for an ordinary `books` update, else undefined. */
export function scanOkxUpdate(text: string, collector: string, recvTime: number): BookDelta | undefined {
  if (text.indexOf('{"arg":{"channel":"books","instId":"', 0) !== 0) return undefined;
  const b = asciiBytes(text);
  if (b === undefined) return undefined;
  const idStart = 36;
  const idEnd = text.indexOf('"', idStart);
  if (idEnd <= idStart || idEnd - idStart > 60) return undefined;
  // a connection carries few books: reuse the last instId's string (checked when first seen)
  const sameId = idEnd - idStart === lastInstId.length && text.startsWith(lastInstId, idStart);
  if (!sameId) {
    for (let k = idStart; k < idEnd; k++) {
      const c = text.charCodeAt(k);
      if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45)) return undefined; // [A-Z0-9-]
    }
  }
  if (text.indexOf('"},"action":"update","data":[{"asks":', idEnd) !== idEnd) return undefined;
  const asks: Level[] = [];
  let i = stringLevelsAt(b, idEnd + 37, asks, 2, MAX_LEVELS_PER_SIDE);
  if (i < 0) return undefined;
  i = literalAt(b, i, BIDS_KEY);
  if (i < 0) return undefined;
  const bids: Level[] = [];
  i = stringLevelsAt(b, i, bids, 2, MAX_LEVELS_PER_SIDE);
  if (i < 0) return undefined;
  i = literalAt(b, i, TS_KEY);
  if (i < 0) return undefined;
  // ts: 1-15 digits in quotes (plainInteger's strings, minus the 16-digit ones it may refuse)
  const tsStart = i;
  let ts = 0;
  let c = text.charCodeAt(i);
  while (c >= 48 && c <= 57) {
    ts = ts * 10 + (c - 48);
    c = text.charCodeAt(++i);
  }
  if (c !== 34 || i === tsStart || i - tsStart > 15) return undefined;
  i++;
  if (text.charCodeAt(i + 2) === 99) {
    // "checksum": a signed 32-bit integer (deprecated, 0 today)
    i = literalAt(b, i, CHECKSUM_KEY);
    if (i < 0) return undefined;
    const negative = text.charCodeAt(i) === 45;
    const v = intAt(b, negative ? i + 1 : i);
    if (v < 0 || v > (negative ? 0x80000000 : 0x7fffffff)) return undefined;
    i = intEnd;
  }
  i = literalAt(b, i, PREV_SEQ_ID_KEY);
  if (i < 0) return undefined;
  const prevSeqId = intAt(b, i);
  // prevSeqId -1, keep-alives (seqId == prevSeqId) and resets (seqId < prevSeqId): the JSON path
  if (prevSeqId < 0) return undefined;
  i = literalAt(b, intEnd, SEQ_ID_KEY);
  if (i < 0) return undefined;
  const seqId = intAt(b, i);
  if (seqId <= prevSeqId || literalAt(b, intEnd, TAIL) !== text.length) return undefined;
  if (!sameId) lastInstId = text.slice(idStart, idEnd);
  return {
    type: 'delta',
    venue: OKX_VENUE,
    symbol: lastInstId,
    first: prevSeqId + 1,
    last: seqId,
    prev: prevSeqId,
    exchTime: ts,
    recvTime,
    collector,
    bids,
    asks,
    raw: text,
  };
}

/**
 * Parse one text frame into a snapshot or a delta (see the top of this file for the sequence cases).
 * A books frame without seqId/prevSeqId is an error: it cannot be placed. Keeps the text in raw. Never throws.
 */
export function parseOkxMessage(text: string, collector: string, recvTime: number): ParsedFrame {
  const delta = scanOkxUpdate(text, collector, recvTime);
  return delta !== undefined ? { delta } : parseOkxMessageJson(text, collector, recvTime);
}

/** parseOkxMessage through JSON.parse: any key order, whitespace, escapes, every frame type. */
export function parseOkxMessageJson(text: string, collector: string, recvTime: number): ParsedFrame {
  const r = decodeOkxBooks(text);
  if (r.message === undefined) return r;
  const { instId, action, data } = r.message;
  const { seqId, prevSeqId } = data;
  if (seqId === undefined || prevSeqId === undefined)
    return { error: `books ${action} for ${instId} without seqId/prevSeqId` };
  if (action === 'snapshot') {
    const crossed = crossedError('snapshot', data.bids, data.asks);
    if (crossed !== undefined) return { error: `${instId}: ${crossed}` };
    const snapshot: BookSnapshot = {
      type: 'snapshot',
      venue: OKX_VENUE,
      symbol: instId,
      seq: seqId,
      exchTime: data.ts,
      recvTime,
      collector,
      bids: data.bids,
      asks: data.asks,
      raw: text,
    };
    return { snapshot };
  }
  if (prevSeqId < 0) return { error: `books update for ${instId} with prevSeqId ${prevSeqId}` };
  const delta: BookDelta = {
    type: 'delta',
    venue: OKX_VENUE,
    symbol: instId,
    first: prevSeqId + 1,
    last: seqId,
    prev: prevSeqId,
    exchTime: data.ts,
    recvTime,
    collector,
    bids: data.bids,
    asks: data.asks,
    raw: text,
  };
  if (seqId === prevSeqId) {
    // keep-alive: covers nothing (lo = last), so first = last keeps first <= last
    if (data.bids.length + data.asks.length > 0)
      return { error: `books update for ${instId} with levels but seqId == prevSeqId` };
    delta.first = seqId;
  } else if (seqId < prevSeqId) {
    // maintenance reset: the sequence restarts lower; the content continues the book at prevSeqId
    delta.first = seqId;
    delta.reset = true;
  }
  return { delta };
}

// ------------------------------------------------------------------------------------------ REST

/** GET /api/v5/market/books for one instId: sz clamped to 1..400, source=0 (the body then carries seqId). */
export function okxSnapshotUrl(base: string, instId: string, limit: number): string {
  const sz = Math.max(1, Math.min(OKX_REST_MAX_DEPTH, Math.floor(limit) || OKX_REST_MAX_DEPTH));
  return `${trimSlash(base)}/api/v5/market/books?instId=${instId.toUpperCase()}&sz=${sz}&source=0`;
}

/** GET /api/v5/public/instruments for the instId's type: code 51001 or an empty list when OKX does not list it. */
export function okxInstrumentsUrl(base: string, instId: string): string {
  const m = okxMarket(instId);
  const type = m === 'perp' ? 'SWAP' : m === 'future' ? 'FUTURES' : 'SPOT';
  return `${trimSlash(base)}/api/v5/public/instruments?instType=${type}&instId=${instId.toUpperCase()}`;
}

/**
 * Parse a GET /api/v5/market/books body `{"code":"0","msg":"","data":[{asks,bids,ts,seqId}]}`. Refuses a
 * body without seqId (it cannot be placed in the update stream), a venue error, malformed fields and a
 * crossed book. Never throws.
 */
export function parseOkxSnapshot(text: string, symbol: string, collector: string, recvTime: number): ParsedSnapshot {
  const o = parseJsonObject(text);
  if (typeof o === 'string') return { error: o };
  if (o.code !== '0') return { error: venueError(o) };
  if (!Array.isArray(o.data) || o.data.length !== 1) return { error: '"data" must be an array of one book' };
  const data = parseOkxBookData(o.data[0]);
  if (typeof data === 'string') return { error: data };
  if (data.seqId === undefined) return { error: 'REST books body without "seqId" (request it with source=0)' };
  const crossed = crossedError('snapshot', data.bids, data.asks);
  if (crossed !== undefined) return { error: crossed };
  return {
    snapshot: {
      type: 'snapshot',
      venue: OKX_VENUE,
      symbol: symbol.toUpperCase(),
      seq: data.seqId,
      exchTime: data.ts,
      recvTime,
      collector,
      bids: data.bids,
      asks: data.asks,
      raw: text,
    },
  };
}

// ------------------------------------------------------------------------------------------ integrity

/**
 * The legacy checksum as a book integrity check (core/integrity.ts) for the arbiter: read from a `books`
 * frame (a message without one, or with 0 as production sends since 2026-06, is skipped before any parse),
 * verified as okxChecksum of the book's top 25 in OKX's spelling.
 */
export const okxIntegrity: BookIntegrity = {
  depth: OKX_CHECKSUM_DEPTH,
  read(raw) {
    const at = raw.indexOf('"checksum":');
    if (at < 0) return undefined;
    const c = raw.charCodeAt(at + 11);
    if (c === 48 /* 0 */) return undefined;
    const r = decodeOkxBooks(raw);
    const d = r.message?.data;
    if (d === undefined || d.checksum === undefined || d.checksum === 0) return undefined;
    return { bids: d.bidText, asks: d.askText, checksum: d.checksum };
  },
  verify: (top, checksum) => okxChecksum(top.bids, top.asks) === checksum,
};

// ------------------------------------------------------------------------------------------ adapter

/** OKX (spot, perpetual swaps, dated futures) as a venue adapter (src/venues/types.ts). */
export const okx: VenueAdapter = {
  id: OKX_VENUE,
  name: 'OKX',
  markets: ['spot', 'perp', 'future'],
  rule: intervalRule,
  integrity: okxIntegrity,
  // seqId per instrument
  seqWindow: 1e7,
  // the snapshot arrives on the websocket after each subscribe; REST books (source=0) is the fallback
  snapshotSource: 'websocket',
  defaultWsUrl: OKX_WS_BASE,
  defaultRestUrl: OKX_REST_BASE,
  // OKX caps (un)subscribe requests at 480 per hour per connection and a resync costs two: 50 books leave
  // ~5 resyncs per book per hour; at 400 levels / 100 ms a book, 50 books are ~500 frames/s on one socket.
  maxBooksPerConnection: 50,
  // "Connection limit: 3 requests per second (based on IP)"
  connectionLimit: { connections: 3, windowMs: 1000 },
  // 480 subscribe/unsubscribe/login requests an hour per connection; a request's args at most 64 KB
  subscribeLimit: { argsPerRequest: OKX_SUBSCRIBE_BATCH, requests: 480, windowMs: 3600_000 },
  // OKX closes a connection after 30 s without data; it answers the text `ping` with `pong`
  ping: { intervalMs: 20_000, text: 'ping' },
  defaultSnapshotLimit: OKX_REST_MAX_DEPTH,
  venueSymbol: okxVenueSymbol,
  unifiedSymbol: okxUnifiedSymbol,
  // one public endpoint for every book: the subscriptions name them
  wsUrl(base, symbols) {
    if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
    return trimSlash(base);
  },
  subscribeMessages: okxSubscribeMessages,
  resyncMessages: okxResyncMessages,
  parse: parseOkxMessage,
  // 40 requests per 2 s per IP; each call counts 1
  snapshotRequest: (base, symbol, limit) => ({ url: okxSnapshotUrl(base, symbol, limit), weight: 1 }),
  parseSnapshot: parseOkxSnapshot,
  symbolCheckUrl: okxInstrumentsUrl,
};
