/**
 * The simulator's true L2 book, in integer units (see units.ts). Same layout as core/book.ts: each side
 * sorted so its best price is at the END of the array (updates cluster at the top, splices stay cheap).
 *   bids ascending (best bid last), asks descending (best ask last); index 0 is the worst level.
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

export class TruthBook {
  readonly bids = new TruthSide(false);
  readonly asks = new TruthSide(true);
  /** Binance lastUpdateId: the last update id applied to this book. */
  lastUpdateId = 0;

  side(isBid: boolean): TruthSide {
    return isBid ? this.bids : this.asks;
  }

  /** Body of GET /api/v3/depth. */
  snapshotJson(limit: number): string {
    return `{"lastUpdateId":${this.lastUpdateId},"bids":[${this.bids.topJson(limit)}],"asks":[${this.asks.topJson(limit)}]}`;
  }
}
