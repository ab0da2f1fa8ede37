/**
 * A per-(venue, symbol) source of book events that advances the simulator's truth book, and the event
 * itself: venue-neutral (ids and level changes in integer units), encoded by the venue's protocol module
 * once per frame variant and shared by every connection (see BookEvent.frame).
 */
import type { BookChanges, LevelDiff, TruthBook, UnitLevel } from './truthBook.js';

export interface Feed {
  /** Canonical symbol, upper case, Binance spelling (BTCUSDT); protocols spell it their way. */
  readonly symbol: string;
  readonly book: TruthBook;
  /** Price tick and lot step, in 1e-8 units (for exchangeInfo / instruments). */
  readonly tickUnits: number;
  readonly stepUnits: number;
  /** Venue-wide cross sequence of the last event (Bybit's seq). */
  seq: number;
  /** Advance the truth by one event stamped E = eventTimeMs; undefined when exhausted (end of a capture). */
  next(eventTimeMs: number): BookEvent | undefined;
  /** OKX maintenance reset: the next event's last id is `low` (below the current one), then counting goes on from there. */
  restartIdsAt?(low: number): void;
  /** A capture's one depth where the venue has several (Bybit orderbook.50): the only one served. */
  readonly depth?: number;
  /** A capture's spelling (decimals) of prices and sizes, where a checksum is over the text (Kraken). */
  readonly priceDecimals?: number;
  readonly sizeDecimals?: number;
}

/** A frame: shared payloads come pre-encoded as Buffers, replies as strings. */
export type Frame = Buffer | string;

export class BookEvent {
  /** Encoded frames by variant (stream name, envelope...): built once, sent to every connection. The first
   * two variants in fields (most events are sent in one or two), more in a map. */
  private k1: string | undefined;
  private f1: Frame | undefined;
  private k2: string | undefined;
  private f2: Frame | undefined;
  private frames: Map<string, Frame> | undefined;
  /** The protocol's base payload text (e.g. Binance's depthUpdate JSON, wrapped per stream). */
  text: string | undefined;
  /** OKX legacy checksum of the book after this event (0 unless enabled). */
  checksum = 0;
  /** Capture replay: the venue's message as recorded; protocol modules send it (re-stamped) instead of encoding. */
  captured: string | undefined;
  /** Generated events this message stands for (> 1 after regrouping). */
  count = 1;
  /** An OKX keep-alive: no change, prev === last. */
  keepAlive = false;
  /**
   * Per view (BookChanges.views), the last id of that depth's own stream, where the venue keeps one id space
   * per depth (Bybit: orderbook.50 and orderbook.200 count their own u); 0 where the view did not change, and
   * then no message goes out on that depth. undefined: every subscription carries `last`.
   */
  viewLast: number[] | undefined;

  constructor(
    /** Canonical symbol. */
    readonly symbol: string,
    /** Event time, ms. */
    readonly E: number,
    /** The book's id before this event (Binance pu, OKX prevSeqId). */
    readonly prev: number,
    /** First update id covered (Binance U). */
    readonly first: number,
    /** Last update id covered (Binance u, OKX seqId, Bybit u). */
    readonly last: number,
    /** Venue-wide cross sequence (Bybit seq). */
    readonly seq: number,
    readonly changes: BookChanges,
  ) {}

  /** The frame stored for `key`, if any. */
  cached(key: string): Frame | undefined {
    if (key === this.k1) return this.f1;
    if (key === this.k2) return this.f2;
    return this.frames?.get(key);
  }

  /** Store the frame for `key`; returns it. */
  store(key: string, f: Frame): Frame {
    if (this.k1 === undefined) {
      this.k1 = key;
      this.f1 = f;
    } else if (this.k2 === undefined) {
      this.k2 = key;
      this.f2 = f;
    } else (this.frames ??= new Map()).set(key, f);
    return f;
  }

  /** The frame for `key`, built once by `build`. */
  frame(key: string, build: () => Frame): Frame {
    return this.cached(key) ?? this.store(key, build());
  }
}

function mergeLevels(a: UnitLevel[], b: UnitLevel[], isBid: boolean): UnitLevel[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const m = new Map<number, number>();
  for (const [p, q] of a) m.set(p, q);
  for (const [p, q] of b) m.set(p, q);
  return [...m].sort(isBid ? (x, y) => y[0] - x[0] : (x, y) => x[0] - y[0]);
}

function mergeDiff(a: LevelDiff, b: LevelDiff): LevelDiff {
  return { bids: mergeLevels(a.bids, b.bids, true), asks: mergeLevels(a.asks, b.asks, false) };
}

/**
 * One message covering two consecutive events of a book (the regrouping fault): ids from the first's prev /
 * first to the second's last, levels merged with the later size winning, time and checksum of the second.
 */
export function mergeEvents(a: BookEvent, b: BookEvent): BookEvent {
  const full = mergeDiff(a.changes, b.changes);
  const none: LevelDiff = { bids: [], asks: [] };
  const views: LevelDiff[] = [];
  for (let i = 0; i < Math.max(a.changes.views.length, b.changes.views.length); i++)
    views.push(mergeDiff(a.changes.views[i] ?? none, b.changes.views[i] ?? none));
  const m = new BookEvent(b.symbol, b.E, a.prev, a.first, b.last, b.seq, { ...full, views });
  m.checksum = b.checksum;
  m.count = a.count + b.count;
  return m;
}
