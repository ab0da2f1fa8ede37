/**
 * Synthetic order flow for one symbol of one venue: a true L2 book with ~`levels` price levels per side, a
 * random-walk mid, activity concentrated near the top (inserts, deletes, size changes), never crossed.
 * Each event applies 1-4 book updates (several update ids per event, like Binance's 100 ms aggregation)
 * and reports the final size of every level it touched (and the limited-depth views: truthBook.ts).
 * Ids come from the venue's IdSpace. The Binance spot flow for a seed is the same as before venues existed.
 */
import { BookEvent, type Feed } from './feed.js';
import { IdSpace } from './ids.js';
import { expo, hash32, mulberry32, type Rng } from './prng.js';
import { TruthBook, type TruthSide } from './truthBook.js';
import { SCALE } from './units.js';

interface SymbolSpec {
  price: number;
  tick: number;
  step: number;
}

/** Realistic start prices and filters for common symbols; anything else trades near 100-1000 at 0.01. */
const KNOWN: Record<string, SymbolSpec> = {
  BTCUSDT: { price: 65000, tick: 0.01, step: 0.00001 },
  ETHUSDT: { price: 3500, tick: 0.01, step: 0.0001 },
  BNBUSDT: { price: 600, tick: 0.01, step: 0.001 },
  SOLUSDT: { price: 150, tick: 0.01, step: 0.001 },
  XRPUSDT: { price: 0.6, tick: 0.0001, step: 0.1 },
  DOGEUSDT: { price: 0.15, tick: 0.00001, step: 1 },
  // Kraken's BTC/USD trades at a 0.1 tick
  BTCUSD: { price: 65000, tick: 0.1, step: 0.00001 },
};

export function symbolSpec(symbol: string): SymbolSpec {
  // an OKX swap (BTCUSDTSWAP) trades like its spot pair
  return (
    KNOWN[symbol] ??
    KNOWN[symbol.replace(/SWAP$/, '')] ?? { price: 100 + (hash32(symbol) % 900), tick: 0.01, step: 0.001 }
  );
}

/** Mean new level size, in lot steps. */
const MEAN_SIZE_STEPS = 20000;

export class SyntheticFeed implements Feed {
  readonly book = new TruthBook();
  readonly tickUnits: number;
  readonly stepUnits: number;
  seq: number;
  private readonly minDepth: number;
  private readonly maxDepth: number;
  private resetTo: number | undefined;

  constructor(
    readonly symbol: string,
    private readonly rng: Rng,
    private readonly levels: number,
    private readonly ids: IdSpace = new IdSpace('per-symbol', mulberry32(hash32(`ids:${symbol}`))),
    /** Limited depths whose views each event carries (the venue's channels). */
    private readonly depths: readonly number[] = [],
  ) {
    const spec = symbolSpec(symbol);
    this.tickUnits = Math.round(spec.tick * SCALE);
    this.stepUnits = Math.round(spec.step * SCALE);
    this.minDepth = Math.max(5, Math.floor(levels * 0.95));
    this.maxDepth = Math.max(10, Math.ceil(levels * 1.05));
    this.book.lastUpdateId = ids.initial(rng);
    this.seq = ids.initialSeq();
    const midTicks = Math.round((spec.price * SCALE) / this.tickUnits);
    let bid = midTicks;
    let ask = midTicks + 1;
    for (let i = 0; i < levels; i++) {
      if (bid > 0) this.book.bids.set(bid * this.tickUnits, this.newSize());
      this.book.asks.set(ask * this.tickUnits, this.newSize());
      // dense near the top, occasional holes deeper
      bid -= 1 + (this.rng() < 0.3 ? Math.floor(this.rng() * 3) : 0);
      ask += 1 + (this.rng() < 0.3 ? Math.floor(this.rng() * 3) : 0);
    }
  }

  next(eventTimeMs: number): BookEvent {
    const prev = this.book.lastUpdateId;
    const n = 1 + Math.floor(this.rng() * 4);
    this.book.begin(this.depths);
    for (let i = 0; i < n; i++) this.step();
    const changes = this.book.end();
    const ids = this.ids.next(prev, n);
    let { first, last } = ids;
    if (this.resetTo !== undefined) {
      last = this.resetTo;
      first = Math.max(1, last - n + 1);
      this.resetTo = undefined;
    }
    this.book.lastUpdateId = last;
    this.seq = ids.seq;
    return new BookEvent(this.symbol, eventTimeMs, prev, first, last, ids.seq, changes);
  }

  restartIdsAt(low: number): void {
    this.resetTo = low;
  }

  private newSize(): number {
    return (1 + Math.floor(expo(this.rng, MEAN_SIZE_STEPS))) * this.stepUnits;
  }

  private set(isBid: boolean, price: number, size: number): void {
    this.book.set(isBid, price, size);
  }

  /** One book update: improve inside the spread, sweep the top, or touch a level near the top. */
  private step(): void {
    const rng = this.rng;
    const isBid = rng() < 0.5;
    const side: TruthSide = this.book.side(isBid);
    const tick = this.tickUnits;
    const away = isBid ? -tick : tick; // one tick deeper into this side
    const best = side.best();
    const spreadTicks = Math.round((this.book.asks.best() - this.book.bids.best()) / tick);
    if (spreadTicks > 1 && rng() < Math.min(0.5, 0.08 * (spreadTicks - 1))) {
      // a wide spread attracts new best prices (mean-reverting spread); never crossing: at most spread-1 ticks in
      const inTicks = 1 + Math.floor(rng() * rng() * (spreadTicks - 1));
      this.set(isBid, best - away * inTicks, this.newSize());
    } else if (rng() < 0.05 && side.count > this.minDepth) {
      // a trade takes out the best level or a few: the spread widens, the mid moves
      const n = 1 + Math.floor(expo(rng, 1.5));
      for (let i = 0; i < n && side.count > this.minDepth; i++) this.set(isBid, side.best(), 0);
    } else {
      const d = rng() < 0.08 ? Math.floor(rng() * this.levels * 1.3) : Math.floor(expo(rng, 6));
      const price = best + away * d;
      if (price >= tick) {
        const size = side.get(price);
        if (size === 0) this.set(isBid, price, this.newSize());
        else if (rng() < 0.35 && side.count > this.minDepth) this.set(isBid, price, 0);
        else this.set(isBid, price, this.resize(size));
      }
    }
    // keep the depth near `levels`: far levels expire or appear, as on a real book
    if (side.count > this.maxDepth) this.set(isBid, side.worst(), 0);
    else if (side.count < this.minDepth) {
      const p = side.worst() + away * (1 + Math.floor(rng() * 3));
      if (p >= tick) this.set(isBid, p, this.newSize());
    }
  }

  private resize(size: number): number {
    const f = 0.3 + this.rng() * 1.7;
    return Math.max(1, Math.round((size * f) / this.stepUnits)) * this.stepUnits;
  }
}
