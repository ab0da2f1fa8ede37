/**
 * Coinbase Advanced Trade WebSocket, `level2` and `heartbeats` (`coinbase`): products BASE-QUOTE (BTCUSD -> BTC-USD).
 *
 * WS   / (the venue's root). {"type":"subscribe"|"unsubscribe","product_ids":["BTC-USD",...],"channel":"level2"|
 *      "heartbeats"}: one channel per request. level2 subscribe -> per new product an l2_data snapshot of the FULL
 *      book ({"channel":"l2_data","client_id":"","timestamp","sequence_num","events":[{"type":"snapshot",
 *      "product_id","updates":[{"side":"bid"|"offer","event_time","price_level","new_quantity"}]}]}), then the
 *      connection's {"channel":"subscriptions",...,"events":[{"subscriptions":{"level2":[...],"heartbeats":[...]}}]}
 *      (the channel's snapshot comes before the ack, as ccxt's 2026 recording shows), then an l2_data "update"
 *      per event (every touched level, absolute, "0" deletes; decimals without trailing zeros). A product already
 *      subscribed gets no second snapshot (a client resyncs by unsubscribing first). unsubscribe removes the
 *      named products (none named: the whole channel) and answers with the subscriptions left.
 *      heartbeats: once subscribed, {"channel":"heartbeats",...,"events":[{"current_time","heartbeat_counter"}]}
 *      every second for the connection (counter from 1).
 *      sequence_num: ONE counter per connection across all channels, from 0, taken when a message is made, i.e.
 *      before the fault layer: a dropped update or heartbeat leaves a hole, as messages Coinbase drops do.
 *      Errors: {"type":"error","message":"..."} (not numbered), for malformed requests, unknown channels or
 *      products; the connection stays open.
 *      Capture replay (capture.ts): events encoded from the truth like any other, numbered per connection.
 *      Not modelled: the 5 s subscribe deadline, closing channels quiet for 60-90 s without heartbeats, JWTs,
 *      other channels, level2_batch, REST.
 */
import { splitSymbol } from '../exchangeInfo.js';
import type { BookEvent, Feed } from '../feed.js';
import type { Session, Sub } from '../session.js';
import type { TruthSide, UnitLevel } from '../truthBook.js';
import { formatUnitsShort } from '../units.js';
import type { HttpCall, VenueContext, VenueProtocol } from './types.js';

/** Products one request may name (hostile input: bounded). */
const MAX_PRODUCTS = 100;
const CHANNELS = ['level2', 'heartbeats'] as const;
type Channel = (typeof CHANNELS)[number];

/** What a connection has: its message counter and its subscriptions by channel. */
interface ConnState {
  /** The next sequence_num. */
  seq: number;
  /** Whether the heartbeats channel is subscribed, and the products it was subscribed with (for the ack). */
  heartbeats: boolean;
  heartbeatProducts: Set<string>;
  heartbeatCounter: number;
}

/** RFC 3339 with nanoseconds, as Coinbase stamps messages ("2026-08-12T19:27:48.098821666Z"). */
const nanoTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000000Z');
/** RFC 3339 with microseconds, as Coinbase stamps event_time ("2026-08-12T19:27:47.532655Z"). */
const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

function updatesJson(out: string[], levels: readonly UnitLevel[], side: 'bid' | 'offer', eventTime: string): void {
  for (const [p, q] of levels)
    out.push(
      `{"side":"${side}","event_time":"${eventTime}","price_level":"${formatUnitsShort(p)}","new_quantity":"${formatUnitsShort(q)}"}`,
    );
}

function allLevels(side: TruthSide): UnitLevel[] {
  const out: UnitLevel[] = [];
  for (let i = side.prices.length - 1; i >= 0; i--) out.push([side.prices[i], side.sizes[i]]);
  return out;
}

class CoinbaseProtocol implements VenueProtocol {
  readonly id = 'coinbase' as const;
  readonly ids = 'per-symbol' as const;
  readonly depths: readonly number[] = [];
  readonly regroup = false;
  readonly tickMs = 1000;
  private readonly conns = new WeakMap<Session, ConnState>();

  constructor(private readonly ctx: VenueContext) {}

  venueSymbol(symbol: string): string {
    const [base, quote] = splitSymbol(symbol);
    return `${base}-${quote}`;
  }

  /** BTC-USD, BTC/USD or BTCUSD (any case) -> BTCUSD; perpetual spellings (…SWAP, BTC/USDT:USDT) are not spot books. */
  canonicalSymbol(name: string): string | undefined {
    const s = name.trim().toUpperCase();
    const m = /^([A-Z0-9]{1,15})[-/]([A-Z0-9]{1,15})$/.exec(s);
    if (m !== null) return m[1] + m[2];
    return /^[A-Z0-9]{4,30}$/.test(s) && !s.endsWith('SWAP') ? s : undefined;
  }

  upgrade(path: string): object | undefined {
    return path === '/' || path === '' ? {} : undefined;
  }

  open(s: Session): void {
    this.state(s);
  }

  private state(s: Session): ConnState {
    let c = this.conns.get(s);
    if (c === undefined)
      this.conns.set(s, (c = { seq: 0, heartbeats: false, heartbeatProducts: new Set(), heartbeatCounter: 0 }));
    return c;
  }

  /** A message of the connection, numbered now (before any fault). */
  private message_(s: Session, channel: string, events: string): string {
    const seq = this.state(s).seq++;
    return `{"channel":"${channel}","client_id":"","timestamp":"${nanoTime(Date.now())}","sequence_num":${seq},"events":${events}}`;
  }

  encode(ev: BookEvent, sub: Sub, s: Session): string {
    // the events part is shared by every connection; the envelope carries this connection's number
    const events = ev.frame('l2', () => {
      const t = microTime(ev.E);
      const u: string[] = [];
      updatesJson(u, ev.changes.bids, 'bid', t);
      updatesJson(u, ev.changes.asks, 'offer', t);
      return `[{"type":"update","product_id":"${this.venueSymbol(ev.symbol)}","updates":[${u.join(',')}]}]`;
    }) as string;
    void sub;
    return this.message_(s, 'l2_data', events);
  }

  private snapshotEvents(feed: Feed): string {
    const t = microTime(Date.now());
    const u: string[] = [];
    updatesJson(u, allLevels(feed.book.bids), 'bid', t);
    updatesJson(u, allLevels(feed.book.asks), 'offer', t);
    return `[{"type":"snapshot","product_id":"${this.venueSymbol(feed.symbol)}","updates":[${u.join(',')}]}]`;
  }

  private subscriptionsEvents(s: Session): string {
    const level2 = [...s.subs.values()].map((x) => this.venueSymbol(x.symbol));
    const subs: Record<string, string[]> = {};
    if (level2.length > 0) subs.level2 = level2;
    const c = this.state(s);
    if (c.heartbeats) subs.heartbeats = [...c.heartbeatProducts];
    return JSON.stringify([{ subscriptions: subs }]);
  }

  /** One heartbeat a second per connection subscribed to heartbeats (through the faults, like data). */
  tick(s: Session): void {
    const c = this.state(s);
    if (!c.heartbeats) return;
    c.heartbeatCounter++;
    const now = new Date();
    const current = `${now.toISOString().replace('T', ' ').replace('Z', '000000')} +0000 UTC`;
    s.out.send(
      this.message_(s, 'heartbeats', `[{"current_time":"${current}","heartbeat_counter":"${c.heartbeatCounter}"}]`),
    );
  }

  message(s: Session, text: string): void {
    const error = (message: string) => s.control(JSON.stringify({ type: 'error', message }));
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return error('failure to parse request');
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return error('failure to parse request');
    const r = req as Record<string, unknown>;
    if (r.type !== 'subscribe' && r.type !== 'unsubscribe') return error(`unknown type ${String(r.type).slice(0, 64)}`);
    if (typeof r.channel !== 'string' || !(CHANNELS as readonly string[]).includes(r.channel))
      return error(`channel ${String(r.channel).slice(0, 64)} is not supported`);
    const channel = r.channel as Channel;
    const ids = r.product_ids ?? [];
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) return error('product_ids must be strings');
    if (ids.length > MAX_PRODUCTS) return error(`too many product_ids: at most ${MAX_PRODUCTS}`);
    const feeds: Feed[] = [];
    for (const name of ids as string[]) {
      const c = this.canonicalSymbol(name);
      const feed = c === undefined ? undefined : this.ctx.feed(c);
      // Coinbase's spelling only (BTC-USD), as the venue
      if (feed === undefined || this.venueSymbol(feed.symbol) !== name)
        return error(`failure to subscribe: unknown product ${name.slice(0, 64)}`);
      feeds.push(feed);
    }
    const c = this.state(s);
    if (channel === 'heartbeats') {
      if (r.type === 'subscribe') {
        c.heartbeats = true;
        for (const id of ids as string[]) c.heartbeatProducts.add(id);
      } else {
        for (const id of ids as string[]) c.heartbeatProducts.delete(id);
        if (ids.length === 0 || c.heartbeatProducts.size === 0) {
          c.heartbeats = false;
          c.heartbeatProducts.clear();
        }
      }
      return s.control(this.message_(s, 'subscriptions', this.subscriptionsEvents(s)));
    }
    if (r.type === 'subscribe') {
      if (feeds.length === 0) return error('failure to subscribe: product_ids is required for level2');
      for (const feed of feeds) {
        const sub: Sub = { key: `level2:${feed.symbol}`, symbol: feed.symbol, view: -1 };
        if (!s.subscribe(sub)) continue; // already subscribed: no second snapshot
        s.snapshot(sub, this.message_(s, 'l2_data', this.snapshotEvents(feed)));
      }
    } else {
      const keys = feeds.length > 0 ? feeds.map((f) => `level2:${f.symbol}`) : [...s.subs.keys()];
      for (const key of keys) s.unsubscribe(key);
    }
    s.control(this.message_(s, 'subscriptions', this.subscriptionsEvents(s)));
  }

  http(call: HttpCall): void {
    this.ctx.http.send(call.res, 404, { error: 'NOT_FOUND', message: 'not simulated' });
  }
}

export const coinbase = (ctx: VenueContext): VenueProtocol => new CoinbaseProtocol(ctx);
