/**
 * A book that keeps each level as the venue spelled it ([price, size] strings), for venues whose checksum
 * is computed over the exact strings (OKX's legacy CRC32, Bitget, Kraken). A thin layer over OrderBook in
 * keepStrings mode: prices are keyed by value, so "100.0" and "100" are one level (the first spelling seen
 * is kept for the price, the latest for the size). Pure, no I/O.
 */
import { OrderBook, type StringBookLevels, type StringLevel } from '../core/book.js';

export type { StringLevel } from '../core/book.js';

export class TextBook {
  /** The book itself (read-only use: a check that reads it in place, krakenBookVerify). */
  readonly book = new OrderBook({ keepStrings: true });

  /** Replace the whole book. Size "0" levels are skipped. */
  load(bids: readonly StringLevel[], asks: readonly StringLevel[]): void {
    this.book.applySnapshotStrings(bids, asks);
  }

  /** Apply absolute sizes in order; size "0" deletes (a missing level is a no-op). */
  apply(bids: readonly StringLevel[], asks: readonly StringLevel[]): void {
    this.book.applyStrings(bids, asks);
  }

  /** The best `n` levels per side, best first, in the venue's spelling. */
  top(n: number): StringBookLevels {
    return this.book.topStrings(n);
  }

  isCrossed(): boolean {
    return this.book.isCrossed();
  }

  get bidDepth(): number {
    return this.book.bidDepth;
  }

  get askDepth(): number {
    return this.book.askDepth;
  }
}
