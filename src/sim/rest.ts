/**
 * HTTP side of the simulator: Binance spot REST market-data endpoints plus test-only /sim/ endpoints.
 * A path prefix /p/<profile>/ selects a fault profile (REST faults apply to /api/v3/depth only).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { emptyDerivativesInfo, exchangeInfo } from './exchangeInfo.js';
import type { FaultProfile } from './faults.js';
import type { Feed } from './feed.js';
import type { Rng } from './prng.js';

export interface RestCounters {
  restRequests: number;
  snapshotsServed: number;
  snapshotErrors: number;
}

/** What the HTTP handler needs from the simulator. */
export interface RestContext {
  feeds: ReadonlyMap<string, Feed>;
  profile(name: string | undefined): FaultProfile;
  counters: RestCounters;
  rng: Rng;
  logger: Logger;
  truth(symbol: string, depth?: number): unknown;
  stats(): unknown;
  pause(): void;
  resume(): void;
  setFaults(profile: string, f: FaultProfile): void;
  faultProfiles(): Record<string, FaultProfile>;
  sendTimes(symbol: string): { u: number[]; t: number[] };
}

/** Split an optional /p/<profile> prefix off a path. */
export function splitProfile(pathname: string): { profile: string | undefined; path: string } {
  const m = /^\/p\/([^/]+)(\/.*)?$/.exec(pathname);
  if (m === null) return { profile: undefined, path: pathname };
  return { profile: decodeURIComponent(m[1]), path: m[2] ?? '/' };
}

/** REQUEST_WEIGHT used in the current minute (x-mbx-used-weight-1m); one meter for the whole simulator. */
class WeightMeter {
  private minute = 0;
  private used = 0;
  add(w: number): number {
    const m = Math.floor(Date.now() / 60000);
    if (m !== this.minute) {
      this.minute = m;
      this.used = 0;
    }
    this.used += w;
    return this.used;
  }
}

function depthWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

const ERR_SYMBOL = { code: -1121, msg: 'Invalid symbol.' };
const ERR_TOO_MANY = {
  code: -1003,
  msg: 'Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. Please use WebSocket Streams for live updates to avoid polling the API.',
};
const ERR_INTERNAL = { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' };
const ERR_BUSY = {
  code: -1008,
  msg: 'Server is currently overloaded with other requests. Please try again in a few minutes.',
};
const ERR_UNKNOWN = { code: -1000, msg: 'An unknown error occured while processing the request.' };

function badParam(name: string, pattern: string): { code: number; msg: string } {
  return { code: -1100, msg: `Illegal characters found in parameter '${name}'; legal range is '${pattern}'.` };
}

function missingParam(name: string): { code: number; msg: string } {
  return { code: -1102, msg: `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.` };
}

export interface RestHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Cancel responses still waiting on snapshotDelayMs. */
  close(): void;
}

export function createRestHandler(ctx: RestContext): RestHandler {
  const weight = new WeightMeter();
  const delayed = new Set<NodeJS.Timeout>();

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    w: number,
    headers: Record<string, string> = {},
  ): void {
    const used = String(weight.add(w));
    res.writeHead(status, {
      'Content-Type': 'application/json;charset=UTF-8',
      'x-mbx-used-weight': used,
      'x-mbx-used-weight-1m': used,
      ...headers,
    });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  function depth(res: ServerResponse, q: URLSearchParams, profile: string | undefined): void {
    const sym = q.get('symbol');
    const limitParam = q.get('limit');
    let limit = 100;
    if (limitParam !== null) {
      if (!/^[0-9]{1,20}$/.test(limitParam)) return send(res, 400, badParam('limit', '^[0-9]{1,20}$'), 1);
      limit = Number(limitParam);
      if (limit <= 0) limit = 100;
      if (limit > 5000) limit = 5000; // Binance truncates to 5000
    }
    const w = depthWeight(limit);
    if (sym === null || sym === '') return send(res, 400, missingParam('symbol'), w);
    if (!/^[A-Z0-9-_.]{1,20}$/.test(sym)) return send(res, 400, badParam('symbol', '^[A-Z0-9-_.]{1,20}$'), w);
    const feed = ctx.feeds.get(sym);
    if (feed === undefined) return send(res, 400, ERR_SYMBOL, w);
    const f = ctx.profile(profile);
    if (f.snapshotErrorRate && ctx.rng() < f.snapshotErrorRate) {
      ctx.counters.snapshotErrors++;
      const st = f.snapshotErrorStatus;
      const status = st !== undefined && Number.isInteger(st) && st >= 400 && st <= 599 ? st : 429;
      if (status === 429) return send(res, 429, ERR_TOO_MANY, w, { 'Retry-After': '1' });
      return send(res, status, status === 503 ? ERR_BUSY : ERR_INTERNAL, w);
    }
    // the book is read when the request arrives; a slow snapshot is one that is stale by the time it lands
    const body = feed.book.snapshotJson(limit);
    ctx.counters.snapshotsServed++;
    if (f.snapshotDelayMs && f.snapshotDelayMs > 0) {
      const timer = setTimeout(() => {
        delayed.delete(timer);
        send(res, 200, body, w);
      }, f.snapshotDelayMs);
      delayed.add(timer);
    } else send(res, 200, body, w);
  }

  function info(res: ServerResponse, q: URLSearchParams): void {
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
        return send(res, 400, badParam('symbols', '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'), 20);
      }
    }
    if (wanted === undefined) return send(res, 200, exchangeInfo(ctx.feeds.values()), 20);
    const feeds: Feed[] = [];
    for (const s of wanted) {
      const feed = ctx.feeds.get(s);
      if (feed === undefined) return send(res, 400, ERR_SYMBOL, 20);
      feeds.push(feed);
    }
    send(res, 200, exchangeInfo(feeds), 20);
  }

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      let s = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        s += c;
        if (s.length > 1_000_000) reject(new Error('body too large'));
      });
      req.on('end', () => resolve(s));
      req.on('error', reject);
    });
  }

  async function simEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    q: URLSearchParams,
  ): Promise<void> {
    const post = req.method === 'POST';
    if (path === '/sim/truth') {
      const sym = q.get('symbol') ?? '';
      if (!ctx.feeds.has(sym)) return send(res, 400, ERR_SYMBOL, 0);
      const depthParam = q.get('depth');
      return send(res, 200, ctx.truth(sym, depthParam === null ? undefined : Number(depthParam)), 0);
    }
    if (path === '/sim/stats') return send(res, 200, ctx.stats(), 0);
    if (path === '/sim/send-times') return send(res, 200, ctx.sendTimes(q.get('symbol') ?? ''), 0);
    if (path === '/sim/pause' && post) {
      ctx.pause();
      return send(res, 200, { paused: true }, 0);
    }
    if (path === '/sim/resume' && post) {
      ctx.resume();
      return send(res, 200, { paused: false }, 0);
    }
    if (path === '/sim/faults' && !post) return send(res, 200, ctx.faultProfiles(), 0);
    if (path === '/sim/faults' && post) {
      const name = q.get('profile');
      if (!name) return send(res, 400, { error: 'profile query parameter required' }, 0);
      let f: unknown;
      try {
        f = JSON.parse(await readBody(req));
      } catch {
        return send(res, 400, { error: 'body must be a JSON fault profile' }, 0);
      }
      if (typeof f !== 'object' || f === null || Array.isArray(f))
        return send(res, 400, { error: 'body must be a JSON fault profile' }, 0);
      ctx.setFaults(name, f as FaultProfile);
      return send(res, 200, { profile: name, faults: f }, 0);
    }
    send(res, 404, { error: `no such endpoint ${req.method ?? ''} ${path}` }, 0);
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    ctx.counters.restRequests++;
    try {
      const url = new URL(req.url ?? '/', 'http://sim');
      const { profile, path } = splitProfile(url.pathname);
      const q = url.searchParams;
      switch (path) {
        case '/api/v3/depth':
          return depth(res, q, profile);
        case '/api/v3/exchangeInfo':
          return info(res, q);
        case '/api/v3/ping':
          return send(res, 200, {}, 1);
        case '/api/v3/time':
          return send(res, 200, { serverTime: Date.now() }, 1);
        case '/fapi/v1/exchangeInfo':
        case '/dapi/v1/exchangeInfo':
          return send(res, 200, emptyDerivativesInfo(), 1);
      }
      if (path.startsWith('/sim/')) {
        simEndpoint(req, res, path, q).catch((e: unknown) => {
          ctx.logger.warn({ err: e }, 'sim endpoint failed');
          if (!res.headersSent) send(res, 500, ERR_UNKNOWN, 0);
        });
        return;
      }
      send(res, 404, { code: -1000, msg: `Unknown path ${path}` }, 1);
    } catch (e) {
      ctx.logger.warn({ err: e, url: req.url }, 'REST request failed');
      if (!res.headersSent) send(res, 500, ERR_UNKNOWN, 0);
    }
  };

  return {
    handle,
    close: () => {
      for (const t of delayed) clearTimeout(t);
      delayed.clear();
    },
  };
}
