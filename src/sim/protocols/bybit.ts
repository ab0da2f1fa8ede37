/**
 * Bybit v5 public order books: `bybit` (spot, /v5/public/spot) and `bybit-linear` (USDT perpetuals,
 * /v5/public/linear). Symbols as Binance spells them (BTCUSDT).
 *
 * WS   {"req_id"?,"op":"subscribe","args":["orderbook.50.BTCUSDT"]} (depths 1, 50, 200, 1000; spot: at most
 *      10 args) -> {"success":true,"ret_msg":"subscribe" (spot) | "" (linear),"conn_id","req_id"?,"op":"subscribe"},
 *      failures in ret_msg with success false; then per new topic a snapshot, then deltas:
 *      spot   {"topic","ts","type":"snapshot"|"delta","data":{"s","b","a","u","seq"},"cts"}
 *      linear {"topic","type","ts","data":{"s","b","a","u","seq"},"cts"}
 *      Levels ["px","sz"], shortest decimals, "0" deletes; each depth's view is kept exact. Each depth is its
 *      own stream, as on Bybit: its own `u` (+1 per message of that depth, starting from a different value
 *      per depth), its own snapshot, and a message only when its top N changed, so orderbook.50 and
 *      orderbook.200 of one symbol carry different u's; `seq` is a venue-wide cross sequence shared by all.
 *      Not modelled: the slower push cadence of the deeper streams (each depth sends one message per event).
 *      Service restart (POST /sim/reset): every depth restarts, each subscriber gets a snapshot with u = 1,
 *      deltas go on from 2.
 *      {"op":"ping"} -> {"success":true,"ret_msg":"pong","conn_id","req_id"?,"op":"ping"}.
 *      Limits (limits.ts BYBIT_*_LIMITS): 500 new connections per 5 minutes per IP (more: HTTP 429 before the
 *      handshake); spot: 10 args per request ("args size >10"); 21,000 characters of args per connection
 *      (a subscribe past it: success false, nothing of it subscribed).
 *      Capture replay (a feed from capture.ts): only the captured depth is served (other depths: handler not
      found); each message is sent as recorded, "ts" re-stamped. captureDepth reads the depth of a capture.
      Cannot regroup: u counts messages, a message covering two events would leave a hole.
 * REST GET /v5/market/orderbook?category=spot|linear&symbol=&limit= (spot 1-200, default 1; linear 1-1000,
 *      default 25) -> {"retCode":0,"retMsg":"OK","result":{"s","a","b","ts","u","seq","cts"},"retExtInfo":{},
 *      "time"}; its u is one stream's (here spot orderbook.200, linear orderbook.1000;
 *      Bybit's docs have named several over time), not orderbook.50's.
 *      600 requests per 5 s, then 403 "access too frequent". /v5/market/instruments-info[?symbol=&status=]
 *      (another category, e.g. linear under /bybit: an empty list, so ccxt's fetchMarkets, which asks for every
 *      category, works), /v5/market/time. The orderbook category must be this venue's (spot under /bybit,
 *      linear under /bybit-linear).
 */
import { splitSymbol } from '../exchangeInfo.js';
import type { BookEvent, Feed } from '../feed.js';
import { hash32 } from '../prng.js';
import { BYBIT_LINEAR_LIMITS, BYBIT_SPOT_LIMITS, type VenueLimits } from '../limits.js';
import { RateWindow } from '../rest.js';
import type { Session, Sub } from '../session.js';
import type { TruthSide, UnitLevel } from '../truthBook.js';
import { formatUnitsShort } from '../units.js';
import type { HttpCall, VenueContext, VenueProtocol } from './types.js';

const DEPTHS = [1, 50, 200, 1000];
/** The depth bookwire's collectors and ccxt subscribe to by default: what /sim/truth reports without ?stream=. */
const DEFAULT_STREAM = 50;
const TOPIC = /^orderbook\.(\d+)\.([A-Z0-9]+)$/;

function levelsJson(levels: readonly UnitLevel[]): string {
  let s = '[';
  for (let i = 0; i < levels.length; i++) {
    if (i > 0) s += ',';
    s += `["${formatUnitsShort(levels[i][0])}","${formatUnitsShort(levels[i][1])}"]`;
  }
  return s + ']';
}

function topLevels(side: TruthSide, n: number): UnitLevel[] {
  const out: UnitLevel[] = [];
  for (let i = side.prices.length - 1; i >= 0 && out.length < n; i--) out.push([side.prices[i], side.sizes[i]]);
  return out;
}

/** Matching-engine time: a little before the push. */
const ctsOf = (ts: number) => ts - 2;

class BybitProtocol implements VenueProtocol {
  readonly ids = 'per-message' as const;
  readonly depths = DEPTHS;
  readonly regroup = false;
  readonly limits: VenueLimits;
  private readonly rate = new RateWindow(5000);
  private readonly category: 'spot' | 'linear';
  /** Per symbol, the u of each depth's stream (index as DEPTHS). */
  private readonly streamIds = new Map<string, number[]>();

  constructor(
    private readonly ctx: VenueContext,
    readonly id: 'bybit' | 'bybit-linear',
  ) {
    this.category = id === 'bybit' ? 'spot' : 'linear';
    this.limits = id === 'bybit' ? BYBIT_SPOT_LIMITS : BYBIT_LINEAR_LIMITS;
  }

  venueSymbol(symbol: string): string {
    return symbol;
  }

  canonicalSymbol(name: string): string | undefined {
    const s = name.replace(/[-/_]/g, '').toUpperCase();
    return /^[A-Z0-9]{2,30}$/.test(s) ? s : undefined;
  }

  upgrade(path: string): object | undefined {
    return path === `/v5/public/${this.category}` ? {} : undefined;
  }

  open(s: Session): void {
    const h = (n: number) => (hash32(`bybit-conn-${s.id}-${n}-${Date.now()}`) >>> 0).toString(16).padStart(8, '0');
    const x = h(1) + h(2) + h(3) + h(4);
    s.connId = `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
  }

  /** The u of each depth's stream of a synthetic book; each depth starts somewhere else, as on Bybit. */
  private depthIds(feed: Feed): number[] {
    let ids = this.streamIds.get(feed.symbol);
    if (ids === undefined) {
      ids = DEPTHS.map((d) => 1_000_000 + ((hash32(`${this.id}:${feed.symbol}:${d}`) >>> 0) % 100_000_000));
      this.streamIds.set(feed.symbol, ids);
    }
    return ids;
  }

  /** Each depth whose view changed counts one more message; the others send nothing this event. */
  stamp(ev: BookEvent, feed: Feed): void {
    if (feed.depth !== undefined) return; // a capture: sent as recorded, at its one depth
    const ids = this.depthIds(feed);
    const views = ev.changes.views;
    const last: number[] = [];
    for (let k = 0; k < DEPTHS.length; k++) {
      const v = views[k];
      last.push(v !== undefined && (v.bids.length > 0 || v.asks.length > 0) ? ++ids[k] : 0);
    }
    ev.viewLast = last;
  }

  lastId(feed: Feed, stream: number | undefined): number {
    if (feed.depth !== undefined) return feed.book.lastUpdateId;
    const k = DEPTHS.indexOf(stream ?? DEFAULT_STREAM);
    if (k < 0) throw new Error(`bybit has no orderbook.${stream} stream (depths: ${DEPTHS.join(', ')})`);
    return this.depthIds(feed)[k];
  }

  private frame(topic: string, type: 'snapshot' | 'delta', ts: number, data: string): string {
    return this.category === 'spot'
      ? `{"topic":"${topic}","ts":${ts},"type":"${type}","data":${data},"cts":${ctsOf(ts)}}`
      : `{"topic":"${topic}","type":"${type}","ts":${ts},"data":${data},"cts":${ctsOf(ts)}}`;
  }

  encode(ev: BookEvent, sub: Sub): Buffer {
    return ev.frame(sub.key, () => {
      // capture replay (served at its one depth): the message as recorded, ts re-stamped to the send time
      if (ev.captured !== undefined) return Buffer.from(ev.captured.replace(/"ts":\d+/, `"ts":${ev.E}`));
      const v = ev.changes.views[sub.view] ?? { bids: [], asks: [] };
      const u = ev.viewLast?.[sub.view] ?? ev.last;
      const data = `{"s":"${ev.symbol}","b":${levelsJson(v.bids)},"a":${levelsJson(v.asks)},"u":${u},"seq":${ev.seq}}`;
      return Buffer.from(this.frame(sub.key, 'delta', ev.E, data));
    }) as Buffer;
  }

  private snapshotFrame(feed: Feed, sub: Sub): string {
    const b = feed.book;
    const d = DEPTHS[sub.view];
    const data = `{"s":"${feed.symbol}","b":${levelsJson(topLevels(b.bids, d))},"a":${levelsJson(topLevels(b.asks, d))},"u":${this.lastId(feed, d)},"seq":${feed.seq}}`;
    return this.frame(sub.key, 'snapshot', Date.now(), data);
  }

  message(s: Session, text: string): void {
    const reply = (op: string, success: boolean, retMsg: string, reqId: string | undefined) =>
      s.control(
        JSON.stringify({
          success,
          ret_msg: retMsg,
          conn_id: s.connId,
          ...(reqId !== undefined ? { req_id: reqId } : {}),
          op,
        }),
      );
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return reply('', false, 'error:invalid op', undefined);
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req))
      return reply('', false, 'error:invalid op', undefined);
    const r = req as Record<string, unknown>;
    const reqId = typeof r.req_id === 'string' ? r.req_id : undefined;
    const op = typeof r.op === 'string' ? r.op : '';
    if (op === 'ping') return reply('ping', true, 'pong', reqId);
    if (op !== 'subscribe' && op !== 'unsubscribe') return reply(op, false, `error:invalid op ${op}`, reqId);
    if (!Array.isArray(r.args) || !r.args.every((a) => typeof a === 'string'))
      return reply(op, false, 'error:args must be a list of topics', reqId);
    const args = r.args as string[];
    // an arg's share of the connection's 21,000 characters: its JSON text and a comma
    const chars = (topics: readonly string[]) => topics.reduce((n, a) => n + JSON.stringify(a).length + 1, 0);
    const lim = this.ctx.limits;
    const refusal = lim?.subscribeRefusal(args.length, op === 'subscribe' ? chars(args) : 0, s.argsChars);
    if (refusal !== undefined) {
      lim!.subscribeRefused(s.ip, refusal);
      return reply(op, false, refusal, reqId);
    }
    const errors: string[] = [];
    const fresh: Sub[] = [];
    for (const topic of args) {
      const m = TOPIC.exec(topic);
      const view = m === null ? -1 : DEPTHS.indexOf(Number(m[1]));
      const feed = m === null ? undefined : this.ctx.feed(m[2]);
      // a capture is served at the depth it was recorded at only
      if (view < 0 || feed === undefined || (feed.depth !== undefined && feed.depth !== DEPTHS[view])) {
        errors.push(`error:handler not found,topic:${topic}`);
        continue;
      }
      if (op === 'subscribe') {
        const sub: Sub = { key: topic, symbol: feed.symbol, view };
        if (s.subscribe(sub)) {
          fresh.push(sub);
          s.argsChars += chars([topic]);
        } else errors.push(`error:already subscribed,topic:${topic}`);
      } else if (s.unsubscribe(topic) === undefined) errors.push(`error:not subscribed,topic:${topic}`);
      else s.argsChars -= chars([topic]);
    }
    const ok = this.category === 'spot' ? op : '';
    reply(op, errors.length === 0, errors.length === 0 ? ok : errors.join(';'), reqId);
    for (const sub of fresh) s.snapshot(sub, this.snapshotFrame(this.ctx.feed(sub.symbol)!, sub));
  }

  /** The depth of a captured Bybit message (orderbook.50.X -> 50). */
  captureDepth(frame: string): number | undefined {
    try {
      const topic = (JSON.parse(frame) as { topic?: unknown }).topic;
      const m = typeof topic === 'string' ? TOPIC.exec(topic) : null;
      return m === null ? undefined : Number(m[1]);
    } catch {
      return undefined;
    }
  }

  /** Service restart: every depth's u starts again at 1 with a snapshot to every subscriber. */
  reset(symbol: string): Record<string, unknown> {
    const feed = this.ctx.feed(symbol);
    if (feed === undefined) throw new Error(`cannot reset ${symbol}`);
    if (feed.depth !== undefined) feed.book.lastUpdateId = 1;
    else this.depthIds(feed).fill(1);
    for (const s of this.ctx.subscribers(feed.symbol))
      for (const sub of s.bySymbol.get(feed.symbol) ?? []) s.snapshot(sub, this.snapshotFrame(feed, sub));
    return { symbol: feed.symbol, u: 1 };
  }

  // ---- REST ----

  http(call: HttpCall): void {
    const { res, path, query: q } = call;
    const time = Date.now();
    const send = (status: number, body: unknown) => this.ctx.http.send(res, status, body);
    const error = (retCode: number, retMsg: string) => send(200, { retCode, retMsg, result: {}, retExtInfo: {}, time });
    if (this.rate.add(1) > 600)
      return this.ctx.http.send(res, 403, 'access too frequent', { 'Content-Type': 'text/plain' });
    if (path === '/v5/market/time')
      return send(200, {
        retCode: 0,
        retMsg: 'OK',
        result: { timeSecond: String(Math.floor(time / 1000)), timeNano: `${time}000000` },
        retExtInfo: {},
        time,
      });
    if (path !== '/v5/market/orderbook' && path !== '/v5/market/instruments-info')
      return send(404, { retCode: 404, retMsg: 'Not Found', result: {}, retExtInfo: {}, time });
    const category = q.get('category');
    if (category === null || !['spot', 'linear', 'inverse', 'option'].includes(category))
      return error(10001, 'Illegal category');
    if (path === '/v5/market/instruments-info') {
      // another category's instruments: none listed on this venue (ccxt's fetchMarkets asks for every category)
      const sym = q.get('symbol');
      const status = q.get('status');
      const list = (category === this.category ? this.ctx.feeds() : [])
        .filter((f) => sym === null || f.symbol === sym)
        .map((f) => this.instrument(f))
        .filter((i) => status === null || i.status === status);
      return send(200, {
        retCode: 0,
        retMsg: 'OK',
        result: { category, list, nextPageCursor: '' },
        retExtInfo: {},
        time,
      });
    }
    if (category !== this.category)
      return error(
        10001,
        `params error: category ${category} is served under /${category === 'spot' ? 'bybit' : 'bybit-linear'}`,
      );
    const sym = q.get('symbol');
    if (!sym) return error(10001, 'params error: symbol is empty');
    const feed = this.ctx.feed(sym);
    if (feed === undefined || feed.symbol !== sym) return error(10001, 'params error: symbol invalid');
    const max = this.category === 'spot' ? 200 : 1000;
    let limit = this.category === 'spot' ? 1 : 25;
    const lp = q.get('limit');
    if (lp !== null) {
      limit = Number(lp);
      if (!Number.isInteger(limit) || limit < 1) return error(10001, 'params error: limit invalid');
      limit = Math.min(limit, max);
    }
    const b = feed.book;
    const u = this.lastId(feed, feed.depth ?? (this.category === 'spot' ? 200 : 1000));
    const body = `{"retCode":0,"retMsg":"OK","result":{"s":"${feed.symbol}","a":${levelsJson(topLevels(b.asks, limit))},"b":${levelsJson(topLevels(b.bids, limit))},"ts":${time},"u":${u},"seq":${feed.seq},"cts":${ctsOf(time)}},"retExtInfo":{},"time":${time}}`;
    this.ctx.http.snapshot(
      res,
      call.profile,
      () => body,
      (status) => ({
        body:
          status === 429
            ? { retCode: 10006, retMsg: 'Too many visits!', result: {}, retExtInfo: {}, time }
            : { retCode: 10016, retMsg: 'Internal server error.', result: {}, retExtInfo: {}, time },
      }),
    );
  }

  private instrument(f: Feed): Record<string, unknown> {
    const [baseCoin, quoteCoin] = splitSymbol(f.symbol);
    const tick = formatUnitsShort(f.tickUnits);
    const step = formatUnitsShort(f.stepUnits);
    if (this.category === 'spot')
      return {
        symbol: f.symbol,
        baseCoin,
        quoteCoin,
        innovation: '0',
        status: 'Trading',
        marginTrading: 'both',
        lotSizeFilter: { basePrecision: step, quotePrecision: '0.00000001', minOrderQty: step, maxOrderQty: '1000000' },
        priceFilter: { tickSize: tick },
      };
    return {
      symbol: f.symbol,
      contractType: 'LinearPerpetual',
      status: 'Trading',
      baseCoin,
      quoteCoin,
      settleCoin: quoteCoin,
      priceScale: String(tick.includes('.') ? tick.split('.')[1].length : 0),
      priceFilter: { minPrice: tick, maxPrice: '1999999.8', tickSize: tick },
      lotSizeFilter: { maxOrderQty: '1190', minOrderQty: step, qtyStep: step },
    };
  }
}

export const bybitSpot = (ctx: VenueContext): VenueProtocol => new BybitProtocol(ctx, 'bybit');
export const bybitLinear = (ctx: VenueContext): VenueProtocol => new BybitProtocol(ctx, 'bybit-linear');
