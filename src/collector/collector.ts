/**
 * Collector: holds a websocket to one venue for a set of symbols, normalizes every depth event through
 * the venue's adapter (src/venues/) and publishes it at once on raw.<venue>.<symbol> (no local buffering:
 * latency matters more than a local book here -- the arbiter owns sequencing). Snapshots are fetched only
 * when an arbiter asks (ctl.snapshot.*): by REST, rate-limited by request weight, where the venue
 * snapshots by REST (Binance); by resubscribing, throttled, where the venue sends snapshots on the
 * websocket (OKX, Bybit). A gap another feed fills costs neither. Snapshots a venue sends on its own
 * (on subscribe, after a reconnect) are published as they come; the arbiter uses them when it needs one.
 */
import { performance } from 'node:perf_hooks';
import { nowMicros } from '../core/clock.js';
import { coverStart } from '../core/sequence.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { BusPublisher, BusSubscriber, Transport } from '../transport/types.js';
import {
  decodeAny,
  encode,
  encodeCollectorEvent,
  topics,
  type CollectorStatus,
  type FeedStatus,
  type SnapshotRequest,
} from '../wire/messages.js';
import { DEFAULT_VENUE, venue as venueAdapter, type VenueAdapter } from '../venues/index.js';
import { VenueConnection } from './connection.js';
import { WeightLimiter, stableFraction } from './rateLimiter.js';

export interface CollectorOptions {
  id: string;
  /** Venue id (src/venues/index.ts), default binance. */
  venue?: string;
  /** Symbols in the venue's spelling or the unified one (BTC/USDT); published under the venue's spelling. */
  symbols: string[];
  wsUrl: string;
  restUrl: string;
  streamMode?: 'combined' | 'raw';
  speed?: '100ms' | '1000ms';
  snapshotLimit?: number;
  staleAfterMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  restWeightPerMinute?: number;
  /**
   * Where snapshots come from when an arbiter asks: the venue's own way by default (VenueAdapter.snapshotSource);
   * 'rest' where the venue offers a REST snapshot with a sequence id too (OKX books?source=0).
   */
  snapshotSource?: 'rest' | 'websocket';
  /** Books per connection, at most the venue's maxBooksPerConnection (default: the venue's). */
  maxBooksPerConnection?: number;
  /** Largest websocket frame accepted from the venue, bytes (default 16 MiB; a frame above it closes the connection). */
  maxFrameBytes?: number;
  /** Proactive reconnect period (make-before-break), staggered by collector id. 0 = never. */
  reconnectEveryS?: number;
  statusIntervalMs?: number;
  transport: Transport;
  logger?: Logger;
}

interface SymbolState {
  last: number;
  messages: number;
  gaps: number;
  snapshots: number;
}

const now = () => performance.now();

/** Minimum time between two websocket resubscriptions of one symbol (see resubscribe). */
const RESUBSCRIBE_MS = 2000;

/** Delay between opening two connections of one collector (venues cap connection attempts per second). */
const CONNECT_SPACING_MS = 400;

export class Collector {
  readonly id: string;
  private readonly opts: Required<Omit<CollectorOptions, 'logger' | 'transport'>>;
  private readonly log: Logger;
  private pub?: BusPublisher;
  private ctl?: BusSubscriber;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly symbols = new Map<string, SymbolState>();
  /** The venue connections, each carrying at most maxBooksPerConnection books. */
  private readonly connections: VenueConnection[] = [];
  /** Which connection carries a symbol. */
  private readonly connectionOf = new Map<string, VenueConnection>();
  private readonly limiter: WeightLimiter;
  private readonly inflight = new Set<string>();
  /** When each symbol's last websocket resync was asked for (performance.now ms). */
  private readonly resyncAt = new Map<string, number>();
  readonly venue: VenueAdapter;
  readonly counters = {
    messages: 0,
    published: 0,
    parseErrors: 0,
    ignored: 0,
    snapshotErrors: 0,
    snapshotsPublished: 0,
  };

  constructor(o: CollectorOptions) {
    this.id = o.id;
    this.venue = venueAdapter(o.venue ?? DEFAULT_VENUE);
    this.log = (o.logger ?? silentLogger).child({ collector: o.id });
    this.opts = {
      venue: this.venue.id,
      streamMode: 'combined',
      speed: '100ms',
      snapshotLimit: 1000,
      staleAfterMs: 10_000,
      reconnectMinMs: 250,
      reconnectMaxMs: 30_000,
      restWeightPerMinute: 1200,
      reconnectEveryS: 0,
      statusIntervalMs: 1000,
      maxBooksPerConnection: Infinity,
      maxFrameBytes: 16 * 1024 * 1024,
      ...stripUndefined(o),
    } as Required<Omit<CollectorOptions, 'logger' | 'transport'>>;
    this.transport = o.transport;
    for (const s of o.symbols) {
      const sym = this.venue.venueSymbol(s);
      if (sym === undefined) throw new RangeError(`symbol "${s}" is not a ${this.venue.name} symbol`);
      this.symbols.set(sym, { last: 0, messages: 0, gaps: 0, snapshots: 0 });
    }
    const perConnection = Math.max(1, Math.min(this.venue.maxBooksPerConnection, o.maxBooksPerConnection ?? Infinity));
    const all = [...this.symbols.keys()];
    for (let i = 0; i < all.length; i += perConnection) {
      const symbols = all.slice(i, i + perConnection);
      const c = new VenueConnection({
        venue: this.venue,
        symbols,
        wsBase: this.opts.wsUrl,
        stream: { mode: this.opts.streamMode, speed: this.opts.speed },
        reconnectMinMs: this.opts.reconnectMinMs,
        reconnectMaxMs: this.opts.reconnectMaxMs,
        maxPayload: this.opts.maxFrameBytes,
        log: this.log,
        onText: (text) => this.onMessage(text),
      });
      this.connections.push(c);
      for (const s of symbols) this.connectionOf.set(s, c);
    }
    this.limiter = new WeightLimiter(this.opts.restWeightPerMinute, now());
  }

  private readonly transport: Transport;

  async start(): Promise<void> {
    this.pub = await this.transport.publisher('ingest');
    this.ctl = await this.transport.subscriber('book', [`ctl.snapshot.${this.opts.venue}.`]);
    void this.ctlLoop(this.ctl);
    // Connections open a little apart: venues limit new connections per second (OKX: 3/s per IP).
    this.connections.forEach((c, i) =>
      i === 0 ? c.connect() : this.timers.push(setTimeout(() => c.connect(), i * CONNECT_SPACING_MS)),
    );
    void this.checkSymbols();
    this.timers.push(
      setInterval(
        () => this.connections.forEach((c) => c.checkStale(this.opts.staleAfterMs)),
        Math.min(1000, this.opts.staleAfterMs / 2),
      ),
    );
    this.timers.push(setInterval(() => this.publishStatus(), this.opts.statusIntervalMs));
    const ping = this.venue.ping;
    if (ping !== undefined)
      // the venue's application-level heartbeat (OKX closes a connection after 30 s without one)
      this.timers.push(setInterval(() => this.connections.forEach((c) => c.send([ping.text])), ping.intervalMs));
    if (this.opts.reconnectEveryS > 0) {
      // Stagger: collectors with different ids roll their connections at different moments, so a
      // venue's forced disconnect schedule (Binance: 24 h) never drops every feed at once.
      const period = this.opts.reconnectEveryS * 1000 * (0.75 + 0.25 * stableFraction(this.id));
      this.timers.push(setInterval(() => this.connections.forEach((c) => c.roll()), period));
    }
  }

  private onMessage(text: string): void {
    const recvTime = nowMicros();
    this.counters.messages++;
    const r = this.venue.parse(text, this.id, recvTime);
    if (r.delta) {
      const d = r.delta;
      const st = this.symbols.get(d.symbol);
      if (!st) {
        this.counters.ignored++;
        return;
      }
      st.messages++;
      if (st.last > 0 && coverStart(d) > st.last) st.gaps++;
      if (d.last > st.last) st.last = d.last;
      this.pub!.send(topics.raw(d.venue, d.symbol), encodeCollectorEvent(d));
      this.counters.published++;
    } else if (r.snapshot) {
      const sn = r.snapshot;
      const st = this.symbols.get(sn.symbol);
      // snapshots by REST only: the venue's websocket ones are not used (a venue reset's still is)
      if (!st || (this.opts.snapshotSource === 'rest' && sn.reset !== true)) {
        this.counters.ignored++;
        return;
      }
      st.snapshots++;
      st.last = sn.seq;
      this.pub!.send(topics.raw(sn.venue, sn.symbol), encodeCollectorEvent(sn));
      this.counters.snapshotsPublished++;
    } else if (r.error) {
      this.counters.parseErrors++;
      if (this.counters.parseErrors <= 10 || this.counters.parseErrors % 1000 === 0)
        this.log.warn(
          { error: r.error, sample: text.slice(0, 200), count: this.counters.parseErrors },
          'bad message from venue',
        );
    } else this.counters.ignored++;
  }

  /**
   * A symbol the venue does not list produces no data at all, which looks like a quiet market; ask the
   * venue once at start (exchangeInfo) and say so loudly. Best effort: a failure here only warns.
   */
  async checkSymbols(): Promise<string[]> {
    const unknown: string[] = [];
    const symbols = [...this.symbols.keys()];
    const urls = this.venue.symbolCheckUrls?.(this.opts.restUrl, symbols) ?? [];
    // a few calls for every symbol (issue 13: 2,000 calls of weight 20 would spend a minute's budget 7 times)
    const bodies: string[] = [];
    for (const url of urls) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        const body = await res.text();
        if (res.ok) bodies.push(body);
        else if (res.status !== 400 && res.status !== 404) {
          this.log.warn({ status: res.status, url }, 'could not check symbols (exchangeInfo)');
          return [];
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'could not check symbols (exchangeInfo)');
        return [];
      }
    }
    if (urls.length > 0)
      for (const symbol of symbols) {
        if (bodies.some((b) => b.includes(`"${symbol}"`))) continue;
        unknown.push(symbol);
        this.log.error(
          { symbol, venue: this.opts.venue, answer: bodies.join(' ').slice(0, 200) },
          `unknown symbol ${symbol}: the venue does not list it; no data will come for it`,
        );
      }
    this.unknownSymbols = unknown;
    return unknown;
  }

  unknownSymbols: string[] = [];

  private async ctlLoop(sub: BusSubscriber): Promise<void> {
    try {
      for await (const m of sub) {
        let req: SnapshotRequest;
        try {
          req = decodeAny(m.payload) as SnapshotRequest;
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'bad control message');
          continue;
        }
        if (req.type !== 'snapshot-request' || req.collector !== this.id) continue;
        if (!this.symbols.has(req.symbol)) continue;
        if ((this.opts.snapshotSource ?? this.venue.snapshotSource) === 'websocket')
          this.resubscribe(req.symbol, req.reason);
        else void this.fetchSnapshot(req.symbol, req.reason);
      }
    } catch (e) {
      if (!this.stopped) this.log.error({ err: (e as Error).message }, 'control loop failed');
    }
  }

  /**
   * Ask the venue for a fresh websocket snapshot of one book (unsubscribe + subscribe). At most one per
   * symbol every RESUBSCRIBE_MS: venues cap subscriptions per connection (OKX: 480 an hour), and the
   * arbiter retries a request that brought nothing.
   */
  resubscribe(symbol: string, reason = 'request'): void {
    const msgs = this.venue.resyncMessages?.(symbol);
    const c = this.connectionOf.get(symbol);
    if (msgs === undefined || c === undefined || !c.connected || this.stopped) return;
    const t = now();
    if (t - (this.resyncAt.get(symbol) ?? -Infinity) < RESUBSCRIBE_MS) return;
    this.resyncAt.set(symbol, t);
    c.send(msgs);
    this.log.info({ symbol, reason }, 'resubscribed for a fresh snapshot');
  }

  /** One REST snapshot, rate-limited; concurrent requests for one symbol share a fetch. */
  async fetchSnapshot(symbol: string, reason = 'request'): Promise<void> {
    const venue = this.venue;
    if (venue.snapshotRequest === undefined || venue.parseSnapshot === undefined) return;
    if (this.inflight.has(symbol) || this.stopped) return;
    this.inflight.add(symbol);
    try {
      const req = venue.snapshotRequest(this.opts.restUrl, symbol, this.opts.snapshotLimit);
      const weight = req.weight;
      let wait = this.limiter.delayFor(weight, now());
      while (wait > 0 && !this.stopped) {
        this.log.info({ symbol, waitMs: wait }, 'snapshot delayed by rate limit');
        await sleep(wait);
        wait = this.limiter.delayFor(weight, now());
      }
      if (this.stopped) return;
      this.limiter.take(weight, now());
      const res = await fetch(req.url, { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (!res.ok) {
        this.counters.snapshotErrors++;
        if (res.status === 429 || res.status === 418) {
          const retry = Number(res.headers.get('retry-after') ?? '60');
          this.limiter.block(now() + (Number.isFinite(retry) ? retry : 60) * 1000);
        }
        this.log.warn({ symbol, status: res.status, body: body.slice(0, 200), reason }, 'snapshot request failed');
        return;
      }
      const r = venue.parseSnapshot(body, symbol, this.id, nowMicros());
      if (!r.snapshot) {
        this.counters.snapshotErrors++;
        this.log.warn({ symbol, error: r.error }, 'bad snapshot from venue');
        return;
      }
      this.symbols.get(symbol)!.snapshots++;
      this.pub!.send(topics.raw(this.opts.venue, symbol), encodeCollectorEvent(r.snapshot));
      this.counters.snapshotsPublished++;
      this.log.info({ symbol, seq: r.snapshot.seq, reason }, 'snapshot published');
    } catch (e) {
      this.counters.snapshotErrors++;
      this.log.warn({ symbol, err: (e as Error).message }, 'snapshot fetch failed');
    } finally {
      this.inflight.delete(symbol);
    }
  }

  status(): CollectorStatus {
    const t = now();
    const feeds: FeedStatus[] = [];
    for (const [symbol, s] of this.symbols) {
      const c = this.connectionOf.get(symbol)!;
      feeds.push({
        symbol,
        connected: c.connected,
        messages: s.messages,
        reconnects: c.reconnects,
        gaps: s.gaps,
        snapshots: s.snapshots,
        idleMs: c.connected ? Math.round(t - c.lastMsgAt) : -1,
      });
    }
    return { v: 1, type: 'collector-status', collector: this.id, venue: this.opts.venue, time: nowMicros(), feeds };
  }

  private publishStatus(): void {
    this.pub?.send(topics.status(this.id), encode(this.status()));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.connections) c.stop();
    this.publishStatus();
    await this.pub?.flush();
    await this.ctl?.close();
    await this.pub?.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
