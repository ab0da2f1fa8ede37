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
import { OrderBook, type StringLevel } from './book.js';
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

/** The two lanes of one level's hash (size > 0). */
let laneA = 0;
let laneB = 0;
function mix(bid: boolean, price: number, size: number): void {
  f64[0] = price;
  f64[1] = size;
  let a = bid ? 0x2545f491 : 0x9e3779b9;
  let b = bid ? 0x68e31da4 : 0x3c6ef372;
  for (let i = 0; i < 4; i++) {
    a = fmix(a ^ u32[i]);
    b = fmix((b + Math.imul(u32[i], 0x27d4eb2f)) >>> 0);
  }
  laneA = a;
  laneB = b;
}

/** Levels (both sides) up to which apply finds repeated prices by a linear search instead of a Map. */
const SMALL_MESSAGE = 32;

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
  /** apply's scratch for a small message: each price named and its size before (no Map to allocate). */
  private readonly smallPrices = new Float64Array(SMALL_MESSAGE);
  private readonly smallSizes = new Float64Array(SMALL_MESSAGE);
  /** apply's scratch maps for larger messages, cleared and reused (two new Maps a message cost more). */
  private readonly oldBids = new Map<number, number>();
  private readonly oldAsks = new Map<number, number>();
  /** Where onDropped collects the levels the current apply's truncation removes. */
  private cut: Truncated = NOTHING_CUT;
  /** The truncation's listener, made once (a closure per message showed in profiles). */
  private readonly onDropped = (side: 'bid' | 'ask', p: number, q: number): void => {
    const bid = side === 'bid';
    this.add(bid, p, q, -1);
    ((bid ? this.cut.bids : this.cut.asks) as Level[]).push([p, 0]);
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
    // sizes before the message of every price it names (a price may come twice: the last one counts)
    if (bids.length + asks.length <= SMALL_MESSAGE) {
      const nb = this.oldSizes(book, 'bid', bids, 0);
      const na = this.oldSizes(book, 'ask', asks, nb);
      if (strings) book.applyWithStrings(bids, asks, strings.bids, strings.asks);
      else book.apply(bids, asks);
      this.rehash(book, 'bid', 0, nb);
      this.rehash(book, 'ask', nb, nb + na);
    } else {
      const oldBids = this.oldBids;
      const oldAsks = this.oldAsks;
      oldBids.clear();
      oldAsks.clear();
      for (const l of bids) if (!oldBids.has(l[0])) oldBids.set(l[0], book.sizeOf('bid', l[0]));
      for (const l of asks) if (!oldAsks.has(l[0])) oldAsks.set(l[0], book.sizeOf('ask', l[0]));
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
    // (nothing to allocate when neither side is over its depth: most messages)
    if (book.bidDepth <= this.depth && book.askDepth <= this.depth) return NOTHING_CUT;
    const cut = { bids: [], asks: [] };
    this.cut = cut;
    book.dropBeyond(this.depth, this.onDropped);
    this.cut = NOTHING_CUT;
    return cut;
  }

  /**
   * A small message's distinct prices of one side and their sizes before it, into the scratch arrays from
   * `at`; returns how many. A linear search finds repeats (cheaper than a Map for a few levels).
   */
  private oldSizes(book: OrderBook, side: 'bid' | 'ask', levels: readonly Level[], at: number): number {
    const prices = this.smallPrices;
    const sizes = this.smallSizes;
    let k = at;
    for (let i = 0; i < levels.length; i++) {
      const p = levels[i][0];
      let j = at;
      while (j < k && prices[j] !== p) j++;
      if (j < k) continue;
      prices[k] = p;
      sizes[k++] = book.sizeOf(side, p);
    }
    return k - at;
  }

  /** Take the scratch levels [from, to) of one side out of the hash at their old sizes, in at their new. */
  private rehash(book: OrderBook, side: 'bid' | 'ask', from: number, to: number): void {
    const bid = side === 'bid';
    for (let j = from; j < to; j++) {
      const p = this.smallPrices[j];
      const old = this.smallSizes[j];
      if (old > 0) this.add(bid, p, old, -1);
      const now = book.sizeOf(side, p);
      if (now > 0) this.add(bid, p, now, 1);
    }
  }

  private add(bid: boolean, price: number, size: number, sign: 1 | -1): void {
    mix(bid, price, size);
    if (sign === 1) {
      this.a = (this.a + laneA) >>> 0;
      this.b = (this.b + laneB) >>> 0;
    } else {
      this.a = (this.a - laneA) >>> 0;
      this.b = (this.b - laneB) >>> 0;
    }
  }
}
