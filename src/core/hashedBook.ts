/**
 * A book with a running hash of its whole state, for the replica merge (replicaArbiter.ts): two books
 * holding the same levels have the same hash whatever path led there, so the arbiter can tell which state
 * a feed's copy is in -- the consolidated book's, one it passed through, or another -- without comparing
 * levels. The hash is a sum over levels of a 64-bit mix of (side, price, size), kept as two 32-bit lanes
 * and read as one 53-bit number: updated per changed level in O(1) after the book's own lookup. Two
 * different states share a hash with odds near 2^-53 per comparison (a forged feed could aim for that,
 * but only against its own copy). Optionally truncated to a fixed depth after every change, as a venue
 * that keeps a fixed depth requires (Kraken sends no delete for a level pushed out of range). Pure.
 */
import { BULK_LEVELS, OrderBook, type LevelSet, type StringLevel } from './book.js';
import type { Level } from './types.js';

const f64 = new Float64Array(2);
const u32 = new Uint32Array(f64.buffer);

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The levels a change removed by truncation, as deletes ([price, 0]). */
export interface Truncated {
  readonly bids: readonly Level[];
  readonly asks: readonly Level[];
}

/** What apply returns when truncation removed nothing (shared: callers only read it). */
const NOTHING_CUT: Truncated = Object.freeze({ bids: Object.freeze([]), asks: Object.freeze([]) });

export class HashedBook {
  readonly book: OrderBook;
  private a = 0;
  private b = 0;
  /** apply's scratch maps for large messages, cleared and reused (two new Maps a message cost more). */
  private readonly oldBids = new Map<number, number>();
  private readonly oldAsks = new Map<number, number>();
  /** Where onDropped collects the levels the current apply's truncation removes. */
  private cut: Truncated = NOTHING_CUT;
  /** apply's listener of each level set: the level out of the hash at its old size, in at its new. */
  private readonly onSet: LevelSet = (bid, p, old, now) => {
    if (old > 0) this.add(bid, p, old, -1);
    if (now > 0) this.add(bid, p, now, 1);
  };
  /** The truncation's listener, made once (a closure per message showed in profiles). */
  private readonly onDropped = (side: 'bid' | 'ask', p: number, q: number): void => {
    const bid = side === 'bid';
    this.add(bid, p, q, -1);
    const cut = this.cut as { bids: Level[]; asks: Level[] };
    // one level cut (the common case) is an array of one: push on an empty array reserves 17 places
    if (bid) {
      if (cut.bids.length === 0) cut.bids = [[p, 0]];
      else cut.bids.push([p, 0]);
    } else if (cut.asks.length === 0) cut.asks = [[p, 0]];
    else cut.asks.push([p, 0]);
  };

  constructor(
    keepStrings: boolean,
    /** Levels per side kept after every change (Infinity: no limit). */
    readonly depth = Infinity,
  ) {
    this.book = new OrderBook({ keepStrings });
  }

  /** The state's hash: equal for equal books. */
  get hash(): number {
    return this.a + (this.b & 0x1fffff) * 4294967296;
  }

  /** Replace the whole book (the strings, when given, are the same levels as the venue spelled them). */
  reset(bids: readonly Level[], asks: readonly Level[], strings?: { bids: StringLevel[]; asks: StringLevel[] }): void {
    if (strings) this.book.applySnapshotStrings(strings.bids, strings.asks);
    else this.book.applySnapshot(bids, asks);
    if (this.depth !== Infinity) this.book.dropBeyond(this.depth);
    this.a = 0;
    this.b = 0;
    const all = this.book.snapshot();
    for (const l of all.bids) this.add(true, l[0], l[1], 1);
    for (const l of all.asks) this.add(false, l[0], l[1], 1);
  }

  /**
   * Apply absolute sizes (0 deletes), then truncate to depth. Returns the levels the truncation removed
   * (a consolidated delta must say so: its readers do not truncate).
   */
  apply(
    bids: readonly Level[],
    asks: readonly Level[],
    strings?: { bids: StringLevel[]; asks: StringLevel[] },
  ): Truncated {
    const book = this.book;
    // level by level, as the book applies a message this size: each set says the size it replaced, so the
    // hash moves with no lookup of its own (a larger message, or strings the book does not keep: applyAll)
    if (bids.length >= BULK_LEVELS || asks.length >= BULK_LEVELS) this.applyAll(bids, asks, strings);
    else if (strings === undefined) book.apply(bids, asks, this.onSet);
    else if (book.keepStrings && strings.bids.length === bids.length && strings.asks.length === asks.length)
      book.applyWithStrings(bids, asks, strings.bids, strings.asks, this.onSet);
    else this.applyAll(bids, asks, strings);
    // (nothing to allocate when neither side is over its depth: most messages)
    if (book.bidDepth <= this.depth && book.askDepth <= this.depth) return NOTHING_CUT;
    const cut = { bids: [], asks: [] };
    this.cut = cut;
    book.dropBeyond(this.depth, this.onDropped);
    this.cut = NOTHING_CUT;
    return cut;
  }

  /** A large message (or strings the book does not keep): the old sizes of the prices it names, by Map. */
  private applyAll(
    bids: readonly Level[],
    asks: readonly Level[],
    strings: { bids: StringLevel[]; asks: StringLevel[] } | undefined,
  ): void {
    const book = this.book;
    const oldBids = this.oldBids;
    const oldAsks = this.oldAsks;
    oldBids.clear();
    oldAsks.clear();
    // a side read from its strings (OrderBook.applyWithStrings does when the lists differ) names their prices
    const bidPrices = strings && (!book.keepStrings || strings.bids.length !== bids.length) ? strings.bids : bids;
    const askPrices = strings && (!book.keepStrings || strings.asks.length !== asks.length) ? strings.asks : asks;
    for (const l of bidPrices) {
      const p = +l[0];
      if (!oldBids.has(p)) oldBids.set(p, book.sizeOf('bid', p));
    }
    for (const l of askPrices) {
      const p = +l[0];
      if (!oldAsks.has(p)) oldAsks.set(p, book.sizeOf('ask', p));
    }
    if (strings) book.applyWithStrings(bids, asks, strings.bids, strings.asks);
    else book.apply(bids, asks);
    for (const [p, old] of oldBids) {
      if (old > 0) this.add(true, p, old, -1);
      const now = book.sizeOf('bid', p);
      if (now > 0) this.add(true, p, now, 1);
    }
    for (const [p, old] of oldAsks) {
      if (old > 0) this.add(false, p, old, -1);
      const now = book.sizeOf('ask', p);
      if (now > 0) this.add(false, p, now, 1);
    }
  }

  /**
   * Add (sign 1) or take out (-1) one level's hash: two 32-bit lanes, each four fmix rounds over the four
   * 32-bit words of (price, size), seeded by side. (Kept in one function with locals: the lanes passed
   * through module variables cost a fifth of apply.)
   */
  private add(bid: boolean, price: number, size: number, sign: 1 | -1): void {
    f64[0] = price;
    f64[1] = size;
    const w0 = u32[0];
    const w1 = u32[1];
    const w2 = u32[2];
    const w3 = u32[3];
    let a = bid ? 0x2545f491 : 0x9e3779b9;
    let b = bid ? 0x68e31da4 : 0x3c6ef372;
    a = fmix(a ^ w0);
    b = fmix((b + Math.imul(w0, 0x27d4eb2f)) >>> 0);
    a = fmix(a ^ w1);
    b = fmix((b + Math.imul(w1, 0x27d4eb2f)) >>> 0);
    a = fmix(a ^ w2);
    b = fmix((b + Math.imul(w2, 0x27d4eb2f)) >>> 0);
    a = fmix(a ^ w3);
    b = fmix((b + Math.imul(w3, 0x27d4eb2f)) >>> 0);
    if (sign === 1) {
      this.a = (this.a + a) >>> 0;
      this.b = (this.b + b) >>> 0;
    } else {
      this.a = (this.a - a) >>> 0;
      this.b = (this.b - b) >>> 0;
    }
  }
}
