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
import type { BookSnapshot } from '../core/types.js';
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
  type SnapshotCancel,
  type SnapshotRequest,
  type SnapshotStatus,
} from '../wire/messages.js';
import { DEFAULT_VENUE, venue as venueAdapter, type VenueAdapter } from '../venues/index.js';
import { VenueConnection, paddedWindowMs } from './connection.js';
import { REST_SOCKETS, RestClient, type HttpAnswer } from './http.js';
import { OpenGate, WeightLimiter, stableFraction } from './rateLimiter.js';

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
  /**
   * REST weight this collector may spend per window of the venue's limit (Binance: per minute); default the
   * venue's whole limit (restLimit: 6,000 spot, 2,400 USD-M), else 1,200. Never above the venue's limit.
   */
  restWeightPerMinute?: number;
  /** The venue's weight window, ms (default the venue's: 60,000); tests shorten it with the simulator's. */
  restWindowMs?: number;
  /**
   * Local address every websocket and REST connection leaves from (a venue limits per IP: with several
   * addresses, each collector is its own IP; on Linux every 127.x address is the loopback). Default: the system's.
   */
  localAddress?: string;
  /**
   * Where snapshots come from when an arbiter asks: the venue's own way by default (VenueAdapter.snapshotSource);
   * 'rest' where the venue offers a REST snapshot with a sequence id too (OKX books?source=0).
   */
  snapshotSource?: 'rest' | 'websocket';
  /**
   * Subscribe/unsubscribe frames one connection may send per window; default the venue's
   * (VenueAdapter.subscribeLimit: OKX 480 an hour). Tests shorten it with the simulator's.
   */
  subscribeLimit?: { requests: number; windowMs: number };
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
  /**
   * Replica venues (VenueAdapter.merge 'replica': no per-book id the venue numbers): this collector's count
   * of the book's messages, which it stamps on them (first = last = n, prev = n - 1; a snapshot is n too),
   * and the socket whose messages it forwards -- the one that sent the last snapshot: one connection's
   * updates never go on top of another's book (a roll's overlap, a reconnect). It starts at the collector's
   * start time in µs, as the arbiter's own numbering does: a collector restarted under the same id (kill -9)
   * numbers above what it sent before, else the arbiter would take its first snapshot for a repeat of an
   * old one and its messages for late copies, and the feed would be no standby until it drifted and resynced.
   */
  n: number;
  owner?: object;
  /**
   * Venues whose snapshot is the first diff after subscribing (VenueAdapter.snapshotFromFirstDelta): the
   * socket whose next delta of this book is that snapshot (a new socket; a resync's once its unsubscribe
   * was answered).
   */
  snapshotFrom?: object;
  messages: number;
  gaps: number;
  snapshots: number;
}

const now = () => performance.now();

/**
 * A snapshot request marked `repeat` (the arbiter's fast retry, 250 ms after its first) is dropped when a
 * request for the symbol arrived this recently: the first did arrive, and is in hand or answered already.
 */
const REPEAT_WINDOW_MS = 5000;

/** A queued snapshot request still in line this long past its announced time is announced again (sayWhenLate)... */
const LATE_MARGIN_MS = 50;
/** ...and then every this often while it waits for a socket (or at its new time, when later). */
const LATE_RECHECK_MS = 1000;

/** Minimum time between two websocket resubscriptions of one symbol (see resubscribe). */
const RESUBSCRIBE_MS = 2000;

/**
 * Delay between opening two connections of one collector where the venue declares no connection rate
 * (VenueAdapter.connectionLimit): venues cap connection attempts. Where it declares one, that paces them.
 */
const CONNECT_SPACING_MS = 400;

export class Collector {
  readonly id: string;
  private readonly opts: Required<Omit<CollectorOptions, 'logger' | 'transport' | 'localAddress' | 'subscribeLimit'>>;
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
  /**
   * REST requests waiting for weight, first come first served: each window's room goes to the head of the
   * line, so a request's place says when it will go (WeightLimiter.delayInLine), which is what the arbiters
   * are told; one that leaves (cancelled: moved to another collector) lets the ones behind move up.
   */
  private readonly line: LineEntry[] = [];
  private lineTimer: NodeJS.Timeout | undefined;
  private weightInLine = 0;
  /** REST requests sent and not answered yet: at most REST_SOCKETS (the rest wait in the line). */
  private restInFlight = 0;
  private readonly pumpLine = (): void => {
    clearTimeout(this.lineTimer);
    this.lineTimer = undefined;
    while (this.line.length > 0 && this.restInFlight < REST_SOCKETS) {
      const head = this.line[0];
      const wait = this.limiter.delayFor(head.weight, Date.now());
      if (wait > 0) {
        this.lineTimer = setTimeout(this.pumpLine, wait);
        return;
      }
      this.line.shift();
      this.weightInLine -= head.weight;
      head.go(this.sending(head.weight)); // taken here, so the next head sees it spent
    }
  };

  /** Take the weight of a request sent now; the result ends it (its answer came, or it failed or was dropped). */
  private sending(weight: number): (doneMs: number) => void {
    const done = this.limiter.take(weight, Date.now());
    this.restInFlight++;
    let ended = false;
    return (doneMs) => {
      done(doneMs);
      if (ended) return;
      ended = true;
      this.restInFlight--;
      // a socket is free: the head of the line may go (unless it waits for weight: its timer is set)
      if (this.line.length > 0 && this.lineTimer === undefined) this.pumpLine();
    };
  }

  /**
   * Wait for this request's turn in the REST line: weight for it, and one of the REST_SOCKETS free, so its
   * deadline runs from when it is sent. The weight is taken when the turn comes. undefined: cancelled or stopping.
   */
  private turn(weight: number, budget?: BudgetWait): Promise<((doneMs: number) => void) | undefined> {
    if (this.line.length === 0 && this.restInFlight < REST_SOCKETS && this.limiter.delayFor(weight, Date.now()) === 0)
      return Promise.resolve(this.sending(weight));
    const signal = budget?.cancel.signal;
    return new Promise((resolve) => {
      const entry: LineEntry = { weight, go: resolve };
      if (budget) budget.entry = entry;
      this.line.push(entry);
      this.weightInLine += weight;
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.line.indexOf(entry);
          if (i < 0) return;
          this.line.splice(i, 1);
          this.weightInLine -= weight;
          resolve(undefined);
          if (i === 0) this.pumpLine();
        },
        { once: true },
      );
      if (this.lineTimer === undefined) this.pumpLine();
    });
  }
  private readonly rest: RestClient;
  private readonly inflight = new Set<string>();
  /** Snapshot requests still waiting for REST weight, by symbol: an arbiter may move them elsewhere (cancel). */
  private readonly waitingForBudget = new Map<string, BudgetWait>();
  /** Symbols whose snapshot request the venue refused as wrong (400/404): retrying cannot succeed. */
  private readonly restRefused = new Set<string>();
  /** When a snapshot request for each symbol last arrived (performance.now ms): repeats within REPEAT_WINDOW_MS are dropped. */
  private readonly askedAt = new Map<string, number>();
  /** When each symbol's last websocket resync was asked for (performance.now ms). */
  private readonly resyncAt = new Map<string, number>();
  /** Resubscriptions waiting for RESUBSCRIBE_MS to pass, by symbol (resubscribe). */
  private readonly resyncDeferred = new Map<string, NodeJS.Timeout>();
  readonly venue: VenueAdapter;
  /** The venue merges by replicas: this collector numbers each book's messages (SymbolState.n). */
  private readonly replica: boolean;
  readonly counters = {
    messages: 0,
    published: 0,
    parseErrors: 0,
    ignored: 0,
    snapshotErrors: 0,
    snapshotsPublished: 0,
    /** Snapshot requests an arbiter moved to another collector while they waited for weight here. */
    snapshotsCancelled: 0,
    /** Queued snapshot requests announced again: still in line past the time first announced (sayWhenLate). */
    lateAnnounced: 0,
    /** Fast retries (`repeat`) of a request that had arrived: dropped, not fetched twice. */
    repeatsDropped: 0,
    /** REST answers 429 (over the venue's limit) and 418 (IP banned): each one is a bug to fix. */
    rateLimited: 0,
    banned: 0,
    /** REST weight spent (requests sent). */
    restWeight: 0,
    /** Resyncs deferred because the connection's subscription frames were spent (VenueAdapter.subscribeLimit). */
    resyncsDelayed: 0,
    /** Skips in a venue's per-connection message counter (ParsedFrame.connectionSeq): each resyncs the connection's books. */
    connectionGaps: 0,
  };
  /** The venue's last per-connection message counter, by socket (ParsedFrame.connectionSeq). */
  private readonly connectionSeqs = new WeakMap<object, number>();

  constructor(o: CollectorOptions) {
    this.id = o.id;
    this.venue = venueAdapter(o.venue ?? DEFAULT_VENUE);
    this.replica = this.venue.merge === 'replica';
    this.log = (o.logger ?? silentLogger).child({ collector: o.id });
    this.opts = {
      venue: this.venue.id,
      streamMode: 'combined',
      speed: '100ms',
      snapshotLimit: 1000,
      staleAfterMs: 10_000,
      reconnectMinMs: 250,
      reconnectMaxMs: 30_000,
      restWeightPerMinute: this.venue.restLimit?.weight ?? 1200,
      restWindowMs: this.venue.restLimit?.windowMs ?? 60_000,
      reconnectEveryS: 0,
      statusIntervalMs: 1000,
      maxBooksPerConnection: Infinity,
      maxFrameBytes: 16 * 1024 * 1024,
      ...stripUndefined(o),
    } as Required<Omit<CollectorOptions, 'logger' | 'transport' | 'localAddress' | 'subscribeLimit'>>;
    this.transport = o.transport;
    const n = this.replica ? Date.now() * 1000 : 0;
    for (const s of o.symbols) {
      const sym = this.venue.venueSymbol(s);
      if (sym === undefined) throw new RangeError(`symbol "${s}" is not a ${this.venue.name} symbol`);
      this.symbols.set(sym, { last: 0, n, messages: 0, gaps: 0, snapshots: 0 });
    }
    const perConnection = Math.max(1, Math.min(this.venue.maxBooksPerConnection, o.maxBooksPerConnection ?? Infinity));
    const all = [...this.symbols.keys()];
    const cl = this.venue.connectionLimit;
    const gate = cl === undefined ? undefined : new OpenGate(cl.connections, paddedWindowMs(cl.windowMs, 250));
    const sl = this.venue.subscribeLimit;
    const subscribeBudget =
      o.subscribeLimit ??
      (sl?.requests !== undefined && sl.windowMs !== undefined
        ? { requests: sl.requests, windowMs: sl.windowMs }
        : undefined);
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
        localAddress: o.localAddress,
        mayOpen: () => gate?.tryOpen(Date.now(), true) ?? 0,
        opened: () => gate?.done(Date.now()),
        subscribeBudget,
        onText: (text, socket) => this.onMessage(text, socket),
        onOpen: (socket) => {
          if (this.venue.snapshotFromFirstDelta !== undefined)
            for (const sym of symbols) this.symbols.get(sym)!.snapshotFrom = socket;
        },
      });
      this.connections.push(c);
      for (const s of symbols) this.connectionOf.set(s, c);
    }
    const cap = Math.min(this.opts.restWeightPerMinute, this.venue.restLimit?.weight ?? Infinity);
    this.limiter = new WeightLimiter(cap, this.opts.restWindowMs);
    this.rest = new RestClient(o.localAddress);
  }

  private readonly transport: Transport;

  async start(): Promise<void> {
    this.pub = await this.transport.publisher('ingest');
    this.ctl = await this.transport.subscriber('book', [`ctl.snapshot.${this.opts.venue}.`]);
    void this.ctlLoop(this.ctl);
    // Connections open within the venue's connection rate (the gate delays those past it), or a little
    // apart where it declares none.
    const spacing = this.venue.connectionLimit === undefined ? CONNECT_SPACING_MS : 0;
    this.connections.forEach((c, i) =>
      i === 0 || spacing === 0 ? c.connect() : this.timers.push(setTimeout(() => c.connect(), i * spacing)),
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
      // Within a collector its connections take turns across the period: one roll at a time, so a roll
      // never opens every connection at once (the venue's connection rate) nor leaves all books on new sockets.
      const period = this.opts.reconnectEveryS * 1000 * (0.75 + 0.25 * stableFraction(this.id));
      const n = this.connections.length;
      this.connections.forEach((c, i) => {
        const first = setTimeout(
          () => {
            c.roll();
            this.timers.push(setInterval(() => c.roll(), period));
          },
          (period * (i + 1)) / n,
        );
        this.timers.push(first);
      });
    }
  }

  private onMessage(text: string, socket?: object): void {
    const recvTime = nowMicros();
    this.counters.messages++;
    const r = this.venue.parse(text, this.id, recvTime);
    if (r.connectionSeq !== undefined && socket !== undefined) this.checkConnectionSeq(socket, r.connectionSeq);
    if (r.unsubscribed !== undefined && this.venue.snapshotFromFirstDelta !== undefined) {
      const st = this.symbols.get(r.unsubscribed);
      if (st !== undefined && socket !== undefined && this.connectionOf.get(r.unsubscribed)?.socket === socket)
        st.snapshotFrom = socket;
    }
    if (r.delta) {
      const d = r.delta;
      const st = this.symbols.get(d.symbol);
      if (!st) {
        this.counters.ignored++;
        return;
      }
      if (st.snapshotFrom !== undefined && st.snapshotFrom === socket) {
        st.snapshotFrom = undefined;
        const s = this.venue.snapshotFromFirstDelta!(d);
        if (s.snapshot) this.onMessageSnapshot(s.snapshot, st, socket);
        else this.badMessage(s.error ?? 'bad snapshot', text);
        return;
      }
      if (this.replica) {
        if (st.owner !== socket) {
          this.counters.ignored++; // another socket's book (or none yet)
          return;
        }
        d.prev = st.n;
        d.first = d.last = ++st.n;
      }
      st.messages++;
      if (st.last > 0 && coverStart(d) > st.last) st.gaps++;
      if (d.last > st.last) st.last = d.last;
      this.pub!.send(topics.raw(d.venue, d.symbol), encodeCollectorEvent(d));
      this.counters.published++;
    } else if (r.snapshot) {
      const st = this.symbols.get(r.snapshot.symbol);
      if (!st) {
        this.counters.ignored++;
        return;
      }
      this.onMessageSnapshot(r.snapshot, st, socket);
    } else if (r.error) this.badMessage(r.error, text);
    else this.counters.ignored++;
  }

  /** A snapshot the venue sent on the websocket. */
  private onMessageSnapshot(sn: BookSnapshot, st: SymbolState, socket: object | undefined): void {
    // snapshots by REST only: the venue's websocket ones are not used (a venue reset's still is)
    if (this.opts.snapshotSource === 'rest' && sn.reset !== true) {
      this.counters.ignored++;
      return;
    }
    if (this.replica) {
      st.owner = socket;
      sn.seq = ++st.n;
    }
    st.snapshots++;
    st.last = sn.seq;
    this.pub!.send(topics.raw(sn.venue, sn.symbol), encodeCollectorEvent(sn));
    this.counters.snapshotsPublished++;
  }

  private badMessage(error: string, text: string): void {
    this.counters.parseErrors++;
    if (this.counters.parseErrors <= 10 || this.counters.parseErrors % 1000 === 0)
      this.log.warn({ error, sample: text.slice(0, 200), count: this.counters.parseErrors }, 'bad message from venue');
  }

  /**
   * A venue that numbers a connection's messages across its books (Coinbase): a skip means a message of
   * some book on it was lost, and nothing says which. Every book this socket carries skips a number of this
   * collector's count, so the arbiter sees a gap in each and asks for fresh snapshots (resubscribe).
   */
  private checkConnectionSeq(socket: object, seq: number): void {
    const last = this.connectionSeqs.get(socket);
    this.connectionSeqs.set(socket, seq);
    if (last === undefined || seq === last + 1) return;
    this.counters.connectionGaps++;
    let books = 0;
    for (const st of this.symbols.values())
      if (st.owner === socket) {
        st.n++;
        books++;
      }
    if (this.counters.connectionGaps <= 10 || this.counters.connectionGaps % 1000 === 0)
      this.log.warn(
        { expected: last + 1, got: seq, books, count: this.counters.connectionGaps },
        "a skip in the venue's numbering of this connection's messages: its books resync",
      );
  }

  /**
   * A symbol the venue does not list produces no data at all, which looks like a quiet market; ask the
   * venue once at start (exchangeInfo) and say so loudly. Several symbols per request where the venue allows
   * it (Binance: 20 weight per request, not per symbol), within the weight budget. Best effort: a failure
   * here only warns.
   */
  async checkSymbols(): Promise<string[]> {
    const v = this.venue;
    const all = [...this.symbols.keys()];
    const unknown: string[] = [];
    const one = async (url: string, symbols: readonly string[]): Promise<'ok' | 'refused' | 'failed'> => {
      const res = await this.restGet(url, v.symbolCheckWeight ?? 1, 5000);
      if (res === undefined) return 'failed';
      if (res.status === 400 || res.status === 404) return 'refused';
      if (res.status !== 200) {
        this.log.warn({ status: res.status }, 'could not check symbols (exchangeInfo)');
        return 'failed';
      }
      for (const symbol of symbols)
        if (!res.body.includes(`"${symbol}"`)) {
          unknown.push(symbol);
          this.log.error(
            { symbol, venue: this.opts.venue, answer: res.body.slice(0, 200) },
            `unknown symbol ${symbol}: the venue does not list it; no data will come for it`,
          );
        }
      return 'ok';
    };
    const perSymbol = async (symbols: readonly string[]): Promise<void> => {
      const seen = new Map<string, string[]>();
      for (const symbol of symbols) {
        const url = v.symbolCheckUrl?.(this.opts.restUrl, symbol);
        if (url === undefined) continue;
        const list = seen.get(url);
        if (list) list.push(symbol);
        else seen.set(url, [symbol]);
      }
      for (const [url, list] of seen) {
        if (this.stopped) return;
        if ((await one(url, list)) !== 'refused') continue;
        unknown.push(...list);
        for (const symbol of list)
          this.log.error(
            { symbol, venue: this.opts.venue },
            `unknown symbol ${symbol}: the venue does not list it; no data will come for it`,
          );
      }
    };
    if (v.symbolsCheckUrl === undefined) await perSymbol(all);
    else
      for (let i = 0; i < all.length && !this.stopped; i += 100) {
        const chunk = all.slice(i, i + 100);
        // the venue refuses the whole list when one is unknown: find which, one by one
        if ((await one(v.symbolsCheckUrl(this.opts.restUrl, chunk), chunk)) === 'refused') await perSymbol(chunk);
      }
    this.unknownSymbols = unknown;
    return unknown;
  }

  /** Tell the arbiters what became of a snapshot they asked for (SnapshotStatus). */
  private snapshotStatus(
    symbol: string,
    state: SnapshotStatus['state'],
    reason: string,
    etaMs?: number,
    answerWithinMs?: number,
  ): void {
    const m: SnapshotStatus = {
      v: 1,
      type: 'snapshot-status',
      venue: this.opts.venue,
      symbol,
      collector: this.id,
      state,
      reason,
    };
    if (etaMs !== undefined) m.etaMs = Math.ceil(etaMs);
    if (answerWithinMs !== undefined) m.answerWithinMs = answerWithinMs;
    this.pub?.send(topics.status(this.id), encode(m));
  }

  /**
   * One REST GET within the venue's weight budget: waits for the budget, reads the venue's used-weight
   * header, and blocks all REST until Retry-After on a 429/418. undefined: no answer (logged), or `budget`
   * was cancelled while it waited.
   */
  private async restGet(
    url: string,
    weight: number,
    timeoutMs: number,
    what = '',
    budget?: BudgetWait,
  ): Promise<HttpAnswer | undefined> {
    if (this.line.length > 0 || this.limiter.delayFor(weight, Date.now()) > 0)
      this.log.debug(
        { what, waitMs: this.limiter.delayInLine(weight, this.weightInLine, Date.now()), inLine: this.line.length },
        'REST delayed by rate limit',
      );
    const done = await this.turn(weight, budget);
    if (done === undefined) return undefined;
    if (this.stopped || budget?.cancel.signal.aborted) {
      done(Date.now());
      return undefined;
    }
    if (budget) {
      budget.sent = true;
      budget.onSend();
    }
    this.counters.restWeight += weight;
    let res: HttpAnswer;
    try {
      res = await this.rest.get(url, timeoutMs);
    } catch (e) {
      this.log.warn({ what, err: (e as Error).message }, 'REST request failed');
      return undefined;
    } finally {
      done(Date.now());
    }
    const header = this.venue.restLimit?.usedWeightHeader;
    const used = header === undefined ? NaN : Number(res.header(header));
    if (Number.isFinite(used)) this.limiter.observe(used, Date.now());
    if (res.status === 429 || res.status === 418) {
      if (res.status === 429) this.counters.rateLimited++;
      else this.counters.banned++;
      const retry = Number(res.header('retry-after') ?? '60');
      const untilMs = Date.now() + (Number.isFinite(retry) && retry >= 0 ? retry : 60) * 1000;
      this.limiter.block(untilMs);
      this.log.error(
        { status: res.status, retryAfterS: retry, used, what },
        res.status === 418 ? 'IP banned by the venue: no REST until the ban ends' : 'venue rate limit hit: REST paused',
      );
    }
    return res;
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
        if (req.collector !== this.id || !this.symbols.has(req.symbol)) continue;
        if ((req as unknown as SnapshotCancel).type === 'snapshot-cancel') {
          this.cancelSnapshot(req.symbol);
          continue;
        }
        if (req.type !== 'snapshot-request') continue;
        // the arbiter's fast retry of a request that did arrive (and may be answered already): not twice
        const t = now();
        const asked = this.askedAt.get(req.symbol);
        this.askedAt.set(req.symbol, t);
        if (req.repeat === true && asked !== undefined && t - asked < REPEAT_WINDOW_MS) {
          this.counters.repeatsDropped++;
          continue;
        }
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
   * symbol every RESUBSCRIBE_MS, and within the venue's subscription frames per connection (OKX: 480 an
   * hour, VenueAdapter.subscribeLimit). A request that must wait is not dropped but deferred to the end of
   * the wait (one pending per symbol; the arbiters are told it is queued when the venue's budget is why): a
   * feed that fails twice in a row (a replica venue's checksum) is back in RESUBSCRIBE_MS, not after the
   * arbiter's retry.
   */
  resubscribe(symbol: string, reason = 'request'): void {
    const msgs = this.venue.resyncMessages?.(symbol);
    const c = this.connectionOf.get(symbol);
    if (msgs === undefined || c === undefined || !c.connected || this.stopped) return;
    if (this.resyncDeferred.has(symbol)) return;
    const t = now();
    const budgetWait = c.requestDelay(msgs.length);
    const wait = Math.max(budgetWait, (this.resyncAt.get(symbol) ?? -Infinity) + RESUBSCRIBE_MS - t);
    if (wait > 0) {
      if (budgetWait > 0) {
        this.counters.resyncsDelayed++;
        this.snapshotStatus(symbol, 'queued', 'subscribe limit', wait);
      }
      const timer = setTimeout(() => {
        this.resyncDeferred.delete(symbol);
        this.resubscribe(symbol, reason);
      }, wait);
      this.resyncDeferred.set(symbol, timer);
      return;
    }
    this.resyncAt.set(symbol, t);
    c.request(msgs);
    this.log.info({ symbol, reason }, 'resubscribed for a fresh snapshot');
  }

  /**
   * An arbiter moved this symbol's request to a collector with weight left: drop it if it still waits for
   * weight here (once sent, it runs its course), and say so, so other arbiters that asked move on too.
   */
  private cancelSnapshot(symbol: string): void {
    const w = this.waitingForBudget.get(symbol);
    if (w === undefined || w.sent || w.cancel.signal.aborted) return;
    w.cancel.abort();
    this.counters.snapshotsCancelled++;
    this.snapshotStatus(symbol, 'failed', 'cancelled: asked elsewhere');
  }

  /**
   * One REST snapshot within the weight budget; one request per symbol at a time (concurrent asks share it),
   * none for a symbol whose request the venue refused as wrong (it cannot succeed).
   */
  async fetchSnapshot(symbol: string, reason = 'request'): Promise<void> {
    const venue = this.venue;
    if (venue.snapshotRequest === undefined || venue.parseSnapshot === undefined) return;
    if (this.stopped) return;
    // a repeat of a request in hand (the arbiter's fast retry): say it is coming rather than fetch twice
    if (this.inflight.has(symbol)) return this.snapshotStatus(symbol, 'queued', 'in progress', 0);
    if (this.restRefused.has(symbol)) return this.snapshotStatus(symbol, 'failed', 'refused by the venue');
    this.inflight.add(symbol);
    // once sent, the arbiters hold their retries until the answer is due (they would spend weight twice)
    const timeoutMs = 10_000;
    const budget: BudgetWait = {
      cancel: new AbortController(),
      sent: false,
      onSend: () => this.snapshotStatus(symbol, 'queued', 'in progress', 0, timeoutMs),
    };
    this.waitingForBudget.set(symbol, budget);
    try {
      const req = venue.snapshotRequest(this.opts.restUrl, symbol, this.opts.snapshotLimit);
      // the arbiter waits for a request this collector has in hand instead of asking another collector
      // (its place in the line: the requests already waiting go first)
      const wait = this.limiter.delayInLine(req.weight, this.weightInLine, Date.now());
      if (wait > 0) {
        this.snapshotStatus(symbol, 'queued', 'rate limit', wait);
        this.sayWhenLate(symbol, budget, req.weight, wait);
      }
      const res = await this.restGet(req.url, req.weight, timeoutMs, symbol, budget);
      if (res === undefined) {
        if (!this.stopped && !budget.cancel.signal.aborted) {
          this.counters.snapshotErrors++;
          this.snapshotStatus(symbol, 'failed', 'request failed');
        }
        return;
      }
      if (res.status !== 200) {
        this.counters.snapshotErrors++;
        this.snapshotStatus(symbol, 'failed', `HTTP ${res.status}`);
        if (res.status === 400 || res.status === 404) {
          this.restRefused.add(symbol);
          this.log.error(
            { symbol, status: res.status, body: res.body.slice(0, 200) },
            'the venue refused the snapshot request; it will not be retried',
          );
        } else
          this.log.warn(
            { symbol, status: res.status, body: res.body.slice(0, 200), reason },
            'snapshot request failed',
          );
        return;
      }
      const r = venue.parseSnapshot(res.body, symbol, this.id, nowMicros());
      if (!r.snapshot) {
        this.counters.snapshotErrors++;
        this.snapshotStatus(symbol, 'failed', 'bad snapshot');
        this.log.warn({ symbol, error: r.error }, 'bad snapshot from venue');
        return;
      }
      this.symbols.get(symbol)!.snapshots++;
      this.pub!.send(topics.raw(this.opts.venue, symbol), encodeCollectorEvent(r.snapshot));
      this.counters.snapshotsPublished++;
      this.log.info({ symbol, seq: r.snapshot.seq, reason }, 'snapshot published');
    } finally {
      clearTimeout(budget.lateTimer);
      this.inflight.delete(symbol);
      this.waitingForBudget.delete(symbol);
    }
  }

  /**
   * A queued request still in line when the time it was announced for has passed is announced again, with
   * its place in line now. The ETA is a floor: an answer that crosses a window's end counts in both windows,
   * and a starved process sends later still. Told nothing, an arbiter's hold (the ETA plus its snapshot
   * timeout) ran out and it asked another collector, which fetched the book as well (265 snapshots for 240
   * books in CI).
   */
  private sayWhenLate(symbol: string, budget: BudgetWait, weight: number, afterMs: number): void {
    budget.lateTimer = setTimeout(() => {
      if (budget.sent || budget.cancel.signal.aborted || this.stopped) return;
      const i = budget.entry === undefined ? -1 : this.line.indexOf(budget.entry);
      let ahead = 0;
      for (let k = 0; k < i; k++) ahead += this.line[k].weight;
      // out of the line and not sent: a REST socket is all it waits for
      const wait = i < 0 ? 0 : this.limiter.delayInLine(weight, ahead, Date.now());
      this.counters.lateAnnounced++;
      this.snapshotStatus(symbol, 'queued', 'rate limit', Math.max(1, wait));
      this.sayWhenLate(symbol, budget, weight, Math.max(wait, LATE_RECHECK_MS));
    }, afterMs + LATE_MARGIN_MS);
  }

  /** The REST weight budget now: weight counted in the venue's current window, the limit, ms until REST may resume. */
  restBudget(): { used: number; limit: number; blockedMs: number } {
    const t = Date.now();
    return { used: this.limiter.used(t), limit: this.limiter.limit, blockedMs: Math.max(0, this.limiter.blocked - t) };
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
    const status: CollectorStatus = {
      v: 1,
      type: 'collector-status',
      collector: this.id,
      venue: this.opts.venue,
      time: nowMicros(),
      feeds,
    };
    // the REST budget where snapshots cost weight (Binance), so the view can show it against the limit
    if (this.venue.restLimit !== undefined || this.counters.restWeight > 0)
      status.rest = { ...this.restBudget(), rateLimited: this.counters.rateLimited, banned: this.counters.banned };
    return status;
  }

  private publishStatus(): void {
    this.pub?.send(topics.status(this.id), encode(this.status()));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const t of this.resyncDeferred.values()) clearTimeout(t);
    // requests waiting for weight end now (undefined: no answer)
    clearTimeout(this.lineTimer);
    for (const w of this.line.splice(0)) w.go(undefined);
    this.weightInLine = 0;
    for (const c of this.connections) c.stop();
    this.rest.close();
    this.publishStatus();
    await this.pub?.flush();
    await this.ctl?.close();
    await this.pub?.close();
  }
}

/** A snapshot request waiting for REST weight: cancelled by an arbiter until it is sent. */
interface BudgetWait {
  cancel: AbortController;
  sent: boolean;
  /** Called when the request is sent (no longer cancellable). */
  onSend: () => void;
  /** Its place in the REST line, once it waits there. */
  entry?: LineEntry;
  /** sayWhenLate's timer. */
  lateTimer?: NodeJS.Timeout;
}

/** A REST request waiting in the line for weight and a socket. */
interface LineEntry {
  weight: number;
  go: (done: ((doneMs: number) => void) | undefined) => void;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
