/**
 * Arbiter core for one (venue, symbol): merges N collectors' copies of the exchange's diff stream by
 * exchange sequence into one gap-free consolidated stream. Pure and synchronous: no I/O, no timers, no
 * clock reads. The shell passes time in (nowMs) and reacts through ArbiterSink, whose methods must not call
 * back into the core synchronously.
 *
 * States:
 *   unsynced  no usable snapshot yet (or resyncing): every event is buffered, a snapshot is requested.
 *   synced    book == exchange at `seq`; the buffer is empty.
 *   gap       book == exchange at `seq`, but an event that does not chain yet is buffered; another feed
 *             may still deliver the missing range. After gapTimeoutMs without progress: resync (reason
 *             'gap', or 'stale-snapshot' if nothing applied since the last snapshot: it was too old/new).
 *
 * A snapshot is adopted while unsynced when the earliest held event that is not stale against it chains
 * onto it (or nothing is held); otherwise it is rejected and another requested ('stale-snapshot').
 *
 * First arrival wins: a copy that applies is published at once, later copies are dropped as duplicates.
 *
 * Confirmed publication (ArbiterOptions.publish 'confirmed', docs/venues.md "Publication"): a copy that
 * extends the book is held in its feed's pool (Feed.pool; while unsynced too: every feed's copies are kept)
 * until another feed's copies of the same ids agree. Each feed's held copies that chain from the book's seq
 * by the interval rule (walk: sequence.ts, nothing else) end at some ids; where two feeds' chains both end
 * a copy at id L, the levels each chain sets (later winning) applied to the book must make the same book:
 * the venue's at L (compare; copies grouped differently, (10,15] against (10,12] + (12,15], meet at 15).
 * At the first such L the first copy's messages up to L are published: as they came when one message
 * reaches L, else as one delta covering all their ids (the ids between were one copy's word). The numbering
 * stays the venue's ids (seq = L), so two arbiters still number the same ids the same way, though one may
 * group them into fewer messages (interval cover keeps readers of both exact). Exceptions:
 *   - vouched: a copy carrying a venue checksum (verified on the book before publishing) whose levels all
 *     lie within the levels the checksum covers goes out at once (a corruption of it would fail the check).
 *   - alone: no other feed is expected to confirm (none delivered a delta or a collector's snapshot in this id
 *     space, the others in error, or absent: silent or behind while a chain waited divergeMs), or the oldest
 *     chain waited divergeMs and nothing contradicted it: published on its feed's word (counted).
 *   - lost: every other expected feed lost ids of the chain on its connection (its chain stops at a hole before
 *     meeting this one: SKIP_AFTER copies past it, or one for gapTimeoutMs): nothing can confirm them, and one
 *     feed's word is not published: the book resyncs and the venue's snapshot decides (skippedByOthers,
 *     judgeLone: the chain's book at the snapshot's id, where it ends a copy, must be the snapshot's, else its
 *     feed is charged). No snapshot within divergeMs + snapshotTimeoutMs: alone after all (counted).
 *   - venue reset (OKX): held until another feed delivers the same reset (resetHeld), or alone after divergeMs.
 *   - disputed: two chains disagree at a common id. With no third feed to decide, at once (else after
 *     divergeMs if none did), both feeds are charged and the book resyncs; nothing of those ids is published.
 *     With three or more feeds, two agreeing chains are published and the odd feed is charged (no resync).
 * Held copies count as buffered (bounded by maxBuffer, all feeds together) and survive a resync: after
 * the snapshot, those it does not cover confirm each other as before. A hole no feed's chain starts at is a
 * gap, as under 'first'.
 *
 * Every feed is suspect, even an authenticated one (a bug, or a hostile collector): what one feed sends
 * must not freeze or falsify the book while other feeds carry the truth.
 *   - Plausibility window: an event whose `last` is more than seqWindow ids past the book's seq is an error
 *     counted against its feed, never applied or held (one forged `last = seq + 10^12` would make every real
 *     event after it stale). If no other feed is delivering valid data, the venue itself may have jumped
 *     (every feed back from an outage): the book resyncs ('implausible') instead of freezing.
 *   - Lead check: a jump within the window is applied at once (first arrival wins), but if another feed
 *     still delivers events below the book's position leadTimeoutMs later, the event that put it there is
 *     judged forged: an error of its feed, and a resync (a freeze is bounded by that time).
 *   - Crossing events: when another feed is delivering, a copy that would cross the book is refused (the
 *     book is left as it is) and counted against its feed; another feed's copy of the same ids decides. A second
 *     feed's copy crossing too means the book is wrong: resync ('crossed'), as with a single feed.
 *   - Snapshot consistency: while another feed is delivering, a snapshot is adopted only once that other
 *     feed's stream covers its id (the feed's first lo <= id <= its last): a snapshot at an id no other feed
 *     has reached is kept as a candidate until one does, and replaced by the next snapshot. With one feed
 *     it is adopted as before. When every other feed is more than seqWindow away from the id, the side
 *     that delivered more valid deltas is believed (confirmedByOtherFeed). Levels forged at a real id
 *     cannot be told from the stream (limitation: only keys, CURVE, bind who may send a snapshot).
 *   - Bounded feed map: at most maxFeeds feeds per book; a new id evicts the least recently active feed
 *     that is not delivering, or is refused; feeds silent for feedEvictMs are evicted.
 *   "Delivering": a valid (decoded, plausible) delta within feedLiveMs, and no error since.
 *
 * Venue resets (OKX maintenance: seqId < prevSeqId; Bybit: a snapshot with u = 1) restart the venue's ids.
 * The consolidated stream must still only go up, so the core keeps `offset` (consolidated seq = venue seq +
 * offset) and moves it at a reset to the reset message's exchange time in ms x 1000 (above every earlier
 * number unless the venue spent over 1000 ids per ms since the last reset; then just above the last one).
 * Arbiters that see the same reset message therefore number the new id space the same way; consolidated
 * messages carry the offset, so a reader never mixes two numberings (BookReplica). After a reset every other
 * feed is in the old id space until it delivers its own copy of the reset (or a snapshot): until then its
 * events are old and dropped as duplicates, never compared with new ids.
 *
 * Integrity (venue checksums, core/integrity.ts; OKX's legacy CRC32): with ArbiterOptions.integrity, an event
 * or snapshot that carries a check value (ev.integrity, read from the venue's text by the shell) is applied in
 * the venue's spelling (the book keeps level strings from the first one on) and verified on the book it
 * produced before anything is published. A
 * mismatch is counted against the feed it came from and resyncs the book exactly as an unfilled gap does.
 *
 * Feed stats definitions:
 *   messages    deltas received from the feed.
 *   duplicates  copies dropped because they were stale against the consolidated seq, or because a copy with
 *               the same `last` was already buffered.
 *   won         copies from this feed that were published.
 *   gapsFilled  times the feed's own stream skipped sequence numbers (an event whose cover (lo, last]
 *               starts past the feed's previous last) and the consolidated stream covered the skipped range
 *               without a resync: either already when the skip showed up, or later while the gap was held (another feed's
 *               copies filled it). Skips still open at a resync are not counted.
 *   lag         for a duplicate whose `last` matches a recently first-arrived copy: its recvTime minus the
 *               first copy's recvTime, µs (may be negative when collector clocks disagree).
 */
import { OrderBook } from './book.js';
import type { StringLevel } from './book.js';
import { type BookIntegrity, type IntegrityInfo, verifyTop } from './integrity.js';
import { LagWindow } from './lag.js';
import type { BookCore, ConfirmationTimes, PublishPolicy } from './bookCore.js';
import { coverStart, intervalRule, type SequenceRule } from './sequence.js';
import type { BookDelta, BookSnapshot, Level } from './types.js';

export type ArbiterState = 'unsynced' | 'synced' | 'gap';
export type SnapshotRequestReason =
  | 'initial'
  | 'gap'
  | 'crossed'
  | 'overflow'
  | 'retry'
  | 'stale-snapshot'
  | 'venue-reset'
  | 'checksum'
  | 'implausible'
  | 'disagreement';
export type ResetReason = 'initial' | 'resync';
/** Why a feed's message was refused and counted against it (see the top of this file). */
export type FeedErrorKind = 'implausible' | 'crossed' | 'refused';

export interface ArbiterSink {
  /**
   * A delta to publish: the winning copy, prev = the consolidated seq before it. Its consolidated seq is
   * ev.last + core.offset (see consolidatedDelta in wire/messages.ts).
   */
  publish(ev: BookDelta, prev: number): void;
  /**
   * The core needs a snapshot (attempt counts up for retries). The shell picks the collector, unless the
   * core names one (the replica merge: a feed's own book comes only from its own connection).
   */
  requestSnapshot(reason: SnapshotRequestReason, attempt: number, collector?: string): void;
  /** The book was (re)built from a snapshot; publish a consolidated snapshot of core.book now (at consolidatedSeq). */
  reset(reason: ResetReason, snap: BookSnapshot): void;
  /**
   * A feed's message was refused as an error counted against it (never applied): for logging. Called for
   * every such message; the shell decides how often to log.
   */
  feedError?(collector: string, kind: FeedErrorKind, detail: string): void;
  /**
   * How far behind the collectors the shell reads its input now (ms): a snapshot asked for now arrives no
   * sooner than that, so a retry at another collector waits at least about twice that (onTimer).
   */
  inputDelayMs?(): number;
}

/** Default plausibility window (ids past the book's seq); venues pass their own (VenueAdapter.seqWindow). */
export const DEFAULT_SEQ_WINDOW = 1e9;

/**
 * Most levels a book may hold on a side. Each event and snapshot is bounded on the wire (5,000 a side), but
 * events adding new prices accumulate: a hostile or broken feed could grow a book without end. The deepest
 * real books (Coinbase's full level2 of a major pair) hold tens of thousands a side.
 */
export const DEFAULT_MAX_BOOK_LEVELS = 200_000;

/** Longest a collector's 'queued' word holds off a retry elsewhere: a rate-limit window (Binance: 1 min) and some. */
const MAX_HOLD_MS = 70_000;

export interface ArbiterOptions {
  /** How long a gap may stay open (no progress) before resyncing. Default 50. */
  gapTimeoutMs?: number;
  /** Re-request a snapshot when none usable arrived this long after the last request. Default 3000. */
  snapshotTimeoutMs?: number;
  /** Max buffered events; on overflow the oldest is dropped and the book resyncs. Default 10000. */
  maxBuffer?: number;
  /** Sequence rule of the venue. Default intervalRule (every sequenced venue: interval cover). */
  rule?: SequenceRule;
  /** The venue's checksum, if it has one: the book then keeps level strings and verifies events that carry one. */
  integrity?: BookIntegrity;
  /** Most levels per side (DEFAULT_MAX_BOOK_LEVELS): past it the feed that did it is charged and the book resyncs. */
  maxLevels?: number;
  /** Plausibility window: an event ending more than this many ids past the book's seq is refused. Default DEFAULT_SEQ_WINDOW. */
  seqWindow?: number;
  /** A feed is delivering while its last valid delta is at most this old. Default 3000. */
  feedLiveMs?: number;
  /** Most feeds tracked per book (a new id beyond it evicts an idle feed or is refused). Default 64. */
  maxFeeds?: number;
  /** Forget a feed silent for this long. Default 300000 (5 min). */
  feedEvictMs?: number;
  /**
   * How long the book may stay ahead of every other delivering feed while they deliver events below it,
   * before the event that put it there is judged a forgery (resync 'implausible'). Default 10000.
   */
  leadTimeoutMs?: number;
  /**
   * When a copy is published: on its first arrival (default 'first') or once another feed's copies of the
   * same ids agree ('confirmed'; see "Confirmed publication" at the top of this file).
   */
  publish?: PublishPolicy;
  /** 'confirmed': how long copies may wait for another feed's before they are judged (alone, or disputed). Default 1000. */
  divergeMs?: number;
}

/** 'confirmed': a copy held until another feed's copies of its ids agree with it. */
interface Pending {
  ev: BookDelta;
  /** When it arrived (the shell's ms). */
  atMs: number;
  /** Arrival order among every feed's held copies (the first copy of some ids is the one published). */
  order: number;
}

/** The levels a chain of copies sets (later ones winning), per side: what the book at their start becomes. */
class Overlay {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  add(ev: Pick<BookDelta, 'bids' | 'asks'>): void {
    for (const l of ev.bids) this.bids.set(l[0], l[1]);
    for (const l of ev.asks) this.asks.set(l[0], l[1]);
  }
  /** Whether the two overlays make the same book of `book` (a level one leaves alone is at its size there). */
  sameOn(o: Overlay, book: OrderBook): boolean {
    return sameSide(this.bids, o.bids, book, 'bid') && sameSide(this.asks, o.asks, book, 'ask');
  }
  /** Forget the levels past a depth: bids below `bid`, asks above `ask`. */
  keepTo(bid: number, ask: number): void {
    for (const p of this.bids.keys()) if (p < bid) this.bids.delete(p);
    for (const p of this.asks.keys()) if (p > ask) this.asks.delete(p);
  }
}

/**
 * A venue snapshot as an overlay on `book`, within the snapshot's depth (exactTo, else its last levels; a side
 * it leaves empty is empty to any depth): its levels, and 0 for the book's levels there it does not have.
 * Compared (Overlay.sameOn) with another overlay cut to the same depth (keepTo `to`): past it nothing is known.
 */
function snapshotOverlay(snap: BookSnapshot, book: OrderBook): { o: Overlay; to: { bid: number; ask: number } } {
  let bid = Infinity; // the lowest bid it has, the highest ask
  let ask = -Infinity;
  for (const l of snap.bids) if (l[0] < bid) bid = l[0];
  for (const l of snap.asks) if (l[0] > ask) ask = l[0];
  if (snap.bids.length === 0) bid = -Infinity;
  if (snap.asks.length === 0) ask = Infinity;
  if (snap.exactTo !== undefined) ({ bid, ask } = snap.exactTo);
  const o = new Overlay();
  const had = book.snapshot();
  for (const l of had.bids) if (l[0] >= bid) o.bids.set(l[0], 0);
  for (const l of had.asks) if (l[0] <= ask) o.asks.set(l[0], 0);
  o.add(snap);
  return { o, to: { bid, ask } };
}

function sameSide(a: Map<number, number>, b: Map<number, number>, book: OrderBook, side: 'bid' | 'ask'): boolean {
  for (const [p, q] of a) if ((b.get(p) ?? book.sizeOf(side, p)) !== q) return false;
  for (const [p, q] of b) if (!a.has(p) && book.sizeOf(side, p) !== q) return false;
  return true;
}

/** A feed holding this many copies past a hole in its chain lost the ids in it (a reordered copy comes sooner). */
const SKIP_AFTER = 3;

export interface FeedStats {
  messages: number;
  duplicates: number;
  won: number;
  gapsFilled: number;
  /** Snapshots from this collector the core adopted (initial sync included). */
  resyncs: number;
  /** Events or snapshots from this feed whose venue checksum the book failed (each one resynced the book). */
  checksumMismatches: number;
  /** Messages refused as errors of this feed: implausible sequence jumps, crossing copies. */
  errors: number;
  /** Replica venues (replicaArbiter.ts): times this feed's book disagreed with the others' and was resynced. */
  disagreements?: number;
  /** When (shell's nowMs) this feed last delivered a valid delta; NaN if never. */
  lastValidMs: number;
  /** Lag percentiles (µs) over the current window; 0 when lagSamples is 0. */
  lagP50: number;
  lagP99: number;
  lagSamples: number;
}

export interface ArbiterCounters {
  /** Times a synced book was abandoned for a new snapshot (gap timeout, crossed, overflow). */
  resyncs: number;
  /** Deltas published. */
  published: number;
  /** Snapshots adopted (initial sync included). */
  snapshotsAdopted: number;
  /** Snapshots that arrived while synced. */
  snapshotsIgnored: number;
  /** Snapshots refused: crossed, too old/new for the buffered events, or for another book. */
  snapshotsRejected: number;
  /** Snapshot requests made (retries included). */
  snapshotRequests: number;
  /** Buffered events dropped because the buffer was full. */
  overflowDrops: number;
  /** Malformed deltas dropped (first > last, NaN). */
  invalid: number;
  /** Reset events from the venue (ids restarted); each one forces a resync. */
  venueResets: number;
  /** Venue checksums verified on the book (non-zero OKX checksums), and how many failed. */
  checksumsVerified: number;
  checksumMismatches: number;
  /** Events refused as beyond the plausibility window (or snapshots too far past every other feed). */
  implausible: number;
  /** Crossing copies refused while another feed was delivering (the book was kept). */
  crossedRefused: number;
  /** Times a book grew past maxLevels on a side (the feed that did it is charged; the book resyncs). */
  oversize: number;
  /** Snapshots held back because no other delivering feed had reached their id yet. */
  snapshotsUnconfirmed: number;
  /** Feeds forgotten (silent for feedEvictMs, or evicted for a new id at maxFeeds). */
  feedsEvicted: number;
  /**
   * Later copies of published ids whose levels said something else (a corrupted copy: which one cannot be
   * told with two feeds); each resynced the book.
   */
  copyMismatches: number;
  /** Messages from a new feed id refused because maxFeeds feeds were all delivering. */
  feedsRefused: number;
  /** publish: 'confirmed' (PublishPolicy): messages published when a second feed's copy agreed with them. */
  confirmed: number;
  /**
   * 'confirmed': messages published on one feed's word: no other feed had a copy to compare with, or the
   * others stayed silent for divergeMs after it.
   */
  publishedAlone: number;
  /** 'confirmed': messages published at once, the venue's checksum covering every level they changed. */
  vouched: number;
}

/** Every counter at 0 (both merges, arbiter.ts and replicaArbiter.ts, keep these). */
export function newArbiterCounters(): ArbiterCounters {
  return {
    resyncs: 0,
    published: 0,
    snapshotsAdopted: 0,
    snapshotsIgnored: 0,
    snapshotsRejected: 0,
    snapshotRequests: 0,
    overflowDrops: 0,
    invalid: 0,
    venueResets: 0,
    checksumsVerified: 0,
    checksumMismatches: 0,
    implausible: 0,
    crossedRefused: 0,
    oversize: 0,
    snapshotsUnconfirmed: 0,
    feedsEvicted: 0,
    feedsRefused: 0,
    copyMismatches: 0,
    confirmed: 0,
    publishedAlone: 0,
    vouched: 0,
  };
}

const NONE = Number.NEGATIVE_INFINITY;
/** The first retry of a snapshot request at another collector comes this long after the fast retry (onTimer). */
const OTHER_COLLECTOR_MS = 3000;
/** Longest the input's delay (ArbiterSink.inputDelayMs) holds off a retry at another collector. */
const MAX_DELAY_WAIT_MS = 30_000;
/** First-arrival memory (recvTime by `last`) for lag. Power of two. */
const RECENT = 4096;
/** The feed id a peer arbiter's snapshot carries (arbiter/peers.ts): never a collector's (their ids have no ':'). */
export const PEER_FEED = 'peer:arbiter';

/** Compact the buffer's consumed head once it is this long and at least half the array. */
const COMPACT_AT = 1024;

class Feed {
  /** The id space (BookArbiter.epoch) this feed's messages are in. */
  epoch = 0;
  messages = 0;
  duplicates = 0;
  won = 0;
  gapsFilled = 0;
  resyncs = 0;
  checksumMismatches = 0;
  /** Highest `last` this feed delivered (current epoch). */
  last = NONE;
  /** Lowest cover start (lo) this feed delivered in the current epoch: with `last`, the span its stream covers. */
  low = Number.POSITIVE_INFINITY;

  /** Its stream covers `ev` too (last, low). */
  spans(ev: BookDelta): void {
    if (ev.last > this.last) this.last = ev.last;
    const lo = coverStart(ev);
    if (lo < this.low) this.low = lo;
  }
  errors = 0;
  /** Copies of published ids on which this feed and another said different things. */
  disagreements = 0;
  /** Valid deltas (decoded and plausible). */
  valid = 0;
  /** A collector's snapshot of this book came from it in its current id space (expected() before its deltas). */
  snapshotted = false;
  /** Shell times (ms): last message of any kind, last valid delta, last error. NaN: never. */
  lastMs = NaN;
  lastValidMs = NaN;
  lastBadMs = NaN;
  /** End of a range this feed skipped that the consolidated stream has not covered yet. */
  pendingSkipEnd = NONE;
  readonly lag = new LagWindow();
  /** publish 'confirmed': its copies not stale against the book, held until confirmed, sorted by last. */
  pool: Pending[] = [];
  /**
   * 'confirmed': it stayed silent (or behind) while another feed's copies waited divergeMs for it: not waited
   * for again until it delivers a copy that reaches the book's seq.
   */
  absent = false;

  /** Move into id space `epoch`: what the feed covered before is in another numbering. */
  enter(epoch: number): void {
    this.epoch = epoch;
    this.snapshotted = false;
    this.last = NONE;
    this.low = Number.POSITIVE_INFINITY;
  }

  /** Delivered a venue reset to `id`: the feed's stream is at the new id (a snapshot there is consistent with it). */
  atReset(id: number, nowMs: number): void {
    if (id < this.low) this.low = id;
    if (id > this.last) this.last = id;
    this.valid++;
    this.lastValidMs = nowMs;
  }

  /** Delivered valid data within liveMs and no error since. */
  delivering(nowMs: number, liveMs: number): boolean {
    return nowMs - this.lastValidMs <= liveMs && !(this.lastBadMs > this.lastValidMs);
  }

  stats(): FeedStats {
    return {
      messages: this.messages,
      duplicates: this.duplicates,
      won: this.won,
      gapsFilled: this.gapsFilled,
      resyncs: this.resyncs,
      checksumMismatches: this.checksumMismatches,
      errors: this.errors,
      disagreements: this.disagreements,
      lastValidMs: this.lastValidMs,
      ...this.lag.percentiles(),
    };
  }
}

export class BookArbiter implements BookCore {
  /** Consolidated book; authoritative at `seq` unless state is 'unsynced'. */
  get book(): OrderBook {
    return this._book;
  }
  private _book = new OrderBook();
  readonly counters: ArbiterCounters = newArbiterCounters();

  private readonly gapTimeoutMs: number;
  private readonly snapshotTimeoutMs: number;
  private readonly maxLevels: number;
  private readonly maxBuffer: number;
  private readonly rule: SequenceRule;
  private readonly integrity: BookIntegrity | undefined;
  private readonly seqWindow: number;
  private readonly feedLiveMs: number;
  private readonly maxFeeds: number;
  private readonly feedEvictMs: number;
  private lastEvictScan = NaN;
  private readonly leadTimeoutMs: number;
  /**
   * Lead check: a book position (`leadLast`, reached by `leadFeed`'s event at `leadSince`) that no other feed
   * has reached yet. Another feed still delivering an event below it leadTimeoutMs later means the event
   * was forged within the plausibility window: resync. One position at a time: when another feed reaches
   * it, the book's position then is the next one checked.
   */
  private leadLast = NONE;
  private leadFeed = '';
  private leadSince = 0;
  /** Feed of the last published event. */
  private lastWinner = '';
  /** A snapshot waiting for another delivering feed's stream to reach its id (see the top of this file). */
  private candidate: BookSnapshot | undefined;
  /** The `last` of the last crossing copy refused, and its feed: a second feed's copy crossing too resyncs. */
  private crossedLast = NONE;
  private crossedFeed = '';

  private _state: ArbiterState = 'unsynced';
  private _seq = 0;
  /** Consolidated seq = venue seq + offset; moved by venue resets only. */
  private _offset = 0;
  /** Venue id spaces seen: 0 until the first venue reset. */
  private epoch = 0;
  /** The reset message that started this id space, to know its repeats ('' before any). */
  private resetKey = '';

  private gapSince = 0;
  /** When the last snapshot request was made; NaN before the first one. */
  private requestedAt = NaN;
  private attempt = 0;
  /** A collector holds the request until then (its word, SnapshotStatus 'queued'): no retry before. */
  private heldUntil = NaN;
  /** The last snapshot request's reason, and when this episode's first request went out. */
  private lastReason: SnapshotRequestReason = 'initial';
  private waitingSince = NaN;
  private everSynced = false;
  /** Whether an event was applied since the last snapshot (a gap right after one means the snapshot was unusable). */
  private appliedSinceReset = false;
  /** A Kafka restore's snapshot is being taken (restore()): its feed id is no collector. */
  private restoring = false;

  private readonly feeds = new Map<string, Feed>();

  /** Held events sorted by first; live part is buf[head..]. At most one event per `last`. */
  private buf: BookDelta[] = [];
  private head = 0;
  private readonly bufLasts = new Set<number>();

  /** recvTime of the first copy of recent `last`s, direct-mapped by last's low bits. */
  private readonly recentLast = new Float64Array(RECENT).fill(NaN);
  /** The published copy of each recent `last`: its cover start, levels' print and feed (compareCopy). */
  private readonly pubLast = new Float64Array(RECENT).fill(NaN);
  private readonly pubLo = new Float64Array(RECENT);
  private readonly pubPrint = new Float64Array(RECENT);
  private readonly pubFeed: string[] = new Array<string>(RECENT);
  /** 1: that published copy was confirmed by another copy or vouched for by the checksum (compareCopy). */
  private readonly pubTrusted = new Uint8Array(RECENT);
  private readonly recentRecv = new Float64Array(RECENT);

  /** publish: 'confirmed' (see "Confirmed publication" at the top). */
  private readonly confirmMode: boolean;
  private readonly divergeMs: number;
  /** 'confirmed': copies held in the feeds' pools, and the arrival counter that orders them. */
  private pooled = 0;
  private arrivals = 0;
  /** From the first copy of a confirmed message's ids (its last id) to the copy that confirmed it, µs. */
  private readonly confirmTimes = new LagWindow();
  /** The book's seq when the 'confirmed' gap clock last (re)started. */
  private gapSeq = NaN;
  /**
   * 'confirmed': the book resyncs because every other feed lost ids only this feed's chain carried (its held
   * copies await the snapshot, which judges them); since when. See skippedByOthers.
   */
  private lone: { feed: Feed; sinceMs: number } | undefined;
  /** 'confirmed': that snapshot did not come in time: such ids go out alone until two feeds agree again. */
  private loneFallback = false;
  /**
   * 'confirmed': a venue reset message (OKX maintenance) that continues the book, held until another feed
   * delivers the same reset (same key) or divergeMs passes. The book, its numbering and every other feed stay
   * in the old id space meanwhile; its feed alone is in the next (epoch + 1), its copies held in its pool.
   */
  private resetHeld: { ev: BookDelta; feed: Feed; key: string; atMs: number } | undefined;

  constructor(
    readonly venue: string,
    readonly symbol: string,
    private readonly sink: ArbiterSink,
    opts: ArbiterOptions = {},
  ) {
    this.gapTimeoutMs = opts.gapTimeoutMs ?? 50;
    this.maxLevels = opts.maxLevels ?? DEFAULT_MAX_BOOK_LEVELS;
    this.snapshotTimeoutMs = opts.snapshotTimeoutMs ?? 3000;
    this.maxBuffer = Math.max(1, opts.maxBuffer ?? 10000);
    this.rule = opts.rule ?? intervalRule;
    this.integrity = opts.integrity;
    this.seqWindow = opts.seqWindow ?? DEFAULT_SEQ_WINDOW;
    this.feedLiveMs = opts.feedLiveMs ?? 3000;
    this.maxFeeds = Math.max(1, opts.maxFeeds ?? 64);
    this.feedEvictMs = opts.feedEvictMs ?? 300_000;
    this.leadTimeoutMs = opts.leadTimeoutMs ?? 10_000;
    this.confirmMode = opts.publish === 'confirmed';
    this.divergeMs = opts.divergeMs ?? 1000;
  }

  get publishPolicy(): PublishPolicy {
    return this.confirmMode ? 'confirmed' : 'first';
  }

  /** 'confirmed': how long the last 1024 confirmed messages waited for their second copy (µs). */
  confirmation(): ConfirmationTimes {
    const t = this.confirmTimes.percentiles();
    return { p50Us: t.lagP50, p99Us: t.lagP99, samples: t.lagSamples };
  }

  /** Last applied exchange sequence (the snapshot's seq right after a reset). */
  get seq(): number {
    return this._seq;
  }

  /** consolidated seq - venue seq: 0 until the venue resets its ids. */
  get offset(): number {
    return this._offset;
  }

  /** The consolidated seq of the book now. */
  get consolidatedSeq(): number {
    return this._seq + this._offset;
  }

  get state(): ArbiterState {
    return this._state;
  }

  /** Events currently held (out of order, or waiting for a snapshot). */
  /**
   * While unsynced: why the book waits for a snapshot (the reason it was first requested for, the attempt,
   * and since when, ms on the caller's clock); undefined while synced or before any request.
   */
  get waiting(): { reason: SnapshotRequestReason; attempt: number; sinceMs: number } | undefined {
    if (this._state !== 'unsynced' || Number.isNaN(this.waitingSince)) return undefined;
    return { reason: this.lastReason, attempt: this.attempt, sinceMs: this.waitingSince };
  }

  get buffered(): number {
    return this.buf.length - this.head + this.pooled;
  }

  /** Request the initial snapshot now rather than on the first delta. */
  start(nowMs: number): void {
    if (this._state === 'unsynced' && Number.isNaN(this.requestedAt)) this.request('initial', nowMs);
  }

  onDelta(ev: BookDelta, nowMs: number): void {
    const f = this.feed(ev.collector, nowMs);
    if (f === undefined) return;
    f.messages++;
    if (!(ev.first <= ev.last)) {
      this.counters.invalid++;
      return;
    }
    if (ev.reset === true) {
      this.onResetDelta(ev, f, nowMs);
      return;
    }
    if (f.epoch < this.epoch) {
      this.duplicate(ev, f); // sent before the venue reset this feed has not delivered yet: old ids
      return;
    }
    if (f.epoch > this.epoch) {
      // after its venue reset, held (resetHeld): its copies wait in its pool for the reset to be taken
      f.valid++;
      f.lastValidMs = nowMs;
      f.spans(ev);
      this.rememberFirst(ev);
      this.pend(ev, f, nowMs);
      return;
    }
    if (this._state !== 'unsynced' && ev.last - this._seq > this.seqWindow) {
      this.implausible(ev, f, nowMs);
      return;
    }
    f.valid++;
    f.lastValidMs = nowMs;
    if (f.absent && ev.last >= this._seq) f.absent = false;
    const feedLast = f.last;
    f.spans(ev);
    const lo = coverStart(ev);

    if (this._state === 'unsynced') {
      this.holdWhileUnsynced(ev, f, nowMs);
      const c = this.candidate;
      if (c !== undefined && c.collector !== ev.collector && f.low <= c.seq && c.seq <= f.last) {
        this.candidate = undefined;
        this.onSnapshot(c, nowMs); // another feed's stream reached the held snapshot's id
      }
      return;
    }
    if (feedLast !== NONE && lo > feedLast) this.noteSkip(f, lo);
    if (this.leadLast !== NONE && ev.collector !== this.leadFeed) {
      if (ev.last >= this.leadLast) this.nextLead(nowMs);
      else if (nowMs - this.leadSince >= this.leadTimeoutMs) {
        // still below a position it should long have reached: that position was forged
        this.leadForged(nowMs);
        this.holdWhileUnsynced(ev, f, nowMs);
        return;
      }
    }

    const verdict = this.rule.check(this._seq, ev);
    if (this.confirmMode && verdict !== 'stale') {
      this.rememberFirst(ev);
      this.pend(ev, f, nowMs);
    } else if (verdict === 'apply') {
      this.rememberFirst(ev);
      if (this.applyAndPublish(ev, f, nowMs) === 'applied' && this._state === 'gap') this.drain(nowMs);
    } else if (verdict === 'stale') {
      this.duplicate(ev, f);
      this.compareCopy(ev, f, nowMs);
    } else if (this.bufLasts.has(ev.last) && !this.widerThanHeld(ev)) {
      this.duplicate(ev, f);
    } else {
      this.rememberFirst(ev);
      if (this._state === 'synced') {
        this._state = 'gap';
        this.gapSince = nowMs;
      }
      this.hold(ev, nowMs);
    }
  }

  /**
   * False when a delta covering first..last would be dropped as already seen whatever its levels: the
   * caller may then skip decoding them (onDelta still gets the event, for the feed's counters).
   */
  needsLevels(first: number, last: number): boolean {
    if (this._state === 'unsynced') return true;
    // Only 'stale' is certain without `prev`: a held copy with the same `last` may be replaced by a wider one.
    return this.rule.check(this._seq, { first, last }) !== 'stale';
  }

  /**
   * The committed output of the arbiter that had the book (a Kafka group's takeover): an ordinary snapshot
   * here, the venue's ids being every arbiter's numbering (sequenced books carry no epoch).
   */
  restore(snap: BookSnapshot, _epoch: string | undefined, nowMs: number): void {
    this.restoring = true;
    try {
      this.onSnapshot(snap, nowMs);
    } finally {
      this.restoring = false;
    }
  }

  onSnapshot(snap: BookSnapshot, nowMs: number): void {
    if (snap.venue !== this.venue || snap.symbol !== this.symbol || !Number.isFinite(snap.seq)) {
      this.counters.snapshotsRejected++;
      return;
    }
    const f = this.feed(snap.collector, nowMs);
    if (f === undefined) return;
    const key = snap.reset === true ? `snapshot ${snap.seq} at ${snap.exchTime}` : '';
    if (f.epoch > this.epoch) {
      this.counters.snapshotsIgnored++; // of the new id space of a reset still held (resetHeld)
      return;
    }
    if (f.epoch < this.epoch)
      f.enter(this.epoch); // a snapshot (a copy of the reset's, or after a reconnect) is current
    else if (snap.reset === true && key !== this.resetKey && !snapshotCrossed(snap.bids, snap.asks)) {
      // A new id space starts with this snapshot (Bybit u = 1): adopt it whatever the state.
      this.newEpoch(f, snap.seq, snap.exchTime, key);
      this.dropHeld();
      this._state = 'unsynced';
    }
    // a collector's (not a peer arbiter's, nor a Kafka restore): its deltas are expected to follow (a
    // websocket venue's subscription sends the snapshot first)
    if (!this.restoring && snap.collector !== PEER_FEED) f.snapshotted = true;
    if (this._state !== 'unsynced') {
      this.counters.snapshotsIgnored++;
      return;
    }
    if (snap.offset !== undefined && snap.offset !== this._offset && (this.resetKey !== '' || this.everSynced)) {
      // numbered by an arbiter that saw another venue reset than this one: its seq is not comparable
      this.counters.snapshotsRejected++;
      this.request('stale-snapshot', nowMs);
      return;
    }
    if (snapshotCrossed(snap.bids, snap.asks)) {
      this.counters.snapshotsRejected++;
      this.request('crossed', nowMs);
      return;
    }
    // The earliest held event that is not stale against the snapshot must chain onto it (events beyond the
    // plausibility window past it do not count: they are dropped once it is adopted).
    if (this.earliestHeld(snap.seq) === 'gap') {
      this.counters.snapshotsRejected++;
      this.request('stale-snapshot', nowMs);
      return;
    }
    if (!this.snapshotIntact(snap, f)) {
      this.counters.snapshotsRejected++;
      this.request('checksum', nowMs);
      return;
    }
    const confirmed = this.confirmedByOtherFeed(snap, nowMs);
    if (confirmed === 'implausible') {
      this.counters.implausible++;
      f.errors++;
      f.lastBadMs = nowMs;
      this.sink.feedError?.(
        snap.collector,
        'implausible',
        `snapshot at ${snap.seq} is more than ${this.seqWindow} ids from every other feed`,
      );
      return;
    }
    if (confirmed === 'wait') {
      this.counters.snapshotsUnconfirmed++;
      this.candidate = snap;
      return;
    }
    this.adopt(snap, nowMs);
  }

  /**
   * Whether the delivering feeds' streams bear a snapshot's id out. 'yes': another feed's stream covers it
   * (its first lo <= id <= its last), or no other feed is delivering. 'wait': another feed is within
   * seqWindow of it but has not reached it yet. Otherwise every other feed is more than seqWindow away: the
   * feeds near the id (the snapshot's own collector by its stream) and those far from it are weighed by the
   * valid deltas they delivered less twice their errors; 'yes' if the near side carries more, else
   * 'implausible'. Before any other feed delivers, the snapshot's collector is believed (as with one feed).
   */
  private confirmedByOtherFeed(snap: BookSnapshot, nowMs: number): 'yes' | 'wait' | 'implausible' {
    const s = snap.seq;
    let others = false;
    let near = 0;
    let far = 0;
    for (const [id, g] of this.feeds) {
      if (g.epoch !== this.epoch || !g.delivering(nowMs, this.feedLiveMs)) continue;
      const isNear = !(s - g.last > this.seqWindow) && !(g.low - s > this.seqWindow);
      // a feed's word is worth its valid deltas less twice its errors
      const credit = Math.max(0, g.valid - 2 * g.errors);
      if (id === snap.collector) {
        if (isNear) near += credit;
        continue;
      }
      others = true;
      if (g.low <= s && s <= g.last) return 'yes';
      if (isNear) return 'wait';
      far += credit;
    }
    if (!others) return 'yes';
    return near > far ? 'yes' : 'implausible';
  }

  onTimer(nowMs: number): void {
    if (!(nowMs - this.lastEvictScan < 1000)) this.evictSilent(nowMs);
    if (this.resetHeld !== undefined && nowMs - this.resetHeld.atMs >= this.divergeMs) this.takeReset(nowMs);
    if (this.confirmMode && this._state !== 'unsynced') this.judgePending(nowMs);
    else if (this.lone !== undefined && nowMs - this.lone.sinceMs >= this.divergeMs + this.snapshotTimeoutMs) {
      this.loneTimeout(nowMs);
      return;
    }
    if (this._state === 'gap') {
      if (nowMs - this.gapSince >= this.gapTimeoutMs) {
        this.resync(this.appliedSinceReset ? 'gap' : 'stale-snapshot', nowMs);
      }
    } else if (this._state === 'unsynced' && !Number.isNaN(this.requestedAt) && !(nowMs < this.heldUntil)) {
      // One fast retry (a request sent before a collector's control subscription was up is simply lost --
      // ZeroMQ's slow joiner): the shell sends it to the same collector, which merges it with the first if
      // that one did arrive. Then a second, doubling up to snapshotTimeoutMs, each to another collector: a
      // cold start of many books queues requests at the collectors, and a retry elsewhere while the first
      // is still queued spends the venue's weight twice. The first retry elsewhere waits OTHER_COLLECTOR_MS:
      // in a whole market's cold start a collector's word ("queued", "in progress") takes over a second to
      // come back; at 1 s the 2,000-book demo fetched 3,487 snapshots, at 3 s 2,113.
      // Nor is another collector asked sooner than an answer could be here: over Kafka a cold start of 2,000
      // books read its input 5-8 s behind the collectors, and retries every 3 s fetched 2.3 snapshots a book.
      let wait =
        this.attempt === 1 ? 250 : Math.min(this.snapshotTimeoutMs, OTHER_COLLECTOR_MS * 2 ** (this.attempt - 2));
      if (this.attempt > 1) wait = Math.max(wait, Math.min(MAX_DELAY_WAIT_MS, 2 * (this.sink.inputDelayMs?.() ?? 0)));
      if (nowMs - this.requestedAt >= wait) this.request('retry', nowMs);
    }
  }

  /**
   * Drop every held event (the arbiter is over its total bound, ArbiterService maxHeldTotal): counted as
   * overflow drops; a book that was synced resyncs, as when its own buffer overflows. Returns how many.
   */
  shed(nowMs: number): number {
    const n = this.buffered;
    if (n === 0) return 0;
    this.dropHeld();
    this.counters.overflowDrops += n;
    if (this._state !== 'unsynced') this.resync('overflow', nowMs);
    return n;
  }

  /**
   * What the collector asked last said of the request (the shell checks it is that collector's word):
   * 'queued' for etaMs by the venue's rate limit -- no retry elsewhere until then plus snapshotTimeoutMs,
   * and at most MAX_HOLD_MS from now, so a collector that holds requests cannot stall the book for good;
   * 'failed' -- ask the next collector now instead of waiting out the timeout.
   */
  onSnapshotStatus(state: 'queued' | 'failed', etaMs: number, nowMs: number): void {
    if (this._state !== 'unsynced' || Number.isNaN(this.requestedAt)) return;
    if (state === 'failed') {
      this.heldUntil = NaN;
      this.request('retry', nowMs);
      return;
    }
    const eta = Number.isFinite(etaMs) && etaMs > 0 ? etaMs : 0;
    // a later word may shorten the hold (the request was sent sooner than its rate-limit ETA said)
    this.heldUntil = nowMs + Math.min(eta + this.snapshotTimeoutMs, MAX_HOLD_MS);
  }

  heldByQueue(nowMs: number): boolean {
    return this._state === 'unsynced' && !Number.isNaN(this.requestedAt) && nowMs < this.heldUntil;
  }

  retryNow(nowMs: number): void {
    if (this._state === 'unsynced') this.request('retry', nowMs);
  }

  /**
   * Feeds a snapshot request may go to: delivering valid data now (see the top of this file), most valid
   * deltas first, and not far behind the busiest one (at least a tenth of its valid deltas): an id that sent
   * one plausible copy is not asked while feeds that carry the stream are.
   */
  snapshotSources(nowMs: number): string[] {
    const live: [string, Feed][] = [];
    for (const e of this.feeds) if (e[1].delivering(nowMs, this.feedLiveMs)) live.push(e);
    live.sort((x, y) => y[1].valid - x[1].valid);
    const floor = live.length === 0 ? 0 : live[0][1].valid / 10;
    return live.filter(([, g]) => g.valid >= floor).map(([id]) => id);
  }

  /** Whether the core tracks this feed (it delivered a message and was not evicted). */
  hasFeed(id: string): boolean {
    return this.feeds.has(id);
  }

  feedStats(): Map<string, FeedStats> {
    const out = new Map<string, FeedStats>();
    for (const [id, f] of this.feeds) out.set(id, f.stats());
    return out;
  }

  /** Start a new lag window (the shell calls this every stats interval). */
  resetLagWindow(): void {
    for (const f of this.feeds.values()) f.lag.reset();
  }

  // --- internals ---

  /** The feed of a message (created if new, within maxFeeds); undefined when refused. */
  private feed(id: string, nowMs: number): Feed | undefined {
    let f = this.feeds.get(id);
    if (f === undefined) {
      if (this.feeds.size >= this.maxFeeds && !this.evictOneIdle(nowMs)) {
        this.counters.feedsRefused++;
        this.sink.feedError?.(id, 'refused', `${this.maxFeeds} feeds are delivering; a new id is refused`);
        return undefined;
      }
      // epoch 0: a feed first heard after a venue reset may still be sending old ids; it is current once it
      // delivers the reset or a snapshot (venues that reset send one on every (re)subscribe)
      f = new Feed();
      this.feeds.set(id, f);
    }
    f.lastMs = nowMs;
    return f;
  }

  /** The feed of a held event; a feed evicted meanwhile gets a detached one (counted nowhere, never stored). */
  private feedOf(id: string): Feed {
    return this.feeds.get(id) ?? new Feed();
  }

  /** Make room for a new id: forget the least recently heard feed that is not delivering. */
  private evictOneIdle(nowMs: number): boolean {
    let victim: string | undefined;
    let oldest = Infinity;
    for (const [id, g] of this.feeds) {
      if (g.delivering(nowMs, this.feedLiveMs)) continue;
      const t = Number.isNaN(g.lastMs) ? -Infinity : g.lastMs;
      if (t < oldest || victim === undefined) {
        oldest = t;
        victim = id;
      }
    }
    if (victim === undefined) return false;
    this.pooled -= this.feeds.get(victim)!.pool.length;
    this.feeds.delete(victim);
    this.counters.feedsEvicted++;
    return true;
  }

  private evictSilent(nowMs: number): void {
    this.lastEvictScan = nowMs;
    for (const [id, g] of this.feeds)
      if (nowMs - g.lastMs > this.feedEvictMs) {
        this.pooled -= g.pool.length;
        this.feeds.delete(id);
        this.counters.feedsEvicted++;
      }
  }

  /** An event too far past the book: counted against its feed, never applied; see the top of this file. */
  private implausible(ev: BookDelta, f: Feed, nowMs: number): void {
    this.counters.implausible++;
    f.errors++;
    f.lastBadMs = nowMs;
    this.sink.feedError?.(
      ev.collector,
      'implausible',
      `event ${ev.first}-${ev.last} ends more than ${this.seqWindow} ids past the book at ${this._seq}`,
    );
    // No other feed is delivering (the only one, or all back from an outage): the venue may really have
    // jumped; resync rather than refuse every event forever. While another feed delivers, its word stands.
    if (!this.anotherDelivering(f, nowMs)) this.resync('implausible', nowMs);
  }

  private anotherDelivering(f: Feed, nowMs: number): boolean {
    for (const g of this.feeds.values())
      if (g !== f && g.epoch === this.epoch && g.delivering(nowMs, this.feedLiveMs)) return true;
    return false;
  }

  /**
   * Whether applying ev would leave the book crossed, without applying it: on each side the best price after
   * ev is the better of ev's best non-zero level and the book's best level ev does not touch (a touched
   * level is either deleted or in ev). Reads only as many book levels as ev has, plus one.
   */
  private wouldCross(ev: BookDelta): boolean {
    const top = this.book.top(Math.max(ev.bids.length, ev.asks.length) + 1);
    const bid = bestAfter(top.bids, ev.bids, 1);
    const ask = bestAfter(top.asks, ev.asks, -1);
    return bid >= ask;
  }

  /** Whether applying ev could leave the book crossed (cheap bound: ev's best prices against the book's). */
  private mayCross(ev: BookDelta): boolean {
    let bid = this.book.bestBidPrice();
    let ask = this.book.bestAskPrice();
    for (let i = 0; i < ev.bids.length; i++) {
      const l = ev.bids[i];
      if (l[1] > 0 && !(l[0] <= bid)) bid = l[0];
    }
    for (let i = 0; i < ev.asks.length; i++) {
      const l = ev.asks[i];
      if (l[1] > 0 && !(l[0] >= ask)) ask = l[0];
    }
    return bid >= ask;
  }

  private holdWhileUnsynced(ev: BookDelta, f: Feed, nowMs: number): void {
    if (this.confirmMode) {
      // every feed's copy is kept: after the snapshot they confirm each other
      this.rememberFirst(ev);
      this.pend(ev, f, nowMs);
    } else if (this.bufLasts.has(ev.last) && !this.widerThanHeld(ev)) this.duplicate(ev, f);
    else {
      this.rememberFirst(ev);
      this.hold(ev, nowMs);
    }
    // Request after buffering, so a shell that answers synchronously still sees this event.
    if (Number.isNaN(this.requestedAt)) this.request('initial', nowMs);
  }

  /**
   * The verdict, against a book at `seq`, of the earliest held event (by first id) that is not stale against
   * it and within the plausibility window; undefined when none is held.
   */
  private earliestHeld(seq: number): 'apply' | 'gap' | undefined {
    let e: BookDelta | undefined;
    const consider = (x: BookDelta) => {
      if (this.rule.check(seq, x) === 'stale' || x.last - seq > this.seqWindow) return;
      if (e === undefined || x.first < e.first) e = x;
    };
    for (let i = this.head; i < this.buf.length; i++) {
      consider(this.buf[i]);
      if (e !== undefined) break; // sorted by first
    }
    if (this.pooled > 0)
      for (const g of this.feeds.values()) if (g.epoch <= this.epoch) for (const p of g.pool) consider(p.ev);
    return e === undefined ? undefined : this.rule.check(seq, e) === 'apply' ? 'apply' : 'gap';
  }

  /** The feed skipped (.., skipEnd]: filled already if the consolidated stream covers it, else pending. */
  private noteSkip(f: Feed, skipEnd: number): void {
    if (skipEnd <= this._seq) f.gapsFilled++;
    else if (skipEnd > f.pendingSkipEnd) f.pendingSkipEnd = skipEnd;
  }

  private settleSkips(): void {
    for (const f of this.feeds.values()) {
      if (f.pendingSkipEnd !== NONE && f.pendingSkipEnd <= this._seq) {
        f.gapsFilled++;
        f.pendingSkipEnd = NONE;
      }
    }
  }

  private duplicate(ev: BookDelta, f: Feed): void {
    f.duplicates++;
    const i = ev.last & (RECENT - 1);
    if (this.recentLast[i] === ev.last) f.lag.add(ev.recvTime - this.recentRecv[i]);
  }

  /**
   * Copies are evidence: a later copy of exactly the ids of a published one (same cover) must carry the same
   * levels. When it does not, one of the two was corrupted on its way and nothing says which (with a third
   * feed the others would): both feeds are charged and the book resyncs, so a corrupted level that was
   * published does not stay. True when it resynced.
   */
  private compareCopy(ev: BookDelta, f: Feed, nowMs: number): boolean {
    if (ev.levelsPrint === undefined) return false;
    const i = ev.last & (RECENT - 1);
    const other = this.pubFeed[i];
    if (this.pubLast[i] !== ev.last || this.pubLo[i] !== coverStart(ev) || other === ev.collector) return false;
    if (this.pubPrint[i] === ev.levelsPrint) return false;
    if (this.pubTrusted[i] === 1) {
      // the published copy was confirmed by another (or vouched for by the checksum): this one is wrong
      this.charge(f, `its copy of ${ev.first}-${ev.last} differs from the confirmed one`);
      return false;
    }
    this.pubLast[i] = NaN;
    this.counters.copyMismatches++;
    f.disagreements++;
    const g = this.feeds.get(other);
    if (g !== undefined) g.disagreements++;
    this.sink.feedError?.(
      ev.collector,
      'refused',
      `its copy of ${ev.first}-${ev.last} differs from ${other}'s, which was published: one of them was corrupted`,
    );
    this.resync('disagreement', nowMs);
    return true;
  }

  private rememberFirst(ev: BookDelta): void {
    const i = ev.last & (RECENT - 1);
    if (this.recentLast[i] !== ev.last) {
      this.recentLast[i] = ev.last;
      this.recentRecv[i] = ev.recvTime;
    }
  }

  /**
   * Apply, check, publish. 'refused': the copy would cross the book while another feed is delivering; the
   * book is restored and the copy counted against its feed. 'resync': the book crossed and is resyncing.
   */
  private applyAndPublish(ev: BookDelta, f: Feed, nowMs: number): 'applied' | 'refused' | 'resync' {
    const prev = this._seq;
    const secondOpinion = !(this.crossedLast === ev.last && this.crossedFeed !== ev.collector);
    if (secondOpinion && this.mayCross(ev) && this.anotherDelivering(f, nowMs) && this.wouldCross(ev)) {
      // the book is left as it is; another feed's copy of these ids decides (see the top of this file)
      this.crossedLast = ev.last;
      this.crossedFeed = ev.collector;
      this.counters.crossedRefused++;
      f.errors++;
      f.lastBadMs = nowMs;
      this.sink.feedError?.(ev.collector, 'crossed', `event ${ev.first}-${ev.last} would cross the book`);
      return 'refused';
    }
    this.applyLevels(ev);
    if (this.book.isCrossed()) {
      // Keep the event: if the next snapshot is older than it, it is still needed.
      this.resync('crossed', nowMs, ev);
      return 'resync';
    }
    if (!this.intact(this.book, ev.integrity, f)) {
      this.resync('checksum', nowMs); // the copy is wrong: another feed's, or the snapshot, brings the truth
      return 'resync';
    }
    const max = this.maxLevels;
    if (this.book.bidDepth > max || this.book.askDepth > max) {
      this.counters.oversize++;
      f.errors++;
      f.lastBadMs = nowMs;
      this.sink.feedError?.(
        ev.collector,
        'refused',
        `event ${ev.first}-${ev.last} grew the book past ${max} levels a side`,
      );
      this.resync('overflow', nowMs); // memory stays bounded; the snapshot's depth brings it back
      return 'resync';
    }
    this._seq = ev.last;
    this.appliedSinceReset = true;
    f.won++;
    this.counters.published++;
    this.sink.publish(ev, prev + this._offset);
    this.notePublished(ev, false);
    this.lastWinner = ev.collector;
    if (this.leadLast === NONE) this.setLead(ev.last, ev.collector, nowMs);
    return 'applied';
  }

  /** Remember a published copy's cover and levels' print: a later copy of the same ids is compared (compareCopy). */
  private notePublished(ev: BookDelta, trusted: boolean): void {
    if (ev.levelsPrint === undefined) return;
    const i = ev.last & (RECENT - 1);
    this.pubLast[i] = ev.last;
    this.pubLo[i] = coverStart(ev);
    this.pubPrint[i] = ev.levelsPrint;
    this.pubFeed[i] = ev.collector;
    this.pubTrusted[i] = trusted ? 1 : 0;
  }

  /** Apply held events that chain now; update state. */
  private drain(nowMs: number): void {
    if (this.confirmMode) {
      this.confirmPending(nowMs);
      return;
    }
    const startSeq = this._seq;
    while (this.head < this.buf.length) {
      const e = this.buf[this.head];
      if (e.last - this._seq > this.seqWindow) {
        // held while unsynced, before there was a book to judge it against
        this.shift();
        const f = this.feedOf(e.collector);
        this.counters.implausible++;
        f.errors++;
        f.lastBadMs = nowMs;
        this.sink.feedError?.(
          e.collector,
          'implausible',
          `held event ${e.first}-${e.last} ends more than ${this.seqWindow} ids past the book at ${this._seq}`,
        );
        continue;
      }
      const v = this.rule.check(this._seq, e);
      if (v === 'gap') break;
      this.shift();
      if (v !== 'apply') continue;
      if (this.applyAndPublish(e, this.feedOf(e.collector), nowMs) === 'resync') return;
    }
    if (this.head === this.buf.length) this._state = 'synced';
    else {
      this._state = 'gap';
      if (this._seq !== startSeq) this.gapSince = nowMs; // progress restarts the clock for the next hole
    }
    this.settleSkips();
  }

  /** Another feed's copy of a reset this core took, or a new reset (OKX maintenance: seqId < prevSeqId). */
  private onResetDelta(ev: BookDelta, f: Feed, nowMs: number): void {
    const key = `delta ${ev.prev} -> ${ev.last}`;
    const held = this.resetHeld;
    if (held !== undefined) {
      if (key === held.key) {
        if (f === held.feed) this.duplicate(ev, f);
        else this.takeReset(nowMs, f, ev);
        return;
      }
      // another reset than the one held: nothing says which is the venue's; neither is published on its word
      this.dropReset();
    }
    if (f.epoch < this.epoch || key === this.resetKey) {
      if (f.epoch < this.epoch) f.enter(this.epoch);
      f.atReset(ev.last, nowMs);
      this.duplicate(ev, f); // another feed's copy, or a repeat, of the reset that started this id space
      this.compareCopy(ev, f, nowMs); // evidence as any copy: one that says otherwise than the published reset
      return;
    }
    const inPlace = this._state !== 'unsynced' && ev.prev === this._seq;
    if (inPlace && this.confirmMode && this.anotherExpected(f)) {
      // held until another feed delivers the same reset (or divergeMs): the book stays at prev meanwhile,
      // f alone goes on into the new id space, its copies there held in its pool (see resetHeld)
      this.pooled -= f.pool.length; // of the old id space, past the reset's prev
      f.pool = [];
      f.enter(this.epoch + 1);
      f.atReset(ev.last, nowMs);
      this.resetHeld = { ev, feed: f, key, atMs: nowMs };
      return;
    }
    this.startEpoch(ev, f, key, inPlace, 'alone', nowMs);
  }

  /**
   * The held reset (resetHeld) is taken: confirmed by feed g's copy `copy` when its levels make the same book
   * (else both feeds are charged and the new id space starts from a snapshot), or alone (g undefined: none
   * came within divergeMs). The copies its feed sent since in the new id space are kept.
   */
  private takeReset(nowMs: number, g?: Feed, copy?: BookDelta): void {
    const { ev, feed: f, key } = this.resetHeld!;
    this.resetHeld = undefined;
    let how: 'alone' | 'confirmed' | 'disputed' = 'alone';
    if (g !== undefined) {
      const a = new Overlay();
      const b = new Overlay();
      a.add(ev);
      b.add(copy!);
      how = a.sameOn(b, this.book) ? 'confirmed' : 'disputed';
    }
    const kept = f.pool;
    this.pooled -= kept.length;
    f.pool = [];
    const inPlace = this._state !== 'unsynced' && ev.prev === this._seq;
    this.startEpoch(ev, f, key, inPlace, how, nowMs);
    if (g !== undefined) {
      g.enter(this.epoch);
      g.atReset(ev.last, nowMs);
      this.duplicate(copy!, g);
      if (how === 'disputed') {
        this.counters.copyMismatches++;
        this.charge(f, `its copy of the venue reset ${key} differs from ${this.idOf(g)}'s; not published`);
        this.charge(g, `its copy of the venue reset ${key} differs from ${this.idOf(f)}'s; not published`);
      }
    }
    if (f.epoch === this.epoch) {
      f.pool = kept;
      this.pooled += kept.length;
      for (const p of kept) f.spans(p.ev);
    }
    if (how === 'disputed') this.resync('disagreement', nowMs);
    else if (this._state !== 'unsynced') this.confirmPending(nowMs);
  }

  /** The held reset is abandoned (another reset came, or the book moved): its feed is old until it sends one again. */
  private dropReset(): void {
    const f = this.resetHeld!.feed;
    this.resetHeld = undefined;
    this.pooled -= f.pool.length;
    f.pool = [];
    f.enter(-1);
  }

  /**
   * A venue reset starts a new id space: in place (it continues the book at its prev) it is applied and
   * published ('alone': on its feed's word, 'confirmed': another feed's copy agreed; 'disputed': not applied),
   * else the new id space starts from a snapshot.
   */
  private startEpoch(
    ev: BookDelta,
    f: Feed,
    key: string,
    inPlace: boolean,
    how: 'alone' | 'confirmed' | 'disputed',
    nowMs: number,
  ): void {
    const prev = this.consolidatedSeq;
    this.newEpoch(f, ev.last, ev.exchTime, key);
    f.atReset(ev.last, nowMs);
    this.dropHeld(); // held events are of the old id space
    if (inPlace && how !== 'disputed') {
      // The reset continues the book at prev.
      this.applyLevels(ev);
      this._seq = ev.last;
      if (this.book.isCrossed()) {
        this.resync('crossed', nowMs);
        return;
      }
      if (!this.intact(this.book, ev.integrity, f)) {
        this.resync('checksum', nowMs);
        return;
      }
      this._state = 'synced';
      f.won++;
      f.last = ev.last;
      this.counters.published++;
      if (how === 'confirmed') this.counters.confirmed++;
      else if (this.confirmMode) this.counters.publishedAlone++; // the new id space's first message: one feed's word
      this.sink.publish(ev, prev);
      this.notePublished(ev, how === 'confirmed');
      return;
    }
    if (how === 'disputed') {
      this._state = 'unsynced'; // the caller resyncs ('disagreement')
      return;
    }
    // Not at prev (a gap just before the reset): the new id space starts from a snapshot.
    if (this._state !== 'unsynced') this.resync('venue-reset', nowMs);
  }

  /** A new venue id space starting at `firstId`, announced at exchange time `exchTimeMs`. */
  private newEpoch(f: Feed, firstId: number, exchTimeMs: number | undefined, key: string): void {
    this.resetKey = key;
    const base = exchTimeMs !== undefined && Number.isSafeInteger(exchTimeMs * 1000) ? exchTimeMs * 1000 : 0;
    this._offset = Math.max(base, this.consolidatedSeq + 1 - firstId);
    this.counters.venueResets++;
    this.epoch++;
    f.enter(this.epoch);
    this.candidate = undefined;
    this.leadLast = NONE;
    for (const g of this.feeds.values()) g.pendingSkipEnd = NONE;
  }

  private dropHeld(): void {
    this.lone = undefined; // its copies are gone: the snapshot asked for is an ordinary resync's
    if (this.resetHeld !== undefined) this.dropReset();
    this.buf = [];
    this.head = 0;
    this.bufLasts.clear();
    if (this.pooled > 0) for (const f of this.feeds.values()) f.pool = [];
    this.pooled = 0;
  }

  private adopt(snap: BookSnapshot, nowMs: number): void {
    if (this.head < this.buf.length) {
      const keep: BookDelta[] = [];
      for (let i = this.head; i < this.buf.length; i++) {
        const e = this.buf[i];
        if (this.rule.check(snap.seq, e) !== 'stale') keep.push(e);
        else this.bufLasts.delete(e.last);
      }
      this.buf = keep;
      this.head = 0;
    }
    if (this.lone !== undefined) this.judgeLone(snap);
    this.loneFallback = false;
    if (this.pooled > 0) this.dropStalePool(snap.seq, nowMs, false);
    const i = this.integrity === undefined ? undefined : snap.integrity;
    if (i !== undefined) this.stringBook().applySnapshotStrings(i.bids, i.asks);
    else this.book.applySnapshot(snap.bids, snap.asks);
    this._seq = snap.seq;
    if (snap.offset !== undefined) this._offset = snap.offset; // checked in onSnapshot
    this._state = 'synced';
    this.candidate = undefined;
    this.crossedLast = NONE;
    this.leadLast = NONE;
    this.appliedSinceReset = false;
    this.requestedAt = NaN;
    this.attempt = 0;
    this.waitingSince = NaN;
    this.counters.snapshotsAdopted++;
    this.feedOf(snap.collector).resyncs++;
    const reason: ResetReason = this.everSynced ? 'resync' : 'initial';
    this.everSynced = true;
    this.sink.reset(reason, snap);
    // gapSince matters only if the drain leaves a hole: it opened now.
    this.gapSince = nowMs;
    this.drain(nowMs);
  }

  /** The lead check failed (see leadLast): an error of the feed whose event put the book there; resync. */
  private leadForged(nowMs: number): void {
    const f = this.feeds.get(this.leadFeed);
    this.counters.implausible++;
    if (f !== undefined) {
      f.errors++;
      f.lastBadMs = nowMs;
    }
    this.sink.feedError?.(
      this.leadFeed,
      'implausible',
      `its event put the book at ${this.leadLast}, which another feed still had not reached after ${this.leadTimeoutMs} ms`,
    );
    this.resync('implausible', nowMs);
  }

  private setLead(last: number, feed: string, nowMs: number): void {
    this.leadLast = last;
    this.leadFeed = feed;
    this.leadSince = nowMs;
  }

  /** Another feed reached the lead: check the book's position now next (none if the book is there already). */
  private nextLead(nowMs: number): void {
    if (this._seq > this.leadLast) this.setLead(this._seq, this.lastWinner, nowMs);
    else {
      this.leadLast = NONE;
    }
  }

  private resync(reason: SnapshotRequestReason, nowMs: number, keep?: BookDelta): void {
    this.leadLast = NONE;
    this._state = 'unsynced';
    this.counters.resyncs++;
    for (const f of this.feeds.values()) f.pendingSkipEnd = NONE;
    // ('confirmed' holds every feed's copies in their pools: the others' copies of it are still there)
    if (keep !== undefined && !this.confirmMode && !this.bufLasts.has(keep.last)) this.hold(keep, nowMs);
    this.attempt = 0;
    this.request(reason, nowMs);
  }

  private request(reason: SnapshotRequestReason, nowMs: number): void {
    this.attempt++;
    this.heldUntil = NaN;
    if (this.attempt === 1 || Number.isNaN(this.waitingSince)) this.waitingSince = nowMs;
    if (reason !== 'retry') this.lastReason = reason;
    this.requestedAt = nowMs;
    this.counters.snapshotRequests++;
    this.sink.requestSnapshot(reason, this.attempt);
  }

  /**
   * Whether ev covers more than the held event with the same `last` (connections that group updates
   * differently send (4,8] and (6,8]): it then replaces that one, which is dropped as the duplicate.
   */
  private widerThanHeld(ev: BookDelta): boolean {
    const buf = this.buf;
    const lo = coverStart(ev);
    for (let i = this.head; i < buf.length; i++) {
      const e = buf[i];
      if (e.last !== ev.last) continue;
      if (coverStart(e) <= lo) return false;
      buf.splice(i, 1);
      this.bufLasts.delete(e.last);
      this.feedOf(e.collector).duplicates++;
      return true;
    }
    return false;
  }

  /** Insert into the buffer (caller checked `last` is not held); on overflow drop the oldest and resync. */
  private hold(ev: BookDelta, nowMs: number): void {
    const buf = this.buf;
    const n = buf.length;
    if (n === this.head || buf[n - 1].first <= ev.first) buf.push(ev);
    else {
      let lo = this.head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (buf[mid].first <= ev.first) lo = mid + 1;
        else hi = mid;
      }
      buf.splice(lo, 0, ev);
    }
    this.bufLasts.add(ev.last);
    if (buf.length - this.head > this.maxBuffer) {
      this.shift();
      this.counters.overflowDrops++;
      if (this._state !== 'unsynced') this.resync('overflow', nowMs);
    }
  }

  // --- 'confirmed' publication (see "Confirmed publication" at the top) ---

  /** Hold a copy that is not stale against the book (or arrives while unsynced) until another copy confirms it. */
  private pend(ev: BookDelta, f: Feed, nowMs: number): void {
    const judge = this._state !== 'unsynced' && f.epoch === this.epoch; // (not a held reset's feed)
    if (judge && this.vouch(ev, f, nowMs)) return;
    const pool = f.pool;
    let i = pool.length;
    while (i > 0 && pool[i - 1].ev.last > ev.last) i--;
    if (i > 0 && pool[i - 1].ev.last === ev.last) {
      const held = pool[i - 1];
      // the feed's repeat of the same ids; a wider one (more ids, the same end) takes its place
      if (coverStart(held.ev) <= coverStart(ev)) {
        this.duplicate(ev, f);
        return;
      }
      held.ev = ev;
    } else {
      pool.splice(i, 0, { ev, atMs: nowMs, order: this.arrivals++ });
      this.pooled++;
      if (this.pooled > this.maxBuffer) {
        // bounded like the buffer: the oldest goes and the book resyncs
        pool.shift();
        this.pooled--;
        this.counters.overflowDrops++;
        if (this._state !== 'unsynced') this.resync('overflow', nowMs);
        return;
      }
    }
    if (judge) this.confirmPending(nowMs);
  }

  /**
   * A copy the venue's checksum vouches for is published at once: it carries a check value (verified on the
   * book it makes before anything is published), it chains onto the book, its feed holds nothing before it,
   * and every level it changes lies within the levels the checksum covers after it (a delete too), so a
   * corruption of it would fail the check. True when it was taken (published, refused, or the book resyncs).
   */
  private vouch(ev: BookDelta, f: Feed, nowMs: number): boolean {
    const check = this.integrity;
    if (check === undefined || ev.integrity === undefined) return false;
    if (this.rule.check(this._seq, ev) !== 'apply' || this.walk(f).length > 0) return false;
    if (!withinTop(this.book, 'bid', ev.bids, check.depth) || !withinTop(this.book, 'ask', ev.asks, check.depth))
      return false;
    if (this.publishHeld(ev, f, nowMs, true, true)) this.counters.vouched++;
    if (this._state !== 'unsynced') this.confirmPending(nowMs);
    return true;
  }

  /** The feed's held copies that chain from the book's seq, in order (the interval rule, sequence.ts). */
  private walk(f: Feed): Pending[] {
    const out: Pending[] = [];
    let seq = this._seq;
    for (const p of f.pool) {
      const v = this.rule.check(seq, p.ev);
      if (v === 'stale') continue;
      if (v === 'gap') break;
      out.push(p);
      seq = p.ev.last;
    }
    return out;
  }

  /** Whether a feed in the book's id space holds copies (chains() looks at those only). */
  private holdsCurrent(): boolean {
    if (this.pooled > 0)
      for (const g of this.feeds.values()) if (g.pool.length > 0 && g.epoch === this.epoch) return true;
    return false;
  }

  /** Every feed's chain from the book's seq (walk), oldest first copy first. */
  private chains(): [Feed, Pending[]][] {
    const out: [Feed, Pending[]][] = [];
    for (const g of this.feeds.values()) {
      if (g.pool.length === 0 || g.epoch !== this.epoch) continue;
      const c = this.walk(g);
      if (c.length > 0) out.push([g, c]);
    }
    if (out.length > 1) out.sort((x, y) => x[1][0].order - y[1][0].order);
    return out;
  }

  /**
   * Two chains from the book's seq: the first id both end a copy at where the books they make agree (`at`,
   * NaN: none yet; `na`, `nb`: their copies up to it), and whether they disagreed at a common end before it.
   * Copies grouped differently end at different ids: only where both end one can their books be compared
   * (each copy sets its levels' sizes as of its last id, so the levels a chain sets, later winning, applied
   * to the book, are the venue's book at that id).
   */
  private compare(a: Pending[], b: Pending[]): { at: number; na: number; nb: number; disputed: boolean } {
    const oa = new Overlay();
    const ob = new Overlay();
    let i = 0;
    let j = 0;
    let disputed = false;
    while (i < a.length && j < b.length) {
      const la = a[i].ev.last;
      const lb = b[j].ev.last;
      if (la <= lb) oa.add(a[i++].ev);
      if (lb <= la) ob.add(b[j++].ev);
      if (la !== lb) continue;
      if (oa.sameOn(ob, this.book)) return { at: la, na: i, nb: j, disputed };
      disputed = true;
    }
    return { at: NaN, na: 0, nb: 0, disputed };
  }

  /**
   * Publish what the held copies confirm: at the first id where two feeds' chains from the book end a copy
   * and agree, the first copy's messages up to it (one delta when they are several: the ids between were one
   * copy's word only); then again from there. Two copies that disagree with no third feed to decide resync
   * the book. A chain no other feed is expected to confirm goes out alone.
   */
  private confirmPending(nowMs: number): void {
    while (this._state !== 'unsynced' && this.pooled > 0) {
      const chains = this.chains();
      if (chains.length === 0) break;
      let best: { at: number; feed: Feed; steps: Pending[]; other: Feed; otherAtMs: number } | undefined;
      let disputed = false;
      for (let a = 0; a < chains.length; a++)
        for (let b = a + 1; b < chains.length; b++) {
          const [fa, ca] = chains[a];
          const [fb, cb] = chains[b];
          const r = this.compare(ca, cb);
          if (r.disputed) disputed = true;
          if (Number.isNaN(r.at) || (best !== undefined && r.at >= best.at)) continue;
          // chains[a]'s first copy came first
          best = { at: r.at, feed: fa, steps: ca.slice(0, r.na), other: fb, otherAtMs: cb[r.nb - 1].atMs };
        }
      if (best !== undefined) {
        if (!this.publishConfirmed(best.feed, best.steps, best.other, best.otherAtMs, chains, nowMs)) return;
        continue;
      }
      if (disputed && !this.thirdOpinion(chains)) {
        this.dispute(chains, nowMs);
        return;
      }
      const lone = chains.find(([f]) => !this.anotherExpected(f));
      if (lone !== undefined) {
        if (!this.publishAlone(lone[0], lone[1], nowMs)) return;
        continue;
      }
      // the other feeds lost ids on their connections before meeting a chain: none of them can confirm it
      const lost = this.lostChain(chains, nowMs);
      if (lost === undefined) break;
      if (!this.skippedByOthers(lost[0], lost[1][0], nowMs)) return;
    }
    this.settlePool(nowMs);
  }

  /** Whether a feed without a chain of its own from the book could still decide a dispute (3+ feeds). */
  private thirdOpinion(chains: [Feed, Pending[]][]): boolean {
    for (const g of this.feeds.values()) if (this.expected(g) && !chains.some(([h]) => h === g)) return true;
    return chains.length > 2;
  }

  /** Copies disagree and nothing decides which is right: nothing of them is published; the book resyncs. */
  private dispute(chains: [Feed, Pending[]][], nowMs: number): void {
    this.counters.copyMismatches++;
    for (let a = 0; a < chains.length; a++)
      for (let b = a + 1; b < chains.length; b++)
        if (this.compare(chains[a][1], chains[b][1]).disputed) {
          this.charge(chains[a][0], `its copies disagree with ${this.idOf(chains[b][0])}'s; nothing published of them`);
          this.charge(chains[b][0], `its copies disagree with ${this.idOf(chains[a][0])}'s; nothing published of them`);
        }
    this.resync('disagreement', nowMs);
  }

  /** Confirmed by `other`'s copies: `steps` of feed f published; a third feed that said otherwise is charged. */
  private publishConfirmed(
    f: Feed,
    steps: Pending[],
    other: Feed,
    otherAtMs: number,
    chains: [Feed, Pending[]][],
    nowMs: number,
  ): boolean {
    for (const [h, c] of chains)
      if (h !== f && h !== other && this.compare(steps, c).disputed) {
        this.counters.copyMismatches++;
        this.charge(h, `its copies up to ${steps[steps.length - 1].ev.last} differ from two that agree`);
      }
    const last = steps[steps.length - 1];
    this.counters.confirmed++;
    this.loneFallback = false;
    // the wait the policy adds: from the first copy of the ids to the copy that confirmed them (held while
    // unsynced, both may have come long before they could be published)
    this.confirmTimes.add(Math.max(0, otherAtMs - last.atMs) * 1000);
    this.take(f, steps);
    return this.publishHeld(steps.length === 1 ? last.ev : this.merged(steps), f, nowMs, true, true);
  }

  /** The chain published on its feed's word alone (counted). */
  private publishAlone(f: Feed, chain: Pending[], nowMs: number): boolean {
    this.take(f, chain);
    for (let k = 0; k < chain.length; k++) {
      this.counters.publishedAlone++;
      if (!this.publishHeld(chain[k].ev, f, nowMs, false, k === chain.length - 1)) return false;
    }
    return true;
  }

  /**
   * Every other feed lost the ids of f's copy p on its connection: no feed can confirm it, and one feed's word
   * is not published. The book resyncs and the venue's snapshot decides (judgeLone): f's held copies survive
   * the resync like every feed's; those the snapshot covers are checked against it, the rest confirm each
   * other as before. Should no snapshot come within divergeMs + snapshotTimeoutMs (loneTimeout), such copies
   * go out alone (counted), as they did before. False: resyncing.
   */
  private skippedByOthers(f: Feed, p: Pending, nowMs: number): boolean {
    if (this.loneFallback) return this.publishAlone(f, [p], nowMs);
    this.lone = { feed: f, sinceMs: nowMs };
    this.resync('gap', nowMs);
    return false;
  }

  /**
   * The snapshot the book resynced for (skippedByOthers): where the lone feed's chain from the book ends a copy
   * at the snapshot's id, the book that chain makes must be the snapshot's (within the snapshot's depth); if
   * not, that feed's copies were wrong: charged as in a dispute. Either way the book moves to the snapshot's.
   */
  private judgeLone(snap: BookSnapshot): void {
    const f = this.lone!.feed;
    this.lone = undefined;
    if (this.feeds.get(this.idOf(f)) !== f) return;
    const chain = new Overlay();
    let reached = false;
    for (const p of this.walk(f)) {
      if (p.ev.last > snap.seq) break;
      chain.add(p.ev);
      reached = p.ev.last === snap.seq;
    }
    if (!reached) return; // the snapshot is not at an id this chain ends a copy at: nothing to compare
    const { o, to } = snapshotOverlay(snap, this.book);
    chain.keepTo(to.bid, to.ask);
    if (chain.sameOn(o, this.book)) return;
    this.counters.copyMismatches++;
    this.charge(f, `its copies up to ${snap.seq}, which no other feed carried, differ from the venue's snapshot`);
  }

  /** The snapshot for a lone chain did not come in time: the book goes on from where it was, such chains alone. */
  private loneTimeout(nowMs: number): void {
    this.lone = undefined;
    this.loneFallback = true;
    this._state = 'synced';
    this.requestedAt = NaN;
    this.attempt = 0;
    this.waitingSince = NaN;
    this.heldUntil = NaN;
    this.candidate = undefined;
    this.gapSince = nowMs;
    this.confirmPending(nowMs);
  }

  /** Apply and publish a held copy (applyAndPublish); then drop the copies it made stale. False: resyncing. */
  private publishHeld(ev: BookDelta, f: Feed, nowMs: number, trusted: boolean, settle: boolean): boolean {
    const r = this.applyAndPublish(ev, f, nowMs);
    if (r === 'refused') {
      this.resync('crossed', nowMs); // a copy two feeds (or the checksum) stand for would cross the book
      return false;
    }
    if (r === 'resync') return false;
    const i = ev.last & (RECENT - 1);
    if (trusted && this.pubLast[i] === ev.last) this.pubTrusted[i] = 1;
    if (settle) this.dropStalePool(this._seq, nowMs, true);
    return this._state !== 'unsynced';
  }

  /** Remove these held copies of feed f (being published). */
  private take(f: Feed, steps: Pending[]): void {
    const gone = new Set(steps);
    f.pool = f.pool.filter((p) => !gone.has(p));
    this.pooled -= steps.length;
  }

  /** One delta for several copies of one feed: their levels, later winning, covering all their ids. */
  private merged(steps: Pending[]): BookDelta {
    const o = new Overlay();
    for (const p of steps) o.add(p.ev);
    const first = steps[0].ev;
    const last = steps[steps.length - 1].ev;
    const ev: BookDelta = {
      type: 'delta',
      venue: this.venue,
      symbol: this.symbol,
      first: first.first,
      last: last.last,
      prev: coverStart(first),
      exchTime: last.exchTime,
      recvTime: last.recvTime,
      collector: last.collector,
      bids: [...o.bids],
      asks: [...o.asks],
    };
    if (steps.every((p) => p.ev.integrity !== undefined)) {
      // the venue's spelling, later winning; the last copy's check value is the book's after all of them
      const bids = new Map<number, StringLevel>();
      const asks = new Map<number, StringLevel>();
      for (const p of steps) {
        for (const l of p.ev.integrity!.bids) bids.set(Number(l[0]), l);
        for (const l of p.ev.integrity!.asks) asks.set(Number(l[0]), l);
      }
      ev.integrity = { bids: [...bids.values()], asks: [...asks.values()], checksum: last.integrity!.checksum };
    }
    return ev;
  }

  /**
   * Drop held copies the book at `seq` has covered (duplicates of what was published: compared with it when
   * `compare`, as later copies are) and those past the plausibility window.
   */
  private dropStalePool(seq: number, nowMs: number, compare: boolean): void {
    const stale: [BookDelta, Feed][] = [];
    for (const g of this.feeds.values()) {
      if (g.pool.length === 0 || g.epoch > this.epoch) continue; // (a held reset's feed: another id space)
      const keep: Pending[] = [];
      for (const p of g.pool) {
        if (this.rule.check(seq, p.ev) === 'stale') {
          this.duplicate(p.ev, g);
          stale.push([p.ev, g]);
        } else if (p.ev.last - seq > this.seqWindow) {
          this.counters.implausible++;
          g.errors++;
          g.lastBadMs = nowMs;
        } else keep.push(p);
      }
      this.pooled -= g.pool.length - keep.length;
      g.pool = keep;
    }
    if (compare) for (const [ev, g] of stale) if (this.compareCopy(ev, g, nowMs)) return;
  }

  /**
   * 'confirmed': the book's state while copies are held: a gap when no feed's chain starts at the book. Copies
   * of another id space (a held reset's feed's, resetHeld) are no hole in this one: they wait for the reset.
   */
  private settlePool(nowMs: number): void {
    if (this._state === 'unsynced') return;
    if (!this.holdsCurrent() || this.chains().length > 0) this._state = 'synced';
    else if (this._state !== 'gap' || this.gapSeq !== this._seq) {
      this._state = 'gap';
      this.gapSince = nowMs; // progress restarts the clock for the next hole
      this.gapSeq = this._seq;
    }
    this.settleSkips();
  }

  /**
   * Copies held divergeMs: two chains that disagreed at a common id and no third copy decided (this far):
   * the book resyncs, nothing of them published. Nothing contradicts the oldest chain (the other feeds
   * silent, behind, or without these ids): it is published alone, and the feeds that did not keep up are
   * not waited for again until they catch up with the book.
   */
  private judgePending(nowMs: number): void {
    if (this.pooled === 0) return;
    const chains = this.chains();
    if (chains.length === 0) return;
    let since = Infinity;
    for (const [, c] of chains) if (c[0].atMs < since) since = c[0].atMs;
    const [first, firstChain] = chains[0];
    // the other feeds lost ids on their connections before meeting a chain: none can confirm it
    let lost = this.lostChain(chains, nowMs);
    if (lost === undefined) {
      if (nowMs - since < this.divergeMs) return;
      for (let a = 0; a < chains.length; a++)
        for (let b = a + 1; b < chains.length; b++)
          if (this.compare(chains[a][1], chains[b][1]).disputed) {
            this.dispute(chains, nowMs);
            return;
          }
      const end = firstChain[firstChain.length - 1].ev.last;
      for (const g of this.feeds.values())
        if (
          g !== first &&
          (!(g.lastValidMs >= since) || g.last < firstChain[0].ev.last) &&
          !this.skipped(g, end, nowMs)
        )
          g.absent = true;
      // those that kept up lost these ids on their connections: the snapshot decides, as before divergeMs
      lost = this.lostChain(chains, nowMs);
    }
    if (lost !== undefined) {
      if (this.skippedByOthers(lost[0], lost[1][0], nowMs)) this.confirmPending(nowMs);
      return;
    }
    if (this.publishAlone(first, firstChain, nowMs)) this.confirmPending(nowMs);
  }

  /** The first chain every other expected feed lost ids of (othersSkipped, to the chain's end). */
  private lostChain(chains: [Feed, Pending[]][], nowMs: number): [Feed, Pending[]] | undefined {
    return chains.find(([g, c]) => this.othersSkipped(g, c[c.length - 1].ev.last, nowMs));
  }

  /**
   * Whether every other expected feed (one at least) lost ids at or below `id` (the end of f's chain) on its
   * connection: its chain from the book stops at a hole below `id` that it holds copies past, SKIP_AFTER of
   * them or one for gapTimeoutMs (a copy merely reordered comes sooner). Such a feed cannot end a copy where f's
   * chain does past its hole (and before it the two met nowhere, or they would have agreed or disputed), nor
   * confirm anything until the book is past its hole.
   */
  private othersSkipped(f: Feed, id: number, nowMs: number): boolean {
    let any = false;
    for (const g of this.feeds.values()) {
      if (g === f || !this.expected(g)) continue;
      if (!this.skipped(g, id, nowMs)) return false;
      any = true;
    }
    return any;
  }

  private skipped(g: Feed, id: number, nowMs: number): boolean {
    let seq = this._seq;
    const pool = g.pool;
    for (let i = 0; i < pool.length; i++) {
      const p = pool[i];
      const v = this.rule.check(seq, p.ev);
      if (v === 'stale') continue;
      if (v === 'gap') return pool.length - i >= SKIP_AFTER || nowMs - p.atMs >= this.gapTimeoutMs;
      seq = p.ev.last;
      if (seq >= id) return false;
    }
    return false; // nothing held past a hole: its copies may still come
  }

  /**
   * Whether feed g is expected to send copies that confirm: it delivered deltas in this id space, or a
   * collector's snapshot (its deltas follow; a peer arbiter or a Kafka restore is no collector), is not in
   * error and not absent (silent while a chain waited divergeMs: judgePending).
   */
  private expected(g: Feed): boolean {
    return g.epoch === this.epoch && (g.valid > 0 || g.snapshotted) && !g.absent && !(g.lastBadMs > g.lastValidMs);
  }

  /** Whether a feed other than f is expected to confirm f's copies. */
  private anotherExpected(f: Feed): boolean {
    for (const g of this.feeds.values()) if (g !== f && this.expected(g)) return true;
    return false;
  }

  /** Charge a feed with a copy that disagreed (logged by the shell). */
  private charge(f: Feed, detail: string): void {
    f.disagreements++;
    this.sink.feedError?.(this.idOf(f), 'refused', detail);
  }

  private idOf(f: Feed): string {
    for (const [id, g] of this.feeds) if (g === f) return id;
    return '?';
  }

  // --- venue checksums (see "Integrity" at the top) ---

  /** Apply an event's levels, in the venue's spelling when it came with them (a book keeping strings). */
  private applyLevels(ev: BookDelta): void {
    const i = this.integrity === undefined ? undefined : ev.integrity;
    if (i !== undefined) this.stringBook().applyStrings(i.bids, i.asks);
    else this.book.apply(ev.bids, ev.asks);
  }

  /**
   * The book keeping the venue's level strings: converted from numbers the first time a checksum arrives, so
   * a venue whose messages carry none (OKX since 2026-06: checksum 0) costs nothing. Levels held then get
   * their default spelling; where the venue spelled one otherwise, the check fails once and the resync's
   * snapshot brings the venue's strings.
   */
  private stringBook(): OrderBook {
    if (!this._book.keepStrings) {
      const b = new OrderBook({ keepStrings: true });
      const { bids, asks } = this._book.snapshot();
      b.applySnapshot(bids, asks);
      this._book = b;
    }
    return this._book;
  }

  /** False when `info` carries a check value that `book` fails (counted against feed f). */
  private intact(book: OrderBook, info: IntegrityInfo | undefined, f: Feed): boolean {
    const check = this.integrity;
    if (check === undefined || info === undefined) return true;
    this.counters.checksumsVerified++;
    if (verifyTop(check, book, info.checksum)) return true;
    this.counters.checksumMismatches++;
    f.checksumMismatches++;
    return false;
  }

  /** A snapshot's own check, on its levels alone (a snapshot that fails it is refused like a crossed one). */
  private snapshotIntact(snap: BookSnapshot, f: Feed): boolean {
    if (this.integrity === undefined || snap.integrity === undefined) return true;
    const b = new OrderBook({ keepStrings: true });
    b.applySnapshotStrings(snap.integrity.bids, snap.integrity.asks);
    return this.intact(b, snap.integrity, f);
  }

  private shift(): BookDelta {
    const e = this.buf[this.head++];
    this.bufLasts.delete(e.last);
    if (this.head === this.buf.length) {
      this.buf.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.buf.length) {
      this.buf.splice(0, this.head);
      this.head = 0;
    }
    return e;
  }
}

/**
 * Whether every level of one side of an event (a delete too) lies within the `depth` best of that side after
 * it: the book's best depth + n levels (n: the event's levels, the most it can delete) with the event applied
 * hold the side's best `depth` after it; a side shorter than `depth` after it is covered whole.
 */
function withinTop(book: OrderBook, side: 'bid' | 'ask', levels: readonly Level[], depth: number): boolean {
  if (levels.length === 0) return true;
  const top = book.top(depth + levels.length);
  const m = new Map<number, number>();
  for (const l of side === 'bid' ? top.bids : top.asks) m.set(l[0], l[1]);
  for (const l of levels)
    if (l[1] > 0) m.set(l[0], l[1]);
    else m.delete(l[0]);
  if (m.size < depth) return true;
  const prices = [...m.keys()].sort((x, y) => (side === 'bid' ? y - x : x - y));
  const edge = prices[depth - 1];
  for (const l of levels) if (side === 'bid' ? l[0] < edge : l[0] > edge) return false;
  return true;
}

/** Best bid >= best ask among levels with a positive size. */
function snapshotCrossed(bids: readonly Level[], asks: readonly Level[]): boolean {
  let bestBid = -Infinity;
  let bestAsk = Infinity;
  for (let i = 0; i < bids.length; i++) if (bids[i][1] > 0 && bids[i][0] > bestBid) bestBid = bids[i][0];
  for (let i = 0; i < asks.length; i++) if (asks[i][1] > 0 && asks[i][0] < bestAsk) bestAsk = asks[i][0];
  return bestBid >= bestAsk;
}

/**
 * Best price of one side after applying `ev` levels to a book whose best levels (best first, at least
 * ev.length + 1 of them when the side has that many) are `book`; NaN when the side ends empty. sign 1: bids
 * (higher is better), -1: asks.
 */
function bestAfter(book: readonly Level[], ev: readonly Level[], sign: 1 | -1): number {
  const set = new Map<number, number>();
  for (let i = 0; i < ev.length; i++) set.set(ev[i][0], ev[i][1]); // a later duplicate price wins
  let best = NaN;
  for (const [p, size] of set) if (size > 0 && !(sign * p <= sign * best)) best = p;
  for (let i = 0; i < book.length; i++) {
    const p = book[i][0];
    if (set.has(p)) continue;
    if (!(sign * p <= sign * best)) best = p;
    break;
  }
  return best;
}
