/**
 * Update ids, the venue's way. One IdSpace per venue; every book of the venue draws its events' ids from it.
 *   per-symbol   each book counts its own updates: first = previous last + 1, last = first + n - 1
 *                (Binance spot U/u; OKX seqId, whose prevSeqId is the previous seqId)
 *   shared       one counter for every book of the venue (Binance USD-M): U jumps over the ids other
 *                symbols (simulated or not) used meanwhile; only pu, the previous u of the same symbol, chains
 *   per-message  + 1 per event, whatever the number of updates in it (Bybit; its wire u is counted per depth
 *                stream on top of this, protocols/bybit.ts)
 * Every event also gets `seq`, a venue-wide cross sequence (Bybit's data.seq).
 */
import type { Rng } from './prng.js';

export type IdScheme = 'per-symbol' | 'shared' | 'per-message';

export interface EventIds {
  first: number;
  last: number;
  seq: number;
}

export class IdSpace {
  private counter: number;
  private seqCounter: number;

  constructor(
    readonly scheme: IdScheme,
    private readonly rng: Rng,
  ) {
    this.counter = 5_000_000_000_000 + Math.floor(rng() * 1_000_000_000_000);
    this.seqCounter = 10_000_000_000 + Math.floor(rng() * 10_000_000_000);
  }

  /** The id a new book starts at. Takes one draw of the book's own rng whatever the scheme. */
  initial(bookRng: Rng): number {
    const r = bookRng();
    if (this.scheme === 'per-symbol') return 10_000_000_000 + Math.floor(r * 10_000_000_000);
    if (this.scheme === 'per-message') return 1_000_000 + Math.floor(r * 100_000_000);
    this.counter += 1 + Math.floor(this.rng() * 50);
    return this.counter;
  }

  /** Cross sequence of a book as it starts. */
  initialSeq(): number {
    return this.seqCounter;
  }

  /** Ids of the next event of a book now at `last`, applying n updates. */
  next(last: number, n: number): EventIds {
    this.seqCounter += n + Math.floor(this.rng() * 20);
    const seq = this.seqCounter;
    if (this.scheme === 'per-symbol') return { first: last + 1, last: last + n, seq };
    if (this.scheme === 'per-message') return { first: last + 1, last: last + 1, seq };
    // other symbols' updates happened meanwhile
    const first = this.counter + 1 + Math.floor(this.rng() * 50);
    this.counter = first + n - 1;
    return { first, last: this.counter, seq };
  }
}
