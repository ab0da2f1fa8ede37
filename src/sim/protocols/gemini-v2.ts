/**
 * Gemini market data v2 (archived) `l2` (`gemini-v2`): symbols concatenated upper case (BTCUSD; BTC/USD ->
 * BTCUSD).
 *
 * WS   /v2/marketdata (a trailing slash too). {"type":"subscribe","subscriptions":[{"name":"l2","symbols":
 *      ["BTCUSD",...]}]} -> no ack; per symbol the full book as the first message, {"type":"l2_updates",
 *      "symbol","changes":[["buy",P,Q],... bids best first ...,["sell",P,Q],... asks best first ...],"trades":[],
 *      "auction_events":[]} (Gemini sends the last 50 trades there: the simulator has none, so the list is
 *      empty; its presence is what marks the snapshot), then {"type":"l2_updates","symbol","changes":[...]} of
 *      every changed level, absolute, "0" deletes. P and Q plain decimals, shortest spelling ("65000.1",
 *      "0.5"). {"type":"unsubscribe",...} likewise (no reply; a book not subscribed: an error). No ids, no
 *      checksum: a client resyncs by resubscribing. {"type":"heartbeat","timestamp":ms} every 5 s (Gemini:
 *      per connection; here per subscribed book that did not change for 5 s, a simplification).
 *      Errors: Gemini documents none for v2; the simulator answers {"result":"error","reason","message"}, the
 *      shape of Gemini's REST errors, for a malformed request, an unknown type, feed or symbol, and a second
 *      subscription of the same book.
 *      Can regroup: levels are absolute and there are no ids, so one message may carry two events.
 *      Capture replay (capture.ts): events encoded from the truth like any other (the book's first
 *      l2_updates is the capture's snapshot).
 *      Not modelled: trades, candles, auctions, REST (404), limits.
 */
import { splitSymbol } from '../exchangeInfo.js';
import { BookEvent, type Feed } from '../feed.js';
import type { Session, Sub } from '../session.js';
import type { TruthSide, UnitLevel } from '../truthBook.js';
import { formatUnitsShort } from '../units.js';
import type { HttpCall, VenueContext, VenueProtocol } from './types.js';

/** Symbols one request may name (hostile input: bounded). */
const MAX_SYMBOLS = 100;
const HEARTBEAT_MS = 5000;

function changesJson(side: 'buy' | 'sell', levels: readonly UnitLevel[], into: string[]): void {
  for (const [p, q] of levels) into.push(`["${side}","${formatUnitsShort(p)}","${formatUnitsShort(q)}"]`);
}

/** Every level of one side, best first. */
function allLevels(side: TruthSide): UnitLevel[] {
  const out: UnitLevel[] = [];
  for (let i = side.prices.length - 1; i >= 0; i--) out.push([side.prices[i], side.sizes[i]]);
  return out;
}

class GeminiV2Protocol implements VenueProtocol {
  readonly id = 'gemini-v2' as const;
  readonly ids = 'per-symbol' as const;
  readonly depths: readonly number[] = [];
  readonly regroup = true;
  readonly keepAliveMs = HEARTBEAT_MS;

  constructor(private readonly ctx: VenueContext) {}

  venueSymbol(symbol: string): string {
    const [base, quote] = splitSymbol(symbol);
    return base + quote;
  }

  /** BTC/USD or BTCUSD (any case) -> BTCUSD; perpetuals (…SWAP, BTC/USDT:USDT) are not Gemini spot books. */
  canonicalSymbol(name: string): string | undefined {
    const s = name.trim().toUpperCase();
    const m = /^([A-Z0-9]{1,15})\/([A-Z0-9]{1,15})$/.exec(s);
    if (m !== null) return m[1] + m[2];
    const plain = s.replace(/[-_]/g, '');
    return /^[A-Z0-9]{4,30}$/.test(plain) && !plain.endsWith('SWAP') ? plain : undefined;
  }

  upgrade(path: string): object | undefined {
    return path === '/v2/marketdata' || path === '/v2/marketdata/' ? {} : undefined;
  }

  open(): void {}

  /** A heartbeat for a book unchanged for 5 s. */
  keepAlive(feed: Feed): BookEvent {
    const id = feed.book.lastUpdateId;
    const ev = new BookEvent(feed.symbol, Date.now(), id, id + 1, id, feed.seq, { bids: [], asks: [], views: [] });
    ev.keepAlive = true;
    return ev;
  }

  encode(ev: BookEvent): Buffer {
    if (ev.keepAlive)
      return ev.frame('heartbeat', () => Buffer.from(`{"type":"heartbeat","timestamp":${ev.E}}`)) as Buffer;
    return ev.frame('l2', () => {
      const changes: string[] = [];
      changesJson('buy', ev.changes.bids, changes);
      changesJson('sell', ev.changes.asks, changes);
      return Buffer.from(
        `{"type":"l2_updates","symbol":"${this.venueSymbol(ev.symbol)}","changes":[${changes.join(',')}]}`,
      );
    }) as Buffer;
  }

  private snapshotFrame(feed: Feed): string {
    const changes: string[] = [];
    changesJson('buy', allLevels(feed.book.bids), changes);
    changesJson('sell', allLevels(feed.book.asks), changes);
    return `{"type":"l2_updates","symbol":"${this.venueSymbol(feed.symbol)}","changes":[${changes.join(',')}],"trades":[],"auction_events":[]}`;
  }

  message(s: Session, text: string): void {
    const error = (reason: string, message: string) =>
      s.control(JSON.stringify({ result: 'error', reason, message: message.slice(0, 200) }));
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return error('InvalidJson', 'Malformed request');
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req))
      return error('InvalidJson', 'Request must be a JSON object');
    const r = req as Record<string, unknown>;
    if (r.type !== 'subscribe' && r.type !== 'unsubscribe')
      return error('InvalidRequest', `Unknown type ${String(r.type).slice(0, 64)}`);
    const subs = r.subscriptions;
    if (!Array.isArray(subs) || subs.length === 0 || subs.length > 10)
      return error('InvalidRequest', 'subscriptions must be a non-empty array');
    for (const sub of subs as unknown[]) {
      const o = sub as Record<string, unknown> | null;
      if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        error('InvalidRequest', 'a subscription must be an object');
        continue;
      }
      if (o.name !== 'l2') {
        error('InvalidRequest', `Feed ${String(o.name).slice(0, 64)} not supported`);
        continue;
      }
      const symbols = o.symbols;
      if (!Array.isArray(symbols) || symbols.length === 0 || !symbols.every((x) => typeof x === 'string')) {
        error('InvalidRequest', 'symbols must be a non-empty array of strings');
        continue;
      }
      if (symbols.length > MAX_SYMBOLS) {
        error('InvalidRequest', `Too many symbols: at most ${MAX_SYMBOLS}`);
        continue;
      }
      for (const name of symbols as string[]) this.subscription(s, r.type, name, error);
    }
  }

  private subscription(
    s: Session,
    type: 'subscribe' | 'unsubscribe',
    name: string,
    error: (reason: string, message: string) => void,
  ): void {
    const c = this.canonicalSymbol(name);
    const feed = c === undefined ? undefined : this.ctx.feed(c);
    // Gemini's spelling only (BTCUSD), as the venue
    if (feed === undefined || this.venueSymbol(feed.symbol) !== name)
      return error('InvalidSymbol', `Unknown symbol ${name}`);
    const key = `l2:${name}`;
    if (type === 'unsubscribe') {
      if (s.unsubscribe(key) === undefined) error('InvalidRequest', `Not subscribed to l2 ${name}`);
      return;
    }
    const sub: Sub = { key, symbol: feed.symbol, view: -1 };
    if (!s.subscribe(sub)) return error('InvalidRequest', `Already subscribed to l2 ${name}`);
    s.snapshot(sub, this.snapshotFrame(feed));
  }

  http(call: HttpCall): void {
    this.ctx.http.send(call.res, 404, {
      result: 'error',
      reason: 'EndpointNotFound',
      message: `API entry point \`${call.path.slice(0, 100)}\` not found`,
    });
  }
}

export const geminiV2 = (ctx: VenueContext): VenueProtocol => new GeminiV2Protocol(ctx);
