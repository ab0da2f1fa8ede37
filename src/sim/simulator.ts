/**
 * BinanceSimulator: a local exchange that speaks Binance spot's wire protocol (REST market data and
 * diff-depth websocket streams) on one port, driven by a seeded order-flow model or a capture replay,
 * with per-connection fault injection. See docs in index.ts.
 */
import { nowMicros } from '../core/clock.js';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import type { Level } from '../core/types.js';
import { createLogger, type Logger } from '../log.js';
import { CaptureFeed, loadCapture } from './capture.js';
import { FaultyOutput, type FaultCounters, type FaultProfile } from './faults.js';
import type { DepthEvent, Feed } from './feed.js';
import { hash32, mulberry32, type Rng } from './prng.js';
import { createRestHandler, splitProfile, type RestCounters, type RestHandler } from './rest.js';
import { SyntheticFeed } from './synthetic.js';
import { WsSession, type StreamIndex } from './wsSession.js';

/** The profile of a connection whose named profile does not exist (shared: no allocation per message). */
const NO_FAULTS: FaultProfile = Object.freeze({});

export interface SimOptions {
  /** Bind address, default 127.0.0.1. */
  host?: string;
  /** 0 (default) = ephemeral. One port serves HTTP REST and websockets. */
  port?: number;
  /** Symbols to simulate (upper or lower case). */
  symbols: string[];
  /** PRNG seed for the order flow and fault dice, default 42. */
  seed?: number;
  /** depthUpdate events per second per symbol, default 10 (Binance's @100ms). */
  eventsPerSec?: number;
  /** Initial depth per side, default 1000 (kept within +-5%). */
  levels?: number;
  /** NDJSON capture file to replay (see capture.ts); its symbol replaces a synthetic one. */
  capture?: string;
  /** Named fault profiles; 'default' applies to connections that name none. */
  faults?: Record<string, FaultProfile>;
  logger?: Logger;
  /** Websocket ping period, default 20000 ms (Binance). */
  pingIntervalMs?: number;
  /** Close a connection that has not answered a ping for this long, default 60000 ms (Binance). */
  pongTimeoutMs?: number;
  /** Close a connection whose unsent data exceeds this (a client that cannot keep up), default 64 MiB. */
  maxBufferedBytes?: number;
  /** Benchmarks: remember when each event was handed to the sockets (GET /sim/send-times?symbol=X). */
  recordSendTimes?: boolean;
}

export interface SimStats extends FaultCounters, RestCounters {
  /** Websocket connections open now. */
  connections: number;
  connectionsTotal: number;
  eventsGenerated: number;
  pongTimeouts: number;
  paused: boolean;
  /** Capture lines that were not a usable event, events before the snapshot, non-chaining events. */
  captureIgnored: number;
  captureStale: number;
  captureGaps: number;
}

export interface TruthBookView {
  lastUpdateId: number;
  bids: Level[];
  asks: Level[];
}

export class BinanceSimulator {
  private readonly logger: Logger;
  private readonly rate: number;
  private readonly seed: number;
  private readonly feeds = new Map<string, Feed>();
  private readonly feedList: Feed[] = [];
  private readonly subs = new Map<string, Set<WsSession>>();
  private readonly sockets = new Map<WsSession, WebSocket>();
  private readonly faults: Record<string, FaultProfile>;
  private readonly rng: Rng;
  private readonly counters: Omit<SimStats, 'connections' | 'paused'>;
  private readonly index: StreamIndex;
  private server: Server | undefined;
  private rest: RestHandler | undefined;
  private wss: WebSocketServer | undefined;
  private boundPort = 0;
  private running = false;
  private paused = false;
  private genTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
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
    const levels = Math.max(1, Math.floor(opts.levels ?? 1000));
    for (const raw of opts.symbols) {
      const symbol = raw.toUpperCase();
      if (this.feeds.has(symbol)) continue;
      this.addFeed(new SyntheticFeed(symbol, mulberry32(this.seed ^ hash32(symbol)), levels));
    }
    this.counters = {
      connectionsTotal: 0,
      eventsGenerated: 0,
      pongTimeouts: 0,
      messagesSent: 0,
      dropped: 0,
      duplicated: 0,
      malformed: 0,
      reordered: 0,
      stalls: 0,
      disconnects: 0,
      slowConsumerDisconnects: 0,
      restRequests: 0,
      snapshotsServed: 0,
      snapshotErrors: 0,
      captureIgnored: 0,
      captureStale: 0,
      captureGaps: 0,
    };
    this.index = {
      add: (symbol, s) => {
        let set = this.subs.get(symbol);
        if (!set) this.subs.set(symbol, (set = new Set()));
        set.add(s);
      },
      remove: (symbol, s) => this.subs.get(symbol)?.delete(s),
    };
  }

  private addFeed(feed: Feed): void {
    const i = this.feedList.findIndex((f) => f.symbol === feed.symbol);
    if (i >= 0) this.feedList[i] = feed;
    else this.feedList.push(feed);
    this.feeds.set(feed.symbol, feed);
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('simulator already started');
    if (this.opts.capture) {
      const data = await loadCapture(this.opts.capture);
      this.counters.captureIgnored = data.ignored;
      this.counters.captureStale = data.stale;
      this.counters.captureGaps = data.gaps;
      if (data.gaps > 0) this.logger.warn({ gaps: data.gaps }, 'capture has sequence gaps: clients will see them too');
      this.addFeed(new CaptureFeed(data));
      this.logger.info({ symbol: data.symbol, events: data.events.length, ignored: data.ignored }, 'capture loaded');
    }
    if (this.feedList.length === 0) throw new Error('no symbols to simulate');
    const rest = createRestHandler({
      feeds: this.feeds,
      profile: (name) => this.profile(name),
      counters: this.counters,
      rng: this.rng,
      logger: this.logger,
      truth: (s, d) => this.truth(s, d),
      stats: () => this.stats(),
      pause: () => this.pause(),
      resume: () => this.resume(),
      setFaults: (p, f) => this.setFaults(p, f),
      faultProfiles: () => ({ ...this.faults }),
      sendTimes: (sym) => this.sendTimes(sym),
    });
    this.rest = rest;
    const server = createServer(rest.handle);
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
    const pingMs = this.opts.pingIntervalMs ?? 20_000;
    this.pingTimer = setInterval(() => this.pingAll(), pingMs);
    this.pingTimer.unref();
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get wsBase(): string {
    return `ws://${this.host}:${this.boundPort}`;
  }

  get restBase(): string {
    return `http://${this.host}:${this.boundPort}`;
  }

  /** Symbols served, upper case. */
  get symbols(): string[] {
    return this.feedList.map((f) => f.symbol);
  }

  /** The true book (best first), as numbers; depth levels per side (default: all). */
  truth(symbol: string, depth: number = Infinity): TruthBookView {
    const feed = this.feeds.get(symbol.toUpperCase());
    if (!feed) throw new Error(`unknown symbol ${symbol}`);
    const n = Number.isFinite(depth) && depth >= 0 ? depth : Infinity;
    return { lastUpdateId: feed.book.lastUpdateId, bids: feed.book.bids.top(n), asks: feed.book.asks.top(n) };
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
    for (const s of this.sockets.keys()) if (s.profileName === profile) s.out.refresh();
  }

  stats(): SimStats {
    return { ...this.counters, connections: this.sockets.size, paused: this.paused };
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
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const [s, ws] of this.sockets) {
      s.detach();
      ws.terminate();
    }
    this.sockets.clear();
    this.subs.clear();
    this.rest?.close();
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
    if (batch) for (const session of this.sockets.keys()) session.out.cork();
    for (let i = 0; i < due; i++) {
      for (let j = 0; j < this.feedList.length; j++) {
        const ev = this.feedList[j].next(E);
        if (ev) this.publish(ev);
        else if (!this.captureDone) {
          this.captureDone = true;
          this.logger.info({ symbol: this.feedList[j].symbol }, 'capture replay finished');
        }
      }
    }
    if (batch) for (const session of this.sockets.keys()) session.out.uncork();
    this.produced += due;
    this.scheduleTick();
  };

  /** Per symbol: the event's last update id and its send time (epoch µs), when recordSendTimes is on. */
  private readonly sent = new Map<string, { u: number[]; t: number[] }>();

  sendTimes(symbol: string): { u: number[]; t: number[] } {
    return this.sent.get(symbol) ?? { u: [], t: [] };
  }

  private publish(ev: DepthEvent): void {
    this.counters.eventsGenerated++;
    if (this.opts.recordSendTimes) {
      let rec = this.sent.get(ev.symbol);
      if (!rec) this.sent.set(ev.symbol, (rec = { u: [], t: [] }));
      rec.u.push(ev.last);
      rec.t.push(nowMicros());
    }
    const set = this.subs.get(ev.symbol);
    if (set === undefined) return;
    for (const s of set) {
      const names = s.bySymbol.get(ev.symbol);
      if (names === undefined) continue;
      for (let i = 0; i < names.length; i++) s.out.send(ev.payload(s.combined, names[i]));
    }
  }

  private onUpgrade(rawUrl: string, req: import('node:http').IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(rawUrl, 'http://sim');
    } catch {
      socket.destroy();
      return;
    }
    const { profile, path } = splitProfile(url.pathname);
    let combined: boolean;
    let streams: string[];
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    if (path === '/ws' || path.startsWith('/ws/')) {
      combined = false;
      streams = path.slice(4).split('/').filter(Boolean).map(decode);
    } else if (path === '/stream' || path === '/stream/') {
      combined = true;
      streams = (url.searchParams.get('streams') ?? '').split('/').filter(Boolean);
    } else {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss!.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, profile ?? 'default', combined, streams));
  }

  private onConnection(ws: WebSocket, profileName: string, combined: boolean, streams: string[]): void {
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
    const session = new WsSession(id, profileName, combined, out, this.index);
    this.sockets.set(session, ws);
    this.counters.connectionsTotal++;
    session.subscribe(streams);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      session.onRequest(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'),
      );
    });
    ws.on('pong', () => {
      session.lastPongMs = Date.now();
    });
    ws.on('close', () => {
      session.detach();
      this.sockets.delete(session);
    });
    ws.on('error', (e) => this.logger.debug({ err: e, conn: id }, 'websocket error'));
    this.logger.debug({ conn: id, profile: profileName, combined, streams }, 'websocket connected');
  }

  /** Binance pings every 20 s and drops connections that have not ponged within a minute. */
  private pingAll(): void {
    const now = Date.now();
    const timeout = this.opts.pongTimeoutMs ?? 60_000;
    for (const [s, ws] of this.sockets) {
      if (now - s.lastPongMs > timeout) {
        this.counters.pongTimeouts++;
        s.detach();
        ws.terminate();
      } else if (!s.out.stalled && ws.readyState === WebSocket.OPEN) ws.ping();
    }
  }
}
