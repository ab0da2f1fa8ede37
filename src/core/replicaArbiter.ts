/**
 * Replica merge for one (venue, symbol) of a venue without a per-book id that connections share (Kraken,
 * Coinbase, Gemini v2; VenueAdapter.merge 'replica'). Pure and synchronous like BookArbiter (arbiter.ts),
 * with the same face to the shell (BookCore), but another rule: two feeds' messages cannot be matched by
 * id, so each feed's book is rebuilt on its own and compared by state.
 *
 * Per feed: a copy of the book (HashedBook) built only from that feed's own snapshot and messages, in the
 * collector's numbering of that connection's messages (first = last = n, prev = n - 1; a snapshot starts a
 * new count), so loss on the bus is a gap of that feed. Each message is verified before anything is
 * published: the venue's checksum where it has one (Kraken: every message), a crossed book. A feed that
 * fails (gap, checksum, crossed, disagreement) is no longer used: its collector is asked for a fresh
 * snapshot (resubscribe) and it rejoins when that arrives.
 *
 * The consolidated book moves through the same states as the venue's book, each named by its hash. Every
 * state published is remembered (history) with when it first arrived. A verified feed message that takes
 * the feed's copy from state `pre` to `post`:
 *   - post was already published (or is the book now): a later copy; dropped (its lag is measured).
 *   - pre is the consolidated state now: the next step, first arrival: published as it is (plus deletes
 *     for levels a fixed-depth venue's truncation removed: readers do not truncate).
 *   - else the feed is out of step. When no other feed is in step (the one the book followed failed), the
 *     difference between the two books is published as one delta and the consolidated book is this
 *     feed's: failover within one message, and readers see an ordinary delta, never a resync (unless it may
 *     be behind a difference published: mayBeBehind; the book waits, onTimer catches up after). Otherwise it
 *     has divergeMs to come back in step (the state it reached may be one the consolidated book skipped);
 *     then it disagrees with the feeds that are, and is resynced. If its fresh snapshot still disagrees
 *     after divergeMs, the venue's own fresh book is believed over the consolidated one: its difference is
 *     published and the feeds that followed the old book are resynced. Not while two copies agree on the
 *     consolidated book since the suspect was last in step (corroborated: it is resynced again), nor while it
 *     may merely be behind, in states a difference published skipped (mayBeBehind: given divergeMs more;
 *     believing it would take the book back). (Copies are evidence: that is how a
 *     feed's silent corruption is caught where the venue has no checksum, or past the levels its checksum
 *     covers. A feed corrupted while it is the first to deliver can be published before another copy
 *     disagrees; the venue's checksum prevents it where there is one, and so does publish: 'confirmed'.)
 * publish: 'confirmed' (PublishPolicy) changes the second case only: the step is held as the feed's pending
 * step (ReplicaFeed.pending) until another feed's copy reaches the same state (confirmedBy), unless the
 * venue's checksum vouches for it or no other feed has a book; copies that stay apart are resynced
 * (judgePending). What is published is still the first copy's message, or one delta for several steps.
 * The book never moves back to a copy that is behind: a fresh book or a message at a published state is placed
 * there (behind), even with no other feed in step; a feed out of step remembers the states it passed
 * (ReplicaFeed.seen): one the consolidated book reaches later shows it ahead (its book is published, and the
 * publisher's lag is measured), and after a difference, one a feed reaches shows that feed behind it.
 *   States are placed by seq, not by hash alone: a book can come back to an earlier state (a level set,
 *   then removed), so a feed's position in the log (ReplicaFeed.at) is followed forward from where it was.
 * The consolidated numbering is the arbiter's own (firstSeq, +1 per delta): two arbiters number a replica
 * venue's book differently, and say so by their `offset`-free seq ranges starting at their own firstSeq.
 * An arbiter that takes a book over from another's committed output (a Kafka group, restore()) continues that
 * numbering and its epoch instead: the committed book is the consolidated state, no feed's; the first feed
 * to sync publishes the difference to its book, as a failover between feeds does.
 */
import type { OrderBook } from './book.js';
import {
  newArbiterCounters,
  type ArbiterCounters,
  type ArbiterSink,
  type ArbiterState,
  type FeedStats,
  type SnapshotRequestReason,
  DEFAULT_MAX_BOOK_LEVELS,
} from './arbiter.js';
import type { BookCore, ConfirmationTimes, PublishPolicy } from './bookCore.js';
import { HashedBook, type Truncated } from './hashedBook.js';
import { type BookIntegrity, verifyTop } from './integrity.js';
import { LagWindow } from './lag.js';
import { cover, coverStart } from './sequence.js';
import type { BookDelta, BookSnapshot, Level } from './types.js';

/** When a state is published: see bookCore.ts (one policy for both merges). */
export type { PublishPolicy, ConfirmationTimes } from './bookCore.js';

export interface ReplicaArbiterOptions {
  /** The venue's checksum (Kraken): feeds' books keep level strings and every message carrying one is verified. */
  integrity?: BookIntegrity;
  /** Levels per side the venue's stream keeps (VenueAdapter.bookDepth); default no limit. */
  depth?: number;
  /** The consolidated seq of the first book (the shell: its start time in µs, so a restart numbers higher). */
  firstSeq?: number;
  /** The numbering's name in the stream (ConsolidatedDelta.epoch): unique per arbiter run. Default 'replica'. */
  epoch?: string;
  /** Re-ask a feed for a snapshot after this long without one. Default 3000. */
  snapshotTimeoutMs?: number;
  /** A feed is delivering while its last valid message is at most this old. Default 3000. */
  feedLiveMs?: number;
  /** Most feeds tracked per book. Default 64. */
  maxFeeds?: number;
  /** Forget a feed silent for this long. Default 300000. */
  feedEvictMs?: number;
  /** How long a feed may stay out of step with the consolidated book before it is judged to disagree. Default 1000. */
  divergeMs?: number;
  /** Most levels a feed's book may hold per side (DEFAULT_MAX_BOOK_LEVELS): past it the feed fails. */
  maxLevels?: number;
  /** Published states remembered (a feed further behind than this many states is judged out of step). Default 4096. */
  historySize?: number;
  /** When a state is published: the first copy's arrival (default) or a second copy's (PublishPolicy). */
  publish?: PublishPolicy;
}

export interface ReplicaCounters extends ArbiterCounters {
  /** Feeds resynced because their book disagreed with the consolidated one (or, believed, replaced it). */
  disagreements: number;
  /** Differences published to move the consolidated book to a feed's (failover, a feed ahead, a fresh book believed). */
  catchUps: number;
  /** Feed messages that skipped the collector's numbering (lost on the bus): the feed resyncs. */
  feedGaps: number;
  /** Times the leader (the feed that published the last consolidated delta) failed and another feed published next. */
  failovers: number;
}

/** A feed's step that no second copy confirmed yet ('confirmed' publication): what publishing it takes. */
interface PendingStep {
  hash: number;
  /** The message's levels and the deletes of levels its truncation removed. */
  bids: Level[];
  asks: Level[];
  exchTime: number;
  recvTime: number;
  /** When it arrived (the arbiter's ms). */
  atMs: number;
}

/** ReplicaArbiter.failover(): percentiles of failover times, µs. */
export interface FailoverTimes {
  p50Us: number;
  p99Us: number;
  samples: number;
  /** Those where another feed was verified, delivering and in step when the leader failed. */
  standbyP50Us: number;
  standbyP99Us: number;
  standbySamples: number;
}

/** One feed's state in the replica merge (exported for its unit tests only). */
export class ReplicaFeed {
  readonly book: HashedBook;
  synced = false;
  /** The collector's number of the last message applied. */
  seq = 0;
  messages = 0;
  duplicates = 0;
  won = 0;
  resyncs = 0;
  checksumMismatches = 0;
  errors = 0;
  disagreements = 0;
  lastMs = NaN;
  lastValidMs = NaN;
  lastBadMs = NaN;
  /** Since when the feed has needed a snapshot (NaN: synced), and the last request for it. */
  unsyncedSince: number;
  requestedAt = NaN;
  attempt = 0;
  reason: SnapshotRequestReason = 'initial';
  /** The consolidated seq whose state the feed's book is in (NaN: not known to be in any: out of step). */
  at = NaN;
  /** Since when its book has been in a state the consolidated book never was (NaN: in step). */
  outOfStepSince = NaN;
  /**
   * Messages it applied since then. A feed is judged only after some: one that is merely behind (its book
   * at a state the consolidated book skipped) comes back in step with its next message, however late.
   */
  outOfStepMessages = 0;
  /** It was resynced for disagreeing: if its fresh book disagrees too, the venue's book is believed. */
  suspect = false;
  /** The latest consolidated seq whose state its book was known to be in (kept through resyncs; -1: none). */
  floor = -1;
  /**
   * How far (ms, the arbiter's clock) its copies of published states came behind the first ones lately: the
   * most one lagged, each later copy forgetting 1/64 of it.
   */
  lagMs = 0;
  /** The latest consolidated seq whose state (another feed's) its own copy reached, and when (its word for it). */
  corroboratedAt = -1;
  corroboratedMs = NaN;
  /**
   * 'confirmed': its steps past the consolidated state (at === head) that no other copy reached yet, oldest
   * first; its book is in the last one's state.
   */
  pending: PendingStep[] = [];
  readonly lag = new LagWindow();

  constructor(
    readonly id: string,
    keepStrings: boolean,
    depth: number,
    nowMs: number,
  ) {
    this.book = new HashedBook(keepStrings, depth);
    this.unsyncedSince = nowMs;
  }

  /**
   * Out of step: the states its book reached since, and when (at most MAX_SEEN, the oldest forgotten): one
   * the consolidated book reaches later says it is ahead (ahead), and by how much the feed that published it
   * lags.
   */
  seen: Map<number, number> | undefined;
  ahead = false;

  /** Its copy reached the state published at `at` (another feed's) `lagMs` after the first copy. */
  corroborates(at: number, lagMs: number, nowMs: number): void {
    this.lagged(lagMs);
    if (at > this.corroboratedAt) this.corroboratedAt = at;
    this.corroboratedMs = nowMs;
  }

  /** A state it reached came `ms` after another feed's copy of it. */
  lagged(ms: number): void {
    this.lagMs = Math.max(ms, this.lagMs - this.lagMs / 64);
  }

  /** Out of step, its book reached this state now. */
  reached(hash: number, nowMs: number): void {
    this.seen ??= new Map();
    if (this.seen.has(hash)) return;
    if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(hash, nowMs);
  }

  delivering(nowMs: number, liveMs: number): boolean {
    return nowMs - this.lastValidMs <= liveMs && !(this.lastBadMs > this.lastValidMs);
  }

  stats(): FeedStats {
    return {
      messages: this.messages,
      duplicates: this.duplicates,
      won: this.won,
      gapsFilled: 0,
      resyncs: this.resyncs,
      checksumMismatches: this.checksumMismatches,
      errors: this.errors,
      disagreements: this.disagreements,
      lastValidMs: this.lastValidMs,
      ...this.lag.percentiles(),
    };
  }
}

/** Farthest a message's receive time may move the numbering ahead at once, µs (an hour). */
const MAX_SEQ_LEAP_US = 3_600_000_000;

/** Messages a feed must apply while out of step (for divergeMs) before it is judged to disagree. */
const JUDGE_AFTER_MESSAGES = 2;

type FailKind = 'gap' | 'checksum' | 'crossed' | 'diverged' | 'oversize';

/** Most states an out-of-step feed's book reached that are remembered (ReplicaFeed.seen). */
export const MAX_SEEN = 1024;

/** Most unconfirmed steps a feed holds: one this far ahead of every other copy is resynced. */
const MAX_PENDING = 1024;

export class ReplicaArbiter implements BookCore {
  readonly counters: ReplicaCounters = {
    ...newArbiterCounters(),
    disagreements: 0,
    catchUps: 0,
    feedGaps: 0,
    failovers: 0,
  };
  private readonly cons: HashedBook;
  private built = false;
  private _seq: number;
  /** The numbering's name (ReplicaArbiterOptions.epoch, or the committed one restore() continues). */
  private epoch: string;
  /**
   * Built by restore(): feeds met since then missed their websocket snapshot (it is older than the raw
   * input read again), so each is asked for one at its first message rather than after snapshotTimeoutMs.
   */
  private restored = false;
  /**
   * Published states by consolidated seq (a ring over the last historySize): each state's hash and the
   * recvTime of the copy that first reached it. Feeds are placed in it by seq (ReplicaFeed.at), so a book
   * that comes back to an earlier state (a level set, then removed) is still told from a late copy.
   */
  private readonly logHash: Float64Array;
  private readonly logRecv: Float64Array;
  /** When (the arbiter's ms) each state was published. */
  private readonly logMs: Float64Array;
  /**
   * The last state published as a difference to a feed's book (a failover, a fresh book believed) rather
   * than as the venue's message, and when: the states between it and the one before were never published, so
   * a feed behind it may be in one of them for as long as it lags (mayBeBehind). -1: none.
   */
  private lastJump = -1;
  private lastJumpMs = NaN;
  /**
   * The states the feed whose book made the last jump had reached out of step before it (its ReplicaFeed.seen),
   * and when: states the jump skipped. A feed out of step in one of them is behind, by that long.
   */
  private skipped: Map<number, number> | undefined;
  /** Feeds out of step whose states are remembered (ReplicaFeed.seen): none, no look-up per publication. */
  private readonly watched = new Set<ReplicaFeed>();
  /** Lowest seq the log holds. */
  private logLow = 0;
  /** Index of the consolidated state now in the log (+1 per state published; feeds' positions, ReplicaFeed.at). */
  private head = 0;
  private readonly feeds = new Map<string, ReplicaFeed>();
  private readonly keepStrings: boolean;
  private readonly depth: number;
  private readonly maxLevels: number;
  private readonly snapshotTimeoutMs: number;
  private readonly feedLiveMs: number;
  private readonly maxFeeds: number;
  private readonly feedEvictMs: number;
  private readonly divergeMs: number;
  private readonly historySize: number;
  private lastEvictScan = NaN;
  /** The feed that published the last consolidated message, and when it failed (NaN: it has not since). */
  private leader: ReplicaFeed | undefined;
  private leaderFailedAt = NaN;
  /** Whether, when the leader failed, another feed was verified, delivering and in step (a standby). */
  private standbyAtFailure = false;
  /**
   * Failover times, µs: from the leader's failure (its nowMs) to the next consolidated delta published by
   * another feed (that delta's nowMs); all of them, and those with a standby (the others waited for a
   * snapshot). Measured only: what is published when does not depend on it.
   */
  private readonly failoverTimes = new LagWindow();
  private readonly standbyFailoverTimes = new LagWindow();
  /** publish: 'confirmed'. */
  private readonly confirmMode: boolean;
  /** From a state's first copy to its confirmation by a second, µs. */
  private readonly confirmTimes = new LagWindow();
  /** Set while several disputed feeds are failed together: none of them is left to publish alone meanwhile. */
  private holdRelease = false;

  constructor(
    readonly venue: string,
    readonly symbol: string,
    private readonly sink: ArbiterSink,
    private readonly opts: ReplicaArbiterOptions = {},
  ) {
    this.keepStrings = opts.integrity !== undefined;
    this.depth = opts.depth ?? Infinity;
    this.maxLevels = opts.maxLevels ?? DEFAULT_MAX_BOOK_LEVELS;
    this.cons = new HashedBook(false, this.depth);
    this._seq = opts.firstSeq ?? 0;
    this.epoch = opts.epoch ?? 'replica';
    this.snapshotTimeoutMs = opts.snapshotTimeoutMs ?? 3000;
    this.feedLiveMs = opts.feedLiveMs ?? 3000;
    this.maxFeeds = opts.maxFeeds ?? 64;
    this.feedEvictMs = opts.feedEvictMs ?? 300_000;
    this.divergeMs = opts.divergeMs ?? 1000;
    this.confirmMode = opts.publish === 'confirmed';
    let size = 1;
    while (size < (opts.historySize ?? 4096)) size *= 2;
    this.historySize = size;
    this.logHash = new Float64Array(size);
    this.logRecv = new Float64Array(size);
    this.logMs = new Float64Array(size);
  }

  get book(): OrderBook {
    return this.cons.book;
  }

  get seq(): number {
    return this._seq;
  }

  get offset(): number {
    return 0;
  }

  get streamEpoch(): string {
    return this.epoch;
  }

  get consolidatedSeq(): number {
    return this._seq;
  }

  /** synced: built and some feed verified and delivering; otherwise unsynced (stale to readers). */
  get state(): ArbiterState {
    if (!this.built) return 'unsynced';
    for (const f of this.feeds.values()) if (f.synced && !(f.lastBadMs > f.lastValidMs)) return 'synced';
    return 'unsynced';
  }

  get waiting(): { reason: SnapshotRequestReason; attempt: number; sinceMs: number } | undefined {
    if (this.state !== 'unsynced') return undefined;
    let w: ReplicaFeed | undefined;
    for (const f of this.feeds.values()) if (!f.synced && (w === undefined || f.unsyncedSince < w.unsyncedSince)) w = f;
    return w && { reason: w.reason, attempt: w.attempt, sinceMs: w.unsyncedSince };
  }

  get buffered(): number {
    return 0;
  }

  /** Feeds' snapshots come by themselves (the venue sends one on subscribe): nothing to ask yet. */
  start(_nowMs: number): void {}

  needsLevels(_first: number, _last: number): boolean {
    return true; // every copy rebuilds its own feed's book
  }

  onDelta(ev: BookDelta, nowMs: number): void {
    const f = this.feed(ev.collector, nowMs);
    if (f === undefined) return;
    f.messages++;
    f.lastMs = nowMs;
    if (!(ev.first <= ev.last) || !Number.isFinite(ev.last)) {
      this.counters.invalid++;
      return;
    }
    if (!f.synced) {
      // waits for its snapshot (onTimer asks for one if it does not come; at once after a restore)
      if (this.restored && f.attempt === 0) this.request(f, 'initial', nowMs);
      return;
    }
    const verdict = cover(f.seq, coverStart(ev), ev.last);
    if (verdict === 'stale') {
      f.duplicates++;
      return;
    }
    if (verdict === 'gap') {
      this.counters.feedGaps++;
      this.fail(f, 'gap', nowMs, `skipped ${f.seq + 1}..${coverStart(ev)}`);
      return;
    }
    f.seq = ev.last;
    const pre = f.book.hash;
    const info = ev.integrity;
    const cut = f.book.apply(ev.bids, ev.asks, this.keepStrings && info ? info : undefined);
    if (!this.verified(f, info?.checksum, nowMs)) return;
    f.lastValidMs = nowMs;
    const post = f.book.hash;
    if (!this.built) {
      this.adopt(f, ev.recvTime, nowMs);
      return;
    }
    if (post === pre) return; // changed nothing (a level beyond the depth, a repeated size)
    if (this.confirmMode && (f.at === this.head || f.pending.length > 0)) {
      this.propose(f, ev, cut, post, nowMs); // a step past the consolidated state: published once confirmed
      return;
    }
    if (f.at === this.head) {
      this.advance(f, ev, post, nowMs); // in step at the head: the next step, first arrival
      return;
    }
    // behind: the next state it should reach is a published one (or a later one: messages grouped otherwise)
    // a feed whose place is known moves forward: the first later state it matches (a book that came back to
    // an earlier state matches twice: the later one would skip it ahead of where it is); a feed out of step
    // that reaches a published state is behind at it, even with no other feed in step: publishing its book
    // would take the consolidated one back (had the venue's book come back to that state, its next message
    // leaves the published ones and is caught up then)
    const j = Number.isNaN(f.at) ? this.find(post, this.logLow) : this.findAfter(post, f.at);
    if (j >= 0) {
      this.inStep(f, j);
      f.duplicates++;
      f.lag.add(ev.recvTime - this.logRecv[j & (this.historySize - 1)]);
      f.corroborates(j, nowMs - this.logMs[j & (this.historySize - 1)], nowMs);
      return;
    }
    if (this.confirmMode && this.confirmedBy(f, post, ev.recvTime, nowMs)) return; // it meets another's step
    this.outOfStep(f, ev.recvTime, nowMs);
  }

  /** The latest seq >= from whose state has this hash, or -1. */
  private find(hash: number, from: number): number {
    const mask = this.historySize - 1;
    for (let j = this.head; j >= from && j >= this.logLow; j--) if (this.logHash[j & mask] === hash) return j;
    return -1;
  }

  /** The first index after `at` (up to head) whose state has this hash, or -1. */
  private findAfter(hash: number, at: number): number {
    const mask = this.historySize - 1;
    for (let j = Math.max(at + 1, this.logLow); j <= this.head; j++) if (this.logHash[j & mask] === hash) return j;
    return -1;
  }

  private inStep(f: ReplicaFeed, at: number): void {
    f.at = at;
    if (at > f.floor) f.floor = at;
    this.unwatch(f);
    if (f.pending.length > 0) f.pending.length = 0;
    f.outOfStepSince = NaN;
    f.outOfStepMessages = 0;
    f.suspect = false;
  }

  onSnapshot(snap: BookSnapshot, nowMs: number): void {
    if (
      snap.venue !== this.venue ||
      snap.symbol !== this.symbol ||
      !Number.isFinite(snap.seq) ||
      snap.offset !== undefined // a peer arbiter's book: replica venues' numbering is each arbiter's own
    ) {
      this.counters.snapshotsRejected++;
      return;
    }
    const f = this.feed(snap.collector, nowMs);
    if (f === undefined) return;
    f.lastMs = nowMs;
    if (f.synced && snap.seq <= f.seq) {
      this.counters.snapshotsIgnored++; // a repeat
      return;
    }
    const info = snap.integrity;
    f.book.reset(snap.bids, snap.asks, this.keepStrings && info ? info : undefined);
    f.pending.length = 0;
    f.synced = true; // (verified next; a failure unsyncs it again)
    if (!this.verified(f, info?.checksum, nowMs)) return;
    f.seq = snap.seq;
    f.unsyncedSince = NaN;
    f.requestedAt = NaN;
    f.attempt = 0;
    f.resyncs++;
    f.lastValidMs = nowMs;
    this.counters.snapshotsAdopted++;
    if (!this.built) {
      this.adopt(f, snap.recvTime, nowMs);
      return;
    }
    const j = this.find(f.book.hash, this.logLow);
    if (j >= 0) {
      // at the consolidated state, or behind it: placed there even when no other feed carries the book on
      // (publishing its book would take the consolidated one back; if the venue's book came back to an
      // earlier state, the feed's next message leaves the published ones and is caught up then)
      this.inStep(f, j);
      return;
    }
    if (this.confirmMode && this.confirmedBy(f, f.book.hash, snap.recvTime, nowMs)) return;
    f.at = NaN;
    f.outOfStepSince = nowMs;
    f.outOfStepMessages = 0;
    this.reached(f, nowMs);
    if (!this.anotherInStep(f, nowMs) && !this.mayBeBehind(f, nowMs)) this.catchUp(f, snap.recvTime, nowMs);
  }

  /**
   * Take the book over from the committed output of the arbiter that had it (a Kafka group's takeover,
   * src/arbiter/service.ts): the consolidated book is `snap` at its seq, in `epoch`'s numbering, which this
   * core continues (the next message it publishes has prev = snap.seq). No feed is built from it: each feed
   * still syncs from its own snapshot, and the first one to sync publishes the difference between the two
   * books (catchUp), so readers of the committed stream see an ordinary delta, never a resync. Until then
   * the book is unsynced (stale to readers). Meant for a core that has no book yet.
   */
  restore(snap: BookSnapshot, epoch: string | undefined, nowMs: number): void {
    if (snap.venue !== this.venue || snap.symbol !== this.symbol || !Number.isSafeInteger(snap.seq) || snap.seq < 0) {
      this.counters.snapshotsRejected++;
      return;
    }
    this.cons.reset(snap.bids, snap.asks);
    this.built = true;
    this.restored = true;
    this._seq = snap.seq;
    if (epoch !== undefined) this.epoch = epoch;
    this.head++;
    this.logLow = this.head;
    this.remember(this.cons.hash, snap.recvTime, nowMs);
    this.leader = undefined;
    this.leaderFailedAt = NaN;
    // the shell's record of the book (sent nowhere while it restores: readers have this book already)
    const { bids, asks } = this.cons.book.snapshot();
    this.sink.reset('initial', { ...snap, seq: this._seq, bids, asks });
  }

  onTimer(nowMs: number): void {
    if (!(nowMs - this.lastEvictScan < 1000)) this.evictSilent(nowMs);
    for (const f of this.feeds.values()) {
      if (!f.synced) {
        // a feed that delivers but has no book: its subscribe snapshot was lost, or a resync went unanswered
        const since = Number.isNaN(f.requestedAt) ? f.unsyncedSince : f.requestedAt;
        const wait = Number.isNaN(f.requestedAt)
          ? this.snapshotTimeoutMs
          : Math.min(30_000, this.snapshotTimeoutMs * 2 ** Math.max(0, f.attempt - 1));
        if (nowMs - f.lastMs <= this.feedLiveMs && nowMs - since >= wait)
          this.request(f, Number.isNaN(f.requestedAt) ? 'initial' : 'retry', nowMs);
      } else if (
        Number.isNaN(f.at) &&
        (f.ahead || (!this.anotherInStep(f, nowMs) && !this.confirmMode && !this.mayBeBehind(f, nowMs)))
      )
        this.catchUp(f, NaN, nowMs); // ahead; or no other feed carries the book on, and it is not behind
      else if (
        !Number.isNaN(f.outOfStepSince) &&
        nowMs - f.outOfStepSince >= this.divergeMs &&
        f.outOfStepMessages >= JUDGE_AFTER_MESSAGES
      )
        this.judge(f, nowMs);
    }
    if (this.confirmMode) {
      this.judgePending(nowMs);
      this.releaseAlone(nowMs);
    }
    if (this.skipped !== undefined && this.pastJump(nowMs)) this.skipped = undefined; // its memory goes
  }

  /**
   * Every feed still heard from (delivering, or resyncing: a fresh book may come back behind) was in step at
   * or after the last jump: none is behind it.
   */
  private pastJump(nowMs: number): boolean {
    for (const f of this.feeds.values()) if (nowMs - f.lastMs <= this.feedLiveMs && f.floor < this.lastJump) return false;
    return true;
  }

  shed(_nowMs: number): number {
    return 0; // nothing is held
  }

  /** A collector's word on a websocket resync: nothing to hold; the retry timing above applies. */
  onSnapshotStatus(_state: 'queued' | 'failed', _etaMs: number, _nowMs: number): void {}
  heldByQueue(_nowMs: number): boolean {
    return false;
  }
  retryNow(_nowMs: number): void {}

  snapshotSources(nowMs: number): string[] {
    const out: string[] = [];
    for (const [id, f] of this.feeds) if (f.delivering(nowMs, this.feedLiveMs)) out.push(id);
    return out;
  }

  hasFeed(id: string): boolean {
    return this.feeds.has(id);
  }

  feedStats(): Map<string, FeedStats> {
    const out = new Map<string, FeedStats>();
    for (const [id, f] of this.feeds) out.set(id, f.stats());
    return out;
  }

  resetLagWindow(): void {
    for (const f of this.feeds.values()) f.lag.reset();
  }

  /**
   * Failover times (µs) of the last 1024 failovers since the start (counters.failovers counts them all):
   * all, and those where another feed was in step when the leader failed (standby*).
   */
  failover(): FailoverTimes {
    const all = this.failoverTimes.percentiles();
    const standby = this.standbyFailoverTimes.percentiles();
    return {
      p50Us: all.lagP50,
      p99Us: all.lagP99,
      samples: all.lagSamples,
      standbyP50Us: standby.lagP50,
      standbyP99Us: standby.lagP99,
      standbySamples: standby.lagSamples,
    };
  }

  get publishPolicy(): PublishPolicy {
    return this.confirmMode ? 'confirmed' : 'first';
  }

  /** 'confirmed': how long the last 1024 confirmed states waited for their second copy (µs). */
  confirmation(): ConfirmationTimes {
    const t = this.confirmTimes.percentiles();
    return { p50Us: t.lagP50, p99Us: t.lagP99, samples: t.lagSamples };
  }

  // --- internals ---

  /** The feed's book after a message or snapshot is sound (checksum, not crossed); else the feed fails. */
  private verified(f: ReplicaFeed, checksum: number | undefined, nowMs: number): boolean {
    const integrity = this.opts.integrity;
    if (integrity !== undefined && checksum !== undefined) {
      this.counters.checksumsVerified++;
      if (!verifyTop(integrity, f.book.book, checksum)) {
        f.checksumMismatches++;
        this.counters.checksumMismatches++;
        this.fail(f, 'checksum', nowMs, `checksum ${checksum}`);
        return false;
      }
    }
    if (f.book.book.isCrossed()) {
      this.counters.crossedRefused++;
      this.fail(f, 'crossed', nowMs, 'crossed book');
      return false;
    }
    const b = f.book.book;
    if (b.bidDepth > this.maxLevels || b.askDepth > this.maxLevels) {
      // a venue without a fixed depth (Coinbase) keeps every level: memory is bounded here
      this.counters.oversize++;
      this.fail(f, 'oversize', nowMs, `book past ${this.maxLevels} levels a side`);
      f.book.reset([], []); // its memory goes now, not at the snapshot
      return false;
    }
    return true;
  }

  /** The first book: the consolidated stream starts from this feed's. */
  private adopt(f: ReplicaFeed, recvTime: number, nowMs: number): void {
    const { bids, asks } = f.book.book.snapshot();
    this.cons.reset(bids, asks);
    this.built = true;
    this._seq = this.nextSeq(recvTime);
    this.head++;
    this.logLow = this.head;
    this.remember(this.cons.hash, recvTime, nowMs);
    this.inStep(f, this.head);
    this.leader = f;
    this.sink.reset('initial', {
      type: 'snapshot',
      venue: this.venue,
      symbol: this.symbol,
      seq: this._seq,
      recvTime,
      collector: f.id,
      bids,
      asks,
    });
  }

  /** The feed's message is the consolidated book's next step: publish it as it came. */
  private advance(f: ReplicaFeed, ev: BookDelta, post: number, nowMs: number): void {
    const cut = this.cons.apply(ev.bids, ev.asks);
    if (this.cons.hash !== post) {
      this.catchUp(f, ev.recvTime, nowMs); // cannot happen unless two states shared a hash: fall back to the difference
      return;
    }
    f.won++;
    this.emit(
      f,
      cut.bids.length === 0 ? ev.bids : ev.bids.concat(cut.bids),
      cut.asks.length === 0 ? ev.asks : ev.asks.concat(cut.asks),
      ev.exchTime,
      ev.recvTime,
      nowMs,
    );
    this.inStep(f, this.head);
  }

  /** A feed out of step: ahead (publish the difference now), or given divergeMs to come back. */
  private outOfStep(f: ReplicaFeed, recvTime: number, nowMs: number): void {
    if (!Number.isNaN(f.at)) this.stillAt(f, f.at, nowMs); // its book was there until this message
    f.at = NaN;
    if (Number.isNaN(f.outOfStepSince)) f.outOfStepSince = nowMs;
    f.outOfStepMessages++;
    if (f.ahead) {
      this.catchUp(f, recvTime, nowMs); // the consolidated book reached a state it had passed: it is ahead
      return;
    }
    this.reached(f, nowMs);
    // No other feed carries the book on (the one it followed failed): this verified one takes over now. A
    // feed merely out of step is given divergeMs: the state it reached may be one the consolidated book
    // skipped (another feed's messages were grouped or lost upstream and its book stayed right), and a
    // state it passed through is no proof that it is ahead (a book can come back to an earlier state).
    // Nor while it may be behind, in states a difference published skipped (mayBeBehind): the book waits
    // (onTimer catches up once that is past).
    if (!this.anotherInStep(f, nowMs) && !this.mayBeBehind(f, nowMs)) this.catchUp(f, recvTime, nowMs);
  }

  /**
   * 'confirmed': the feed's message takes it one step past the consolidated state (or further past it).
   * Published at once when the venue's checksum vouched for it; else held until a second feed's copy reaches
   * the same state, or at once when no other feed has a book to compare with.
   */
  private propose(f: ReplicaFeed, ev: BookDelta, cut: Truncated, post: number, nowMs: number): void {
    const step: PendingStep = {
      hash: post,
      bids: cut.bids.length === 0 ? ev.bids : ev.bids.concat(cut.bids),
      asks: cut.asks.length === 0 ? ev.asks : ev.asks.concat(cut.asks),
      exchTime: ev.exchTime,
      recvTime: ev.recvTime,
      atMs: nowMs,
    };
    if (f.pending.length === 0 && this.vouched(f, ev)) {
      this.counters.vouched++;
      this.publishSteps(f, [step], f, nowMs);
      return;
    }
    if (f.pending.length >= MAX_PENDING) {
      this.disagree(f, nowMs, `${MAX_PENDING} steps no other feed confirmed`);
      return;
    }
    f.pending.push(step);
    if (this.confirmedBy(f, post, ev.recvTime, nowMs)) return;
    if (!this.anotherWithBook(f)) this.publishAlone(f, nowMs);
  }

  /**
   * Whether the venue's checksum vouched for the message: it carried one (verified), and every level it
   * changed lies within the levels the checksum covers after it (a delete too: gone from them). Only then is
   * a corruption of the message bound to fail the checksum.
   */
  private vouched(f: ReplicaFeed, ev: BookDelta): boolean {
    const integrity = this.opts.integrity;
    if (integrity === undefined || ev.integrity === undefined) return false;
    const book = f.book.book;
    // the last covered price of each side (NaN: the side has fewer levels: all of it is covered)
    const bidEdge = book.priceAtRank('bid', integrity.depth - 1);
    for (const l of ev.bids) if (l[0] < bidEdge) return false;
    const askEdge = book.priceAtRank('ask', integrity.depth - 1);
    for (const l of ev.asks) if (l[0] > askEdge) return false;
    return true;
  }

  /**
   * 'confirmed': `f` reached a state (its book now) that another feed's unconfirmed steps reached first: two
   * copies agree, and that feed's steps up to it are published (one delta when they are several: the states
   * between were one copy's word only). Returns whether it did.
   */
  private confirmedBy(f: ReplicaFeed, hash: number, recvTime: number, nowMs: number): boolean {
    for (const g of this.feeds.values()) {
      if (g === f || !g.synced) continue;
      const k = g.pending.findIndex((st) => st.hash === hash);
      if (k < 0) continue;
      const steps = g.pending.splice(0, k + 1);
      const first = steps[k];
      this.counters.confirmed++;
      this.confirmTimes.add((nowMs - first.atMs) * 1000);
      f.duplicates++;
      f.lag.add(recvTime - first.recvTime);
      f.pending.length = 0;
      this.publishSteps(g, steps, f, nowMs);
      return true;
    }
    // a feed out of step whose book is in this state already (it reached it off the published path, before)
    for (const g of this.feeds.values()) {
      if (g === f || !g.synced || g.pending.length > 0 || !Number.isNaN(g.at) || g.book.hash !== hash) continue;
      this.counters.confirmed++;
      if (f.pending.length > 0) this.publishSteps(f, f.pending.splice(0), f, nowMs);
      else this.publishDifference(f, recvTime, nowMs);
      this.inStep(g, this.head);
      g.corroborates(this.head, 0, nowMs);
      return true;
    }
    return false;
  }

  /** The feed's unconfirmed steps, published on its word alone. */
  private publishAlone(f: ReplicaFeed, nowMs: number): void {
    this.counters.publishedAlone += f.pending.length;
    this.publishSteps(f, f.pending.splice(0), f, nowMs);
  }

  /**
   * Publish `steps` (of feed `g`, from the consolidated state on) as one delta; `holder`'s book is in the
   * last step's state. `g` stays at the new head with its further steps pending.
   */
  private publishSteps(g: ReplicaFeed, steps: PendingStep[], holder: ReplicaFeed, nowMs: number): void {
    const last = steps[steps.length - 1];
    let bids = steps.length === 1 ? last.bids : latest(steps.map((st) => st.bids));
    let asks = steps.length === 1 ? last.asks : latest(steps.map((st) => st.asks));
    this.cons.apply(bids, asks);
    if (this.cons.hash !== last.hash) {
      // cannot happen unless two states shared a hash: the difference to the holder's book follows, in one delta
      const from = this.cons.book.snapshot();
      const to = holder.book.book.snapshot();
      const fixBids = difference(from.bids, to.bids);
      const fixAsks = difference(from.asks, to.asks);
      this.cons.apply(fixBids, fixAsks);
      bids = latest([bids, fixBids]);
      asks = latest([asks, fixAsks]);
    }
    g.won++;
    this.emit(g, bids, asks, last.exchTime, last.recvTime, nowMs);
    if (holder !== g) {
      this.inStep(holder, this.head);
      holder.corroborates(this.head, nowMs - last.atMs, nowMs);
    }
    if (g.pending.length === 0) this.inStep(g, this.head);
    else {
      g.at = this.head;
      g.outOfStepSince = NaN;
      g.outOfStepMessages = 0;
    }
  }

  /**
   * 'confirmed': the consolidated book moved on from `fromHead` (published by another feed): where feed
   * `h`'s unconfirmed steps stand now. Its book at a state just published: in step there; a step of its that
   * is the new head: the rest stay pending; else its steps left the published ones: out of step, judged
   * like any feed out of step (divergeMs).
   */
  private replace(h: ReplicaFeed, fromHead: number, nowMs: number): void {
    const p = h.pending;
    const j = this.findAfter(p[p.length - 1].hash, fromHead);
    if (j >= 0) {
      this.inStep(h, j);
      return;
    }
    const headHash = this.logHash[this.head & (this.historySize - 1)];
    for (let k = p.length - 2; k >= 0; k--)
      if (p[k].hash === headHash) {
        p.splice(0, k + 1);
        h.at = this.head;
        return;
      }
    const n = p.length;
    p.length = 0;
    h.at = NaN;
    if (Number.isNaN(h.outOfStepSince)) h.outOfStepSince = nowMs;
    h.outOfStepMessages += n;
  }

  /** Whether a feed other than `f` has a verified book ('confirmed': a copy to compare with is coming). */
  private anotherWithBook(f: ReplicaFeed): boolean {
    for (const g of this.feeds.values()) if (g !== f && g.synced) return true;
    return false;
  }

  /** 'confirmed': a feed with unconfirmed steps and no other feed with a book publishes them alone. */
  private releaseAlone(nowMs: number): void {
    if (this.holdRelease) return;
    for (const f of this.feeds.values())
      if (f.synced && f.pending.length > 0 && !this.anotherWithBook(f)) this.publishAlone(f, nowMs);
  }

  /**
   * 'confirmed': steps unconfirmed for divergeMs. Another feed's copy contradicts them (it delivered since
   * the first of them, or holds steps of its own, or is out of step) and none reached them: the copies
   * disagree and no copy decides which is right: every feed with unconfirmed steps is resynced (the venue's
   * fresh books decide), none of them published meanwhile. No other copy to contradict them (the others
   * silent since, behind): nothing to compare with: they are published alone.
   */
  private judgePending(nowMs: number): void {
    let due = false;
    let disputed = false;
    for (const f of this.feeds.values()) {
      if (f.pending.length === 0 || nowMs - f.pending[0].atMs < this.divergeMs) continue;
      due = true;
      const since = f.pending[0].atMs;
      for (const g of this.feeds.values())
        if (g !== f && g.synced && (g.lastValidMs >= since || g.pending.length > 0 || Number.isNaN(g.at)))
          disputed = true;
    }
    if (!due) return;
    if (!disputed) {
      for (const f of this.feeds.values())
        if (f.pending.length > 0 && nowMs - f.pending[0].atMs >= this.divergeMs) this.publishAlone(f, nowMs);
      return;
    }
    this.holdRelease = true;
    for (const f of this.feeds.values())
      if (f.pending.length > 0) this.disagree(f, nowMs, 'no other copy reached its book within divergeMs');
    this.holdRelease = false;
  }

  /** Whether a feed other than `f` is verified, delivering and in step with the consolidated book. */
  private anotherInStep(f: ReplicaFeed, nowMs: number): boolean {
    for (const g of this.feeds.values())
      if (g !== f && g.synced && g.delivering(nowMs, this.feedLiveMs) && !Number.isNaN(g.at)) return true;
    return false;
  }

  /**
   * Out of step for divergeMs: it disagrees; or, freshly resynced for that, it is believed. Not while it may
   * merely be behind, in states the consolidated book skipped (mayBeBehind): believing it would take the
   * book back, resyncing it gives a fresh book as far behind; it is given divergeMs more.
   */
  private judge(f: ReplicaFeed, nowMs: number): void {
    if (f.suspect && this.corroborated(f, nowMs)) {
      // two copies agree on the consolidated book since the suspect's last agreed: it is behind, or wrong
      this.disagree(f, nowMs, 'its fresh book left a book other feeds agree on');
      return;
    }
    if (this.mayBeBehind(f, nowMs)) {
      f.outOfStepSince = nowMs;
      f.outOfStepMessages = 0;
      return;
    }
    if (f.suspect || !this.anotherInStep(f, nowMs)) {
      // the venue's fresh book disagrees with the consolidated one: the consolidated book is what is wrong
      this.catchUp(f, NaN, nowMs);
      for (const g of this.feeds.values())
        if (g !== f && g.synced && !Number.isNaN(g.at))
          this.disagree(g, nowMs, 'followed a book the venue contradicted');
      return;
    }
    this.disagree(f, nowMs, 'its book left the consolidated one');
  }

  /**
   * Whether the consolidated book is more than one copy's word since `f` was last in step: another feed,
   * verified, delivering and in step, reached by its own messages, within divergeMs, a state another feed
   * published after the one `f` was last known at. A book corrupted by its first copy has no such second
   * copy (its states are that feed's alone); a book `f` merely lags behind has.
   */
  private corroborated(f: ReplicaFeed, nowMs: number): boolean {
    for (const g of this.feeds.values())
      if (
        g !== f &&
        g.synced &&
        !Number.isNaN(g.at) &&
        g.delivering(nowMs, this.feedLiveMs) &&
        g.corroboratedAt > f.floor &&
        nowMs - g.corroboratedMs <= this.divergeMs
      )
        return true;
    return false;
  }

  /**
   * Whether `f`, out of step, is behind in states the consolidated book never had: it was last known at a
   * state before the last difference published (lastJump), which skipped the venue's states in between, and
   * its book is one the feed that made the jump had passed (skipped).
   */
  private behindJump(f: ReplicaFeed): boolean {
    return f.floor < this.lastJump && this.skipped?.has(f.book.hash) === true;
  }

  /**
   * Whether `f`, out of step, may be behind in states the consolidated book never had: behindJump, or it
   * was last known before the last jump, recently enough for a copy lagging as it may to be in them still:
   * divergeMs plus twice the longer of its copies' recent lag and how long the state it was last known at
   * had been published when the jump came (a feed with no later copy lags at least that much). Otherwise
   * every state after the one it was last known at was published, and a book of none of them is not
   * behind: it is ahead, or it or the consolidated book is wrong.
   */
  private mayBeBehind(f: ReplicaFeed, nowMs: number): boolean {
    if (!(f.floor < this.lastJump)) return false;
    if (this.behindJump(f)) return true;
    const waited = f.floor >= this.logLow ? this.lastJumpMs - this.logMs[f.floor & (this.historySize - 1)] : 0;
    return nowMs - this.lastJumpMs <= this.divergeMs + 2 * Math.max(f.lagMs, waited);
  }

  private disagree(f: ReplicaFeed, nowMs: number, detail: string): void {
    f.disagreements++;
    this.counters.disagreements++;
    f.suspect = true;
    this.fail(f, 'diverged', nowMs, detail);
  }

  /** Publish the difference that makes the consolidated book the feed's (counted: catchUps). */
  private catchUp(f: ReplicaFeed, recvTime: number, nowMs: number): void {
    if (this.publishDifference(f, recvTime, nowMs)) this.counters.catchUps++;
  }

  /** The difference that makes the consolidated book the feed's, published if not empty; the feed in step. */
  private publishDifference(f: ReplicaFeed, recvTime: number, nowMs: number): boolean {
    const from = this.cons.book.snapshot();
    const to = f.book.book.snapshot();
    const bids = difference(from.bids, to.bids);
    const asks = difference(from.asks, to.asks);
    const any = bids.length > 0 || asks.length > 0;
    if (any) {
      this.cons.apply(bids, asks);
      f.won++;
      this.emit(f, bids, asks, 0, Number.isNaN(recvTime) ? 0 : recvTime, nowMs);
      this.lastJump = this.head;
      this.lastJumpMs = nowMs;
      this.skipped = f.seen;
      for (const h of this.watched) h.ahead = false; // ahead of the book before: maybe not of this one
    }
    this.inStep(f, this.head);
    return any;
  }

  private emit(f: ReplicaFeed, bids: Level[], asks: Level[], exchTime: number, recvTime: number, nowMs: number): void {
    this.lead(f, nowMs);
    const prev = this._seq;
    this._seq = this.nextSeq(recvTime);
    this.head++;
    this.remember(this.cons.hash, recvTime, nowMs);
    if (this.watched.size > 0) this.aheadOf(f, nowMs);
    if (this.confirmMode)
      for (const h of this.feeds.values()) if (h !== f && h.pending.length > 0) this.replace(h, this.head - 1, nowMs);
    this.counters.published++;
    this.sink.publish(
      {
        type: 'delta',
        venue: this.venue,
        symbol: this.symbol,
        first: this._seq,
        last: this._seq,
        prev,
        exchTime,
        recvTime,
        collector: f.id,
        bids,
        asks,
      },
      prev,
    );
  }

  /**
   * The consolidated seq of the next message: the time its copy was received (µs) where that is ahead,
   * else +1. Numbers then stay near the clock in every arbiter, so a book that moves to another arbiter's
   * numbering (a client's or the recorder's switch, docs/wire-format.md "Epochs") moves up, never back; a
   * receive time far ahead (a collector's clock, or a forged one) is not followed (+1).
   */
  private nextSeq(recvTime: number): number {
    const next = this._seq + 1;
    const t = Math.floor(recvTime);
    return t > next && t - next < MAX_SEQ_LEAP_US ? t : next;
  }

  /**
   * `f` publishes the next consolidated message. After the leader failed, the first one from another feed
   * ends a failover (sampled); the failed leader itself publishing again (resynced before any other feed
   * moved the book) is no failover.
   */
  private lead(f: ReplicaFeed, nowMs: number): void {
    if (!Number.isNaN(this.leaderFailedAt) && f !== this.leader) {
      this.counters.failovers++;
      this.failoverTimes.add((nowMs - this.leaderFailedAt) * 1000);
      if (this.standbyAtFailure) this.standbyFailoverTimes.add((nowMs - this.leaderFailedAt) * 1000);
    }
    this.leaderFailedAt = NaN;
    this.leader = f;
  }

  /**
   * The consolidated book reached a state (just published by `f`) that a feed out of step had reached
   * before: that feed is ahead, not wrong (ReplicaFeed.ahead: caught up to at its next message or timer),
   * and `f` lags it by the time between.
   */
  private aheadOf(f: ReplicaFeed, nowMs: number): void {
    const hash = this.cons.hash;
    for (const h of this.watched) {
      const at = h === f || !h.synced ? undefined : h.seen?.get(hash);
      if (at === undefined) continue;
      h.ahead = true;
      f.lagged(nowMs - at);
    }
  }

  /**
   * The feed's book is (or was until now) in the state published at `j`, which the consolidated book left
   * at `j + 1`: it lags the first copy by at least the time since (mayBeBehind weighs it). A feed left behind
   * with no message for long (a fresh book placed behind, its next message late) is measured so, not only
   * once it reaches a state another copy reached first.
   */
  private stillAt(f: ReplicaFeed, j: number, nowMs: number): void {
    if (j < this.head && j + 1 >= this.logLow) f.lagged(nowMs - this.logMs[(j + 1) & (this.historySize - 1)]);
  }

  /** Out of step, its book reached this state now (remembered: aheadOf). */
  private reached(f: ReplicaFeed, nowMs: number): void {
    if (this.confirmMode) return;
    const hash = f.book.hash;
    const at = this.skipped?.get(hash);
    if (at !== undefined && f.floor < this.lastJump) f.lagged(nowMs - at); // behind, in a skipped state
    f.reached(hash, nowMs);
    this.watched.add(f);
  }

  private unwatch(f: ReplicaFeed): void {
    f.seen = undefined;
    f.ahead = false;
    this.watched.delete(f);
  }

  /** Log the state now at head. */
  private remember(hash: number, recvTime: number, nowMs: number): void {
    const mask = this.historySize - 1;
    this.logHash[this.head & mask] = hash;
    this.logRecv[this.head & mask] = recvTime;
    this.logMs[this.head & mask] = nowMs;
    if (this.head - this.logLow >= this.historySize) this.logLow = this.head - this.historySize + 1;
  }

  /** The feed is not used until a fresh snapshot of its own: ask its collector for one. */
  private fail(f: ReplicaFeed, kind: FailKind, nowMs: number, detail: string): void {
    if (f === this.leader && Number.isNaN(this.leaderFailedAt)) {
      this.leaderFailedAt = nowMs;
      this.standbyAtFailure = this.anotherInStep(f, nowMs);
    }
    f.synced = false;
    f.at = NaN;
    f.pending.length = 0;
    f.outOfStepSince = NaN;
    f.unsyncedSince = nowMs;
    f.requestedAt = NaN;
    f.attempt = 0;
    f.lastBadMs = nowMs;
    if (kind !== 'gap') f.errors++;
    this.sink.feedError?.(f.id, kind === 'crossed' ? 'crossed' : 'refused', `${kind}: ${detail}`);
    this.request(f, kind === 'diverged' ? 'gap' : kind === 'oversize' ? 'overflow' : kind, nowMs);
    if (this.confirmMode) this.releaseAlone(nowMs); // a feed left waiting for this one's copy may be alone now
  }

  private request(f: ReplicaFeed, reason: SnapshotRequestReason, nowMs: number): void {
    f.attempt++;
    f.requestedAt = nowMs;
    f.reason = reason;
    this.counters.snapshotRequests++;
    this.sink.requestSnapshot(reason, f.attempt, f.id);
  }

  private feed(id: string, nowMs: number): ReplicaFeed | undefined {
    let f = this.feeds.get(id);
    if (f !== undefined) return f;
    if (this.feeds.size >= this.maxFeeds) {
      let idle: string | undefined;
      for (const [gid, g] of this.feeds) if (!g.delivering(nowMs, this.feedLiveMs)) idle = gid;
      if (idle === undefined) {
        this.counters.feedsRefused++;
        return undefined;
      }
      this.forget(this.feeds.get(idle)!);
    }
    f = new ReplicaFeed(id, this.keepStrings, this.depth, nowMs);
    this.feeds.set(id, f);
    return f;
  }

  private evictSilent(nowMs: number): void {
    this.lastEvictScan = nowMs;
    for (const f of this.feeds.values())
      if (!(nowMs - f.lastMs < this.feedEvictMs)) this.forget(f);
  }

  /** An evicted feed goes, with the states it passed (a failed feed keeps them: watched). */
  private forget(f: ReplicaFeed): void {
    this.feeds.delete(f.id);
    this.unwatch(f);
    this.counters.feedsEvicted++;
  }
}

/** Several messages' levels of one side as one: each price once, at its last size (in first-named order). */
function latest(lists: readonly Level[][]): Level[] {
  const size = new Map<number, number>();
  for (const l of lists) for (const [p, q] of l) size.set(p, q);
  return [...size];
}

/** The levels that turn a side `from` into `to` (both best first): changed or new sizes, and deletes. */
export function difference(from: readonly Level[], to: readonly Level[]): Level[] {
  const want = new Map<number, number>();
  for (const l of to) want.set(l[0], l[1]);
  const out: Level[] = [];
  for (const l of from) if (!want.has(l[0])) out.push([l[0], 0]);
  const have = new Map<number, number>();
  for (const l of from) have.set(l[0], l[1]);
  for (const l of to) if (have.get(l[0]) !== l[1]) out.push([l[0], l[1]]);
  return out;
}
