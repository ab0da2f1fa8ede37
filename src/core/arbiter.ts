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
import type { BookIntegrity, IntegrityInfo } from './integrity.js';
import { coverStart, intervalRule, type SequenceRule } from './sequence.js';
import type { BookDelta, BookSnapshot, Level } from './types.js';

export type ArbiterState = 'unsynced' | 'synced' | 'gap';
export type SnapshotRequestReason =
  'initial' | 'gap' | 'crossed' | 'overflow' | 'retry' | 'stale-snapshot' | 'venue-reset' | 'checksum';
export type ResetReason = 'initial' | 'resync';

export interface ArbiterSink {
  /**
   * A delta to publish: the winning copy, prev = the consolidated seq before it. Its consolidated seq is
   * ev.last + core.offset (see consolidatedDelta in wire/messages.ts).
   */
  publish(ev: BookDelta, prev: number): void;
  /** The core needs a REST snapshot (attempt counts up for retries; the shell picks the collector). */
  requestSnapshot(reason: SnapshotRequestReason, attempt: number): void;
  /** The book was (re)built from a snapshot; publish a consolidated snapshot of core.book now (at consolidatedSeq). */
  reset(reason: ResetReason, snap: BookSnapshot): void;
}

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
}

export interface FeedStats {
  messages: number;
  duplicates: number;
  won: number;
  gapsFilled: number;
  /** Snapshots from this collector the core adopted (initial sync included). */
  resyncs: number;
  /** Events or snapshots from this feed whose venue checksum the book failed (each one resynced the book). */
  checksumMismatches: number;
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
}

const NONE = Number.NEGATIVE_INFINITY;
/** Lag samples kept per feed and window (most recent win). Power of two. */
const LAG_SAMPLES = 1024;
/** First-arrival memory (recvTime by `last`) for lag. Power of two. */
const RECENT = 4096;
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
  /** Highest `last` this feed delivered. */
  last = NONE;
  /** End of a range this feed skipped that the consolidated stream has not covered yet. */
  pendingSkipEnd = NONE;
  readonly lags = new Float64Array(LAG_SAMPLES);
  lagCount = 0;

  addLag(us: number): void {
    this.lags[this.lagCount & (LAG_SAMPLES - 1)] = us;
    this.lagCount++;
  }

  stats(): FeedStats {
    const n = Math.min(this.lagCount, LAG_SAMPLES);
    const sorted = this.lags.slice(0, n).sort();
    const pct = (p: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]);
    return {
      messages: this.messages,
      duplicates: this.duplicates,
      won: this.won,
      gapsFilled: this.gapsFilled,
      resyncs: this.resyncs,
      checksumMismatches: this.checksumMismatches,
      lagP50: pct(0.5),
      lagP99: pct(0.99),
      lagSamples: n,
    };
  }
}

export class BookArbiter {
  /** Consolidated book; authoritative at `seq` unless state is 'unsynced'. */
  get book(): OrderBook {
    return this._book;
  }
  private _book = new OrderBook();
  readonly counters: ArbiterCounters = {
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
  };

  private readonly gapTimeoutMs: number;
  private readonly snapshotTimeoutMs: number;
  private readonly maxBuffer: number;
  private readonly rule: SequenceRule;
  private readonly integrity: BookIntegrity | undefined;

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
  private everSynced = false;
  /** Whether an event was applied since the last snapshot (a gap right after one means the snapshot was unusable). */
  private appliedSinceReset = false;

  private readonly feeds = new Map<string, Feed>();

  /** Held events sorted by first; live part is buf[head..]. At most one event per `last`. */
  private buf: BookDelta[] = [];
  private head = 0;
  private readonly bufLasts = new Set<number>();

  /** recvTime of the first copy of recent `last`s, direct-mapped by last's low bits. */
  private readonly recentLast = new Float64Array(RECENT).fill(NaN);
  private readonly recentRecv = new Float64Array(RECENT);

  constructor(
    readonly venue: string,
    readonly symbol: string,
    private readonly sink: ArbiterSink,
    opts: ArbiterOptions = {},
  ) {
    this.gapTimeoutMs = opts.gapTimeoutMs ?? 50;
    this.snapshotTimeoutMs = opts.snapshotTimeoutMs ?? 3000;
    this.maxBuffer = Math.max(1, opts.maxBuffer ?? 10000);
    this.rule = opts.rule ?? intervalRule;
    this.integrity = opts.integrity;
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
  get buffered(): number {
    return this.buf.length - this.head;
  }

  /** Request the initial snapshot now rather than on the first delta. */
  start(nowMs: number): void {
    if (this._state === 'unsynced' && Number.isNaN(this.requestedAt)) this.request('initial', nowMs);
  }

  onDelta(ev: BookDelta, nowMs: number): void {
    const f = this.feed(ev.collector);
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
    const feedLast = f.last;
    if (ev.last > feedLast) f.last = ev.last;

    if (this._state === 'unsynced') {
      this.holdWhileUnsynced(ev, f, nowMs);
      return;
    }
    const lo = coverStart(ev);
    if (feedLast !== NONE && lo > feedLast) this.noteSkip(f, lo);

    const verdict = this.rule.check(this._seq, ev);
    if (verdict === 'apply') {
      this.rememberFirst(ev);
      if (this.applyAndPublish(ev, f, nowMs) && this._state === 'gap') this.drain(nowMs);
    } else if (verdict === 'stale') {
      this.duplicate(ev, f);
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

  onSnapshot(snap: BookSnapshot, nowMs: number): void {
    if (snap.venue !== this.venue || snap.symbol !== this.symbol || !Number.isFinite(snap.seq)) {
      this.counters.snapshotsRejected++;
      return;
    }
    const f = this.feed(snap.collector);
    const key = snap.reset === true ? `snapshot ${snap.seq} at ${snap.exchTime}` : '';
    if (f.epoch < this.epoch)
      f.epoch = this.epoch; // a snapshot (a copy of the reset's, or after a reconnect) is current
    else if (snap.reset === true && key !== this.resetKey && !snapshotCrossed(snap.bids, snap.asks)) {
      // A new id space starts with this snapshot (Bybit u = 1): adopt it whatever the state.
      this.newEpoch(f, snap.seq, snap.exchTime, key);
      this.dropHeld();
      this._state = 'unsynced';
    }
    if (this._state !== 'unsynced') {
      this.counters.snapshotsIgnored++;
      return;
    }
    if (snapshotCrossed(snap.bids, snap.asks)) {
      this.counters.snapshotsRejected++;
      this.request('crossed', nowMs);
      return;
    }
    // The earliest held event that is not stale against the snapshot must chain onto it.
    const buf = this.buf;
    for (let i = this.head; i < buf.length; i++) {
      const v = this.rule.check(snap.seq, buf[i]);
      if (v === 'stale') continue;
      if (v === 'gap') {
        this.counters.snapshotsRejected++;
        this.request('stale-snapshot', nowMs);
        return;
      }
      break;
    }
    if (!this.snapshotIntact(snap, f)) {
      this.counters.snapshotsRejected++;
      this.request('checksum', nowMs);
      return;
    }
    this.adopt(snap, nowMs);
  }

  onTimer(nowMs: number): void {
    if (this._state === 'gap') {
      if (nowMs - this.gapSince >= this.gapTimeoutMs) {
        this.resync(this.appliedSinceReset ? 'gap' : 'stale-snapshot', nowMs);
      }
    } else if (this._state === 'unsynced' && !Number.isNaN(this.requestedAt)) {
      // Retry fast at first (a request sent before a collector's control subscription was up is simply
      // lost -- ZeroMQ's slow joiner), then back off to snapshotTimeoutMs.
      const wait = Math.min(this.snapshotTimeoutMs, 250 * 2 ** (this.attempt - 1));
      if (nowMs - this.requestedAt >= wait) this.request('retry', nowMs);
    }
  }

  feedStats(): Map<string, FeedStats> {
    const out = new Map<string, FeedStats>();
    for (const [id, f] of this.feeds) out.set(id, f.stats());
    return out;
  }

  /** Start a new lag window (the shell calls this every stats interval). */
  resetLagWindow(): void {
    for (const f of this.feeds.values()) f.lagCount = 0;
  }

  // --- internals ---

  private feed(id: string): Feed {
    let f = this.feeds.get(id);
    if (f === undefined) {
      // epoch 0: a feed first heard after a venue reset may still be sending old ids; it is current once it
      // delivers the reset or a snapshot (venues that reset send one on every (re)subscribe)
      f = new Feed();
      this.feeds.set(id, f);
    }
    return f;
  }

  private holdWhileUnsynced(ev: BookDelta, f: Feed, nowMs: number): void {
    if (this.bufLasts.has(ev.last) && !this.widerThanHeld(ev)) this.duplicate(ev, f);
    else {
      this.rememberFirst(ev);
      this.hold(ev, nowMs);
    }
    // Request after buffering, so a shell that answers synchronously still sees this event.
    if (Number.isNaN(this.requestedAt)) this.request('initial', nowMs);
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
    if (this.recentLast[i] === ev.last) f.addLag(ev.recvTime - this.recentRecv[i]);
  }

  private rememberFirst(ev: BookDelta): void {
    const i = ev.last & (RECENT - 1);
    if (this.recentLast[i] !== ev.last) {
      this.recentLast[i] = ev.last;
      this.recentRecv[i] = ev.recvTime;
    }
  }

  /** Apply, check, publish. Returns false if the book crossed (the core is then resyncing). */
  private applyAndPublish(ev: BookDelta, f: Feed, nowMs: number): boolean {
    const prev = this._seq;
    this.applyLevels(ev);
    if (this.book.isCrossed()) {
      // Keep the event: if the next snapshot is older than it, it is still needed.
      this.resync('crossed', nowMs, ev);
      return false;
    }
    if (!this.intact(this.book, ev.integrity, f)) {
      this.resync('checksum', nowMs); // the copy is wrong: another feed's, or the snapshot, brings the truth
      return false;
    }
    this._seq = ev.last;
    this.appliedSinceReset = true;
    f.won++;
    this.counters.published++;
    this.sink.publish(ev, prev + this._offset);
    return true;
  }

  /** Apply held events that chain now; update state. */
  private drain(nowMs: number): void {
    const startSeq = this._seq;
    while (this.head < this.buf.length) {
      const e = this.buf[this.head];
      const v = this.rule.check(this._seq, e);
      if (v === 'gap') break;
      this.shift();
      if (v === 'apply' && !this.applyAndPublish(e, this.feed(e.collector), nowMs)) return;
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
    if (f.epoch < this.epoch || key === this.resetKey) {
      f.epoch = this.epoch;
      this.duplicate(ev, f); // another feed's copy, or a repeat, of the reset that started this id space
      return;
    }
    const inPlace = this._state !== 'unsynced' && ev.prev === this._seq;
    const prev = this.consolidatedSeq;
    this.newEpoch(f, ev.last, ev.exchTime, key);
    this.dropHeld(); // held events are of the old id space
    if (inPlace) {
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
      this.sink.publish(ev, prev);
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
    f.epoch = this.epoch;
    f.last = NONE;
    for (const g of this.feeds.values()) g.pendingSkipEnd = NONE;
  }

  private dropHeld(): void {
    this.buf = [];
    this.head = 0;
    this.bufLasts.clear();
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
    const i = this.integrity === undefined ? undefined : snap.integrity;
    if (i !== undefined) this.stringBook().applySnapshotStrings(i.bids, i.asks);
    else this.book.applySnapshot(snap.bids, snap.asks);
    this._seq = snap.seq;
    this._state = 'synced';
    this.appliedSinceReset = false;
    this.requestedAt = NaN;
    this.attempt = 0;
    this.counters.snapshotsAdopted++;
    this.feed(snap.collector).resyncs++;
    const reason: ResetReason = this.everSynced ? 'resync' : 'initial';
    this.everSynced = true;
    this.sink.reset(reason, snap);
    // gapSince matters only if the drain leaves a hole: it opened now.
    this.gapSince = nowMs;
    this.drain(nowMs);
  }

  private resync(reason: SnapshotRequestReason, nowMs: number, keep?: BookDelta): void {
    this._state = 'unsynced';
    this.counters.resyncs++;
    for (const f of this.feeds.values()) f.pendingSkipEnd = NONE;
    if (keep !== undefined && !this.bufLasts.has(keep.last)) this.hold(keep, nowMs);
    this.attempt = 0;
    this.request(reason, nowMs);
  }

  private request(reason: SnapshotRequestReason, nowMs: number): void {
    this.attempt++;
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
      this.feed(e.collector).duplicates++;
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
    if (check.verify(book.topStrings(check.depth), info.checksum)) return true;
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

/** Best bid >= best ask among levels with a positive size. */
function snapshotCrossed(bids: readonly Level[], asks: readonly Level[]): boolean {
  let bestBid = -Infinity;
  let bestAsk = Infinity;
  for (let i = 0; i < bids.length; i++) if (bids[i][1] > 0 && bids[i][0] > bestBid) bestBid = bids[i][0];
  for (let i = 0; i < asks.length; i++) if (asks[i][1] > 0 && asks[i][0] < bestAsk) bestAsk = asks[i][0];
  return bestBid >= bestAsk;
}
