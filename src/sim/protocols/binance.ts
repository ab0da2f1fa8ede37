/**
 * Binance spot (`binance`) and USD-M futures (`binance-usdm`): diff-depth streams and REST depth.
 *
 * WS   spot: /ws/<stream>[/<stream>...] (raw), /stream?streams=a/b (combined); <symbol>@depth[@100ms|@1000ms]
 *      usdm: /public/ws/..., /public/stream?streams=...; <symbol>@depth[@100ms|@250ms|@500ms]
 *      Live requests SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY "combined".
 *      Every stream is sent at the simulator's eventsPerSec (the speed suffix does not slow it down).
 *      Any other stream name (other channels, unknown symbols, upper case) is accepted and stays silent,
 *      as Binance does for a symbol it does not list. Server pings: spot every 20 s (pong within 60 s),
 *      usdm every 3 min (pong within 10 min).
 *      spot: {"e":"depthUpdate","E","s","U","u","b","a"}
 *      usdm: {"e":"depthUpdate","E","T","s","U","u","pu","b","a"}: ids are one space shared by every symbol
 *            (U jumps), pu is the previous u of the same symbol.
 * REST spot: GET /api/v3/depth?symbol=X&limit=N (default 100, max 5000; weight 5/25/50/250), /api/v3/exchangeInfo
 *            [?symbol=X|?symbols=[..]], /api/v3/ping, /api/v3/time (+ empty /fapi/v1 and /dapi/v1 exchangeInfo
 *            for ccxt). Headers x-mbx-used-weight, x-mbx-used-weight-1m.
 *      usdm: GET /fapi/v1/depth?symbol=X&limit=N (5|10|20|50|100|500|1000, default 500; weight 2/5/10/20)
 *            -> {lastUpdateId,E,T,bids,asks}, /fapi/v1/exchangeInfo, /fapi/v1/ping, /fapi/v1/time.
 *            Header X-MBX-USED-WEIGHT-1M.
 * Limits (limits.ts, per client IP): weight 6,000/min spot, 2,400/min USD-M -> 429 + Retry-After, then 418
 * bans; 1,024 streams per connection (an upgrade naming more is refused; a SUBSCRIBE past it closes the
 * connection, 1008); spot 300 new connections per 5 min per IP; 5 (spot) / 10 (USD-M) incoming messages/s.
 */
import { emptyDerivativesInfo, exchangeInfo, usdmExchangeInfo } from '../exchangeInfo.js';
import type { BookEvent, Feed, Frame } from '../feed.js';
import type { IdScheme } from '../ids.js';
import { BINANCE_SPOT_LIMITS, BINANCE_USDM_LIMITS, type VenueLimits } from '../limits.js';
import type { Session } from '../session.js';
import type { UnitLevel } from '../truthBook.js';
import { formatUnits } from '../units.js';
import type { HttpCall, VenueContext, VenueId, VenueProtocol } from './types.js';

const SPOT_STREAM = /^([a-z0-9]+)@depth(?:@(?:100|1000)ms)?$/;
const USDM_STREAM = /^([a-z0-9]+)@depth(?:@(?:100|250|500)ms)?$/;

/** Upper-case symbol of a spot diff-depth stream name, or undefined. */
export function depthStreamSymbol(name: string, re: RegExp = SPOT_STREAM): string | undefined {
  const m = re.exec(name);
  return m === null ? undefined : m[1].toUpperCase();
}

/** Binance's level array JSON: [["price","qty"],...], 8 decimals. */
export function levelsJson(levels: readonly UnitLevel[]): string {
  if (levels.length === 0) return '[]';
  let s = '[';
  for (let i = 0; i < levels.length; i++) {
    if (i > 0) s += ',';
    s += `["${formatUnits(levels[i][0])}","${formatUnits(levels[i][1])}"]`;
  }
  return s + ']';
}

/**
 * The level arrays of an event: as captured (capture replay: the diff message, raw or in a combined envelope,
 * was checked by the venue's adapter), else formatted from the changes.
 */
function eventLevels(ev: BookEvent): { b: string; a: string } {
  if (ev.captured !== undefined) {
    try {
      const o = JSON.parse(ev.captured) as {
        stream?: string;
        data?: { b: unknown; a: unknown };
        b: unknown;
        a: unknown;
      };
      const d = o.stream !== undefined && o.data !== undefined ? o.data : o;
      return { b: JSON.stringify(d.b), a: JSON.stringify(d.a) };
    } catch {
      // not reached: the adapter parsed this line
    }
  }
  return { b: levelsJson(ev.changes.bids), a: levelsJson(ev.changes.asks) };
}

/** Binance spot's diff-depth payload, field order as Binance sends it. */
export function spotJson(ev: BookEvent): string {
  const { b, a } = eventLevels(ev);
  return `{"e":"depthUpdate","E":${ev.E},"s":"${ev.symbol}","U":${ev.first},"u":${ev.last},"b":${b},"a":${a}}`;
}

/** Transaction time: a little before the event time. */
const txTime = (E: number, id: number) => E - 1 - (id % 3);

function usdmJson(ev: BookEvent): string {
  const { b, a } = eventLevels(ev);
  return `{"e":"depthUpdate","E":${ev.E},"T":${txTime(ev.E, ev.last)},"s":"${ev.symbol}","U":${ev.first},"u":${ev.last},"pu":${ev.prev},"b":${b},"a":${a}}`;
}

interface Flavor {
  id: VenueId;
  ids: IdScheme;
  wsRoot: string;
  stream: RegExp;
  ping: { intervalMs: number; timeoutMs: number };
  limits: VenueLimits;
  json(ev: BookEvent): string;
}

type RequestId = number | string | null;

const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'];

function errorFrame(code: number, msg: string, id: RequestId): string {
  return JSON.stringify({ error: { code, msg }, id });
}

const ERR_SYMBOL = { code: -1121, msg: 'Invalid symbol.' };
/** Binance's -1003 bodies: over the weight limit (429), and banned (418). */
function tooMany(limit: number): { code: number; msg: string } {
  return {
    code: -1003,
    msg: `Too much request weight used; current limit is ${limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`,
  };
}

function banned(untilMs: number): { code: number; msg: string } {
  return {
    code: -1003,
    msg: `Way too much request weight used; IP banned until ${untilMs}. Please use WebSocket Streams for live updates to avoid bans.`,
  };
}

/** The 429 fault's body (snapshotErrorRate): as if the limit was hit. */
const ERR_TOO_MANY = tooMany(6000);
const ERR_INTERNAL = { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' };
const ERR_BUSY = {
  code: -1008,
  msg: 'Server is currently overloaded with other requests. Please try again in a few minutes.',
};
const ERR_LIMIT = { code: -1130, msg: "Data sent for parameter 'limit' is not valid." };

function badParam(name: string, pattern: string): { code: number; msg: string } {
  return { code: -1100, msg: `Illegal characters found in parameter '${name}'; legal range is '${pattern}'.` };
}

function missingParam(name: string): { code: number; msg: string } {
  return { code: -1102, msg: `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.` };
}

function spotDepthWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

function usdmDepthWeight(limit: number): number {
  if (limit <= 50) return 2;
  if (limit <= 100) return 5;
  if (limit <= 500) return 10;
  return 20;
}

const USDM_LIMITS = [5, 10, 20, 50, 100, 500, 1000];

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

class BinanceProtocol implements VenueProtocol {
  readonly id: VenueId;
  readonly ids: IdScheme;
  readonly depths: readonly number[] = [];
  readonly regroup = true;
  readonly ping: { intervalMs: number; timeoutMs: number };
  /** Every stream name a session subscribed (data or silent), in order: LIST_SUBSCRIPTIONS. */
  private readonly names = new WeakMap<Session, string[]>();
  private readonly usdm: boolean;
  readonly limits: VenueLimits;

  constructor(
    private readonly ctx: VenueContext,
    private readonly flavor: Flavor,
  ) {
    this.id = flavor.id;
    this.ids = flavor.ids;
    this.ping = flavor.ping;
    this.limits = flavor.limits;
    this.usdm = flavor.id === 'binance-usdm';
  }

  venueSymbol(symbol: string): string {
    return symbol;
  }

  canonicalSymbol(name: string): string | undefined {
    const s = name.replace(/[-/_]/g, '').toUpperCase();
    return /^[A-Z0-9]{2,30}$/.test(s) ? s : undefined;
  }

  upgrade(path: string, query: URLSearchParams): { combined: boolean; streams: string[] } | undefined {
    const root = this.flavor.wsRoot;
    if (!path.startsWith(root)) return undefined;
    const p = path.slice(root.length);
    if (p === '/ws' || p.startsWith('/ws/'))
      return { combined: false, streams: p.slice(4).split('/').filter(Boolean).map(decode) };
    if (p === '/stream' || p === '/stream/')
      return { combined: true, streams: (query.get('streams') ?? '').split('/').filter(Boolean) };
    return undefined;
  }

  routeStreams(route: object): number {
    return (route as { streams: string[] }).streams.length;
  }

  open(s: Session, route: object): void {
    const r = route as { combined: boolean; streams: string[] };
    s.combined = r.combined;
    this.names.set(s, []);
    this.subscribe(s, r.streams);
  }

  encode(ev: BookEvent, sub: { key: string }, s: Session): Frame {
    const key = s.combined ? sub.key : '';
    const hit = ev.cached(key);
    if (hit !== undefined) return hit;
    const json = (ev.text ??= this.flavor.json(ev));
    return ev.store(key, Buffer.from(s.combined ? `{"stream":"${key}","data":${json}}` : json));
  }

  /** false: past the stream limit (the connection is being closed). */
  private subscribe(s: Session, streams: readonly string[]): boolean {
    const names = this.names.get(s)!;
    const fresh = streams.filter((name, i) => !names.includes(name) && streams.indexOf(name) === i);
    const lim = this.ctx.limits;
    if (lim !== undefined && !lim.streamsAllowed(names.length + fresh.length)) {
      // Binance documents the limit, not its answer: the connection goes, saying why
      lim.streamLimitDisconnect(s.ip, names.length + fresh.length);
      s.kick(1008, `Too many streams: ${names.length + fresh.length} (limit ${lim.limits.maxStreams} per connection)`);
      return false;
    }
    for (const name of fresh) {
      names.push(name);
      const symbol = depthStreamSymbol(name, this.flavor.stream);
      if (symbol !== undefined) s.subscribe({ key: name, symbol, view: -1 });
    }
    return true;
  }

  private unsubscribe(s: Session, streams: readonly string[]): void {
    const names = this.names.get(s)!;
    for (const name of streams) {
      const i = names.indexOf(name);
      if (i < 0) continue;
      names.splice(i, 1);
      s.unsubscribe(name);
    }
  }

  /** Handle a text frame from the client. Bad requests get Binance's error frame, never an exception. */
  message(s: Session, text: string): void {
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch (e) {
      s.control(errorFrame(3, `Invalid JSON: ${(e as Error).message}`, null));
      return;
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      s.control(errorFrame(2, 'Invalid request: expected a JSON object', null));
      return;
    }
    const r = req as Record<string, unknown>;
    const id = r.id;
    const idOk =
      id === null ||
      (typeof id === 'number' && Number.isSafeInteger(id)) ||
      (typeof id === 'string' && /^[A-Za-z0-9-]{1,36}$/.test(id));
    if (!idOk) {
      s.control(errorFrame(2, 'Invalid request: request ID must be an unsigned integer', null));
      return;
    }
    const reqId = id as RequestId;
    if (typeof r.method !== 'string') {
      s.control(errorFrame(2, 'Invalid request: missing field `method`', reqId));
      return;
    }
    if (!METHODS.includes(r.method)) {
      s.control(
        errorFrame(
          2,
          `Invalid request: unknown variant \`${r.method}\`, expected one of ${METHODS.map((m) => `\`${m}\``).join(', ')}`,
          reqId,
        ),
      );
      return;
    }
    const params = r.params;
    switch (r.method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!Array.isArray(params) || !params.every((p) => typeof p === 'string')) {
          s.control(errorFrame(2, 'Invalid request: params must be an array of stream names', reqId));
          return;
        }
        if (r.method === 'SUBSCRIBE') {
          if (!this.subscribe(s, params as string[])) return;
        } else this.unsubscribe(s, params as string[]);
        s.control(JSON.stringify({ result: null, id: reqId }));
        return;
      }
      case 'LIST_SUBSCRIPTIONS':
        s.control(JSON.stringify({ result: this.names.get(s), id: reqId }));
        return;
      case 'SET_PROPERTY': {
        if (!Array.isArray(params) || params[0] !== 'combined') {
          s.control(errorFrame(0, 'Unknown property', reqId));
          return;
        }
        if (typeof params[1] !== 'boolean') {
          s.control(errorFrame(1, 'Invalid value type: expected Boolean', reqId));
          return;
        }
        s.combined = params[1];
        s.control(JSON.stringify({ result: null, id: reqId }));
        return;
      }
      case 'GET_PROPERTY': {
        if (!Array.isArray(params) || params[0] !== 'combined') {
          s.control(errorFrame(0, 'Unknown property', reqId));
          return;
        }
        s.control(JSON.stringify({ result: s.combined, id: reqId }));
        return;
      }
    }
  }

  // ---- REST ----

  private weightHeaders(used: number): Record<string, string> {
    const u = String(used);
    return this.usdm ? { 'X-MBX-USED-WEIGHT-1M': u } : { 'x-mbx-used-weight': u, 'x-mbx-used-weight-1m': u };
  }

  /**
   * Count a request's weight against the client's IP: its answer's headers, or undefined when the limit
   * refused it (429 over the limit, 418 banned; answered here, with Retry-After).
   */
  private charge(call: HttpCall, w: number): Record<string, string> | undefined {
    const lim = this.ctx.limits!;
    const v = lim.rest(call.ip, w);
    const headers = this.weightHeaders(v.used);
    if (v.status === 200) return headers;
    const body = v.status === 418 ? banned(v.bannedUntil ?? 0) : tooMany(lim.limits.restWeight);
    this.ctx.http.send(call.res, v.status, body, { ...headers, 'Retry-After': String(v.retryAfterS) });
    return undefined;
  }

  private send(call: HttpCall, status: number, body: unknown, w: number, headers: Record<string, string> = {}): void {
    const h = this.charge(call, w);
    if (h !== undefined) this.ctx.http.send(call.res, status, body, { ...h, ...headers });
  }

  http(call: HttpCall): void {
    const root = this.usdm ? '/fapi/v1' : '/api/v3';
    switch (call.path) {
      case `${root}/depth`:
        return this.depth(call);
      case `${root}/exchangeInfo`:
        return this.usdm ? this.send(call, 200, usdmExchangeInfo(this.ctx.feeds()), 1) : this.info(call);
      case `${root}/ping`:
        return this.send(call, 200, {}, 1);
      case `${root}/time`:
        return this.send(call, 200, { serverTime: Date.now() }, 1);
    }
    if (!this.usdm && (call.path === '/fapi/v1/exchangeInfo' || call.path === '/dapi/v1/exchangeInfo'))
      return this.send(call, 200, emptyDerivativesInfo(), 1);
    this.send(call, 404, { code: -1000, msg: `Unknown path ${call.path}` }, 1);
  }

  private depth(call: HttpCall): void {
    const q = call.query;
    const sym = q.get('symbol');
    const limitParam = q.get('limit');
    let limit = this.usdm ? 500 : 100;
    if (limitParam !== null) {
      if (!/^[0-9]{1,20}$/.test(limitParam)) return this.send(call, 400, badParam('limit', '^[0-9]{1,20}$'), 1);
      limit = Number(limitParam);
      if (this.usdm) {
        if (!USDM_LIMITS.includes(limit)) return this.send(call, 400, ERR_LIMIT, 1);
      } else {
        if (limit <= 0) limit = 100;
        if (limit > 5000) limit = 5000; // Binance truncates to 5000
      }
    }
    const w = this.usdm ? usdmDepthWeight(limit) : spotDepthWeight(limit);
    if (sym === null || sym === '') return this.send(call, 400, missingParam('symbol'), w);
    if (!/^[A-Z0-9-_.]{1,20}$/.test(sym)) return this.send(call, 400, badParam('symbol', '^[A-Z0-9-_.]{1,20}$'), w);
    const feed = this.ctx.feed(sym);
    if (feed === undefined) return this.send(call, 400, ERR_SYMBOL, w);
    // the book is read when the request arrives; a slow snapshot is one that is stale by the time it lands
    const headers = this.charge(call, w);
    if (headers === undefined) return;
    const body = this.usdm ? usdmSnapshotJson(feed, limit) : feed.book.snapshotJson(limit);
    this.ctx.http.snapshot(
      call.res,
      call.profile,
      () => body,
      (status) => {
        if (status === 429) return { body: ERR_TOO_MANY, headers: { 'Retry-After': '1' } };
        return { body: status === 503 ? ERR_BUSY : ERR_INTERNAL };
      },
      headers,
    );
  }

  private info(call: HttpCall): void {
    const q = call.query;
    let wanted: string[] | undefined;
    const one = q.get('symbol');
    const many = q.get('symbols');
    if (one !== null) wanted = [one];
    else if (many !== null) {
      try {
        const arr: unknown = JSON.parse(many);
        if (!Array.isArray(arr) || !arr.every((s) => typeof s === 'string')) throw new Error('not a list');
        wanted = arr as string[];
      } catch {
        return this.send(
          call,
          400,
          badParam('symbols', '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'),
          20,
        );
      }
    }
    if (wanted === undefined) return this.send(call, 200, exchangeInfo(this.ctx.feeds()), 20);
    const feeds: Feed[] = [];
    for (const s of wanted) {
      const feed = this.ctx.feed(s);
      if (feed === undefined) return this.send(call, 400, ERR_SYMBOL, 20);
      feeds.push(feed);
    }
    this.send(call, 200, exchangeInfo(feeds), 20);
  }
}

/** Body of GET /fapi/v1/depth. */
function usdmSnapshotJson(feed: Feed, limit: number): string {
  const b = feed.book;
  const E = Date.now();
  return `{"lastUpdateId":${b.lastUpdateId},"E":${E},"T":${txTime(E, b.lastUpdateId)},"bids":[${b.bids.topJson(limit)}],"asks":[${b.asks.topJson(limit)}]}`;
}

export const binanceSpot = (ctx: VenueContext): VenueProtocol =>
  new BinanceProtocol(ctx, {
    id: 'binance',
    ids: 'per-symbol',
    wsRoot: '',
    stream: SPOT_STREAM,
    ping: { intervalMs: 20_000, timeoutMs: 60_000 },
    limits: BINANCE_SPOT_LIMITS,
    json: spotJson,
  });

export const binanceUsdm = (ctx: VenueContext): VenueProtocol =>
  new BinanceProtocol(ctx, {
    id: 'binance-usdm',
    ids: 'shared',
    wsRoot: '/public',
    stream: USDM_STREAM,
    ping: { intervalMs: 180_000, timeoutMs: 600_000 },
    limits: BINANCE_USDM_LIMITS,
    json: usdmJson,
  });
