/**
 * ExchangeSimulator: local exchanges on one port. One engine (seeded order flow or capture replay, a truth
 * book per (venue, symbol), fan-out, per-connection faults) and one protocol module per venue
 * (protocols/<venue>.ts) speaking that venue's websocket and REST formats. Paths and rules: index.ts.
 */
import { nowMicros } from '../core/clock.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import type { Level } from '../core/types.js';
import { createLogger, type Logger } from '../log.js';
import { CaptureError, CaptureFeed, loadCapture } from './capture.js';
import { FaultyOutput, type FaultCounters, type FaultProfile } from './faults.js';
import type { BookEvent } from './feed.js';
import { hash32, mulberry32, type Rng } from './prng.js';
import { isVenueId, SIM_VENUES, type OkxSimOptions, type VenueId } from './protocols/types.js';
import { HttpTools, readBody, splitProfile, type RestCounters } from './rest.js';
import { peerIp, type IpUsage, type LimitCounters, type SimLimitOptions } from './limits.js';
import { Session } from './session.js';
import { SyntheticFeed } from './synthetic.js';
import { simSymbol, unservable } from './symbols.js';
import { Venue, type VenueCounters } from './venue.js';

/** The profile of a connection whose named profile does not exist (shared: no allocation per message). */
const NO_FAULTS: FaultProfile = Object.freeze({});

export interface SimOptions {
  /** Bind address, default 127.0.0.1. */
  host?: string;
  /** 0 (default) = ephemeral. One port serves HTTP REST and websockets. */
  port?: number;
  /**
   * Books to simulate, each in any venue's spelling or the unified one (BTCUSDT, BTC-USDT-SWAP, BTC/USDT:USDT;
   * any case). Each venue serves those it has a market for (symbols.ts): BTCUSDT is BTC-USDT on OKX, a
   * perpetual is not served by a spot venue. A symbol no venue can serve is refused (SymbolError).
   */
  symbols: string[];
  /** Venues to serve, default ['binance']. The first path segment /<venue> selects one (index.ts). */
  venues?: VenueId[];
  /** PRNG seed for the order flow and fault dice, default 42. */
  seed?: number;
  /** Book events per second per symbol and venue, default 10 (Binance's @100ms). */
  eventsPerSec?: number;
  /** Initial depth per side, default 1000 (kept within +-5%). */
  levels?: number;
  /** NDJSON capture of the first venue's messages to replay (capture.ts); its book replaces a synthetic one. */
  capture?: string;
  /** Named fault profiles; 'default' applies to connections that name none. */
  faults?: Record<string, FaultProfile>;
  /** OKX: legacy checksum, keep-alive period. */
  okx?: OkxSimOptions;
  logger?: Logger;
  /** Websocket ping period for every venue that pings (Binance), default the venue's (spot 20 s, USD-M 3 min). */
  pingIntervalMs?: number;
  /** Close a connection that has not answered a ping for this long, default the venue's (spot 60 s, USD-M 10 min). */
  pongTimeoutMs?: number;
  /** Close a connection whose unsent data exceeds this (a client that cannot keep up), default 64 MiB. */
  maxBufferedBytes?: number;
  /**
   * The venues' own limits per client IP (limits.ts: Binance's request weight, 429/418, streams per
   * connection, connection and message rates). Default on, as the venue does; { enabled: false } for none.
   */
  limits?: SimLimitOptions;
  /** Benchmarks: remember when each event was handed to the sockets (GET /sim/send-times?symbol=X). */
  recordSendTimes?: boolean;
}

export interface SimStats extends FaultCounters, RestCounters, VenueCounters, LimitCounters {
  /** Websocket connections open now. */
  connections: number;
  connectionsTotal: number;
  paused: boolean;
  /** Capture lines that were not a usable event, events before the snapshot, non-chaining events. */
  captureIgnored: number;
  captureStale: number;
  captureGaps: number;
  /** POST /sim/reset calls served. */
  resets: number;
}

export interface TruthBookView {
  /** The venue's last id: Binance lastUpdateId (u), OKX seqId, Bybit u. */
  lastUpdateId: number;
  bids: Level[];
  asks: Level[];
}

type Counters = Omit<SimStats, 'connections' | 'paused'>;

const ERR_SYMBOL = { code: -1121, msg: 'Invalid symbol.' };

export class ExchangeSimulator {
  private readonly logger: Logger;
  private readonly rate: number;
  private readonly seed: number;
  private readonly venueMap = new Map<VenueId, Venue>();
  private readonly venueList: Venue[] = [];
  /** Unprefixed paths: binance when served, else the first venue. */
  private readonly defaultVenue: Venue;
  private readonly faults: Record<string, FaultProfile>;
  private readonly rng: Rng;
  private readonly counters: Counters;
  private readonly http: HttpTools;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private boundPort = 0;
  private running = false;
  private paused = false;
  private genTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private produced = 0;
  private nextSessionId = 1;
  private captureDone = false;

  constructor(private readonly opts: SimOptions) {
    this.logger = opts.logger ?? createLogger('sim');
    this.rate = opts.eventsPerSec ?? 10;
    if (!(this.rate > 0)) throw new Error(`eventsPerSec must be > 0 (got ${this.rate})`);
    this.seed = opts.seed ?? 42;
    this.rng = mulberry32(this.seed ^ 0x5eed);
    this.faults = { ...(opts.faults ?? {}) };
    this.counters = {
      connectionsTotal: 0,
      eventsGenerated: 0,
      pongTimeouts: 0,
      messagesSent: 0,
      dropped: 0,
      duplicated: 0,
      malformed: 0,
      corrupted: 0,
      reordered: 0,
      regrouped: 0,
      keepAlives: 0,
      resets: 0,
      stalls: 0,
      disconnects: 0,
      slowConsumerDisconnects: 0,
      restRequests: 0,
      snapshotsServed: 0,
      snapshotErrors: 0,
      captureIgnored: 0,
      captureStale: 0,
      captureGaps: 0,
      rest429: 0,
      rest418: 0,
      wsRefusedStreams: 0,
      wsRefusedConnections: 0,
      wsMessageRateDisconnects: 0,
      wsStreamLimitDisconnects: 0,
      wsSubscribeRateDisconnects: 0,
      wsRefusedSubscribes: 0,
    };
    this.http = new HttpTools(this.counters, this.rng, (name) => this.profile(name), this.logger);
    const ids = opts.venues && opts.venues.length > 0 ? opts.venues : ['binance'];
    const levels = Math.max(1, Math.floor(opts.levels ?? 1000));
    for (const id of ids) {
      if (!isVenueId(id)) throw new Error(`unknown venue "${String(id)}" (known: ${SIM_VENUES.join(', ')})`);
      if (this.venueMap.has(id)) continue;
      const venue = new Venue(
        id,
        opts.okx ?? {},
        this.http,
        {
          counters: this.counters,
          profile: (name) => this.profile(name),
          onEvent: opts.recordSendTimes ? (v, ev) => this.recordSend(v, ev) : undefined,
          limitCounters: this.counters,
          limits: opts.limits,
        },
        this.seed,
      );
      this.venueMap.set(id, venue);
      this.venueList.push(venue);
      for (const raw of opts.symbols) {
        const symbol = simSymbol(venue.protocol, raw);
        if (symbol === undefined || venue.feed(symbol)) continue;
        // binance keeps the seed derivation it always had: the same seed gives the same flow as before venues
        const rng = mulberry32(this.seed ^ hash32(id === 'binance' ? symbol : `${id}:${symbol}`));
        venue.addFeed(new SyntheticFeed(symbol, rng, levels, venue.idSpace, venue.protocol.depths));
      }
    }
    this.defaultVenue = this.venueMap.get('binance') ?? this.venueList[0];
    for (const raw of opts.symbols) if (!this.venueList.some((v) => v.resolveName(raw))) throw unservable(raw, ids);
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('simulator already started');
    if (this.opts.capture) await this.loadCapture(this.opts.capture);
    if (this.venueList.every((v) => v.feeds().length === 0)) throw new Error('no symbols to simulate');
    // 64 KiB of request line: a /stream?streams= URL naming 1,024 streams is ~20 KB, past Node's 16 KiB
    // default, and the stream limit (not the HTTP parser) is what must refuse it
    const server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => this.onHttp(req, res));
    this.server = server;
    // requests are small JSON objects; refuse anything huge instead of buffering it
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1 << 20 });
    server.on('upgrade', (req, socket: Duplex, head) => this.onUpgrade(req.url ?? '/', req, socket, head));
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
    this.running = true;
    this.t0 = performance.now();
    this.produced = 0;
    this.scheduleTick();
    for (const v of this.venueList) v.start(this.opts.pingIntervalMs, this.opts.pongTimeoutMs);
  }

  /** Replace (or add) a book of the first venue by a capture's replay (capture.ts). */
  private async loadCapture(path: string): Promise<void> {
    const venue = this.venueList[0];
    const data = await loadCapture(path, venue.id);
    const symbol = venue.protocol.canonicalSymbol(data.symbol);
    if (symbol === undefined || venue.protocol.venueSymbol(symbol) !== data.symbol)
      throw new CaptureError(`capture: the simulator's ${venue.id} cannot serve the book ${data.symbol}`);
    this.counters.captureIgnored = data.ignored;
    this.counters.captureStale = data.stale;
    this.counters.captureGaps = data.gaps;
    if (data.gaps > 0) this.logger.warn({ gaps: data.gaps }, 'capture has sequence gaps: clients will see them too');
    const depth = venue.protocol.captureDepth?.(data.snapshotFrame);
    venue.addFeed(new CaptureFeed(data, symbol, venue.protocol.depths, depth));
    this.logger.info(
      { venue: venue.id, symbol: data.symbol, events: data.events.length, ignored: data.ignored },
      'capture loaded',
    );
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  /** Websocket base of the unprefixed paths (the default venue: binance when served). */
  get wsBase(): string {
    return `ws://${this.host}:${this.boundPort}`;
  }

  get restBase(): string {
    return `http://${this.host}:${this.boundPort}`;
  }

  /** Venues served, in the order given. */
  get venues(): VenueId[] {
    return this.venueList.map((v) => v.id);
  }

  /** Websocket base of one venue: ws://host:port/<venue>. */
  venueWsBase(venue: VenueId): string {
    return `${this.wsBase}/${venue}`;
  }

  venueRestBase(venue: VenueId): string {
    return `${this.restBase}/${venue}`;
  }

  /** Symbols served by the default venue, canonical spelling (upper case). */
  get symbols(): string[] {
    return this.defaultVenue.feeds().map((f) => f.symbol);
  }

  /** Symbols served by one venue, canonical spelling. */
  symbolsOf(venue: VenueId): string[] {
    return this.venue(venue)
      .feeds()
      .map((f) => f.symbol);
  }

  /** Books served by one venue, in the venue's spelling (BTC-USDT-SWAP on OKX). */
  booksOf(venue: VenueId): string[] {
    const v = this.venue(venue);
    return v.feeds().map((f) => v.protocol.venueSymbol(f.symbol));
  }

  private venue(id: string | undefined): Venue {
    if (id === undefined) return this.defaultVenue;
    const v = isVenueId(id) ? this.venueMap.get(id) : undefined;
    if (!v) throw new Error(`venue ${id} is not served (venues: ${this.venues.join(', ')})`);
    return v;
  }

  /**
   * The true book (best first), as numbers; depth levels per side (default: all). lastUpdateId is the venue's
   * last id; where each depth is its own stream with its own ids (Bybit), that of the `stream`-level one
   * (default: the depth collectors use, orderbook.50).
   */
  truth(symbol: string, depth: number = Infinity, venue?: VenueId, stream?: number): TruthBookView {
    const v = this.venue(venue);
    const feed = v.resolve(symbol);
    if (!feed) throw new Error(`unknown symbol ${symbol}`);
    const n = Number.isFinite(depth) && depth >= 0 ? depth : Infinity;
    const lastUpdateId = v.protocol.lastId?.(feed, stream) ?? feed.book.lastUpdateId;
    return { lastUpdateId, bids: feed.book.bids.top(n), asks: feed.book.asks.top(n) };
  }

  /** The venue's book reset (OKX maintenance reset, Bybit service restart): what was sent. */
  reset(venue: VenueId, symbol: string): Record<string, unknown> {
    const v = this.venue(venue);
    const feed = v.resolve(symbol);
    if (!feed) throw new Error(`unknown symbol ${symbol}`);
    if (!v.protocol.reset) throw new Error(`venue ${venue} has no reset`);
    this.counters.resets++;
    return v.protocol.reset(feed.symbol);
  }

  /** Stop generating events: the truth freezes (connections stay open; delayed messages still drain). */
  pause(): void {
    this.paused = true;
    if (this.genTimer) clearTimeout(this.genTimer);
    this.genTimer = undefined;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.t0 = performance.now();
    this.produced = 0;
    if (this.running) this.scheduleTick();
  }

  /** Create or replace a fault profile; open connections using it pick it up at once. */
  setFaults(profile: string, f: FaultProfile): void {
    this.faults[profile] = { ...f };
    for (const v of this.venueList) for (const s of v.sockets.keys()) if (s.profileName === profile) s.out.refresh();
  }

  stats(): SimStats {
    let connections = 0;
    for (const v of this.venueList) connections += v.sockets.size;
    return { ...this.counters, connections, paused: this.paused };
  }

  /** Per venue with limits, per client IP: REST requests and weight, 429s, 418s, connections refused. */
  limitStats(): Partial<Record<VenueId, Record<string, IpUsage>>> {
    const out: Partial<Record<VenueId, Record<string, IpUsage>>> = {};
    for (const v of this.venueList) if (v.limits) out[v.id] = v.limits.usage();
    return out;
  }

  /** Log stats every `seconds` until stop (for the CLI). */
  logStatsEvery(seconds: number): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    let last = this.stats();
    let lastT = performance.now();
    this.statsTimer = setInterval(() => {
      const now = this.stats();
      const t = performance.now();
      const dt = (t - lastT) / 1000;
      this.logger.info(
        {
          ...now,
          eventsPerSec: Math.round((now.eventsGenerated - last.eventsGenerated) / dt),
          messagesPerSec: Math.round((now.messagesSent - last.messagesSent) / dt),
        },
        'sim stats',
      );
      last = now;
      lastT = t;
    }, seconds * 1000);
    this.statsTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.pause();
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const v of this.venueList) v.stop();
    this.http.close();
    const server = this.server;
    if (!server) return;
    this.wss?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private profile(name: string | undefined): FaultProfile {
    return this.faults[name ?? 'default'] ?? NO_FAULTS;
  }

  private scheduleTick(): void {
    if (this.genTimer || !this.running || this.paused) return;
    const tickMs = Math.min(100, Math.max(1, Math.floor(1000 / this.rate)));
    this.genTimer = setTimeout(this.tick, tickMs);
  }

  /** Generate every event due since the last tick (batches keep high rates cheap on timers). */
  private readonly tick = (): void => {
    this.genTimer = undefined;
    if (!this.running || this.paused) return;
    const target = Math.floor(((performance.now() - this.t0) * this.rate) / 1000);
    let due = target - this.produced;
    // never burst more than 100 ms worth: if we fell behind (GC, a busy host), the rate just dips
    const maxBurst = Math.max(1, Math.ceil(this.rate / 10));
    if (due > maxBurst) {
      this.produced = target - maxBurst;
      due = maxBurst;
    }
    const E = Date.now();
    const batch = due > 1;
    if (batch) for (const v of this.venueList) for (const s of v.sockets.keys()) s.out.cork();
    for (let i = 0; i < due; i++) {
      for (const v of this.venueList) {
        const feeds = v.feeds();
        for (let j = 0; j < feeds.length; j++) {
          if (v.emit(feeds[j], E) === undefined && !this.captureDone) {
            this.captureDone = true;
            this.logger.info({ symbol: feeds[j].symbol }, 'capture replay finished');
          }
        }
      }
    }
    if (batch) for (const v of this.venueList) for (const s of v.sockets.keys()) s.out.uncork();
    this.produced += due;
    this.scheduleTick();
  };

  /**
   * Per venue and symbol: the event's last update id, its send time (epoch µs) and its event time E (ms),
   * when recordSendTimes is on. E keys the send times of venues whose messages carry no update id (Kraken's
   * timestamp is E: bench/replica-latency.ts).
   */
  private readonly sent = new Map<string, { u: number[]; t: number[]; e: number[] }>();

  private recordSend(venue: VenueId, ev: BookEvent): void {
    const key = `${venue}:${ev.symbol}`;
    let rec = this.sent.get(key);
    if (!rec) this.sent.set(key, (rec = { u: [], t: [], e: [] }));
    rec.u.push(ev.last); // Bybit: the book's own count, not a depth's u (benchmarks run on Binance)
    rec.t.push(nowMicros());
    rec.e.push(ev.E);
  }

  sendTimes(symbol: string, venue?: VenueId): { u: number[]; t: number[]; e: number[] } {
    const v = this.venue(venue);
    const c = v.protocol.canonicalSymbol(symbol) ?? symbol;
    return this.sent.get(`${v.id}:${c}`) ?? { u: [], t: [], e: [] };
  }

  /**
   * Route a path: an optional first segment /<venue-id> (else the default venue), then an optional
   * /p/<profile>, then the venue's own path. undefined: a venue id that is not served.
   */
  private route(pathname: string): { venue: Venue; profile: string | undefined; path: string } | undefined {
    let venue = this.defaultVenue;
    let rest = pathname;
    const m = /^\/([a-z0-9-]+)(\/.*)?$/.exec(pathname);
    if (m !== null && isVenueId(m[1])) {
      const v = this.venueMap.get(m[1]);
      if (!v) return undefined;
      venue = v;
      rest = m[2] ?? '/';
    }
    const { profile, path } = splitProfile(rest);
    return { venue, profile, path };
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    this.counters.restRequests++;
    try {
      const url = new URL(req.url ?? '/', 'http://sim');
      const r = this.route(url.pathname);
      if (r === undefined) return this.http.send(res, 404, { error: `venue not served: ${url.pathname}` });
      if (r.path.startsWith('/sim/')) {
        this.simEndpoint(req, res, r.venue, r.path, url.searchParams).catch((e: unknown) => {
          this.logger.warn({ err: e }, 'sim endpoint failed');
          if (!res.headersSent) this.http.send(res, 500, { error: String(e) });
        });
        return;
      }
      const ip = peerIp(req.socket.remoteAddress);
      r.venue.protocol.http({ req, res, path: r.path, query: url.searchParams, profile: r.profile, ip });
    } catch (e) {
      this.logger.warn({ err: e, url: req.url }, 'REST request failed');
      if (!res.headersSent) this.http.send(res, 500, { error: 'internal error' });
    }
  }

  /** Test-only endpoints; ?venue= (or the /<venue> prefix) picks the venue, default the default venue. */
  private async simEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    prefixVenue: Venue,
    path: string,
    q: URLSearchParams,
  ): Promise<void> {
    const send = (status: number, body: unknown) => this.http.send(res, status, body);
    const post = req.method === 'POST';
    const vq = q.get('venue');
    const venue = vq === null ? prefixVenue : isVenueId(vq) ? this.venueMap.get(vq) : undefined;
    if (venue === undefined) return send(400, { error: `venue not served: ${vq} (venues: ${this.venues.join(', ')})` });
    if (path === '/sim/truth') {
      const feed = venue.resolve(q.get('symbol') ?? '');
      if (!feed) return send(400, ERR_SYMBOL);
      const depthParam = q.get('depth');
      const stream = q.get('stream');
      try {
        const depth = depthParam === null ? undefined : Number(depthParam);
        return send(200, this.truth(feed.symbol, depth, venue.id, stream === null ? undefined : Number(stream)));
      } catch (e) {
        return send(400, { error: (e as Error).message });
      }
    }
    if (path === '/sim/reset' && post) {
      const feed = venue.resolve(q.get('symbol') ?? '');
      if (!feed) return send(400, ERR_SYMBOL);
      if (!venue.protocol.reset) return send(400, { error: `venue ${venue.id} has no reset` });
      return send(200, this.reset(venue.id, feed.symbol));
    }
    if (path === '/sim/stats') return send(200, this.stats());
    if (path === '/sim/limits') return send(200, this.limitStats());
    if (path === '/sim/send-times') return send(200, this.sendTimes(q.get('symbol') ?? '', venue.id));
    if (path === '/sim/pause' && post) {
      this.pause();
      return send(200, { paused: true });
    }
    if (path === '/sim/resume' && post) {
      this.resume();
      return send(200, { paused: false });
    }
    if (path === '/sim/faults' && !post) return send(200, { ...this.faults });
    if (path === '/sim/faults' && post) {
      const name = q.get('profile');
      if (!name) return send(400, { error: 'profile query parameter required' });
      let f: unknown;
      try {
        f = JSON.parse(await readBody(req));
      } catch {
        return send(400, { error: 'body must be a JSON fault profile' });
      }
      if (typeof f !== 'object' || f === null || Array.isArray(f))
        return send(400, { error: 'body must be a JSON fault profile' });
      this.setFaults(name, f as FaultProfile);
      return send(200, { profile: name, faults: f });
    }
    send(404, { error: `no such endpoint ${req.method ?? ''} ${path}` });
  }

  private onUpgrade(rawUrl: string, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(rawUrl, 'http://sim');
    } catch {
      socket.destroy();
      return;
    }
    const r = this.route(url.pathname);
    const accepted = r === undefined ? undefined : r.venue.protocol.upgrade(r.path, url.searchParams);
    if (r === undefined || accepted === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const ip = peerIp(req.socket.remoteAddress);
    const lim = r.venue.limits;
    const v = lim?.upgrade(ip, r.venue.protocol.routeStreams?.(accepted) ?? 0);
    if (v !== undefined && !v.ok) {
      // refused before the handshake, saying why (the client sees an unexpected-response status)
      const body = JSON.stringify({ code: -1003, msg: v.reason });
      const retry = v.retryAfterS === undefined ? '' : `Retry-After: ${v.retryAfterS}\r\n`;
      const status = v.status === 429 ? '429 Too Many Requests' : '400 Bad Request';
      socket.end(
        `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\n${retry}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.wss!.handleUpgrade(req, socket, head, (ws) =>
      this.onConnection(ws, r.venue, r.profile ?? 'default', accepted, ip),
    );
  }

  private onConnection(ws: WebSocket, venue: Venue, profileName: string, route: object, ip: string): void {
    if (!this.running) {
      ws.terminate();
      return;
    }
    const id = this.nextSessionId++;
    const out = new FaultyOutput(
      ws,
      () => this.profile(profileName),
      mulberry32(this.seed ^ hash32(`conn${id}`)),
      this.counters,
      this.opts.maxBufferedBytes ?? 64 * 1024 * 1024,
    );
    const session = new Session(
      id,
      profileName,
      out,
      venue.protocol,
      venue,
      mulberry32(this.seed ^ hash32(`regroup${id}`)),
    );
    session.ip = ip;
    session.subscribes = venue.limits?.subscribeMeter();
    session.kick = (code, reason) => {
      session.detach();
      ws.close(code, reason);
    };
    venue.sockets.set(session, ws);
    this.counters.connectionsTotal++;
    venue.protocol.open(session, route);
    // Binance counts a text message, a ping and a pong alike; past the rate, the connection goes
    const meter = venue.limits?.messageMeter();
    const overRate = (): boolean => {
      if (meter === undefined || meter.hit() || ws.readyState !== WebSocket.OPEN) return false;
      venue.limits!.messageRateDisconnect(ip);
      session.kick(1008, 'Too many requests');
      return true;
    };
    ws.on('ping', overRate);
    ws.on('message', (data, isBinary) => {
      if (overRate() || isBinary || ws.readyState !== WebSocket.OPEN) return;
      venue.protocol.message(
        session,
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'),
      );
    });
    ws.on('pong', () => {
      if (overRate()) return;
      session.lastPongMs = Date.now();
    });
    ws.on('close', () => {
      session.detach();
      venue.sockets.delete(session);
    });
    ws.on('error', (e) => this.logger.debug({ err: e, conn: id }, 'websocket error'));
    this.logger.debug({ conn: id, venue: venue.id, profile: profileName }, 'websocket connected');
  }
}

/** The simulator's name from when it spoke Binance spot only. */
export const BinanceSimulator = ExchangeSimulator;
export type BinanceSimulator = ExchangeSimulator;
