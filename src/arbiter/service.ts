/**
 * Arbiter service: the I/O shell around the pure BookArbiter core. Subscribes to every collector's
 * raw.* and status.* messages, runs one BookArbiter per (venue, symbol), publishes consolidated
 * deltas the moment the first copy arrives, periodic snapshots and stats, answers snapshot requests,
 * and asks collectors for REST snapshots (ctl.snapshot.*) when no feed can fill a gap.
 *
 * With `group` (Kafka only) several instances share the books: raw.* comes through the transport's
 * consumer group (groupIngest), each fetched batch is processed here synchronously and its output
 * commits with the input offsets in one transaction; on taking a partition over, its books are rebuilt
 * from the committed output (docs/kafka.md, "Arbiter groups and exactly-once"). status.* is read by
 * every instance.
 */
import { performance } from 'node:perf_hooks';
import { BookArbiter, type ArbiterSink, type FeedErrorKind } from '../core/arbiter.js';
import type { BookCore } from '../core/bookCore.js';
import { ReplicaArbiter, type PublishPolicy } from '../core/replicaArbiter.js';
import type { BookIntegrity } from '../core/integrity.js';
import { DEFAULT_VENUE, bookKeyOf, findVenue, venue as venueAdapter } from '../venues/index.js';
import { BookReplica } from '../core/replica.js';
import { PeerSnapshots } from './peers.js';
import { stableHash } from '../util/hash.js';
import { nowMicros } from '../core/clock.js';
import type { BookDelta, BookSnapshot } from '../core/types.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type {
  BusPublisher,
  BusSubscriber,
  GroupIngest,
  GroupIngestHandler,
  SnapshotServer,
  Transport,
} from '../transport/types.js';
import {
  DecodeError,
  answerSnapshotQuery,
  collectorRawText,
  decodeAny,
  decodeCollectorEvent,
  decodeConsolidated,
  type LevelsWanted,
  encode,
  encodeConsolidatedDelta,
  encodeHeartbeat,
  topics,
  type ArbiterFeedStats,
  type ArbiterStats,
  type CollectorStatus,
  type SnapshotRequest,
  type SnapshotStatus,
  type ConsolidatedSnapshot,
} from '../wire/messages.js';

export interface ArbiterServiceOptions {
  id?: string;
  transport: Transport;
  /**
   * Books to serve: "venue.SYMBOL" keys, or bare symbols of `venue`; events for other books of the venues
   * named here are counted and ignored. Venues not named here are open: any of their books is served (so an
   * arbiter started for Binance also serves an OKX collector started later). Empty = any book of a known venue.
   */
  symbols?: string[];
  /** Venue of the bare symbols in `symbols` (default binance). */
  venue?: string;
  gapTimeoutMs?: number;
  snapshotIntervalMs?: number;
  /** Most events held (waiting for a snapshot or a gap's filling) by all books together; default 1,000,000. */
  maxHeldTotal?: number;
  /**
   * Levels per second all periodic snapshots together may carry (default 500,000): with many books each
   * book's snapshot period stretches past snapshotIntervalMs to stay within it.
   */
  periodicLevelsPerSec?: number;
  snapshotTimeoutMs?: number;
  /** Each book's stats message this often (default 1000), within statsPerSec. */
  statsIntervalMs?: number;
  /**
   * Stats messages per second all books together may take (default 500): with a whole market each book's
   * stats period stretches past statsIntervalMs (2,000 books: every 4 s), and they go out spread over time,
   * not as one burst of 2,000 messages a second that holds up the deltas behind it.
   */
  statsPerSec?: number;
  /**
   * A collector is delivering (asked for snapshots, shown connected whatever its status says) while its last
   * valid delta is at most this old; one heard only through status messages is down after this long. Default 3000.
   */
  feedTimeoutMs?: number;
  /**
   * A book topic that carried nothing for this long gets a heartbeat (and one at once when the book turns
   * stale or fresh): clients tell a quiet book from a dead arbiter by it. Default 1000; 0 = never.
   */
  heartbeatMs?: number;
  /** Plausibility window for every book (ids past its seq); default: each venue's VenueAdapter.seqWindow. */
  seqWindow?: number;
  /** Most collectors tracked per book (default 64); the stats message and /metrics stay bounded by it. */
  maxFeeds?: number;
  /** Forget a collector silent this long (default 300000). */
  feedEvictMs?: number;
  /** A book position no other feed reached this long while they kept delivering below it was forged (default 10000). */
  leadTimeoutMs?: number;
  /**
   * Per venue id: when a book's state is published (PublishPolicy, core/bookCore.ts): 'first' (absent) or
   * 'confirmed' (another feed's copy agreed: ReplicaArbiter by state, BookArbiter by the venue's ids).
   */
  publish?: Record<string, PublishPolicy | undefined>;
  /** Per venue id: the cores' divergeMs (ReplicaArbiterOptions, ArbiterOptions); absent: their default. */
  divergeMs?: Record<string, number | undefined>;
  /** Share the books with the other instances of this consumer group, exactly once (Kafka bus only). */
  group?: string;
  /** Sees every delta copy's arrival (benchmark instrumentation installs one: src/bench-hooks/). */
  probe?: ArbiterProbe;
  /**
   * Peer arbiters (a transport whose snapshot client reaches their snapshot services): a book that needs a
   * snapshot asks a peer first, so a restart or a resync costs the venue no REST call while a peer is up
   * (peers.ts). Collectors are asked when no peer can serve the book.
   */
  peers?: Transport;
  logger?: Logger;
}

/** An observer of the ingest path, for instrumentation; called synchronously, so it must be cheap. */
export interface ArbiterProbe {
  /**
   * A delta copy from `collector`, ending at exchange sequence `last`, arrived at `at` (epoch µs); the
   * venue's event time (ms, 0 if none) and the collector's receive time (µs) identify and time a replica
   * venue's copies, which have no exchange sequence (bench/replica-latency.ts).
   */
  onDelta(collector: string, last: number, at: number, exchTime: number, recvTime: number): void;
  /** The service stopped: no call follows. */
  onStop(): void;
}

interface FeedInfo {
  /** Last status message naming this feed. */
  lastSeenMs: number;
  /** What the collector's last status said (data delivered overrides it: see stats()). */
  connected: boolean;
  snapshotsFetched: number;
  /** The collector's REST budget as its last status said (shared by every book the collector delivers). */
  rest?: ArbiterFeedStats['rest'];
}

/** A feed error is logged at the start of an episode: after this long without one, the next starts another. */
const ERROR_EPISODE_MS = 10_000;
/** Most (collector, kind) error episodes remembered; older ones are forgotten first. */
const MAX_EPISODES = 256;

/** Periodic snapshot budget: about 10 MB/s of JSON levels, well within one core's encoding speed. */
const DEFAULT_PERIODIC_LEVELS_PER_SEC = 500_000;
/** Stats budget (ArbiterServiceOptions.statsPerSec). */
const DEFAULT_STATS_PER_SEC = 500;

/** A request queued this long by a collector's rate limit moves to a collector with weight left. */
const REROUTE_AFTER_MS = 2000;
/** A collector whose 'queued' word says it has weight again within this long counts as having some. */
const BUSY_SLACK_MS = 1000;
/** A status's REST budget if every figure is a plausible number (it comes from the network), else undefined. */
function restBudgetOf(r: unknown, time: unknown): ArbiterFeedStats['rest'] {
  if (typeof r !== 'object' || r === null) return undefined;
  const o = r as Record<string, unknown>;
  const ok = (x: unknown): x is number => typeof x === 'number' && x >= 0 && x <= Number.MAX_SAFE_INTEGER;
  const { used, limit, blockedMs, rateLimited, banned } = o;
  if (!ok(used) || !ok(limit) || !ok(blockedMs) || !ok(rateLimited) || !ok(banned) || !ok(time)) return undefined;
  return { used, limit, blockedMs, rateLimited, banned, time };
}

/** After a peer could not serve a book, collectors are asked for this long. */
const PEER_BACKOFF_MS = 10_000;

const PROC_SAMPLES = 4096; // power of two: a ring indexed with & (PROC_SAMPLES - 1)

class BookHandler implements ArbiterSink {
  readonly core: BookCore;
  readonly topic: string;
  readonly statsTopic: string;
  readonly ctlTopic: string;
  feeds = new Map<string, FeedInfo>();
  /** Spreads this book's snapshot requests over the collectors the same way in every arbiter. */
  private readonly bookHash: number;
  private lastPublished = 0;
  private lastStatsAt = performance.now();
  private publishedAtLastStats = 0;
  private updatesPerSec = 0;
  private readonly processing = new Float64Array(PROC_SAMPLES);
  private processingN = 0;
  /** Group mode: the raw partition this book's events come from. */
  partition = -1;
  /** Group mode: input offsets of events that may be held in the core (not output yet), with their `last`. */
  pending: { last: number; offset: bigint }[] = [];
  /** Set while the state is rebuilt from the committed output: nothing to publish. */
  restoring = false;
  /** The stats last published for this book. */
  lastStats?: ArbiterStats;
  /**
   * performance.now() of the last delta or heartbeat on the book topic: heartbeats fill the silences
   * (periodic snapshots do not count, so a client keeps hearing each arbiter's word on staleness).
   */
  lastSentMs = 0;
  /** performance.now() of this book's last periodic snapshot. */
  lastPeriodicMs = -Infinity;
  /** performance.now() of the last stats message (publishStats). */
  lastStatsMs = -Infinity;
  /** Epoch µs of the last consolidated delta: a book turning stale has been old since then. */
  lastDeltaUs = 0;
  /** Epoch µs since when the book is stale (no live feed, or resyncing); undefined while fresh. */
  staleSince: number | undefined;
  /** The book was built once (heartbeats start then). */
  private hadBook = false;
  /** Prices past which the book is unknown: the last levels of the exchange snapshot it was built from. */
  exactTo: { bid: number; ask: number } | undefined;
  /** Levels per side of that snapshot, to tell a rebuild that came out shallower. */
  private depth: { bids: number; asks: number } | undefined;
  /** The venue's checksum, if it has one: read from each event's text for the core to verify. */
  readonly integrity: BookIntegrity | undefined;
  /** Time of the last feed error per `collector kind`: to log once per episode. */
  private readonly episodes = new Map<string, number>();
  /** When "no collector delivering" was last logged. */
  private noSourceLoggedAt = -Infinity;
  /** The collector the last snapshot request went to: only its word on it counts (onSnapshotStatus). */
  askedCollector: string | undefined;
  /** Until when that collector said the request waits for REST weight (performance.now() ms). */
  queuedUntil = -Infinity;
  /** Until when the venue's rate limit holds the request at that collector (its 'queued' etaMs): the stats' waiting. */
  rateLimitedUntil = NaN;
  /** Peer requests since the book was last synced (a peer's book that does not chain is asked again once). */
  private peerTries = 0;
  /** A peer request is outstanding (never two at once for one book). */
  private askingPeer = false;
  /** When a peer last could not serve this book: collectors are asked for PEER_BACKOFF_MS after. */
  private peerFailedAt = -Infinity;

  constructor(
    readonly svc: ArbiterService,
    readonly venue: string,
    readonly symbol: string,
  ) {
    this.topic = topics.book(venue, symbol);
    this.statsTopic = topics.stats(venue, symbol);
    this.ctlTopic = topics.ctlSnapshot(venue, symbol);
    this.bookHash = stableHash(this.topic);
    const adapter = venueAdapter(venue); // the service creates books only for known venues
    this.integrity = adapter.integrity;
    this.core =
      adapter.merge === 'replica'
        ? new ReplicaArbiter(venue, symbol, this, {
            integrity: adapter.integrity,
            depth: adapter.bookDepth,
            // its own numbering, from its start time: a restarted arbiter numbers above what it sent before
            firstSeq: Date.now() * 1000,
            epoch: `${svc.id}@${Date.now()}`,
            snapshotTimeoutMs: svc.opts.snapshotTimeoutMs,
            feedLiveMs: svc.feedTimeout,
            maxFeeds: svc.opts.maxFeeds,
            feedEvictMs: svc.opts.feedEvictMs,
            publish: svc.opts.publish?.[venue],
            divergeMs: svc.opts.divergeMs?.[venue],
          })
        : this.sequenced(adapter, svc);
  }

  private sequenced(adapter: ReturnType<typeof venueAdapter>, svc: ArbiterService): BookArbiter {
    return new BookArbiter(this.venue, this.symbol, this, {
      gapTimeoutMs: svc.opts.gapTimeoutMs,
      snapshotTimeoutMs: svc.opts.snapshotTimeoutMs,
      rule: adapter.rule,
      integrity: adapter.integrity,
      seqWindow: svc.opts.seqWindow ?? adapter.seqWindow,
      feedLiveMs: svc.feedTimeout,
      maxFeeds: svc.opts.maxFeeds,
      feedEvictMs: svc.opts.feedEvictMs,
      leadTimeoutMs: svc.opts.leadTimeoutMs,
      publish: svc.opts.publish?.[this.venue],
      divergeMs: svc.opts.divergeMs?.[this.venue],
    });
  }

  publish(ev: BookDelta, prev: number): void {
    this.lastPublished++;
    const pubTime = nowMicros();
    // time inside the arbiter: from the triggering message's arrival to this publish
    this.processing[this.processingN++ & (PROC_SAMPLES - 1)] = pubTime - this.svc.arrival;
    this.lastDeltaUs = pubTime;
    this.send(encodeConsolidatedDelta(ev, prev, pubTime, this.core.offset, this.core.streamEpoch));
  }

  /** Everything on the book topic goes through here (restoring a group's state sends nothing). */
  send(payload: Buffer | string, counts = true): void {
    if (this.restoring) return;
    if (counts) this.lastSentMs = performance.now();
    this.svc.pub!.send(this.topic, payload);
  }

  /**
   * Whether any collector carries the book now: one delivering valid data, or (a quiet book) one whose
   * recent status says it is connected.
   */
  hasLiveFeed(now: number): boolean {
    if (this.core.snapshotSources(now).length > 0) return true;
    for (const f of this.feeds.values()) if (f.connected && now - f.lastSeenMs < this.svc.feedTimeout) return true;
    return false;
  }

  /**
   * Heartbeat duty, every few hundred ms: work out whether the book is stale (no live feed, or resyncing),
   * say so at once when that changes, and otherwise fill a silence of heartbeatMs with a heartbeat.
   */
  heartbeat(now: number, every: number): void {
    // Before its first book the arbiter has nothing a client could hold: no word yet (a Kafka book topic
    // then still starts with the first snapshot).
    if (!this.hadBook) return;
    const stale = this.core.state === 'unsynced' || !this.hasLiveFeed(now);
    const changed = stale !== (this.staleSince !== undefined);
    if (changed) {
      this.staleSince = stale ? this.lastDeltaUs || nowMicros() : undefined;
      const log = this.svc.log;
      if (stale) log.warn({ book: this.topic, since: this.staleSince }, 'book stale: no live feed or resyncing');
      else log.info({ book: this.topic }, 'book fresh again');
    }
    if (!changed && now - this.lastSentMs < every) return;
    this.send(
      encodeHeartbeat({
        venue: this.venue,
        symbol: this.symbol,
        seq: this.core.consolidatedSeq,
        ...(this.core.offset === 0 ? {} : { offset: this.core.offset }),
        ...(this.core.streamEpoch === undefined ? {} : { epoch: this.core.streamEpoch }),
        pubTime: nowMicros(),
        arbiter: this.svc.id,
        stale,
        ...(this.staleSince === undefined ? {} : { staleSince: this.staleSince }),
      }),
    );
  }

  requestSnapshot(reason: string, attempt: number, collector?: string): void {
    // the replica merge names the feed: only its own connection can rebuild its book (no peer, no other collector)
    if (collector !== undefined) return this.askCollector([collector], reason, attempt);
    const now = performance.now();
    // Only collectors delivering valid data now: an id heard only in status messages, or one that sent a
    // stray copy, is never asked (1,000 such ids once kept a book unsynced for 20 s and more).
    const pool = this.core.snapshotSources(now);
    if (pool.length === 0) {
      if (now - this.noSourceLoggedAt >= ERROR_EPISODE_MS) {
        this.noSourceLoggedAt = now;
        this.svc.log.info({ symbol: this.symbol, reason }, 'snapshot needed; no collector is delivering data yet');
      }
      return; // the core retries after snapshotTimeoutMs
    }
    this.noSourceLoggedAt = -Infinity;
    const peers = this.svc.peers;
    if (peers !== undefined && now - this.peerFailedAt >= PEER_BACKOFF_MS) {
      // while a peer request waits its turn (peers.ts paces them) its answer decides; two per episode
      if (this.askingPeer) return;
      if (this.peerTries < 2) {
        this.peerTries++;
        this.askPeer(peers, reason, attempt);
        return;
      }
    }
    this.askCollector(pool, reason, attempt);
  }

  /** The book from a peer arbiter (peers.ts); a collector is asked when the peer cannot serve it. */
  private askPeer(peers: PeerSnapshots, reason: string, attempt: number): void {
    this.askingPeer = true;
    this.svc.log.info({ symbol: this.symbol, reason, attempt }, 'requesting snapshot from a peer arbiter');
    void peers.ask(this.venue, this.symbol).then((a) => {
      this.askingPeer = false;
      if (this.svc.isStopped || this.core.state !== 'unsynced') return;
      const now = performance.now();
      if ('error' in a) {
        this.peerFailedAt = now;
        this.svc.counters.peerFailures++;
        this.svc.log.info({ symbol: this.symbol, why: a.error }, 'no book from a peer arbiter; asking a collector');
        const pool = this.core.snapshotSources(now);
        if (pool.length > 0) this.askCollector(pool, reason, attempt);
        return;
      }
      this.svc.counters.peerSnapshots++;
      this.core.onSnapshot(a.snap, now);
    });
  }

  private askCollector(pool: string[], reason: string, attempt: number): void {
    // The same collector for a book in every arbiter (hashed by book, in id order), so hot-hot arbiters'
    // requests for one book meet at one collector, which makes one fetch for both; the books spread over
    // the collectors. The core's first, fast retry goes to the same collector too (it merges a repeat of a
    // request it has in hand); later retries each to the next one.
    // A collector that said it has no weight left for a while is passed over for one that has (a cold start:
    // the first collector up is asked for every book before the others deliver).
    const ids = [...pool].sort();
    const start = (this.bookHash + Math.max(0, attempt - 2)) % ids.length;
    let collector = ids[start];
    const now = performance.now();
    const repeat = attempt === 2 && this.askedCollector !== undefined && ids.includes(this.askedCollector);
    if (repeat)
      collector = this.askedCollector!; // the fast retry repeats the request where it went
    else
      for (let k = 0; k < ids.length; k++) {
        const c = ids[(start + k) % ids.length];
        if (!this.svc.restBusy(c, now)) {
          collector = c;
          break;
        }
      }
    // another collector has its own budget; the same one keeps the request where its rate limit put it
    if (collector !== this.askedCollector) {
      this.rateLimitedUntil = NaN;
      // The request may still wait in that collector's line: its 'queued' ETA is a floor (answers that cross
      // a window's end count in both windows, and a starved process sends later still), so a retry elsewhere
      // found it unsent and both fetched (265 snapshots for 240 books in CI). Dropped there, it is spent once.
      if (this.askedCollector !== undefined) this.cancelAt(this.askedCollector);
    }
    this.askedCollector = collector;
    this.queuedUntil = -Infinity;
    this.info(collector).snapshotsFetched++;
    if (reason === 'checksum' && attempt === 1)
      this.svc.log.warn(
        { symbol: this.symbol, mismatches: this.core.counters.checksumMismatches },
        "the book failed the venue's checksum: resyncing",
      );
    this.svc.log.info({ symbol: this.symbol, reason, attempt, collector }, 'requesting snapshot');
    const request: SnapshotRequest = {
      v: 1,
      type: 'snapshot-request',
      venue: this.venue,
      symbol: this.symbol,
      collector,
      reason,
    };
    // the collector drops the fast retry if the first did arrive: over Kafka the first is often answered
    // before the retry gets there, and a second fetch spent the weight twice (190 of 2,000 books)
    if (repeat) request.repeat = true;
    this.svc.pub!.send(this.ctlTopic, encode(request));
  }

  inputDelayMs(): number {
    return this.svc.inputDelayMs;
  }

  /**
   * A request queued at a collector with no weight left for a while moves to a collector in the pool that has
   * some: the first is told to drop it (SnapshotCancel), so the venue's weight is spent once per book.
   */
  moveQueuedRequest(now: number): void {
    const asked = this.askedCollector;
    if (asked === undefined || !this.core.heldByQueue(now) || !(this.queuedUntil > now + REROUTE_AFTER_MS)) return;
    if (!this.core.snapshotSources(now).some((c) => c !== asked && !this.svc.restBusy(c, now))) return;
    this.svc.counters.snapshotsMoved++;
    this.cancelAt(asked);
    this.askedCollector = undefined; // cancelled: the retry need not cancel it again
    this.core.retryNow(now);
  }

  /** Tell a collector to drop this book's request if it still waits there (SnapshotCancel). */
  private cancelAt(collector: string): void {
    this.svc.pub!.send(
      this.ctlTopic,
      encode({ v: 1, type: 'snapshot-cancel', venue: this.venue, symbol: this.symbol, collector }),
    );
  }

  reset(reason: 'initial' | 'resync', snap: BookSnapshot): void {
    this.hadBook = true;
    this.peerTries = 0;
    // An exchange snapshot has a depth limit: past its last levels the book is not known (docs/wire-format.md).
    let bid = Infinity;
    let ask = -Infinity;
    for (const l of snap.bids) if (l[0] < bid) bid = l[0];
    for (const l of snap.asks) if (l[0] > ask) ask = l[0];
    const before = this.depth;
    this.exactTo = snap.exactTo ?? (Number.isFinite(bid) && Number.isFinite(ask) ? { bid, ask } : undefined);
    this.depth = { bids: snap.bids.length, asks: snap.asks.length };
    if (before && (before.bids > snap.bids.length || before.asks > snap.asks.length))
      this.svc.log.warn(
        { symbol: this.symbol, before, after: this.depth, exactTo: this.exactTo },
        'book rebuilt shallower than it was: levels beyond exactTo are unknown',
      );
    this.svc.log.info(
      { symbol: this.symbol, seq: snap.seq, reason, from: snap.collector },
      'book (re)built from snapshot',
    );
    // Built from another collector's snapshot than the one asked last (a retry went elsewhere while the
    // first answer was on its way: over Kafka a second or more): the request still waiting there for weight
    // or a socket is dropped before it spends the venue's weight on a book that is up (a 2,000-book Kafka
    // cold start fetched such requests in the next window). One already sent runs its course.
    const asked = this.askedCollector;
    if (asked !== undefined && asked !== snap.collector && !this.restoring) this.cancelAt(asked);
    this.askedCollector = undefined;
    this.send(encode(this.snapshotMessage('resync')));
  }

  snapshotMessage(reason: ConsolidatedSnapshot['reason']): ConsolidatedSnapshot {
    const { bids, asks } = this.core.book.snapshot();
    return {
      v: 1,
      type: 'snapshot',
      venue: this.venue,
      symbol: this.symbol,
      seq: this.core.consolidatedSeq,
      bids,
      asks,
      exchTime: 0,
      pubTime: nowMicros(),
      reason,
      ...(this.core.offset === 0 ? {} : { offset: this.core.offset }),
      ...(this.core.streamEpoch === undefined ? {} : { epoch: this.core.streamEpoch }),
      ...(this.staleSince === undefined ? {} : { stale: true, staleSince: this.staleSince }),
      ...(this.exactTo === undefined ? {} : { exactTo: this.exactTo }),
    };
  }

  /** A feed error from the core: counted there; logged here at the start of each episode. */
  feedError(collector: string, kind: FeedErrorKind, detail: string): void {
    const now = performance.now();
    const key = `${collector} ${kind}`;
    const last = this.episodes.get(key);
    this.episodes.delete(key); // re-insert: the map's order is then least recently erring first
    this.episodes.set(key, now);
    if (this.episodes.size > MAX_EPISODES) this.episodes.delete(this.episodes.keys().next().value!);
    if (last !== undefined && now - last < ERROR_EPISODE_MS) return;
    this.svc.log.warn(
      { symbol: this.symbol, venue: this.venue, collector, kind, detail },
      'message refused as an error of its feed (logged once per episode)',
    );
  }

  /** The shell's record of a feed the core tracks (created on first use, pruned with the core's feeds). */
  info(collector: string): FeedInfo {
    let f = this.feeds.get(collector);
    if (!f) {
      f = { lastSeenMs: -Infinity, connected: false, snapshotsFetched: 0 };
      this.feeds.set(collector, f);
    }
    return f;
  }

  /** processingN at the last stats: the next percentiles cover the publishes since. */
  private processingAtStats = 0;
  private lastPercentiles = { processingP50: 0, processingP99: 0 };

  /**
   * p50/p99 of the arbiter's own processing time over the publishes since the last stats (the last
   * PROC_SAMPLES at most), µs; the previous figures when there were none. Only the new samples are sorted:
   * sorting every book's whole ring each second cost 2,000 books more than a core (bench/scale.ts).
   */
  private processingPercentiles(): { processingP50: number; processingP99: number } {
    const n = Math.min(this.processingN - this.processingAtStats, PROC_SAMPLES);
    this.processingAtStats = this.processingN;
    if (n === 0) return this.lastPercentiles;
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = this.processing[(this.processingN - n + i) & (PROC_SAMPLES - 1)];
    a.sort();
    this.lastPercentiles = {
      processingP50: a[Math.floor(n * 0.5)],
      processingP99: a[Math.min(n - 1, Math.floor(n * 0.99))],
    };
    return this.lastPercentiles;
  }

  /** ArbiterStats.waiting: why an unsynced book is not synced yet. */
  private waitingStats(now: number): Pick<ArbiterStats, 'waiting'> {
    if (this.core.state !== 'unsynced') return {};
    const w = this.core.waiting;
    const noCollector = this.core.snapshotSources(now).length === 0;
    return {
      waiting: {
        reason: w?.reason ?? 'initial',
        attempt: w?.attempt ?? 0,
        forMs: w === undefined ? 0 : Math.round(now - w.sinceMs),
        ...(noCollector ? { noCollector: true as const } : {}),
        ...(this.rateLimitedUntil > now ? { rateLimitedMs: Math.round(this.rateLimitedUntil - now) } : {}),
      },
    };
  }

  stats(now: number, memory?: ArbiterStats['memory']): ArbiterStats {
    const dt = (now - this.lastStatsAt) / 1000;
    if (dt > 0.2) {
      this.updatesPerSec = (this.lastPublished - this.publishedAtLastStats) / dt;
      this.publishedAtLastStats = this.lastPublished;
      this.lastStatsAt = now;
    }
    const fs = this.core.feedStats();
    // the core's feeds are bounded (maxFeeds) and evicted when silent: so are these
    for (const id of this.feeds.keys()) if (!fs.has(id)) this.feeds.delete(id);
    // a source that only ever sent a snapshot (the Kafka group's restore, 'kafka') is not a collector feed
    const feeds = [...fs.entries()]
      .filter(([, s]) => s.messages > 0)
      .map(([collector, s]) => {
        // core counters as they are; `resyncs` here counts the snapshots this arbiter asked the collector for
        const { lagSamples: _n, resyncs: _adopted, lastValidMs, ...core } = s;
        const f = this.feeds.get(collector);
        // valid data says connected whatever a status message says; otherwise the last status, if recent
        const delivering = now - lastValidMs <= this.svc.feedTimeout;
        const statusUp = f !== undefined && f.connected && now - f.lastSeenMs < this.svc.feedTimeout;
        const rest = f?.rest === undefined ? {} : { rest: f.rest };
        return { collector, connected: delivering || statusUp, ...core, resyncs: f?.snapshotsFetched ?? 0, ...rest };
      });
    this.core.resetLagWindow();
    return {
      v: 1,
      type: 'arbiter-stats',
      venue: this.venue,
      symbol: this.symbol,
      arbiter: this.svc.id,
      time: nowMicros(),
      seq: this.core.consolidatedSeq,
      synced: this.core.state !== 'unsynced',
      ...this.waitingStats(now),
      stale: this.staleSince !== undefined,
      ...(this.staleSince === undefined ? {} : { staleSince: this.staleSince }),
      updatesPerSec: Math.round(this.updatesPerSec * 10) / 10,
      ...this.processingPercentiles(),
      resyncs: this.core.counters.resyncs,
      refused: {
        implausible: this.core.counters.implausible,
        crossed: this.core.counters.crossedRefused,
        snapshotsUnconfirmed: this.core.counters.snapshotsUnconfirmed,
        feedsEvicted: this.core.counters.feedsEvicted,
        feedsRefused: this.core.counters.feedsRefused,
      },
      feeds,
      ...this.confirmationStats(),
      memory,
    };
  }

  /** A book published 'confirmed' (either merge): its counts and wait (ArbiterStats.confirmation). */
  private confirmationStats(): Pick<ArbiterStats, 'confirmation'> {
    const core = this.core;
    if (core.publishPolicy !== 'confirmed') return {};
    const k = core.counters;
    const t = core.confirmation();
    return {
      confirmation: {
        confirmed: k.confirmed,
        alone: k.publishedAlone,
        vouched: k.vouched,
        waitP50: t.p50Us,
        waitP99: t.p99Us,
      },
    };
  }
}

export class ArbiterService {
  readonly id: string;
  readonly log: Logger;
  readonly opts: ArbiterServiceOptions;
  readonly feedTimeout: number;
  pub?: BusPublisher;
  private sub?: BusSubscriber;
  private group?: GroupIngest;
  private snapServer?: SnapshotServer;
  private readonly books = new Map<string, BookHandler>();
  private readonly allowed?: Set<string>;
  private readonly allowedVenues?: Set<string>;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private loopDone?: Promise<void>;
  /** Arrival time (epoch µs) of the message being processed. */
  arrival = 0;
  /**
   * How far behind the collectors' receive times the input is read here (ms): the most over the last full
   * second (inputDelayNow: the current second's). A snapshot asked for now comes no sooner (BookArbiter's retries).
   */
  inputDelayMs = 0;
  private inputDelayNow = 0;
  private inputDelayAt = 0;
  private readonly probe?: ArbiterProbe;
  readonly counters = {
    received: 0,
    decodeErrors: 0,
    unknownSymbol: 0,
    unknownVenue: 0,
    processErrors: 0,
    /** Messages whose collector field differs from the authenticated peer that sent them (refused). */
    peerMismatch: 0,
    /** Held events dropped because all books together held more than maxHeldTotal. */
    shed: 0,
    /** Books taken from a peer arbiter, and peer requests that could not be served. */
    peerSnapshots: 0,
    peerFailures: 0,
    /** Snapshot requests moved from a collector out of weight to one with weight left. */
    snapshotsMoved: 0,
  };
  /** Per collector, until when its last 'queued' word said it has no REST weight (performance.now() ms). */
  private readonly restBusyUntil = new Map<string, number>();
  private lastMoveScan = 0;

  /** Whether a collector said it has no REST weight for more than `slackMs` from now. */
  restBusy(collector: string, now: number, slackMs = BUSY_SLACK_MS): boolean {
    return (this.restBusyUntil.get(collector) ?? -Infinity) > now + slackMs;
  }
  private readonly maxHeldTotal: number;
  /** Peer arbiters' snapshot services (ArbiterServiceOptions.peers). */
  readonly peers?: PeerSnapshots;
  /** Peers already logged for a collector-field mismatch (bounded). */
  private readonly mismatchLogged = new Set<string>();

  constructor(o: ArbiterServiceOptions) {
    this.opts = o;
    this.id = o.id ?? 'arb-1';
    this.log = (o.logger ?? silentLogger).child({ arbiter: this.id });
    this.feedTimeout = o.feedTimeoutMs ?? 3000;
    if (o.symbols && o.symbols.length > 0) {
      this.allowed = new Set(o.symbols.map((s) => bookKeyOf(s, o.venue ?? DEFAULT_VENUE)));
      this.allowedVenues = new Set([...this.allowed].map((k) => k.slice(0, k.indexOf('.'))));
    }
    this.probe = o.probe;
    if (o.peers) this.peers = new PeerSnapshots(o.peers);
    this.maxHeldTotal = o.maxHeldTotal ?? 1_000_000;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  async start(): Promise<void> {
    const t = this.opts.transport;
    const group = this.opts.group;
    if (group) {
      if (!t.groupIngest)
        throw new Error(`arbiter group "${group}": the ${t.kind} bus has no consumer groups; use --bus kafka`);
      this.group = await t.groupIngest({ group, prefixes: ['raw.'], handler: this.groupHandler() });
      this.pub = this.group.publisher;
      this.sub = await t.subscriber('ingest', ['status.']);
    } else {
      this.pub = await t.publisher('book');
      this.sub = await t.subscriber('ingest', ['raw.', 'status.']);
    }
    this.snapServer = await t.snapshotServer((topic, payload) => this.answerSnapshot(topic, payload));
    // Known books start syncing at once (snapshot requested as soon as a collector is seen); in a group
    // only the books of the partitions this instance owns exist.
    if (this.allowed && !group) for (const key of this.allowed) this.book(...splitKey(key));
    this.loopDone = this.ingestLoop(this.sub);
    this.timers.push(setInterval(() => this.tick(), 5));
    const snapEvery = this.opts.snapshotIntervalMs ?? 1000;
    if (snapEvery > 0) this.timers.push(setInterval(() => this.periodicSnapshots(snapEvery), Math.min(100, snapEvery)));
    const statsEvery = this.opts.statsIntervalMs ?? 1000;
    this.timers.push(setInterval(() => this.publishStats(statsEvery), Math.min(100, statsEvery)));
    const hb = this.opts.heartbeatMs ?? 1000;
    if (hb > 0) this.timers.push(setInterval(() => this.heartbeats(hb), Math.max(10, Math.min(250, hb / 4))));
  }

  private heartbeats(every: number): void {
    const now = performance.now();
    for (const b of this.books.values()) b.heartbeat(now, every);
  }

  /** How many books are in each state now (metrics arbiter_books, the view's summary). */
  bookStates(): { synced: number; gap: number; waiting_snapshot: number; no_collector: number } {
    const now = performance.now();
    const n = { synced: 0, gap: 0, waiting_snapshot: 0, no_collector: 0 };
    for (const b of this.books.values()) {
      const st = b.core.state;
      if (st === 'synced') n.synced++;
      else if (st === 'gap') n.gap++;
      else if (b.core.snapshotSources(now).length === 0) n.no_collector++;
      else n.waiting_snapshot++;
    }
    return n;
  }

  /**
   * Group mode: how many books this instance holds per raw partition it has seen events of (the balance
   * of a group, docs/kafka.md); empty outside a group.
   */
  booksByPartition(): Map<number, number> {
    const n = new Map<number, number>();
    if (!this.group) return n;
    for (const b of this.books.values()) if (b.partition >= 0) n.set(b.partition, (n.get(b.partition) ?? 0) + 1);
    return n;
  }

  /** Books with no live feed or resyncing, and since when (epoch µs): what /healthz reports. */
  staleBooks(): { book: string; since: number }[] {
    const out: { book: string; since: number }[] = [];
    for (const b of this.books.values())
      if (b.staleSince !== undefined) out.push({ book: b.topic, since: b.staleSince });
    return out;
  }

  private book(venue: string, symbol: string): BookHandler {
    const key = `${venue}.${symbol}`;
    let b = this.books.get(key);
    if (!b) {
      b = new BookHandler(this, venue, symbol);
      this.books.set(key, b);
    }
    return b;
  }

  /** The last book looked up: a bus carries few books, so most messages skip building the map key. */
  private lastBook: BookHandler | undefined;

  private findBook(venue: string, symbol: string): BookHandler | undefined {
    const c = this.lastBook;
    if (c !== undefined && c.venue === venue && c.symbol === symbol) return c;
    const b = this.books.get(`${venue}.${symbol}`);
    if (b !== undefined) this.lastBook = b;
    return b;
  }

  private forgetBook(key: string): void {
    this.books.delete(key);
    this.lastBook = undefined;
  }

  /**
   * Whether this arbiter serves a book (key venue.SYMBOL): any of a venue its symbols do not name (open), else
   * one they name. The same rule for live events and a group's takeover (a Kraken book restored from the
   * committed output although only Binance symbols were configured: it was served, so it is taken over).
   */
  private serves(venue: string, key: string): boolean {
    return !this.allowed || !this.allowedVenues!.has(venue) || this.allowed.has(key);
  }

  /** A copy the book will drop as already seen needs no level decoding (half the copies with 2 feeds). */
  private readonly levelsWanted: LevelsWanted = (venue, symbol, first, last) => {
    const b = this.findBook(venue, symbol);
    return b === undefined || b.core.needsLevels(first, last);
  };

  private async ingestLoop(sub: BusSubscriber): Promise<void> {
    try {
      if (sub.consume) await sub.consume(this.onIngestMessage);
      else for await (const m of sub) this.onIngestMessage(m.topic, m.payload, m.peer);
    } catch (e) {
      if (!this.stopped) this.log.error({ err: (e as Error).message }, 'ingest loop failed');
    }
  }

  /** One ingest message. A bug hit by one message is logged and counted; it never stops the ingest loop. */
  private readonly onIngestMessage = (topic: string, payload: Buffer, peer?: string): void => {
    try {
      this.onIngest(topic, payload, peer);
    } catch (e) {
      if (this.counters.processErrors++ < 10 || this.counters.processErrors % 1000 === 0)
        this.log.error(
          { topic, err: (e as Error).stack ?? String(e), count: this.counters.processErrors },
          'message processing failed',
        );
    }
  };

  /** One ingest message; returns the book it concerned and, for a delta, its `last`. */
  private onIngest(topic: string, payload: Buffer, peer?: string): { b: BookHandler; last?: number } | undefined {
    this.counters.received++;
    this.arrival = nowMicros();
    const nowMs = performance.now();
    if (topic.startsWith('status.')) {
      this.onStatus(payload, nowMs, peer);
      return undefined;
    }
    let ev;
    try {
      ev = decodeCollectorEvent(payload, false, this.levelsWanted);
    } catch (e) {
      this.counters.decodeErrors++;
      if (this.counters.decodeErrors <= 10 || this.counters.decodeErrors % 1000 === 0)
        this.log.warn(
          { topic, err: (e as Error).message, count: this.counters.decodeErrors },
          'undecodable message dropped',
        );
      return undefined;
    }
    let b = this.findBook(ev.venue, ev.symbol);
    if (b === undefined) {
      // a book is created only once its key passed this check
      const key = `${ev.venue}.${ev.symbol}`;
      if (findVenue(ev.venue) === undefined) {
        if (this.counters.unknownVenue++ === 0)
          this.log.warn({ key }, 'event for a venue bookwire does not know; ignoring');
        return undefined;
      }
      if (!this.serves(ev.venue, key)) {
        if (this.counters.unknownSymbol++ === 0)
          this.log.warn({ key }, 'event for a book not configured here; ignoring');
        return undefined;
      }
      b = this.book(ev.venue, ev.symbol);
    }
    if (peer !== undefined && ev.collector !== peer) {
      this.peerMismatch(peer, ev.collector, topic);
      return undefined;
    }
    // a venue checksum travels in the venue's text: read it for the copies the book may apply
    if (b.integrity !== undefined && (ev.type === 'snapshot' || b.core.needsLevels(ev.first, ev.last))) {
      const raw = collectorRawText(payload);
      if (raw !== undefined) ev.integrity = b.integrity.read(raw);
    }
    // how far behind the collectors this input is read (their receive time, their clock: a time a minute
    // off or more says nothing of the bus, and is not counted)
    const delay = (this.arrival - ev.recvTime) / 1000;
    if (ev.recvTime > 0 && delay > this.inputDelayNow && delay < 60_000) this.inputDelayNow = delay;
    if (ev.type === 'delta') {
      this.probe?.onDelta(ev.collector, ev.last, this.arrival, ev.exchTime, ev.recvTime);
      b.core.onDelta(ev, nowMs);
      return { b, last: ev.last };
    }
    b.core.onSnapshot(ev, nowMs);
    return { b };
  }

  /** Group mode: what the transport's consumer group calls (synchronously, batch by batch). */
  private groupHandler(): GroupIngestHandler {
    return {
      onAssigned: (partition, history) => {
        for (const [key, msgs] of history) {
          const [venue, symbol] = splitKey(key);
          if (!this.serves(venue, key)) continue;
          this.forgetBook(key);
          const b = this.book(venue, symbol);
          b.partition = partition;
          const r = new BookReplica();
          // a replica venue's book: the numbering (epoch) of the last committed record, which goes on here
          let epoch: string | undefined;
          for (const buf of msgs) {
            try {
              const m = decodeConsolidated(buf);
              const v = r.onMessage(m);
              if (v === 'applied' || v === 'reset') epoch = m.epoch;
            } catch {
              // not a consolidated message: the replica's sequence check covers what it misses
            }
          }
          if (!r.synced) {
            this.log.warn({ key, partition }, 'committed output of a book does not chain; it resyncs from a collector');
            continue;
          }
          const { bids, asks } = r.book.snapshot();
          b.restoring = true;
          const offset = r.offset; // the committed output's numbering (a venue reset moved it)
          b.core.restore(
            {
              type: 'snapshot',
              venue,
              symbol,
              seq: r.seq - offset,
              ...(offset === 0 ? {} : { offset }),
              recvTime: nowMicros(),
              collector: 'kafka',
              bids,
              asks,
            },
            epoch,
            performance.now(),
          );
          b.restoring = false;
          this.log.info(
            { key, partition, seq: r.seq, ...(epoch === undefined ? {} : { epoch }) },
            'book rebuilt from the committed output',
          );
        }
      },
      onRevoked: (partition) => {
        for (const [key, b] of this.books) if (b.partition === partition) this.forgetBook(key);
      },
      onMessage: (m) => {
        const r = this.onIngest(m.topic, m.payload);
        if (!r) return;
        r.b.partition = m.partition;
        // Neither applied nor stale: the core may hold it, so a new owner must read it again.
        if (r.last !== undefined && (r.b.core.state === 'unsynced' || r.last > r.b.core.seq))
          r.b.pending.push({ last: r.last, offset: m.offset });
      },
      retainFrom: (partition) => {
        let min: bigint | undefined;
        for (const b of this.books.values()) {
          if (b.partition !== partition || b.pending.length === 0) continue;
          if (b.core.state !== 'unsynced') {
            const seq = b.core.seq;
            b.pending = b.core.buffered === 0 ? [] : b.pending.filter((x) => x.last > seq);
          }
          for (const x of b.pending) if (min === undefined || x.offset < min) min = x.offset;
        }
        return min;
      },
    };
  }

  /**
   * A collector's status: it updates only feeds the book already tracks from their data (a status never
   * creates one: forged ids in status messages once got snapshot requests), and it never overrides the
   * data (stats(): a feed delivering valid events is connected whatever its status says).
   */
  private onStatus(payload: Buffer, nowMs: number, peer?: string): void {
    let st: CollectorStatus;
    try {
      const m = decodeAny(payload) as CollectorStatus | SnapshotStatus;
      if (m.type === 'snapshot-status') return this.onSnapshotStatus(m, nowMs, peer);
      st = m;
      if (st.type !== 'collector-status' || !Array.isArray(st.feeds) || typeof st.collector !== 'string')
        throw new DecodeError('not a collector status');
    } catch {
      this.counters.decodeErrors++;
      return;
    }
    if (peer !== undefined && st.collector !== peer) {
      this.peerMismatch(peer, st.collector, 'status');
      return;
    }
    const rest = restBudgetOf(st.rest, st.time);
    for (const f of st.feeds) {
      if (typeof f !== 'object' || f === null) continue;
      const b = this.books.get(`${st.venue}.${f.symbol}`);
      if (!b || !b.core.hasFeed(st.collector)) continue;
      const info = b.info(st.collector);
      info.lastSeenMs = nowMs;
      info.connected = f.connected === true;
      if (rest !== undefined) info.rest = rest;
    }
  }

  /** A collector's word on a snapshot request: only the collector this book last asked is heard. */
  private onSnapshotStatus(m: SnapshotStatus, nowMs: number, peer?: string): void {
    if (typeof m.collector !== 'string' || typeof m.venue !== 'string' || typeof m.symbol !== 'string') {
      this.counters.decodeErrors++;
      return;
    }
    if (peer !== undefined && m.collector !== peer) {
      this.peerMismatch(peer, m.collector, 'status');
      return;
    }
    const b = this.books.get(`${m.venue}.${m.symbol}`);
    // the collector's budget, whichever arbiter asked: routes this arbiter's next requests (only ids the book
    // tracks from their data, so the map stays bounded)
    const eta = typeof m.etaMs === 'number' && Number.isFinite(m.etaMs) ? Math.min(Math.max(0, m.etaMs), 600_000) : 0;
    if (b !== undefined && m.state === 'queued' && b.core.hasFeed(m.collector) && eta > 0)
      this.restBusyUntil.set(m.collector, nowMs + eta);
    if (b === undefined || b.askedCollector !== m.collector) return;
    if (m.state !== 'queued' && m.state !== 'failed') return;
    const due = typeof m.answerWithinMs === 'number' && Number.isFinite(m.answerWithinMs) ? m.answerWithinMs : 0;
    // 'queued' with neither an eta nor a due time answers a repeat of a request the collector has in hand
    // (the fast retry reached it before its first word reached us): the request stays where the first word
    // put it. Taken as "due now" it cut the hold short, and every retry went to the next collector, which
    // queued the book too: with 2,000 books both collectors fetched most of them (4,640 for 2,000).
    if (m.state === 'queued' && eta === 0 && due === 0) return;
    if (m.state === 'queued') b.queuedUntil = nowMs + eta;
    if (m.state === 'failed') {
      b.rateLimitedUntil = NaN;
      b.askedCollector = undefined; // nothing waits there: the next request has nothing to cancel
    }
    else if (eta > 0) b.rateLimitedUntil = nowMs + eta;
    if (m.state === 'failed')
      this.log.info(
        { symbol: m.symbol, collector: m.collector, why: String(m.reason).slice(0, 200) },
        'snapshot will not come; asking another collector',
      );
    // a request in flight is held until its answer is due: a slow venue is not a reason to fetch twice
    b.core.onSnapshotStatus(m.state, Math.max(eta, Math.min(Math.max(0, due), 60_000)), nowMs);
  }

  /** A message whose collector field is not the authenticated peer that sent it: refused, logged once per peer. */
  private peerMismatch(peer: string, claimed: string, topic: string): void {
    this.counters.peerMismatch++;
    if (this.mismatchLogged.has(peer) || this.mismatchLogged.size >= MAX_EPISODES) return;
    this.mismatchLogged.add(peer);
    this.log.warn(
      { peer, claimed, topic },
      'message refused: its collector is not the authenticated peer that sent it',
    );
  }

  private tick(): void {
    const now = performance.now();
    let held = 0;
    const scanMoves = this.restBusyUntil.size > 0 && now - this.lastMoveScan >= 100;
    if (scanMoves) this.lastMoveScan = now;
    if (now - this.inputDelayAt >= 1000) {
      this.inputDelayMs = this.inputDelayNow;
      this.inputDelayNow = 0;
      this.inputDelayAt = now;
    }
    for (const b of this.books.values()) {
      b.core.onTimer(now);
      if (scanMoves) b.moveQueuedRequest(now);
      held += b.core.buffered;
    }
    if (held > this.maxHeldTotal) this.shed(held, now);
  }

  /**
   * Events held by all books together are bounded (maxHeldTotal): each book's own bound (10,000) times a
   * whole market is gigabytes (a 2,000-book arbiter grew to 1.9 GB at a rate it could not keep up with).
   * Over it, the books holding most drop what they hold and resync, until 90 % of the bound is left.
   */
  private shed(held: number, now: number): void {
    const target = this.maxHeldTotal * 0.9;
    const big = [...this.books.values()].filter((b) => b.core.buffered > 0);
    big.sort((x, y) => y.core.buffered - x.core.buffered);
    let dropped = 0;
    let books = 0;
    for (const b of big) {
      if (held <= target) break;
      const n = b.core.shed(now);
      held -= n;
      dropped += n;
      books++;
    }
    this.counters.shed += dropped;
    if (now - this.shedLoggedAt >= ERROR_EPISODE_MS) {
      this.shedLoggedAt = now;
      this.log.warn(
        { dropped, books, maxHeldTotal: this.maxHeldTotal },
        'too many events held across books: the largest holders dropped theirs and resync',
      );
    }
  }
  private shedLoggedAt = -Infinity;

  /**
   * Each synced book's consolidated snapshot every `every` ms, within a budget of levels per second over all
   * books (periodicLevelsPerSec): a whole market (2,000 books of 1,000+ levels) would otherwise serialize
   * millions of levels a second and starve the deltas. Books take turns from a rotating start, so with many
   * books each one's period stretches evenly instead of some never getting one.
   */
  private periodicSnapshots(every: number): void {
    const now = performance.now();
    const tick = Math.min(100, every);
    let budget = ((this.opts.periodicLevelsPerSec ?? DEFAULT_PERIODIC_LEVELS_PER_SEC) * tick) / 1000;
    const books = [...this.books.values()];
    const n = books.length;
    const start = this.periodicCursor;
    for (let k = 0; k < n && budget > 0; k++) {
      const i = (start + k) % n;
      const b = books[i];
      if (b.core.state === 'unsynced' || now - b.lastPeriodicMs < every) continue;
      b.lastPeriodicMs = now;
      budget -= b.core.book.bidDepth + b.core.book.askDepth;
      b.send(encode(b.snapshotMessage('periodic')), false);
      this.periodicCursor = (i + 1) % n;
    }
  }
  private periodicCursor = 0;

  /** Books' stats every `every` ms, in turns within statsPerSec (as periodicSnapshots). */
  private publishStats(every: number): void {
    const now = performance.now();
    const tick = Math.min(100, every);
    let budget = Math.max(1, ((this.opts.statsPerSec ?? DEFAULT_STATS_PER_SEC) * tick) / 1000);
    let memory: ArbiterStats['memory'] | undefined;
    const books = [...this.books.values()];
    const n = books.length;
    const start = this.statsCursor;
    for (let k = 0; k < n && budget > 0; k++) {
      const i = (start + k) % n;
      const b = books[i];
      // (a timer a little early must not skip a whole period)
      if (now - b.lastStatsMs < every - tick / 2) continue;
      if (memory === undefined) {
        const m = process.memoryUsage();
        const mib = (v: number) => Math.round((v / 2 ** 20) * 10) / 10;
        // (external includes arrayBuffers, i.e. every Buffer: adding them counted Buffers twice)
        memory = { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), externalMiB: mib(m.external) };
      }
      b.lastStatsMs = now;
      b.lastStats = b.stats(now, memory);
      this.pub!.send(b.statsTopic, encode(b.lastStats));
      budget--;
      this.statsCursor = (i + 1) % n;
    }
  }
  private statsCursor = 0;

  /** Per book, the stats last published (every statsIntervalMs), with the live sequence: for metrics. */
  latestStats(): ArbiterStats[] {
    const out: ArbiterStats[] = [];
    for (const b of this.books.values())
      if (b.lastStats)
        out.push({
          ...b.lastStats,
          seq: b.core.consolidatedSeq,
          synced: b.core.state !== 'unsynced',
          stale: b.staleSince !== undefined,
        });
    return out;
  }

  private answerSnapshot(_topic: string, payload: Buffer): Buffer {
    return answerSnapshotQuery(
      payload,
      (q) => `${q.venue}.${q.symbol}`,
      (name) => {
        const b = this.books.get(name);
        return b && { synced: b.core.state !== 'unsynced', snapshot: () => b.snapshotMessage('reply') };
      },
    );
  }

  /** For tests and the demo: the consolidated book of one symbol. */
  bookOf(venue: string, symbol: string): BookCore | undefined {
    return this.books.get(`${venue}.${symbol}`)?.core;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.pub?.flush();
    await this.sub?.close();
    await this.snapServer?.close();
    await this.peers?.close();
    await this.pub?.close();
    await this.loopDone;
    try {
      this.probe?.onStop();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'the arbiter probe failed at stop');
    }
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('.');
  return [key.slice(0, i), key.slice(i + 1)];
}
