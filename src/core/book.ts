/**
 * L2 order book: price levels per side in sorted typed arrays, best level at the END.
 * Updates cluster near the top of the book, so keeping the best at the end makes the common insert/delete
 * move only a few elements, and a short linear probe from the end finds most prices before a binary search
 * is needed. Asks are stored as negated prices so both sides are one ascending array and share one code path.
 *
 * Optional `keepStrings` mode also keeps the exchange's price/size strings per level, for venues whose
 * checksum is computed over the exact strings (applyStrings / topStrings).
 */
import type { Level } from './types.js';

/** A level as the exchange spelled it: [price, size] strings. */
export type StringLevel = [price: string, size: string];

export interface BookLevels {
  bids: Level[];
  asks: Level[];
}

export interface StringBookLevels {
  bids: StringLevel[];
  asks: StringLevel[];
}

/**
 * One side's levels as the book holds them, read in place (no copy): `n` levels, the best at index n - 1,
 * rank r at n - 1 - r; the venue's strings when the book keeps them. Valid until the book next changes.
 */
export interface StringSideView {
  readonly n: number;
  /**
   * Changes whenever one of the side's best TOP_RANKS levels may have (a change at a worse rank, or the worst
   * levels cut, leaves it): a check that reads at most that many levels may keep its result while it stays.
   */
  readonly topVersion: number;
  /**
   * A number per level a check may keep there (NaN: none yet, or the level changed since): see BookSide.tags.
   * The one part of the view a reader may write.
   */
  readonly tags: Float64Array | undefined;
  /** The venue's strings when the book keeps them: level i's at strBase + i. */
  readonly priceStr: readonly string[] | undefined;
  readonly sizeStr: readonly string[] | undefined;
  readonly strBase: number;
}

/**
 * Hears each level a per-level apply sets (OrderBook.apply, applyWithStrings, given one): its side, price, the
 * size it had and the size it has now (0: none). A side of BULK_LEVELS levels or more is merged in one pass
 * and not heard, nor is one applyWithStrings reads from its strings: a listener's caller keeps to smaller
 * sides whose two lists match (HashedBook, which moves its hash with each level).
 */
export type LevelSet = (bid: boolean, price: number, old: number, now: number) => void;

export interface OrderBookOptions {
  /** Also keep price/size strings per level (slower; for checksums). Default false. */
  keepStrings?: boolean;
}

const INITIAL_CAPACITY = 1024;
/** The best levels whose changes StringSideView.topVersion tracks (Kraken's checksum reads 10). */
export const TOP_RANKS = 16;
/** Elements checked linearly from the best end before falling back to binary search. */
const PROBE = 16;
/**
 * A side's levels in one message from this many on are sorted and merged into the side in one pass
 * (BookSide.merge: O(moved part + m log m)) when set one by one would move many elements: each insert or
 * delete far from the best end shifts everything above it (O(n) per level: a 400k-level message took
 * 17.8 s). Below it the per-level path is faster (no allocation; the common message touches a few levels
 * near the top). 64, not 16: Binance USD-M's 20-50-level updates ran 2-5x slower through the batch path.
 */
export const BULK_LEVELS = 64;

/** Tests only: take merge() (or the level-by-level path) for every batch, to check each against a model. */
let forcedBatchPath: 'merge' | 'levels' | undefined;
export function forceBatchPathForTests(path: 'merge' | 'levels' | undefined): void {
  forcedBatchPath = path;
}

/** One side's levels of a message, in message order: keys (sign * price) and sizes, strings if kept. */
interface Batch {
  keys: Float64Array;
  sizes: Float64Array;
  priceStr: string[] | undefined;
  sizeStr: string[] | undefined;
  m: number;
}

/**
 * Element i out of two parallel string arrays. Near the end (the common case: the best levels are there) a
 * plain loop and pop(): splice would allocate the array of removed elements on every call.
 */
function removeStrings(a: string[], b: string[], i: number): void {
  const last = a.length - 1;
  if (last - i >= 32) {
    a.splice(i, 1);
    b.splice(i, 1);
    return;
  }
  for (let j = i; j < last; j++) {
    a[j] = a[j + 1];
    b[j] = b[j + 1];
  }
  a.pop();
  b.pop();
}

/** x and y in at index `at` of two parallel string arrays (as removeStrings, without splice near the end). */
function insertStrings(a: string[], b: string[], at: number, x: string, y: string): void {
  const n = a.length;
  if (n - at >= 32) {
    a.splice(at, 0, x);
    b.splice(at, 0, y);
    return;
  }
  a.push(x);
  b.push(y);
  for (let j = n; j > at; j--) {
    a[j] = a[j - 1];
    b[j] = b[j - 1];
  }
  a[at] = x;
  b[at] = y;
}

class BookSide {
  /** Ascending keys: price for bids, -price for asks. */
  keys = new Float64Array(INITIAL_CAPACITY);
  sizes = new Float64Array(INITIAL_CAPACITY);
  n = 0;
  /** Bumped by every change that may reach the best TOP_RANKS levels (StringSideView.topVersion). */
  topVersion = 0;
  /**
   * The strings, only in keepStrings mode: level i's at strBase + i. The places before strBase are free
   * (''), so that the worst level goes or comes at no cost: a venue that keeps a fixed depth (Kraken) drops
   * its worst level after most inserts, and sends the level that enters from below after most deletes
   * (shift and unshift moved every string each time).
   */
  priceStr: string[] | undefined;
  sizeStr: string[] | undefined;
  strBase = 0;
  /**
   * keepStrings mode: a number per level that a check reading the strings may keep there (NaN: none), moved
   * with its level and reset to NaN whenever the level changes (Kraken's checksum keeps each level's CRC).
   */
  tags: Float64Array | undefined;

  constructor(
    readonly sign: 1 | -1,
    keepStrings: boolean,
  ) {
    if (keepStrings) {
      this.priceStr = [];
      this.sizeStr = [];
      this.tags = new Float64Array(INITIAL_CAPACITY);
    }
  }

  /** Index of key, or -(insertion point) - 1. */
  find(key: number): number {
    const k = this.keys;
    const n = this.n;
    const stop = n > PROBE ? n - PROBE : 0;
    for (let i = n - 1; i >= stop; i--) {
      const v = k[i];
      // one test per step; which of the two it was only at the end
      if (v <= key) return v === key ? i : -i - 2; // -i - 2: insertion point i + 1
    }
    let lo = 0;
    let hi = stop - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = k[mid];
      if (v === key) return mid;
      if (v < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  /**
   * Set a level by price; size <= 0 (or NaN) deletes, so bad sizes can never leave a phantom level. Returns
   * the size the level had (0: none), which a running hash of the book needs (HashedBook).
   */
  set(price: number, size: number): number {
    const key = this.sign * price;
    if (key !== key) return 0; // a NaN price has no place in a sorted side
    const i = this.find(key);
    this.touch(i);
    if (i >= 0) {
      const old = this.sizes[i];
      if (size > 0) this.sizes[i] = size;
      else this.removeAt(i);
      return old;
    }
    if (size > 0) this.insertAt(-i - 1, key, size);
    return 0;
  }

  /** set() with the level's strings (keepStrings mode). Returns the size the level had (0: none). */
  setWithStrings(price: number, size: number, ps: string, ss: string): number {
    const key = this.sign * price;
    if (key !== key) return 0;
    const i = this.find(key);
    this.touch(i);
    if (i >= 0) {
      const old = this.sizes[i];
      if (size > 0) {
        this.sizes[i] = size;
        this.sizeStr![this.strBase + i] = ss;
        this.tags![i] = NaN;
      } else {
        this.removeAt(i);
        if (i === 0) this.dropWorstStrings(1);
        else if (i < this.n - i) this.removeLowStrings(i);
        else removeStrings(this.priceStr!, this.sizeStr!, this.strBase + i);
      }
      return old;
    }
    if (size > 0) {
      const at = -i - 1;
      this.insertAt(at, key, size);
      if (at === 0) this.addWorstStrings(ps, ss);
      else if (this.strBase > 0 && at < this.n - at) this.insertLowStrings(at, ps, ss);
      else insertStrings(this.priceStr!, this.sizeStr!, this.strBase + at, ps, ss);
    }
    return 0;
  }

  /**
   * A level found at i (find's result: or its insertion point) is about to change: its rank is that of an
   * existing level, or of the new one; past TOP_RANKS the best levels stay as they are (most of a deep
   * book's changes: Kraken's checksum folds its top 10 only when they moved).
   */
  private touch(i: number): void {
    const rank = i >= 0 ? this.n - 1 - i : this.n + i + 1;
    if (rank < TOP_RANKS) this.topVersion++;
  }

  /** The strings of the k worst levels out: their places become free. */
  private dropWorstStrings(k: number): void {
    const p = this.priceStr!;
    const s = this.sizeStr!;
    const base = this.strBase;
    for (let j = base; j < base + k; j++) {
      p[j] = '';
      s[j] = '';
    }
    this.strBase = base + k;
    this.boundFreeStrings();
  }

  /** Free places kept up to the side's own length (and 64): packing now and then costs O(1) a level. */
  private boundFreeStrings(): void {
    if (this.strBase > 64 && this.strBase > this.priceStr!.length - this.strBase) this.packStrings(0);
  }

  /** Level i's strings out, nearer the worst end: the ones below it move up, a free place more below. */
  private removeLowStrings(i: number): void {
    const p = this.priceStr!;
    const s = this.sizeStr!;
    const base = this.strBase;
    for (let j = base + i; j > base; j--) {
      p[j] = p[j - 1];
      s[j] = s[j - 1];
    }
    p[base] = '';
    s[base] = '';
    this.strBase = base + 1;
    this.boundFreeStrings();
  }

  /** Strings in at `at`, nearer the worst end: the ones below it move down into the free place below. */
  private insertLowStrings(at: number, ps: string, ss: string): void {
    const p = this.priceStr!;
    const s = this.sizeStr!;
    const base = --this.strBase;
    for (let j = base; j < base + at; j++) {
      p[j] = p[j + 1];
      s[j] = s[j + 1];
    }
    p[base + at] = ps;
    s[base + at] = ss;
  }

  /** A new worst level's strings: into the free place below, made when there is none. */
  private addWorstStrings(ps: string, ss: string): void {
    if (this.strBase === 0) this.packStrings(16 + (this.priceStr!.length >> 1));
    const base = --this.strBase;
    this.priceStr![base] = ps;
    this.sizeStr![base] = ss;
  }

  /** The strings moved to start at `free` (free places below them). */
  private packStrings(free: number): void {
    const p = this.priceStr!;
    const s = this.sizeStr!;
    const base = this.strBase;
    if (free === 0) {
      p.splice(0, base);
      s.splice(0, base);
    } else {
      const pad = new Array<string>(free).fill('');
      this.priceStr = pad.concat(p.slice(base));
      this.sizeStr = pad.concat(s.slice(base));
    }
    this.strBase = free;
  }

  private removeAt(i: number): void {
    const last = this.n - 1;
    if (i < last) {
      const k = this.keys;
      const s = this.sizes;
      const t = this.tags;
      if (last - i < 16) {
        // a plain loop beats copyWithin's call overhead for short moves (the common case near the top)
        for (let j = i; j < last; j++) {
          k[j] = k[j + 1];
          s[j] = s[j + 1];
        }
        if (t !== undefined) for (let j = i; j < last; j++) t[j] = t[j + 1];
      } else {
        k.copyWithin(i, i + 1, this.n);
        s.copyWithin(i, i + 1, this.n);
        if (t !== undefined) t.copyWithin(i, i + 1, this.n);
      }
    }
    this.n = last;
  }

  private insertAt(at: number, key: number, size: number): void {
    const n = this.n;
    if (n === this.keys.length) this.grow();
    const k = this.keys;
    const s = this.sizes;
    const t = this.tags;
    if (at < n) {
      if (n - at < 16) {
        for (let j = n; j > at; j--) {
          k[j] = k[j - 1];
          s[j] = s[j - 1];
        }
        if (t !== undefined) for (let j = n; j > at; j--) t[j] = t[j - 1];
      } else {
        k.copyWithin(at + 1, at, n);
        s.copyWithin(at + 1, at, n);
        if (t !== undefined) t.copyWithin(at + 1, at, n);
      }
    }
    k[at] = key;
    s[at] = size;
    if (t !== undefined) t[at] = NaN;
    this.n = n + 1;
  }

  private grow(): void {
    this.grownTo(this.keys.length + 1);
  }

  /**
   * Apply a batch as if each level were set() in message order: level by level when that moves few
   * elements (a large message of updates to existing levels moves none), else merge() in one pass.
   * Which one only changes the speed.
   */
  applyBatch(b: Batch): void {
    const m = b.m;
    const keys = b.keys;
    const sizes = b.sizes;
    // level by level, inserting or deleting at index i moves n - i elements: estimate the total (with the
    // side as it is now, plus c^2/4 for c inserts and deletes moving each other) and stop as soon as it
    // exceeds what a merge costs: copying n and sorting m
    const n = this.n;
    const budget = 4 * n + 32 * m;
    let moves = 0;
    let c = 0;
    for (let j = 0; j < m && moves <= budget && forcedBatchPath === undefined; j++) {
      const i = this.find(keys[j]);
      if (i >= 0) {
        if (!(sizes[j] > 0)) {
          moves += n - i + (c >> 1);
          c++;
        }
      } else if (sizes[j] > 0) {
        moves += n + i + 1 + (c >> 1); // n - insertion point
        c++;
      }
    }
    if (forcedBatchPath === 'merge' || (moves > budget && forcedBatchPath !== 'levels')) {
      this.merge(b);
      return;
    }
    const sign = this.sign;
    if (this.priceStr !== undefined) {
      const ps = b.priceStr!;
      const ss = b.sizeStr!;
      for (let j = 0; j < m; j++) this.setWithStrings(sign * keys[j], sizes[j], ps[j], ss[j]);
    } else {
      for (let j = 0; j < m; j++) this.set(sign * keys[j], sizes[j]);
    }
  }

  /**
   * Apply a batch as if each level were set() in message order, in one pass: the batch's distinct prices are
   * sorted and merged with the part of the side from the lowest of them up, which is all that can move.
   * O((n - that index) + m log m), and no comparison callbacks: the sort is the typed array's own.
   */
  merge(b: Batch): void {
    const m = b.m;
    if (m === 0) return;
    this.topVersion++;
    const { uniq, u, slot } = distinctKeys(b.keys, m);
    const strings = this.priceStr !== undefined;
    if (strings && this.strBase > 0) this.packStrings(0); // (the rest of merge reads strings from 0)
    // per distinct price, the message's net effect: the last size wins; with strings, the size string of the
    // last level and the price string of the level that (re)inserted it, unless it was never deleted in the
    // message (then an existing level keeps its own spelling, as set() keeps it)
    const lastSize = new Float64Array(u);
    const runPs: string[] = strings ? new Array<string>(u) : [];
    const lastSs: string[] = strings ? new Array<string>(u) : [];
    const deleted = strings ? new Uint8Array(u) : undefined; // a delete seen for this price in the message
    const inRun = strings ? new Uint8Array(u) : undefined; // present after the levels seen so far
    const runFromStart = strings ? new Uint8Array(u) : undefined; // ...and never deleted before in the message
    const bs = b.sizes;
    if (strings) {
      const bp = b.priceStr!;
      const bz = b.sizeStr!;
      for (let j = 0; j < m; j++) {
        const x = slot[j];
        const z = bs[j];
        lastSize[x] = z;
        if (z > 0) {
          if (inRun![x] === 0) {
            inRun![x] = 1;
            runPs[x] = bp[j];
            runFromStart![x] = deleted![x] === 0 ? 1 : 0;
          }
          lastSs[x] = bz[j];
        } else {
          inRun![x] = 0;
          deleted![x] = 1;
        }
      }
    } else {
      for (let j = 0; j < m; j++) lastSize[slot[j]] = bs[j];
    }

    const lo = this.lowerBound(uniq[0]);
    const n = this.n;
    // the new part from lo up, built aside, then copied over the old one
    const cap = n - lo + u;
    const outK = new Float64Array(cap);
    const outS = new Float64Array(cap);
    const outP: string[] = [];
    const outZ: string[] = [];
    const k = this.keys;
    const s = this.sizes;
    const pStr = this.priceStr;
    const sStr = this.sizeStr;
    let i = lo;
    let o = 0;
    for (let x = 0; x < u; x++) {
      const key = uniq[x];
      while (i < n && k[i] < key) {
        outK[o] = k[i];
        outS[o] = s[i];
        if (strings) {
          outP[o] = pStr![i];
          outZ[o] = sStr![i];
        }
        o++;
        i++;
      }
      const existed = i < n && k[i] === key;
      const size = lastSize[x];
      if (size > 0) {
        outK[o] = key;
        outS[o] = size;
        if (strings) {
          outP[o] = existed && runFromStart![x] === 1 ? pStr![i] : runPs[x];
          outZ[o] = lastSs[x];
        }
        o++;
      }
      if (existed) i++;
    }
    const rest = n - i;
    const total = lo + o + rest;
    if (rest > 0 || total > k.length) {
      // the untouched top (i..n) moves to its new place first: the new part is written over the old
      this.grownTo(total);
      this.keys.copyWithin(lo + o, i, n);
      this.sizes.copyWithin(lo + o, i, n);
      if (this.tags !== undefined) this.tags.copyWithin(lo + o, i, n);
    }
    this.keys.set(outK.subarray(0, o), lo);
    this.sizes.set(outS.subarray(0, o), lo);
    // (the new part's levels may be new or changed: their tags start again)
    if (this.tags !== undefined) this.tags.fill(NaN, lo, lo + o);
    if (strings) {
      const tailP = pStr!.slice(i, n);
      const tailZ = sStr!.slice(i, n);
      pStr!.length = lo;
      sStr!.length = lo;
      for (let x = 0; x < o; x++) {
        pStr!.push(outP[x]);
        sStr!.push(outZ[x]);
      }
      for (let x = 0; x < tailP.length; x++) {
        pStr!.push(tailP[x]);
        sStr!.push(tailZ[x]);
      }
    }
    this.n = total;
  }

  /** Ensure capacity for `size` levels, contents kept. */
  private grownTo(size: number): void {
    if (size > this.keys.length) {
      let cap = this.keys.length;
      while (cap < size) cap *= 2;
      const k = new Float64Array(cap);
      const s = new Float64Array(cap);
      k.set(this.keys.subarray(0, this.n));
      s.set(this.sizes.subarray(0, this.n));
      this.keys = k;
      this.sizes = s;
      if (this.tags !== undefined) {
        const t = new Float64Array(cap);
        t.set(this.tags.subarray(0, this.n));
        this.tags = t;
      }
    }
  }

  /** First index whose key is >= key. */
  private lowerBound(key: number): number {
    const k = this.keys;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (k[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Size at a price, 0 when there is no such level. */
  sizeOf(price: number): number {
    const i = this.find(this.sign * price);
    return i >= 0 ? this.sizes[i] : 0;
  }

  /**
   * Keep the best `depth` levels: the worse ones (the array's start) are removed and passed to `removed`
   * (a venue that keeps a fixed depth sends no delete for a level pushed out of it: Kraken).
   */
  dropBeyond(
    depth: number,
    removed?: (side: 'bid' | 'ask', price: number, size: number) => void,
    name: 'bid' | 'ask' = this.sign === 1 ? 'bid' : 'ask',
  ): void {
    const k = this.n - depth;
    if (k <= 0) return;
    if (depth < TOP_RANKS) this.topVersion++; // only levels past depth go
    if (removed) for (let i = 0; i < k; i++) removed(name, this.sign * this.keys[i], this.sizes[i]);
    this.keys.copyWithin(0, k, this.n);
    this.sizes.copyWithin(0, k, this.n);
    if (this.tags !== undefined) this.tags.copyWithin(0, k, this.n);
    if (this.priceStr) this.dropWorstStrings(k);
    this.n = depth;
  }

  priceAt(i: number): number {
    return this.sign * this.keys[i];
  }

  best(): Level | undefined {
    const n = this.n;
    return n === 0 ? undefined : [this.sign * this.keys[n - 1], this.sizes[n - 1]];
  }

  top(count: number): Level[] {
    const out: Level[] = [];
    const end = count >= this.n ? 0 : this.n - count;
    for (let i = this.n - 1; i >= end; i--) out.push([this.sign * this.keys[i], this.sizes[i]]);
    return out;
  }

  topStrings(count: number): StringLevel[] {
    const out: StringLevel[] = [];
    const end = count >= this.n ? 0 : this.n - count;
    const ps = this.priceStr;
    const ss = this.sizeStr;
    const base = this.strBase;
    for (let i = this.n - 1; i >= end; i--) {
      out.push(ps ? [ps[base + i], ss![base + i]] : [String(this.sign * this.keys[i]), String(this.sizes[i])]);
    }
    return out;
  }

  clear(): void {
    this.topVersion++;
    this.n = 0;
    if (this.priceStr) {
      this.priceStr = [];
      this.sizeStr = [];
      this.strBase = 0;
    }
  }
}

/**
 * The distinct keys of keys[0, m) ascending (uniq[0, u)), and for each level the index of its key in uniq.
 * Already sorted messages (snapshots are, best first) need no sort; others use Float64Array's own sort and a
 * binary search per level, much faster than a comparison sort with a callback (400k levels: ~0.5 s).
 */
function distinctKeys(keys: Float64Array, m: number): { uniq: Float64Array; u: number; slot: Uint32Array } {
  let up = true;
  let down = true;
  for (let i = 1; i < m && (up || down); i++) {
    if (!(keys[i] > keys[i - 1])) up = false;
    if (!(keys[i] < keys[i - 1])) down = false;
  }
  const slot = new Uint32Array(m);
  if (up || down) {
    const uniq = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const x = up ? i : m - 1 - i;
      uniq[x] = keys[i];
      slot[i] = x;
    }
    return { uniq, u: m, slot };
  }
  const uniq = keys.slice(0, m).sort();
  let u = 1;
  for (let i = 1; i < m; i++) if (uniq[i] !== uniq[u - 1]) uniq[u++] = uniq[i];
  for (let i = 0; i < m; i++) {
    const key = keys[i];
    let lo = 0;
    let hi = u - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (uniq[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    slot[i] = lo;
  }
  return { uniq, u, slot };
}

/** A side's levels as a batch for BookSide.merge; NaN prices are left out (set() ignores them too). */
function batchOfLevels(sign: 1 | -1, levels: readonly Level[], withStrings: boolean): Batch {
  const len = levels.length;
  const keys = new Float64Array(len);
  const sizes = new Float64Array(len);
  const priceStr = withStrings ? new Array<string>() : undefined;
  const sizeStr = withStrings ? new Array<string>() : undefined;
  let m = 0;
  for (let i = 0; i < len; i++) {
    const l = levels[i];
    const key = sign * l[0];
    if (key !== key) continue;
    keys[m] = key;
    sizes[m] = l[1];
    if (withStrings) {
      priceStr!.push(String(l[0]));
      sizeStr!.push(String(l[1]));
    }
    m++;
  }
  return { keys, sizes, priceStr, sizeStr, m };
}

/** The same from exchange strings; unparsable levels are left out, as applyStrings skips them. */
function batchOfStrings(sign: 1 | -1, levels: readonly StringLevel[], withStrings: boolean): Batch {
  const len = levels.length;
  const keys = new Float64Array(len);
  const sizes = new Float64Array(len);
  const priceStr = withStrings ? new Array<string>() : undefined;
  const sizeStr = withStrings ? new Array<string>() : undefined;
  let m = 0;
  for (let i = 0; i < len; i++) {
    const l = levels[i];
    const p = +l[0];
    const z = +l[1];
    if (p !== p || z !== z) continue;
    keys[m] = sign * p;
    sizes[m] = z;
    if (withStrings) {
      priceStr!.push(l[0]);
      sizeStr!.push(l[1]);
    }
    m++;
  }
  return { keys, sizes, priceStr, sizeStr, m };
}

export class OrderBook {
  private readonly bidSide: BookSide;
  private readonly askSide: BookSide;
  readonly keepStrings: boolean;
  /**
   * What the one check that keeps its tags in this book (StringSideView.tags) keeps of it besides (Kraken's
   * checksum: each side's last fold), read with every message (a WeakMap by book cost a lookup each time).
   */
  checkState: object | undefined = undefined;

  constructor(options: OrderBookOptions = {}) {
    this.keepStrings = options.keepStrings === true;
    this.bidSide = new BookSide(1, this.keepStrings);
    this.askSide = new BookSide(-1, this.keepStrings);
  }

  /** Replace the whole book. Levels with size 0 are ignored; a later duplicate price wins. */
  applySnapshot(bids: readonly Level[], asks: readonly Level[]): void {
    this.clear();
    this.apply(bids, asks);
  }

  /** Apply absolute-size deltas in order; size 0 deletes the level (deleting a missing level is a no-op). */
  apply(bids: readonly Level[], asks: readonly Level[], changed?: LevelSet): void {
    if (changed !== undefined || this.keepStrings || bids.length >= BULK_LEVELS || asks.length >= BULK_LEVELS) {
      this.applySide(this.bidSide, bids, changed);
      this.applySide(this.askSide, asks, changed);
      return;
    }
    // the common message: a few levels per side, set one by one (kept apart so that this stays small and inlined)
    const b = this.bidSide;
    const a = this.askSide;
    for (let i = 0; i < bids.length; i++) {
      const l = bids[i];
      b.set(l[0], l[1]);
    }
    for (let i = 0; i < asks.length; i++) {
      const l = asks[i];
      a.set(l[0], l[1]);
    }
  }

  private applySide(side: BookSide, levels: readonly Level[], changed: LevelSet | undefined): void {
    const keep = this.keepStrings;
    if (levels.length >= BULK_LEVELS) {
      // numbers only in keepStrings mode: store their default spelling so topStrings() still has something to show
      side.applyBatch(batchOfLevels(side.sign, levels, keep));
      return;
    }
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      const p = l[0];
      const z = l[1];
      const old = keep ? this.setStringsSide(side, p, z) : side.set(p, z);
      // (a NaN price sets nothing; a NaN size deletes)
      if (changed !== undefined && p === p) changed(side.sign === 1, p, old, z > 0 ? z : 0);
    }
  }

  /**
   * Apply levels as the exchange spelled them. In keepStrings mode the strings are stored with the level
   * (topStrings returns them verbatim); otherwise this is apply() after Number(). Unparsable levels are skipped.
   */
  applyStrings(bids: readonly StringLevel[], asks: readonly StringLevel[]): void {
    this.applyStringsSide(this.bidSide, bids);
    this.applyStringsSide(this.askSide, asks);
  }

  /**
   * applyStrings when the levels' numbers are already known: `bids`/`asks` are the values of
   * `bidStrings`/`askStrings`, level for level (a venue parser returns both), so the strings are not parsed
   * again. A side whose two lists differ in length is read from its strings, as applyStrings does.
   */
  applyWithStrings(
    bids: readonly Level[],
    asks: readonly Level[],
    bidStrings: readonly StringLevel[],
    askStrings: readonly StringLevel[],
    changed?: LevelSet,
  ): void {
    this.applyWithStringsSide(this.bidSide, bids, bidStrings, changed);
    this.applyWithStringsSide(this.askSide, asks, askStrings, changed);
  }

  private applyWithStringsSide(
    side: BookSide,
    levels: readonly Level[],
    strings: readonly StringLevel[],
    changed: LevelSet | undefined,
  ): void {
    if (!this.keepStrings || levels.length !== strings.length || levels.length >= BULK_LEVELS) {
      this.applyStringsSide(side, strings);
      return;
    }
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      const p = l[0];
      const z = l[1];
      if (p !== p || z !== z) continue;
      const t = strings[i];
      const old = side.setWithStrings(p, z, t[0], t[1]);
      if (changed !== undefined) changed(side.sign === 1, p, old, z > 0 ? z : 0);
    }
  }

  /** Replace the whole book from exchange strings. */
  applySnapshotStrings(bids: readonly StringLevel[], asks: readonly StringLevel[]): void {
    this.clear();
    this.applyStrings(bids, asks);
  }

  private applyStringsSide(side: BookSide, levels: readonly StringLevel[]): void {
    const keep = this.keepStrings;
    if (levels.length >= BULK_LEVELS) {
      side.applyBatch(batchOfStrings(side.sign, levels, keep));
      return;
    }
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      const p = +l[0];
      const s = +l[1];
      if (p !== p || s !== s) continue;
      if (keep) side.setWithStrings(p, s, l[0], l[1]);
      else side.set(p, s);
    }
  }

  private setStringsSide(side: BookSide, price: number, size: number): number {
    return side.setWithStrings(price, size, String(price), String(size));
  }

  setLevel(side: 'bid' | 'ask', price: number, size: number): void {
    const s = side === 'bid' ? this.bidSide : this.askSide;
    if (this.keepStrings) this.setStringsSide(s, price, size);
    else s.set(price, size);
  }

  /** Size at a price on one side, 0 when the side has no such level. */
  sizeOf(side: 'bid' | 'ask', price: number): number {
    return (side === 'bid' ? this.bidSide : this.askSide).sizeOf(price);
  }

  /** Truncate each side to its best `depth` levels; `removed` hears every level dropped. */
  dropBeyond(depth: number, removed?: (side: 'bid' | 'ask', price: number, size: number) => void): void {
    // (the side's name is passed down: no closure per side and call)
    this.bidSide.dropBeyond(depth, removed, 'bid');
    this.askSide.dropBeyond(depth, removed, 'ask');
  }

  bestBid(): Level | undefined {
    return this.bidSide.best();
  }

  bestAsk(): Level | undefined {
    return this.askSide.best();
  }

  /** Best bid price without allocating (NaN if the side is empty). */
  bestBidPrice(): number {
    const s = this.bidSide;
    return s.n === 0 ? NaN : s.priceAt(s.n - 1);
  }

  /** Best ask price without allocating (NaN if the side is empty). */
  bestAskPrice(): number {
    const s = this.askSide;
    return s.n === 0 ? NaN : s.priceAt(s.n - 1);
  }

  /** The price of a side's level at `rank` (0: the best) without allocating; NaN past the side's depth. */
  priceAtRank(side: 'bid' | 'ask', rank: number): number {
    const s = side === 'bid' ? this.bidSide : this.askSide;
    return rank < s.n ? s.priceAt(s.n - 1 - rank) : NaN;
  }

  /** Top n levels per side, best first. */
  top(n: number): BookLevels {
    return { bids: this.bidSide.top(n), asks: this.askSide.top(n) };
  }

  /** Top n levels per side as strings, best first: the exchange's spelling in keepStrings mode, String(number) otherwise. */
  topStrings(n: number): StringBookLevels {
    return { bids: this.bidSide.topStrings(n), asks: this.askSide.topStrings(n) };
  }

  /** One side read in place, for a check that reads every message's top levels (no topStrings arrays). */
  stringSide(side: 'bid' | 'ask'): StringSideView {
    return side === 'bid' ? this.bidSide : this.askSide;
  }

  /** The whole book, best first. */
  snapshot(): BookLevels {
    return this.top(Infinity);
  }

  /** True when best bid >= best ask: a book in that state has diverged from the exchange. */
  isCrossed(): boolean {
    const b = this.bidSide;
    const a = this.askSide;
    return b.n > 0 && a.n > 0 && b.priceAt(b.n - 1) >= a.priceAt(a.n - 1);
  }

  get bidDepth(): number {
    return this.bidSide.n;
  }

  get askDepth(): number {
    return this.askSide.n;
  }

  clear(): void {
    this.bidSide.clear();
    this.askSide.clear();
  }
}
