/**
 * Deterministic Binance-shaped depth stream for benchmarks and tests.
 *
 * Prices live on an integer tick grid (0.01) and sizes on a 1e-5 grid, so every string the generator
 * writes converts with Number() to exactly ticks/100 and units/1e5: the truth it reports compares with ===.
 * The book is dense near the top (~1000 levels per side), most changes touch the top few ticks, about a
 * fifth of changes delete a level, and the mid price random-walks by eating the best level of one side.
 * After every event the book is uncrossed.
 */
import type { Level } from '../src/core/types.js';
import { mulberry32 } from '../src/sim/prng.js';

/** mulberry32 (re-exported): small, fast, good enough for test data. Returns floats in [0, 1). */
export { mulberry32 };

export interface BinanceRestSnapshot {
  lastUpdateId: number;
  bids: [string, string][];
  asks: [string, string][];
}

export interface StreamTruth {
  bestBid: Level;
  bestAsk: Level;
  /** Top 10 levels per side, best first. */
  bids: Level[];
  asks: Level[];
  bidDepth: number;
  askDepth: number;
  lastUpdateId: number;
}

export interface GeneratedStream {
  symbol: string;
  snapshot: BinanceRestSnapshot;
  /** depthUpdate texts as Binance sends them on a raw /ws stream, contiguous U/u after snapshot.lastUpdateId. */
  events: string[];
  truth: StreamTruth;
}

const TICKS_PER_UNIT = 100; // price tick 0.01
const SIZE_UNITS = 100000; // size step 0.00001
const DEPTH = 1000;
const MIN_DEPTH = 200;
const DELETE_STRING = '0.00000000';

function pad(n: number, width: number): string {
  let s = String(n);
  while (s.length < width) s = '0' + s;
  return s;
}

/** Tick count -> Binance price string with 8 decimals ("50000.12000000"). */
export function priceString(ticks: number): string {
  const i = Math.floor(ticks / TICKS_PER_UNIT);
  return `${i}.${pad(ticks - i * TICKS_PER_UNIT, 2)}000000`;
}

/** Size units -> Binance size string with 8 decimals ("1.23450000"). */
export function sizeString(units: number): string {
  const i = Math.floor(units / SIZE_UNITS);
  return `${i}.${pad(units - i * SIZE_UNITS, 5)}000`;
}

/** One side of the generator's own reference book, in integer ticks. */
class TickSide {
  readonly levels = new Map<number, number>();
  best = 0;
  /** +1 for bids (better = higher), -1 for asks. */
  constructor(readonly dir: 1 | -1) {}

  set(tick: number, units: number): void {
    if (units === 0) {
      this.levels.delete(tick);
      if (tick === this.best) this.refindBest();
    } else {
      this.levels.set(tick, units);
      if (this.levels.size === 1 || (tick - this.best) * this.dir > 0) this.best = tick;
    }
  }

  private refindBest(): void {
    if (this.levels.size === 0) return;
    // the book is dense near the top, so a short walk finds the next level
    let t = this.best - this.dir;
    while (!this.levels.has(t)) t -= this.dir;
    this.best = t;
  }

  top(n: number): Level[] {
    const out: Level[] = [];
    let seen = 0;
    for (let t = this.best; out.length < n && seen < this.levels.size; t -= this.dir) {
      const u = this.levels.get(t);
      if (u !== undefined) {
        out.push([t / TICKS_PER_UNIT, u / SIZE_UNITS]);
        seen++;
      }
    }
    return out;
  }
}

/** generateStream, with the event texts held in memory as flat strings. */
export function generateStream(n: number, seed = 1, symbol = 'BTCUSDT'): GeneratedStream {
  const events: string[] = [];
  // Concatenation builds a rope of many small strings; a websocket hands over one flat string decoded from
  // a buffer. Decode from bytes the same way, so consumers (and memory use) see what they would live.
  const rest = generateEvents(n, seed, symbol, (text) => events.push(Buffer.from(text, 'latin1').toString('latin1')));
  return { ...rest, events };
}

/**
 * The generator proper: calls emit with each event text in order, returns the snapshot and the final truth.
 * For callers that store events their own way (the benchmark packs 1M of them into off-heap buffers).
 */
export function generateEvents(
  n: number,
  seed: number,
  symbol: string,
  emit: (text: string) => void,
): Omit<GeneratedStream, 'events'> {
  const rnd = mulberry32(seed);
  const randSize = () => 1 + Math.floor(rnd() * rnd() * 5 * SIZE_UNITS); // 0.00001 .. 5, skewed small
  const bids = new TickSide(1);
  const asks = new TickSide(-1);

  // Snapshot: dense-ish ladder of DEPTH levels per side around 50000.00 with a 1-tick spread.
  const mid = 50000 * TICKS_PER_UNIT;
  for (let t = mid, placed = 0; placed < DEPTH; t--) {
    if (rnd() < 0.85) {
      bids.set(t, randSize());
      placed++;
    }
  }
  for (let t = mid + 1, placed = 0; placed < DEPTH; t++) {
    if (rnd() < 0.85) {
      asks.set(t, randSize());
      placed++;
    }
  }
  bids.best = mid;
  asks.best = mid + 1;
  bids.set(mid, randSize());
  asks.set(mid + 1, randSize());

  const firstId = 1_000_000_000 + Math.floor(rnd() * 1_000_000);
  const snapshot: BinanceRestSnapshot = {
    lastUpdateId: firstId - 1,
    bids: sideStrings(bids, Infinity),
    asks: sideStrings(asks, Infinity),
  };

  let nextId = firstId;
  let time = 1_700_000_000_000;
  const bidTicks: number[] = [];
  const askTicks: number[] = [];
  let bidText = '';
  let askText = '';

  const change = (side: TickSide, tick: number, units: number) => {
    const isBid = side === bids;
    const seen = isBid ? bidTicks : askTicks;
    if (seen.includes(tick)) return; // Binance aggregates: one entry per price per side per event
    seen.push(tick);
    side.set(tick, units);
    const entry = `["${priceString(tick)}","${units === 0 ? DELETE_STRING : sizeString(units)}"]`;
    if (isBid) bidText = bidText === '' ? entry : bidText + ',' + entry;
    else askText = askText === '' ? entry : askText + ',' + entry;
  };

  for (let e = 0; e < n; e++) {
    bidTicks.length = 0;
    askTicks.length = 0;
    bidText = '';
    askText = '';
    const r = rnd();
    const k = 1 + Math.floor(20 * r * r); // 1..20 changes, mean ~7.7

    if (rnd() < 0.08) {
      // Price move: a trade eats the best level of one side and the other side steps into the gap.
      const up = rnd() < 0.5;
      const eaten = up ? asks : bids;
      const other = up ? bids : asks;
      if (eaten.levels.size > MIN_DEPTH) {
        const old = eaten.best;
        change(eaten, old, 0);
        if (rnd() < 0.7) change(other, old, randSize());
      }
    }

    for (let c = 0; c < k && bidTicks.length + askTicks.length < 20; c++) {
      const side = rnd() < 0.5 ? bids : asks;
      const opposite = side === bids ? asks : bids;
      const spread = (asks.best - bids.best) | 0;
      let tick: number;
      const u = rnd();
      if (u < 0.05 && spread > 1)
        tick = side.best + side.dir; // improve inside the spread
      else if (u < 0.85)
        tick = side.best - side.dir * Math.floor(-Math.log(1 - rnd()) * 6); // near the top
      else tick = side.best - side.dir * Math.floor(rnd() * DEPTH * 1.2); // anywhere in the ladder
      if ((tick - opposite.best) * side.dir >= 0) continue; // would cross: not a real book state
      const has = side.levels.has(tick);
      if (has && rnd() < 0.25 && side.levels.size > MIN_DEPTH) change(side, tick, 0);
      else change(side, tick, randSize());
    }
    if (bidText === '' && askText === '') change(bids, bids.best, randSize()); // never send an empty event

    const first = nextId;
    const last = first + bidTicks.length + askTicks.length - 1 + Math.floor(rnd() * 3);
    nextId = last + 1;
    time += 100;
    emit(`{"e":"depthUpdate","E":${time},"s":"${symbol}","U":${first},"u":${last},"b":[${bidText}],"a":[${askText}]}`);
  }

  const bestBid = bids.top(1)[0];
  const bestAsk = asks.top(1)[0];
  return {
    symbol,
    snapshot,
    truth: {
      bestBid,
      bestAsk,
      bids: bids.top(10),
      asks: asks.top(10),
      bidDepth: bids.levels.size,
      askDepth: asks.levels.size,
      lastUpdateId: nextId - 1,
    },
  };
}

function sideStrings(side: TickSide, n: number): [string, string][] {
  return side
    .top(n)
    .map(([p, s]) => [priceString(Math.round(p * TICKS_PER_UNIT)), sizeString(Math.round(s * SIZE_UNITS))]);
}
