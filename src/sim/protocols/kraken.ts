/**
 * Kraken spot WebSocket v2 `book` channel (`kraken`): symbols BASE/QUOTE (BTCUSDT -> BTC/USDT, BTCUSD -> BTC/USD).
 *
 * WS   /v2. {"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD",...],"depth"?:10|25|100|500|1000
 *      (default 10),"snapshot"?:bool (default true)},"req_id"?:int} -> per symbol an ack {"method":"subscribe",
 *      "req_id"?,"result":{"channel":"book","depth","snapshot","symbol"},"success":true,"time_in","time_out"},
 *      then (snapshot true) {"channel":"book","type":"snapshot","data":[{"symbol","bids","asks","checksum",
 *      "timestamp"}]} of the top `depth` levels, then {"channel":"book","type":"update","data":[{... only the
 *      changed levels ...}]}. unsubscribe likewise (ack without snapshot). Levels {"price":P,"qty":Q}: JSON
 *      numbers spelled with the pair's precision (price: the tick's decimals; qty: 8 decimals, "0.50000000"),
 *      qty 0 deletes. A depth-d subscriber gets the changes within its top d and the level that enters it when
 *      one inside goes; no delete for a level pushed out by a better one (the client truncates to d after each
 *      message), and no message when its top d did not change. checksum: CRC32 of the top 10 asks then bids as
 *      spelled (venues/kraken-checksum.ts), of the book after the message. No ids: a client resyncs by
 *      resubscribing. One book subscription per symbol per connection (again: "Already subscribed").
 *      {"method":"ping","req_id"?} -> {"method":"pong","req_id"?,"time_in","time_out"}. {"channel":"heartbeat"}
 *      once a second for a book that did not change (per subscribed book, not per connection: a simplification).
 *      Errors: {"error","method","req_id"?,"success":false,"symbol"?,"time_in","time_out"}.
 *      Cannot regroup: a merged message could leave a stale pushed-out level inside the client's truncated book.
 *      Capture replay (capture.ts): the truth is the capture's book cut to its recorded depth after each
 *      message; events are encoded from it like any other, spelled as the capture spells its levels, so the
 *      checksums are Kraken's own (a depth deeper than the recording gets the recorded depth's book).
 *      Not modelled: other channels, REST.
 * Limits: 150 new connections per 10 minutes per IP (refused upgrades get HTTP 429; Kraken also bans the IP).
 */
import type { StringLevel } from '../../core/book.js';
import { krakenChecksum } from '../../venues/kraken-checksum.js';
import { splitSymbol } from '../exchangeInfo.js';
import { BookEvent, type Feed } from '../feed.js';
import { KRAKEN_LIMITS } from '../limits.js';
import type { Session, Sub } from '../session.js';
import type { LevelDiff, TruthSide, UnitLevel } from '../truthBook.js';
import { formatUnits } from '../units.js';
import type { HttpCall, VenueContext, VenueProtocol } from './types.js';

const DEPTHS = [10, 25, 100, 500, 1000];
const DEFAULT_DEPTH = 10;
const QTY_DECIMALS = 8;
const CHECKSUM_LEVELS = 10;
/** Symbols one request may name (hostile input: bounded). */
const MAX_SYMBOLS = 100;
const HEARTBEAT = '{"channel":"heartbeat"}';

/** Decimals of a tick in 1e-8 units (0.01 -> 2, 1 -> 0). */
export function tickDecimals(tickUnits: number): number {
  let d = 8;
  let t = Math.round(tickUnits);
  while (d > 0 && t > 0 && t % 10 === 0) {
    t /= 10;
    d--;
  }
  return d;
}

/** Units as a decimal with `decimals` places ("65000.10", "0.50000000"); all 8 when the value is finer. */
export function formatFixed(u: number, decimals: number): string {
  const s = formatUnits(u);
  const cut = 8 - decimals;
  if (cut === 0 || !/^0+$/.test(s.slice(-cut))) return s;
  return decimals === 0 ? s.slice(0, -9) : s.slice(0, -cut);
}

/** How a pair spells its levels: price and quantity decimals. */
interface Spelling {
  price: number;
  qty: number;
}

/** The pair's spellings of one level. */
function spell(l: UnitLevel, d: Spelling): StringLevel {
  return [formatFixed(l[0], d.price), formatFixed(l[1], d.qty)];
}

function levelsJson(levels: readonly UnitLevel[], d: Spelling): string {
  let s = '[';
  for (let i = 0; i < levels.length; i++) {
    const [p, q] = spell(levels[i], d);
    if (i > 0) s += ',';
    s += `{"price":${p},"qty":${q}}`;
  }
  return s + ']';
}

function topLevels(side: TruthSide, n: number): UnitLevel[] {
  const out: UnitLevel[] = [];
  for (let i = side.prices.length - 1; i >= 0 && out.length < n; i--) out.push([side.prices[i], side.sizes[i]]);
  return out;
}

/** RFC 3339 with microseconds, as Kraken stamps ("2026-12-04T10:23:38.123000Z"). */
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

/** A view without the deletes of levels pushed out of the top N that still exist: Kraken sends none. */
function withoutPushedOut(levels: UnitLevel[], side: TruthSide): UnitLevel[] {
  let out: UnitLevel[] | undefined;
  for (let i = 0; i < levels.length; i++) {
    const pushedOut = levels[i][1] === 0 && side.get(levels[i][0]) > 0;
    if (pushedOut && out === undefined) out = levels.slice(0, i);
    else if (!pushedOut && out !== undefined) out.push(levels[i]);
  }
  return out ?? levels;
}

class KrakenProtocol implements VenueProtocol {
  readonly id = 'kraken' as const;
  readonly ids = 'per-symbol' as const;
  readonly depths = DEPTHS;
  readonly regroup = false;
  readonly limits = KRAKEN_LIMITS;
  readonly keepAliveMs = 1000;

  constructor(private readonly ctx: VenueContext) {}

  venueSymbol(symbol: string): string {
    const [base, quote] = splitSymbol(symbol);
    return `${base}/${quote}`;
  }

  /** BTC/USD or BTCUSD (any case) -> BTCUSD; perpetuals (…SWAP, BTC/USDT:USDT) are not Kraken spot books. */
  canonicalSymbol(name: string): string | undefined {
    const s = name.trim().toUpperCase();
    const m = /^([A-Z0-9]{1,15})\/([A-Z0-9]{1,15})$/.exec(s);
    if (m !== null) return m[1] + m[2];
    const plain = s.replace(/[-_]/g, '');
    return /^[A-Z0-9]{4,30}$/.test(plain) && !plain.endsWith('SWAP') ? plain : undefined;
  }

  upgrade(path: string): object | undefined {
    return path === '/v2' ? {} : undefined;
  }

  open(): void {}

  /** The tick's decimals and 8 for quantities; a capture's own spelling (its checksums are over that text). */
  private spelling(feed: Feed | undefined): Spelling {
    if (feed === undefined) return { price: 8, qty: QTY_DECIMALS };
    return {
      price: feed.priceDecimals ?? tickDecimals(feed.tickUnits),
      qty: feed.sizeDecimals ?? QTY_DECIMALS,
    };
  }

  private checksum(feed: Feed): number {
    const d = this.spelling(feed);
    const side = (s: TruthSide) => topLevels(s, CHECKSUM_LEVELS).map((l) => spell(l, d));
    return krakenChecksum(side(feed.book.asks), side(feed.book.bids));
  }

  /**
   * Per depth, Kraken's diff (the engine's exact view minus the deletes of pushed-out levels) and whether it
   * goes out at all; the checksum of the book after the event (the same top 10 for every depth).
   */
  stamp(ev: BookEvent, feed: Feed): void {
    const views = ev.changes.views;
    const send: number[] = [];
    for (let k = 0; k < DEPTHS.length; k++) {
      const v = views[k];
      if (v === undefined) {
        send.push(0);
        continue;
      }
      const kept: LevelDiff = {
        bids: withoutPushedOut(v.bids, feed.book.bids),
        asks: withoutPushedOut(v.asks, feed.book.asks),
      };
      views[k] = kept;
      send.push(kept.bids.length + kept.asks.length > 0 ? 1 : 0);
    }
    ev.viewLast = send;
    ev.checksum = this.checksum(feed);
  }

  /** A heartbeat for a book unchanged for a second. */
  keepAlive(feed: Feed): BookEvent {
    const id = feed.book.lastUpdateId;
    const ev = new BookEvent(feed.symbol, Date.now(), id, id + 1, id, feed.seq, { bids: [], asks: [], views: [] });
    ev.keepAlive = true;
    return ev;
  }

  encode(ev: BookEvent, sub: Sub): Buffer {
    if (ev.keepAlive) return ev.frame('heartbeat', () => Buffer.from(HEARTBEAT)) as Buffer;
    return ev.frame(`book:${sub.view}`, () => {
      const v = ev.changes.views[sub.view] ?? { bids: [], asks: [] };
      const feed = this.ctx.feed(ev.symbol);
      const d = this.spelling(feed);
      return Buffer.from(
        `{"channel":"book","type":"update","data":[{"symbol":"${this.venueSymbol(ev.symbol)}","bids":${levelsJson(v.bids, d)},"asks":${levelsJson(v.asks, d)},"checksum":${ev.checksum},"timestamp":"${rfc3339(ev.E)}"}]}`,
      );
    }) as Buffer;
  }

  private snapshotFrame(feed: Feed, depth: number): string {
    const b = feed.book;
    const d = this.spelling(feed);
    return `{"channel":"book","type":"snapshot","data":[{"symbol":"${this.venueSymbol(feed.symbol)}","bids":${levelsJson(topLevels(b.bids, depth), d)},"asks":${levelsJson(topLevels(b.asks, depth), d)},"checksum":${this.checksum(feed)},"timestamp":"${rfc3339(Date.now())}"}]}`;
  }

  message(s: Session, text: string): void {
    const timeIn = rfc3339(Date.now());
    const reply = (body: Record<string, unknown>) =>
      s.control(JSON.stringify({ ...body, time_in: timeIn, time_out: rfc3339(Date.now()) }));
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return reply({ error: 'Malformed request', success: false });
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req))
      return reply({ error: 'Malformed request', success: false });
    const r = req as Record<string, unknown>;
    const head = { method: typeof r.method === 'string' ? r.method.slice(0, 64) : '' } as Record<string, unknown>;
    if (typeof r.req_id === 'number' && Number.isSafeInteger(r.req_id)) head.req_id = r.req_id;
    const error = (msg: string, symbol?: string) =>
      reply({ error: msg, ...head, success: false, ...(symbol !== undefined ? { symbol } : {}) });
    if (r.method === 'ping')
      return reply({ method: 'pong', ...(head.req_id !== undefined ? { req_id: head.req_id } : {}) });
    if (r.method !== 'subscribe' && r.method !== 'unsubscribe') return error('Method not found');
    const p = r.params as Record<string, unknown> | null | undefined;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return error('Missing params');
    if (p.channel !== 'book') return error(`Channel ${String(p.channel).slice(0, 64)} not supported`);
    const symbols = p.symbol;
    if (!Array.isArray(symbols) || symbols.length === 0 || !symbols.every((x) => typeof x === 'string'))
      return error('Missing field: symbol');
    if (symbols.length > MAX_SYMBOLS) return error(`Too many symbols: at most ${MAX_SYMBOLS}`);
    const depth = p.depth === undefined ? DEFAULT_DEPTH : p.depth;
    const view = typeof depth === 'number' ? DEPTHS.indexOf(depth) : -1;
    if (view < 0) return error(`Invalid depth: must be one of ${DEPTHS.join(', ')}`);
    if (p.snapshot !== undefined && typeof p.snapshot !== 'boolean')
      return error('Invalid snapshot: must be a boolean');
    const snapshot = p.snapshot !== false;
    for (const name of symbols as string[]) {
      const c = this.canonicalSymbol(name);
      const feed = c === undefined ? undefined : this.ctx.feed(c);
      // Kraken's spelling only (BTC/USD), as the venue
      if (feed === undefined || this.venueSymbol(feed.symbol) !== name) {
        error('Currency pair not supported', name.slice(0, 64));
        continue;
      }
      const key = `book:${name}`;
      if (r.method === 'subscribe') {
        const sub: Sub = { key, symbol: feed.symbol, view };
        if (!s.subscribe(sub)) {
          error('Already subscribed', name);
          continue;
        }
        reply({ ...head, result: { channel: 'book', depth, snapshot, symbol: name }, success: true });
        if (snapshot) s.snapshot(sub, this.snapshotFrame(feed, depth as number));
      } else {
        const sub = s.unsubscribe(key);
        if (sub === undefined) {
          error('Subscription Not Found', name);
          continue;
        }
        reply({ ...head, result: { channel: 'book', depth: DEPTHS[sub.view], symbol: name }, success: true });
      }
    }
  }

  http(call: HttpCall): void {
    this.ctx.http.send(call.res, 404, { error: ['EGeneral:Unknown method'] });
  }
}

export const kraken = (ctx: VenueContext): VenueProtocol => new KrakenProtocol(ctx);
