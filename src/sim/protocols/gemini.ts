/**
 * Gemini's current market-data API (`gemini`, wss://ws.gemini.com): symbols concatenated, lower case on the
 * wire (BTCUSD -> btcusd).
 *
 * WS   / (the venue's root), `?snapshot=-1` (a full book on subscribe), `?snapshot=N` (the top N levels), none
 *      or 0: no snapshot. {"id","method":"SUBSCRIBE"|"UNSUBSCRIBE","params":["btcusd@depth@100ms",...]} ->
 *      {"id":<id>,"status":200} (the reply tardis-node recorded), then per newly subscribed book, when the
 *      connection asked for one, the snapshot: a depthUpdate like any other with U = u = the book's last id
 *      and every level (as Gemini's recorded gusdgbp snapshot); then per event
 *      {"e":"depthUpdate","E":<ns>,"s":"btcusd","U":<the book's previous u>,"u":<last id>,"b":[...],"a":[...]}
 *      of every touched level (bids best first, asks best first), absolute, "0.00000000" deletes. Ids are one
 *      counter for the whole venue (ids 'shared': U of a book's message is the previous u of that book, and u
 *      jumps over the other books' ids), so a regrouped message covers (U of the first, u of the last].
 *      `{symbol}@depth` (1 s) is accepted and sent at the same pace. LIST_SUBSCRIPTIONS ->
 *      {"id","status":200,"result":[names]}. A stream already subscribed gets no second snapshot (a client
 *      resyncs by unsubscribing first).
 *      Errors (the simulator's choice; Gemini documents code -1013 for a malformed request):
 *      {"id","status":400,"error":{"code":-1013,"msg"}} for malformed JSON, an unknown method, params that are
 *      not stream names, an unknown symbol or stream; the connection stays open.
 *      Capture replay (a feed from capture.ts, whose first depthUpdate is the book): each update is sent as
 *      recorded, "E" re-stamped.
 *      Not modelled: trades, bookTicker, partial depth, the `depth` method, time/conninfo/ping, limits, REST (404).
 */
import { splitSymbol } from '../exchangeInfo.js';
import type { BookEvent, Feed } from '../feed.js';
import type { Session, Sub } from '../session.js';
import type { TruthSide, UnitLevel } from '../truthBook.js';
import { formatUnits } from '../units.js';
import type { HttpCall, VenueContext, VenueProtocol } from './types.js';

/** Streams one request may name (hostile input: bounded). */
const MAX_PARAMS = 200;
const DEPTH_STREAM = /^([a-z0-9]{2,30})@depth(?:@100ms)?$/;
const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS'];

function levelsJson(levels: readonly UnitLevel[]): string {
  let s = '[';
  for (let i = 0; i < levels.length; i++) {
    if (i > 0) s += ',';
    s += `["${formatUnits(levels[i][0])}","${formatUnits(levels[i][1])}"]`;
  }
  return s + ']';
}

/** The top `n` levels of one side (every level for n < 0), best first. */
function topLevels(side: TruthSide, n: number): UnitLevel[] {
  const out: UnitLevel[] = [];
  for (let i = side.prices.length - 1; i >= 0 && (n < 0 || out.length < n); i--)
    out.push([side.prices[i], side.sizes[i]]);
  return out;
}

/** Nanoseconds, as Gemini stamps E, of a time in ms. */
const nanos = (ms: number) => `${Math.floor(ms)}000000`;

interface Route {
  /** Levels per side of the snapshot on subscribe: -1 all, 0 none. */
  snapshot: number;
}

class GeminiProtocol implements VenueProtocol {
  readonly id = 'gemini' as const;
  readonly ids = 'shared' as const;
  readonly depths: readonly number[] = [];
  readonly regroup = true;
  private readonly routes = new WeakMap<Session, Route>();

  constructor(private readonly ctx: VenueContext) {}

  /** BTCUSD, as the adapter spells it (the wire's lower case: wireSymbol). */
  venueSymbol(symbol: string): string {
    const [base, quote] = splitSymbol(symbol);
    return base + quote;
  }

  private wireSymbol(symbol: string): string {
    return this.venueSymbol(symbol).toLowerCase();
  }

  /** btcusd, BTCUSD or BTC/USD -> BTCUSD; perpetuals (…SWAP, BTC/USDT:USDT) are not Gemini spot books. */
  canonicalSymbol(name: string): string | undefined {
    const s = name.trim().toUpperCase();
    const m = /^([A-Z0-9]{1,15})\/([A-Z0-9]{1,15})$/.exec(s);
    if (m !== null) return m[1] + m[2];
    return /^[A-Z0-9]{4,30}$/.test(s) && !s.endsWith('SWAP') ? s : undefined;
  }

  upgrade(path: string, query: URLSearchParams): Route | undefined {
    if (path !== '' && path !== '/') return undefined;
    const q = query.get('snapshot');
    const n = q === null || !/^-?[0-9]{1,9}$/.test(q) ? 0 : Number(q);
    return { snapshot: n < 0 ? -1 : n };
  }

  open(s: Session, route: object): void {
    this.routes.set(s, route as Route);
  }

  encode(ev: BookEvent): Buffer {
    return ev.frame('depth', () =>
      // capture replay: the message as recorded, E re-stamped to the send time
      ev.captured !== undefined
        ? Buffer.from(ev.captured.replace(/"E":\d+/, `"E":${nanos(ev.E)}`))
        : Buffer.from(
            `{"e":"depthUpdate","E":${nanos(ev.E)},"s":"${this.wireSymbol(ev.symbol)}","U":${ev.prev},"u":${ev.last},"b":${levelsJson(ev.changes.bids)},"a":${levelsJson(ev.changes.asks)}}`,
          ),
    ) as Buffer;
  }

  private snapshotFrame(feed: Feed, n: number): string {
    const id = feed.book.lastUpdateId;
    const b = levelsJson(topLevels(feed.book.bids, n));
    const a = levelsJson(topLevels(feed.book.asks, n));
    return `{"e":"depthUpdate","E":${nanos(Date.now())},"s":"${this.wireSymbol(feed.symbol)}","U":${id},"u":${id},"b":${b},"a":${a}}`;
  }

  message(s: Session, text: string): void {
    let id: unknown = null;
    const error = (msg: string) =>
      s.control(JSON.stringify({ id, status: 400, error: { code: -1013, msg: msg.slice(0, 200) } }));
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return error('Malformed request: invalid JSON');
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req))
      return error('Malformed request: expected a JSON object');
    const r = req as Record<string, unknown>;
    if (
      (typeof r.id === 'number' && Number.isSafeInteger(r.id)) ||
      (typeof r.id === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(r.id))
    )
      id = r.id;
    if (typeof r.method !== 'string' || !METHODS.includes(r.method.toUpperCase()))
      return error(`Unknown method ${String(r.method).slice(0, 64)}`);
    const method = r.method.toUpperCase();
    if (method === 'LIST_SUBSCRIPTIONS')
      return s.control(JSON.stringify({ id, status: 200, result: [...s.subs.keys()] }));
    const params = r.params;
    if (!Array.isArray(params) || params.length === 0 || !params.every((p) => typeof p === 'string'))
      return error('params must be a non-empty array of stream names');
    if (params.length > MAX_PARAMS) return error(`Too many streams: at most ${MAX_PARAMS}`);
    const subs: { name: string; feed: Feed }[] = [];
    for (const name of params as string[]) {
      const m = DEPTH_STREAM.exec(name);
      const c = m === null ? undefined : this.canonicalSymbol(m[1]);
      const feed = c === undefined ? undefined : this.ctx.feed(c);
      if (feed === undefined) return error(`Unknown stream ${name.slice(0, 64)}`);
      subs.push({ name, feed });
    }
    if (method === 'UNSUBSCRIBE') {
      for (const { name } of subs) s.unsubscribe(name);
      return s.control(JSON.stringify({ id, status: 200 }));
    }
    const fresh: { sub: Sub; feed: Feed }[] = [];
    for (const { name, feed } of subs) {
      const sub: Sub = { key: name, symbol: feed.symbol, view: -1 };
      if (s.subscribe(sub)) fresh.push({ sub, feed });
    }
    s.control(JSON.stringify({ id, status: 200 }));
    const n = this.routes.get(s)?.snapshot ?? 0;
    if (n !== 0) for (const { sub, feed } of fresh) s.snapshot(sub, this.snapshotFrame(feed, n));
  }

  http(call: HttpCall): void {
    this.ctx.http.send(call.res, 404, {
      result: 'error',
      reason: 'EndpointNotFound',
      message: `API entry point \`${call.path.slice(0, 100)}\` not found`,
    });
  }
}

export const gemini = (ctx: VenueContext): VenueProtocol => new GeminiProtocol(ctx);
