/**
 * L2 order book: price levels per side, sorted arrays with binary search.
 * Each side is stored so that its best price is at the END of the array: updates cluster near the
 * top of the book, and splicing near the end of an array moves few elements.
 *   bids: ascending prices  (best bid = last)
 *   asks: descending prices (best ask = last)
 */
import type { Level } from './types.js';

class BookSide {
  prices: number[] = [];
  sizes: number[] = [];
  constructor(readonly descending: boolean) {}

  /** Index of price, or -(insertion point) - 1. */
  private find(price: number): number {
    const p = this.prices;
    let lo = 0;
    let hi = p.length - 1;
    // fast path: near the best end
    if (hi >= 0 && p[hi] === price) return hi;
    if (this.descending) {
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const v = p[mid];
        if (v === price) return mid;
        if (v > price) lo = mid + 1;
        else hi = mid - 1;
      }
    } else {
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const v = p[mid];
        if (v === price) return mid;
        if (v < price) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    return -lo - 1;
  }

  set(price: number, size: number): void {
    const i = this.find(price);
    if (i >= 0) {
      if (size === 0) {
        if (i === this.prices.length - 1) {
          this.prices.pop();
          this.sizes.pop();
        } else {
          this.prices.splice(i, 1);
          this.sizes.splice(i, 1);
        }
      } else this.sizes[i] = size;
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

  best(): Level | undefined {
    const n = this.prices.length;
    return n === 0 ? undefined : [this.prices[n - 1], this.sizes[n - 1]];
  }

  top(n: number): Level[] {
    const out: Level[] = [];
    for (let i = this.prices.length - 1; i >= 0 && out.length < n; i--) out.push([this.prices[i], this.sizes[i]]);
    return out;
  }

  clear(): void {
    this.prices = [];
    this.sizes = [];
  }
}

export interface BookLevels {
  bids: Level[];
  asks: Level[];
}

export class OrderBook {
  private readonly bidSide = new BookSide(false);
  private readonly askSide = new BookSide(true);

  /** Replace the whole book. */
  applySnapshot(bids: readonly Level[], asks: readonly Level[]): void {
    this.bidSide.clear();
    this.askSide.clear();
    this.apply(bids, asks);
  }

  /** Apply absolute-size deltas; size 0 deletes the level. */
  apply(bids: readonly Level[], asks: readonly Level[]): void {
    for (let i = 0; i < bids.length; i++) this.bidSide.set(bids[i][0], bids[i][1]);
    for (let i = 0; i < asks.length; i++) this.askSide.set(asks[i][0], asks[i][1]);
  }

  setLevel(side: 'bid' | 'ask', price: number, size: number): void {
    (side === 'bid' ? this.bidSide : this.askSide).set(price, size);
  }

  bestBid(): Level | undefined {
    return this.bidSide.best();
  }

  bestAsk(): Level | undefined {
    return this.askSide.best();
  }

  /** Top n levels per side, best first. */
  top(n: number): BookLevels {
    return { bids: this.bidSide.top(n), asks: this.askSide.top(n) };
  }

  /** The whole book, best first. */
  snapshot(): BookLevels {
    return this.top(Infinity);
  }

  /** True when best bid >= best ask: a book in that state has diverged from the exchange. */
  isCrossed(): boolean {
    const b = this.bidSide.prices;
    const a = this.askSide.prices;
    return b.length > 0 && a.length > 0 && b[b.length - 1] >= a[a.length - 1];
  }

  get bidDepth(): number {
    return this.bidSide.prices.length;
  }

  get askDepth(): number {
    return this.askSide.prices.length;
  }

  clear(): void {
    this.bidSide.clear();
    this.askSide.clear();
  }
}
