/**
 * OKX v5 public order books (`okx`): spot instruments BASE-QUOTE (BTCUSDT -> BTC-USDT) and linear perpetual
 * swaps BASE-QUOTE-SWAP (simulator symbol BTCUSDTSWAP, i.e. the instId without dashes; `--symbols
 * BTC-USDT-SWAP`), served alike on `books`.
 *
 * WS   /ws/v5/public. {"id"?,"op":"subscribe"|"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}
 *      -> one ack per arg {"id"?,"event":"subscribe","arg":{...},"connId"}, then for a subscribe the
 *      snapshot {"arg","action":"snapshot","data":[{"asks","bids","ts","checksum","prevSeqId":-1,"seqId"}]}
 *      (400 levels per side), then updates {"arg","action":"update","data":[{... "prevSeqId","seqId"}]}.
 *      Capture replay (a feed from capture.ts): each update is sent as recorded, "ts" re-stamped.
      Levels ["px","sz","0","numOrders"], numbers as the shortest decimal, "0" deletes; the 400-level view is
 *      kept exact (levels leaving it are deleted, levels entering it sent). seqId grows strictly per instId
 *      (by the number of updates in the message); prevSeqId is the previous message's seqId.
 *      checksum: 0 (production since 2026-06), or with the okx.checksum option the legacy CRC32: top 25,
 *      "bidPx:bidSz:askPx:askSz:..." (a missing side skipped), signed int32.
 *      Keep-alive: a book unchanged for okx.keepAliveMs (default 60 s) gets an empty update, prevSeqId == seqId.
 *      Maintenance reset (POST /sim/reset): the next update has seqId < prevSeqId (prevSeqId still the last
 *      seqId), and the following ones count on from the new low seqId.
 *      Text "ping" -> "pong". Errors: {"event":"error","code":"60012"|"60018","msg","connId"}. Only the
 *      `books` channel is served (others: 60018).
 *      Limits (limits.ts OKX_LIMITS, per IP / per connection): 3 new connections a second per IP (more:
 *      HTTP 429 before the handshake); 480 subscribe/unsubscribe requests an hour per connection (the 481st:
 *      error 60014 "Requests too frequent." and the connection closed, 1008); args of one request at most
 *      64 KB (more: error 60013, the request not served).
 * REST GET /api/v5/market/books?instId=&sz= (sz default 1, max 400) -> {"code":"0","msg":"","data":[{"asks",
 *      "bids","ts","seqId"}]}; 40 requests per 2 s, then 429 {"code":"50011"}. /api/v5/public/instruments
 *      ?instType=SPOT|MARGIN|SWAP|FUTURES|OPTION[&instId=] (spot and swaps are listed: the other types answer
 *      an empty list, OPTION needing uly or instFamily as on OKX; what ccxt's fetchMarkets asks for),
 *      /api/v5/public/time.
 */
import type { StringLevel } from '../../core/book.js';
import { OKX_CHECKSUM_DEPTH, okxChecksum as venueChecksum } from '../../venues/okx.js';
import { splitSymbol } from '../exchangeInfo.js';
import { BookEvent, type Feed } from '../feed.js';
import { hash32 } from '../prng.js';
import { OKX_LIMITS } from '../limits.js';
import { RateWindow } from '../rest.js';
import type { Session, Sub } from '../session.js';
import type { TruthBook, TruthSide, UnitLevel } from '../truthBook.js';
import { formatUnitsShort } from '../units.js';
import type { HttpCall, VenueContext, VenueProtocol } from './types.js';

const DEPTH = 400;
/** Number of orders at a level: made up, but the same for the same level everywhere. */
const numOrders = (size: number) => (size === 0 ? '0' : String(1 + (Math.floor(size / 7919) % 12)));

function levelsJson(levels: readonly UnitLevel[]): string {
  let s = '[';
  for (let i = 0; i < levels.length; i++) {
    const [p, q] = levels[i];
    if (i > 0) s += ',';
    s += `["${formatUnitsShort(p)}","${formatUnitsShort(q)}","0","${numOrders(q)}"]`;
  }
  return s + ']';
}

function topLevels(side: TruthSide, n: number): UnitLevel[] {
  const out: UnitLevel[] = [];
  for (let i = side.prices.length - 1; i >= 0 && out.length < n; i--) out.push([side.prices[i], side.sizes[i]]);
  return out;
}

/**
 * OKX's legacy book checksum of the truth's top 25 levels, spelled as this simulator sends them: the
 * algorithm is the adapter's (venues/okx.ts), so the simulator and the parser cannot drift apart.
 */
export function okxChecksum(book: TruthBook): number {
  const text = (side: TruthSide): StringLevel[] =>
    topLevels(side, OKX_CHECKSUM_DEPTH).map(([p, q]) => [formatUnitsShort(p), formatUnitsShort(q)]);
  return venueChecksum(text(book.bids), text(book.asks));
}

const ERR_TOO_MANY = { msg: 'Too Many Requests', code: '50011' };

/** A perpetual swap's canonical symbol: the instId without dashes (BTC-USDT-SWAP -> BTCUSDTSWAP). */
const isSwap = (symbol: string) => symbol.length > 4 && symbol.endsWith('SWAP');

/** instType values of GET /api/v5/public/instruments. */
const INST_TYPES = ['SPOT', 'MARGIN', 'SWAP', 'FUTURES', 'OPTION'];

class OkxProtocol implements VenueProtocol {
  readonly id = 'okx' as const;
  readonly ids = 'per-symbol' as const;
  readonly depths = [DEPTH];
  readonly regroup = true;
  readonly limits = OKX_LIMITS;
  readonly keepAliveMs: number;
  private readonly checksum: boolean;
  private readonly booksRate = new RateWindow(2000);

  constructor(private readonly ctx: VenueContext) {
    this.keepAliveMs = ctx.okx.keepAliveMs ?? 60_000;
    this.checksum = ctx.okx.checksum ?? false;
  }

  venueSymbol(symbol: string): string {
    const swap = isSwap(symbol);
    const [base, quote] = splitSymbol(swap ? symbol.slice(0, -4) : symbol);
    return swap ? `${base}-${quote}-SWAP` : `${base}-${quote}`;
  }

  canonicalSymbol(name: string): string | undefined {
    const s = name.replace(/[-/_]/g, '').toUpperCase();
    return /^[A-Z0-9]{2,30}$/.test(s) ? s : undefined;
  }

  upgrade(path: string): object | undefined {
    return path === '/ws/v5/public' ? {} : undefined;
  }

  open(s: Session): void {
    s.connId = (hash32(`okx-conn-${s.id}-${Date.now()}`) >>> 0).toString(16).padStart(8, '0');
  }

  stamp(ev: BookEvent, feed: Feed): void {
    if (this.checksum) ev.checksum = okxChecksum(feed.book);
  }

  /** A keep-alive for an unchanged book. */
  keepAlive(feed: Feed): BookEvent {
    const id = feed.book.lastUpdateId;
    const ev = new BookEvent(feed.symbol, Date.now(), id, id + 1, id, feed.seq, {
      bids: [],
      asks: [],
      views: [{ bids: [], asks: [] }],
    });
    ev.keepAlive = true;
    if (this.checksum) ev.checksum = okxChecksum(feed.book);
    return ev;
  }

  private arg(instId: string): string {
    return `{"channel":"books","instId":"${instId}"}`;
  }

  encode(ev: BookEvent): Buffer {
    return ev.frame('books', () => {
      // capture replay: the message as recorded (its levels, ids and checksum), ts re-stamped to the send time
      if (ev.captured !== undefined) return Buffer.from(ev.captured.replace(/"ts":"\d+"/, `"ts":"${ev.E}"`));
      const v = ev.changes.views[0] ?? { bids: [], asks: [] };
      const instId = this.venueSymbol(ev.symbol);
      return Buffer.from(
        `{"arg":${this.arg(instId)},"action":"update","data":[{"asks":${levelsJson(v.asks)},"bids":${levelsJson(v.bids)},"ts":"${ev.E}","checksum":${ev.checksum},"prevSeqId":${ev.prev},"seqId":${ev.last}}]}`,
      );
    }) as Buffer;
  }

  private snapshotFrame(feed: Feed): string {
    const b = feed.book;
    const instId = this.venueSymbol(feed.symbol);
    const checksum = this.checksum ? okxChecksum(b) : 0;
    return `{"arg":${this.arg(instId)},"action":"snapshot","data":[{"asks":${levelsJson(topLevels(b.asks, DEPTH))},"bids":${levelsJson(topLevels(b.bids, DEPTH))},"ts":"${Date.now()}","checksum":${checksum},"prevSeqId":-1,"seqId":${b.lastUpdateId}}]}`;
  }

  message(s: Session, text: string): void {
    if (text === 'ping') {
      s.control('pong');
      return;
    }
    const error = (code: string, msg: string, id?: string) =>
      s.control(JSON.stringify({ ...(id !== undefined ? { id } : {}), event: 'error', code, msg, connId: s.connId }));
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return error('60012', `Invalid request: ${text}`);
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req))
      return error('60012', `Invalid request: ${text}`);
    const r = req as Record<string, unknown>;
    const id = typeof r.id === 'string' ? r.id : undefined;
    if ((r.op !== 'subscribe' && r.op !== 'unsubscribe') || !Array.isArray(r.args) || r.args.length === 0)
      return error('60012', `Invalid request: ${text}`, id);
    const lim = this.ctx.limits;
    if (s.subscribes !== undefined && !s.subscribes.hit()) {
      lim?.subscribeRateDisconnect(s.ip);
      error('60014', 'Requests too frequent.', id);
      s.kick(1008, 'Requests too frequent');
      return;
    }
    const refusal = lim?.subscribeRefusal(r.args.length, Buffer.byteLength(JSON.stringify(r.args)), 0);
    if (refusal !== undefined) {
      lim!.subscribeRefused(s.ip, refusal);
      return error('60013', `Invalid args: ${refusal}`, id);
    }
    const head = id !== undefined ? { id } : {};
    for (const a of r.args as unknown[]) {
      const arg = a as Record<string, unknown> | null;
      if (typeof arg !== 'object' || arg === null || typeof arg.channel !== 'string')
        return error('60012', `Invalid request: ${text}`, id);
      const instId = typeof arg.instId === 'string' ? arg.instId : '';
      const symbol = this.canonicalSymbol(instId);
      const feed = symbol === undefined ? undefined : this.ctx.feed(symbol);
      if (arg.channel !== 'books' || feed === undefined || this.venueSymbol(feed.symbol) !== instId) {
        error(
          '60018',
          `Wrong URL or channel:${String(arg.channel)},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`,
          id,
        );
        continue;
      }
      const key = `books:${instId}`;
      const ack = JSON.stringify({ ...head, event: r.op, arg: { channel: 'books', instId }, connId: s.connId });
      if (r.op === 'subscribe') {
        const sub: Sub = s.subs.get(key) ?? { key, symbol: feed.symbol, view: 0 };
        s.subscribe(sub);
        s.control(ack);
        s.snapshot(sub, this.snapshotFrame(feed));
      } else {
        s.unsubscribe(key);
        s.control(ack);
      }
    }
  }

  /** Maintenance reset: the next update's seqId drops below its prevSeqId; sent now. */
  reset(symbol: string): Record<string, unknown> {
    const feed = this.ctx.feed(symbol);
    if (feed === undefined || feed.restartIdsAt === undefined) throw new Error(`cannot reset ${symbol}`);
    const prev = feed.book.lastUpdateId;
    feed.restartIdsAt(Math.max(1, Math.floor(prev / 1000)));
    const ev = this.ctx.generate(feed.symbol)!;
    return { instId: this.venueSymbol(feed.symbol), prevSeqId: ev.prev, seqId: ev.last };
  }

  // ---- REST ----

  http(call: HttpCall): void {
    const { res, path, query: q } = call;
    const send = (status: number, body: unknown) => this.ctx.http.send(res, status, body);
    if (path === '/api/v5/market/books') {
      if (this.booksRate.add(1) > 40) return send(429, ERR_TOO_MANY);
      const instId = q.get('instId');
      if (!instId) return send(400, { code: '50014', msg: 'Parameter instId can not be empty.', data: [] });
      const symbol = this.canonicalSymbol(instId);
      const feed = symbol === undefined ? undefined : this.ctx.feed(symbol);
      if (feed === undefined || this.venueSymbol(feed.symbol) !== instId)
        return send(400, { code: '51001', msg: "Instrument ID doesn't exist.", data: [] });
      const szParam = q.get('sz');
      let sz = 1;
      if (szParam !== null) {
        sz = Number(szParam);
        if (!Number.isInteger(sz) || sz < 1) return send(400, { code: '51000', msg: 'Parameter sz error', data: [] });
        sz = Math.min(sz, DEPTH);
      }
      const b = feed.book;
      const body = `{"code":"0","msg":"","data":[{"asks":${levelsJson(topLevels(b.asks, sz))},"bids":${levelsJson(topLevels(b.bids, sz))},"ts":"${Date.now()}","seqId":${b.lastUpdateId}}]}`;
      return this.ctx.http.snapshot(
        res,
        call.profile,
        () => body,
        (status) => ({
          body:
            status === 429
              ? ERR_TOO_MANY
              : { code: '50001', msg: 'Service temporarily unavailable. Please try again later.', data: [] },
        }),
      );
    }
    if (path === '/api/v5/public/instruments') {
      const instType = q.get('instType') ?? '';
      if (!INST_TYPES.includes(instType))
        return send(400, { code: '51000', msg: 'Parameter instType error', data: [] });
      if (instType === 'OPTION' && !q.get('uly') && !q.get('instFamily'))
        return send(400, { code: '50014', msg: 'Parameter instFamily can not be empty.', data: [] });
      const instId = q.get('instId');
      // spot and swap instruments: the other types are valid and list nothing
      const list = this.ctx
        .feeds()
        .filter((f) => (isSwap(f.symbol) ? instType === 'SWAP' : instType === 'SPOT'))
        .filter((f) => instId === null || this.venueSymbol(f.symbol) === instId)
        .map((f) => this.instrument(f));
      if (instId !== null && list.length === 0)
        return send(400, { code: '51001', msg: "Instrument ID doesn't exist.", data: [] });
      return send(200, { code: '0', msg: '', data: list });
    }
    if (path === '/api/v5/public/time') return send(200, { code: '0', msg: '', data: [{ ts: String(Date.now()) }] });
    send(404, { msg: 'Not Found', code: '404' });
  }

  private instrument(f: Feed): Record<string, unknown> {
    if (isSwap(f.symbol)) return this.swapInstrument(f);
    const [baseCcy, quoteCcy] = splitSymbol(f.symbol);
    return {
      instType: 'SPOT',
      instId: this.venueSymbol(f.symbol),
      uly: '',
      instFamily: '',
      baseCcy,
      quoteCcy,
      settleCcy: '',
      ctVal: '',
      ctMult: '',
      ctValCcy: '',
      listTime: '1548133413000',
      expTime: '',
      lever: '10',
      tickSz: formatUnitsShort(f.tickUnits),
      lotSz: formatUnitsShort(f.stepUnits),
      minSz: formatUnitsShort(f.stepUnits),
      ctType: '',
      state: 'live',
      ruleType: 'normal',
      maxLmtSz: '9999999999',
      maxMktSz: '1000000',
    };
  }

  private swapInstrument(f: Feed): Record<string, unknown> {
    return swapInstrumentOf(this.venueSymbol(f.symbol), f);
  }
}

/** A linear perpetual as OKX lists it (instType SWAP): settled in the quote, one contract = ctVal base. */
function swapInstrumentOf(instId: string, f: Feed): Record<string, unknown> {
  const [base, quote] = splitSymbol(f.symbol.slice(0, -4));
  return {
    instType: 'SWAP',
    instId,
    uly: `${base}-${quote}`,
    instFamily: `${base}-${quote}`,
    baseCcy: '',
    quoteCcy: '',
    settleCcy: quote,
    ctVal: '0.01',
    ctMult: '1',
    ctValCcy: base,
    listTime: '1611916828000',
    expTime: '',
    lever: '100',
    tickSz: formatUnitsShort(f.tickUnits),
    lotSz: formatUnitsShort(f.stepUnits),
    minSz: formatUnitsShort(f.stepUnits),
    ctType: 'linear',
    state: 'live',
    ruleType: 'normal',
    maxLmtSz: '100000000',
    maxMktSz: '10000',
  };
}

export const okx = (ctx: VenueContext): VenueProtocol => new OkxProtocol(ctx);
