/**
 * The simulator's true L2 book, in integer units (see units.ts). Same layout as core/book.ts: each side
 * sorted so its best price is at the END of the array (updates cluster at the top, splices stay cheap).
 *   bids ascending (best bid last), asks descending (best ask last); index 0 is the worst level.
 *
 * Between begin() and end() the book records what an event changed, venue-neutrally: every level touched
 * (Binance's full-depth diff) and, per limited depth N (OKX books 400, Bybit orderbook.50...), what a client
 * holding exactly the top N must apply to hold the new top N: changed levels inside it, a delete for every
 * level that left it (removed, or pushed out by a better one) and every level that entered it.
 */
import type { Level } from '../core/types.js';
import { formatUnits, unitsToNumber } from './units.js';

export class TruthSide {
  readonly prices: number[] = [];
  readonly sizes: number[] = [];
  constructor(readonly descending: boolean) {}

  /** Index of price, or -(insertion point) - 1. */
  find(price: number): number {
    const p = this.prices;
    let lo = 0;
    let hi = p.length - 1;
    if (hi >= 0 && p[hi] === price) return hi;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = p[mid];
      if (v === price) return mid;
      if (this.descending ? v > price : v < price) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  get(price: number): number {
    const i = this.find(price);
    return i >= 0 ? this.sizes[i] : 0;
  }

  /** Set the absolute size of a level; 0 deletes it. */
  set(price: number, size: number): void {
    const i = this.find(price);
    if (i >= 0) {
      if (size !== 0) this.sizes[i] = size;
      else if (i === this.prices.length - 1) {
        this.prices.pop();
        this.sizes.pop();
      } else {
        this.prices.splice(i, 1);
        this.sizes.splice(i, 1);
      }
    } else if (size !== 0) {
      const at = -i - 1;
      if (at === this.prices.length) {
        this.prices.push(price);
        this.sizes.push(size);
      } else {
        this.prices.splice(at, 0, price);
        this.sizes.splice(at, 0, size);
      }
    }
  }

  get count(): number {
    return this.prices.length;
  }

  /** Best price, or NaN when empty. */
  best(): number {
    const n = this.prices.length;
    return n === 0 ? NaN : this.prices[n - 1];
  }

  worst(): number {
    return this.prices.length === 0 ? NaN : this.prices[0];
  }

  /** Price of the n-th best level (n >= 1); the worst price when the side has fewer; NaN when empty. */
  nth(n: number): number {
    const c = this.prices.length;
    return c === 0 ? NaN : this.prices[Math.max(0, c - n)];
  }

  /** price is at or better than `bound` (false when bound is NaN). */
  atOrBetter(price: number, bound: number): boolean {
    return this.descending ? price <= bound : price >= bound;
  }

  /** Top n levels, best first, as numbers. */
  top(n: number): Level[] {
    const out: Level[] = [];
    for (let i = this.prices.length - 1; i >= 0 && out.length < n; i--) {
      out.push([unitsToNumber(this.prices[i]), unitsToNumber(this.sizes[i])]);
    }
    return out;
  }

  /** Top n levels as Binance JSON: ["price","qty"],... (no brackets around the list). */
  topJson(n: number): string {
    const parts: string[] = [];
    for (let i = this.prices.length - 1; i >= 0 && parts.length < n; i--) {
      parts.push(`["${formatUnits(this.prices[i])}","${formatUnits(this.sizes[i])}"]`);
    }
    return parts.join(',');
  }
}

/** A level in units: [price, size]; size 0 deletes. */
export type UnitLevel = [price: number, size: number];

export interface LevelDiff {
  /** Best first (bids high to low, asks low to high). */
  bids: UnitLevel[];
  asks: UnitLevel[];
}

/** What one event did to the book. */
export interface BookChanges extends LevelDiff {
  /** Per limited depth, in the order given to begin(): the diff a client holding the top N applies. */
  views: LevelDiff[];
}

export const NO_CHANGES: BookChanges = Object.freeze({ bids: [], asks: [], views: [] }) as unknown as BookChanges;

const bestFirst = (isBid: boolean) =>
  isBid ? (a: UnitLevel, b: UnitLevel) => b[0] - a[0] : (a: UnitLevel, b: UnitLevel) => a[0] - b[0];

export class TruthBook {
  readonly bids = new TruthSide(false);
  readonly asks = new TruthSide(true);
  /** The venue's id of the last update applied (Binance lastUpdateId, OKX seqId, Bybit u). */
  lastUpdateId = 0;
  /** Every level touched since begin(), per side, with its old size when views are recorded. */
  private readonly oldBids = new Map<number, number>();
  private readonly oldAsks = new Map<number, number>();
  private depths: readonly number[] = [];
  /** Per depth: [bid bound, ask bound] before the event (the N-th best price). */
  private bounds: number[] = [];
  private recording = false;

  side(isBid: boolean): TruthSide {
    return isBid ? this.bids : this.asks;
  }

  /** Start recording an event's changes (views for each of `depths`). */
  begin(depths: readonly number[]): void {
    this.oldBids.clear();
    this.oldAsks.clear();
    this.depths = depths;
    this.bounds.length = 0;
    for (const d of depths) this.bounds.push(this.bids.nth(d), this.asks.nth(d));
    this.recording = true;
  }

  /** Set a level's absolute size (0 deletes), recording it when between begin() and end(). */
  set(isBid: boolean, price: number, size: number): void {
    const side = isBid ? this.bids : this.asks;
    if (this.recording) {
      const old = isBid ? this.oldBids : this.oldAsks;
      // the old size is only needed for views; without them a cheaper record of the level being touched
      if (!old.has(price)) old.set(price, this.depths.length > 0 ? side.get(price) : 0);
    }
    side.set(price, size);
  }

  /** Stop recording: what the event changed. */
  end(): BookChanges {
    this.recording = false;
    const views: LevelDiff[] = [];
    for (let k = 0; k < this.depths.length; k++) {
      const d = this.depths[k];
      views.push({
        bids: this.viewDiff(true, d, this.bounds[2 * k]),
        asks: this.viewDiff(false, d, this.bounds[2 * k + 1]),
      });
    }
    return { bids: this.fullDiff(true), asks: this.fullDiff(false), views };
  }

  private fullDiff(isBid: boolean): UnitLevel[] {
    const old = isBid ? this.oldBids : this.oldAsks;
    if (old.size === 0) return [];
    const side = this.side(isBid);
    const out: UnitLevel[] = [];
    for (const p of old.keys()) out.push([p, side.get(p)]);
    return out.sort(bestFirst(isBid));
  }

  private viewDiff(isBid: boolean, depth: number, oldBound: number): UnitLevel[] {
    const side = this.side(isBid);
    const old = isBid ? this.oldBids : this.oldAsks;
    const newBound = side.nth(depth);
    const out: UnitLevel[] = [];
    for (const [p, s0] of old) {
      const s1 = side.get(p);
      const inOld = s0 > 0 && side.atOrBetter(p, oldBound);
      const inNew = s1 > 0 && side.atOrBetter(p, newBound);
      if (inNew) {
        if (!inOld || s0 !== s1) out.push([p, s1]);
      } else if (inOld) out.push([p, 0]);
    }
    // untouched levels between the two bounds entered or left the top N
    if (!Number.isNaN(oldBound) && !Number.isNaN(newBound) && oldBound !== newBound) {
      const oldIsWorse = side.atOrBetter(newBound, oldBound);
      const worse = oldIsWorse ? oldBound : newBound;
      const better = oldIsWorse ? newBound : oldBound;
      const iw = side.find(worse);
      const ib = side.find(better);
      const from = iw >= 0 ? iw : -iw - 1;
      const to = ib >= 0 ? ib : -ib - 2;
      for (let i = from; i <= to; i++) {
        const p = side.prices[i];
        if (old.has(p)) continue;
        const inOld = side.atOrBetter(p, oldBound);
        const inNew = side.atOrBetter(p, newBound);
        if (inNew && !inOld) out.push([p, side.sizes[i]]);
        else if (inOld && !inNew) out.push([p, 0]);
      }
    }
    return out.length > 1 ? out.sort(bestFirst(isBid)) : out;
  }

  /** Body of GET /api/v3/depth. */
  snapshotJson(limit: number): string {
    return `{"lastUpdateId":${this.lastUpdateId},"bids":[${this.bids.topJson(limit)}],"asks":[${this.asks.topJson(limit)}]}`;
  }
}
