/**
 * Deterministic depth streams in the wire format of each venue other than Binance spot (which bench/gen.ts
 * generates): Binance USD-M futures, OKX `books`, Bybit v5 linear `orderbook.50`, Kraken WebSocket v2
 * `book` (with the same stream in v1 format), Coinbase Advanced Trade `level2` (with the same stream in the
 * Coinbase Exchange format) and Gemini market data v2 `l2`. For the per-venue parse + apply benchmark
 * (bench/book.ts).
 *
 * One model for all of them: a deep book on an integer tick grid walks as in bench/gen.ts (most changes near
 * the top, some anywhere in the ladder, a fifth of them deletes, the mid moving when a trade eats the best
 * level), and the venue publishes what a subscriber sees of it:
 * - Binance USD-M: every change, the whole depth (diff stream), both sides in ascending price order as the
 *   real frames have them (test/fixtures/real/ccxt_binance-usdm_depth.jsonl), 100 ms aggregates of ~20-140
 *   levels, U/u/pu in an id space shared with other symbols (U jumps over pu), `"st":1` at the end, on a
 *   combined stream (the adapter's URL), snapshot from REST /fapi/v1/depth.
 * - OKX `books`: a 400-level window. A level entering the window is sent with its size, one leaving it is
 *   sent with size "0" (so about half the entries of a message are deletes, as in cryptofeed_OKX.ws.1.0);
 *   4-string levels [px, sz, "0", orders], asks ascending, bids descending, prices and sizes without trailing
 *   zeros, `checksum` 0 (deprecated), prevSeqId/seqId jumping like the real ones; the snapshot is the
 *   websocket's (prevSeqId -1).
 * - Bybit linear `orderbook.50`: a 50-level window, small deltas (1-8 changes per 20 ms push), u + 1 per
 *   message, `seq` increasing, key order topic,type,ts,data,cts; the snapshot is the websocket's.
 * - Kraken v2 `book` at depth 100 (the adapter's default): a 100-level window, small updates (1-4 changes
 *   per message). As Kraken does it: changes within the top 100 only, NO delete for a level pushed out of
 *   the window by a better one (the subscriber truncates to 100 after every message), the level entering
 *   the window when one inside is deleted is sent with its size. Prices and quantities are JSON numbers in
 *   the pair's precision (BTC/USD: "45283.5", "0.50000000"), each message carries the CRC32 of the top 10
 *   after it (krakenChecksum over the same spelling) and an RFC 3339 timestamp; no sequence ids. The same
 *   stream is also written in v1 format (`[channelID, {"a":[[price, volume, time]]}, {"b":[...], "c":
 *   "checksum"}, "book-100", "XBT/USD"]`, values as strings) for readers that only speak v1 (tardis-dev).
 * - Coinbase Advanced Trade `level2` (BTC-USD, tick 0.01): the full book (here 1,500 levels a side at the
 *   start), every change, 1-6 levels a message; `l2_data` with one event of `updates` ({side bid|offer,
 *   event_time, price_level, new_quantity} as strings without trailing zeros, "0" deletes), bids before
 *   offers, `sequence_num` counting the connection's messages from the snapshot's 0. The same stream is
 *   also written as Coinbase Exchange `snapshot`/`l2update` messages (`changes: [["buy", price, size]]`,
 *   `time`), the format tardis-dev's coinbase mapper reads: it has no mapper for Advanced Trade.
 * - Gemini market data v2 `l2` (BTCUSD, tick 0.01): the full book (600 levels a side at the start), every
 *   change, 1-12 changes a message, mostly 1-2 (as in cryptofeed_GEMINI.ws.1.0); `l2_updates` with
 *   `changes: [["buy"|"sell", price, quantity]]`, buys first, strings without trailing zeros; the snapshot
 *   is the first l2_updates, with `trades` and `auction_events`; no sequence, no checksum.
 *
 * Prices are ticks / 10^priceDecimals and sizes units / 10^sizeDecimals with both integers below 2^53, so
 * every string here converts with Number() (and each library's own parser) to exactly the value the truth
 * holds: the final books compare with ===.
 */
import type { Level } from '../src/core/types.js';
import { mulberry32 } from '../src/sim/prng.js';
import { krakenChecksum } from '../src/venues/kraken-checksum.js';

export type GeneratedVenue = 'binance-usdm' | 'okx' | 'bybit-linear' | 'kraken' | 'coinbase' | 'gemini-v2';
export const GENERATED_VENUES: readonly GeneratedVenue[] = [
  'binance-usdm',
  'okx',
  'bybit-linear',
  'kraken',
  'coinbase',
  'gemini-v2',
];

/** What a subscriber's book holds at the end of the stream. */
export interface VenueTruth {
  /** Top 10 levels per side, best first. */
  bids: Level[];
  asks: Level[];
  bidDepth: number;
  askDepth: number;
  /**
   * The venue sequence id of the last event (u, seqId; Coinbase: the connection's sequence_num; 0 for
   * Kraken and Gemini v2, which have none).
   */
  lastSeq: number;
}

export interface VenueStream {
  venue: GeneratedVenue;
  /** The symbol as the venue spells it in frames (BTCUSDT, BTC-USDT). */
  symbol: string;
  /** The initial book as the venue sends it: a REST body (Binance USD-M) or the websocket snapshot frame. */
  snapshotText: string;
  /**
   * Kraken and Coinbase: the snapshot in the older format tardis-dev reads (Kraken v1; Coinbase Exchange,
   * for Coinbase Advanced Trade); each event's text in it is emit's second argument.
   */
  legacySnapshotText?: string;
  truth: VenueTruth;
}

interface VenueModel {
  symbol: string;
  /** Mid price in ticks at the start, and decimals of price and size. */
  mid: number;
  priceDecimals: number;
  sizeDecimals: number;
  /** Largest size, in units. */
  maxSize: number;
  /** Levels per side of the deep book at the start; the walk never lets a side fall below minDepth. */
  depth: number;
  minDepth: number;
  /** Levels per side the venue publishes (Infinity: all of them). */
  window: number;
  /** Whether a level pushed out of the window by a better one is sent as a delete (Kraken: no). */
  deletesPushedOut: boolean;
  /** Changes to the deep book per event, before windowing. */
  changes: (rnd: () => number) => number;
  /** Mean distance from the best level, in ticks, of a change near the top (85 % of changes). */
  nearMean: number;
  /** Probability a change to an existing level deletes it. */
  deleteShare: number;
  /** Probability that an event starts with a trade eating the best level of one side. */
  moveShare: number;
}

const MODELS: Record<GeneratedVenue, VenueModel> = {
  'binance-usdm': {
    symbol: 'BTCUSDT',
    mid: 639_217, // 63921.7, tick 0.1
    priceDecimals: 1,
    sizeDecimals: 3,
    maxSize: 30_000,
    depth: 1000,
    minDepth: 300,
    window: Infinity,
    deletesPushedOut: true,
    // the real 100 ms frames carry 17-73 levels per side
    changes: (rnd) => 30 + Math.floor(150 * rnd() * rnd()),
    nearMean: 40,
    deleteShare: 0.2,
    moveShare: 0.3,
  },
  okx: {
    symbol: 'BTC-USDT',
    mid: 302_435, // 30243.5, tick 0.1
    priceDecimals: 1,
    sizeDecimals: 8,
    maxSize: 5 * 10 ** 8,
    depth: 700,
    minDepth: 450,
    window: 400,
    deletesPushedOut: true,
    // with the window's entries and exits this gives ~10-60 levels a message, as in cryptofeed_OKX.ws.1.0
    changes: (rnd) => 12 + Math.floor(90 * rnd() * rnd()),
    nearMean: 12,
    deleteShare: 0.45,
    moveShare: 0.2,
  },
  'bybit-linear': {
    symbol: 'BTCUSDT',
    mid: 639_827, // 63982.7, tick 0.1
    priceDecimals: 1,
    sizeDecimals: 3,
    maxSize: 10_000,
    depth: 300,
    minDepth: 100,
    window: 50,
    deletesPushedOut: true,
    changes: (rnd) => 1 + Math.floor(8 * rnd() * rnd()),
    nearMean: 6,
    deleteShare: 0.25,
    moveShare: 0.05,
  },
  kraken: {
    symbol: 'BTC/USD',
    mid: 452_835, // 45283.5, tick 0.1
    priceDecimals: 1,
    sizeDecimals: 8,
    maxSize: 5 * 10 ** 8,
    depth: 250,
    minDepth: 150,
    window: 100,
    deletesPushedOut: false,
    // Kraken's book updates are small: mostly one or two levels
    changes: (rnd) => 1 + Math.floor(4 * rnd() * rnd()),
    nearMean: 8,
    deleteShare: 0.35,
    moveShare: 0.05,
  },
  coinbase: {
    symbol: 'BTC-USD',
    mid: 6_331_025, // 63310.25, tick 0.01
    priceDecimals: 2,
    sizeDecimals: 8,
    maxSize: 3 * 10 ** 8,
    // level2 is the full book (BTC-USD: tens of thousands of levels); a bench needs its top thousand or so
    depth: 1500,
    minDepth: 800,
    window: Infinity,
    deletesPushedOut: true,
    // level2 updates are small: one to a few levels a message
    changes: (rnd) => 1 + Math.floor(6 * rnd() * rnd()),
    nearMean: 25,
    deleteShare: 0.35,
    moveShare: 0.05,
  },
  'gemini-v2': {
    symbol: 'BTCUSD',
    mid: 2_225_237, // 22252.37, tick 0.01
    priceDecimals: 2,
    sizeDecimals: 8,
    maxSize: 3 * 10 ** 8,
    // the whole book (the recording's snapshots have 60-680 levels)
    depth: 600,
    minDepth: 300,
    window: Infinity,
    deletesPushedOut: true,
    // cryptofeed_GEMINI.ws.1.0: of 645 updates 43 % carry 1 change, 20 % 2, 10 % 3, few more than 10
    changes: (rnd) => 1 + Math.floor(12 * rnd() * rnd() * rnd()),
    nearMean: 20,
    deleteShare: 0.35,
    moveShare: 0.05,
  },
};

/** Ticks either side of the start price a stream may reach (the mid random-walks far less than this). */
const SPAN = 1 << 18;

/** tick -> units (0: absent) over a fixed grid around the start price: a Map, without its cost per operation. */
class TickMap {
  private readonly v = new Float64Array(2 * SPAN);
  private readonly base: number;
  size = 0;
  constructor(mid: number) {
    this.base = mid - SPAN;
  }
  index(tick: number): number {
    const i = tick - this.base;
    if (i < 0 || i >= this.v.length) throw new RangeError('generator: the price walked off its grid');
    return i;
  }
  get(tick: number): number {
    return this.v[this.index(tick)];
  }
  set(tick: number, units: number): void {
    const i = this.index(tick);
    const was = this.v[i];
    if (was === 0 && units !== 0) this.size++;
    else if (was !== 0 && units === 0) this.size--;
    this.v[i] = units;
  }
}

/** The ticks touched by one event, each once, in first-touch order. */
class TickSet {
  readonly list: number[] = [];
  private readonly stamp = new Int32Array(2 * SPAN);
  private epoch = 1;
  constructor(private readonly map: TickMap) {}
  has(tick: number): boolean {
    return this.stamp[this.map.index(tick)] === this.epoch;
  }
  add(tick: number): void {
    const i = this.map.index(tick);
    if (this.stamp[i] === this.epoch) return;
    this.stamp[i] = this.epoch;
    this.list.push(tick);
  }
  clear(): void {
    this.epoch++;
    this.list.length = 0;
  }
}

/**
 * One side of the deep book: ticks sorted best first (keys -dir*tick ascending) and their sizes. The book
 * is a few hundred to ~1500 levels deep, so an array with splice is fast enough for a generator.
 */
class Side {
  readonly keys: number[] = [];
  readonly units: TickMap;
  constructor(
    readonly dir: 1 | -1,
    mid: number,
  ) {
    this.units = new TickMap(mid);
  }

  get size(): number {
    return this.keys.length;
  }
  get best(): number {
    return -this.dir * this.keys[0];
  }
  /** Rank of a tick (0 = best), or -(insertion rank) - 1. */
  rank(tick: number): number {
    const key = -this.dir * tick;
    const k = this.keys;
    let lo = 0;
    let hi = k.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (k[mid] === key) return mid;
      if (k[mid] < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }
  tickAt(rank: number): number {
    return -this.dir * this.keys[rank];
  }
  set(tick: number, units: number): void {
    const r = this.rank(tick);
    if (units === 0) {
      if (r >= 0) {
        this.keys.splice(r, 1);
        this.units.set(tick, 0);
      }
    } else {
      if (r < 0) this.keys.splice(-r - 1, 0, -this.dir * tick);
      this.units.set(tick, units);
    }
  }
}

/** Formats of one venue's prices and sizes. */
interface Spelling {
  price(ticks: number): string;
  size(units: number): string;
}

function pad(n: number, width: number): string {
  let s = String(n);
  while (s.length < width) s = '0' + s;
  return s;
}

/** Fixed decimals ("63921.70" with decimals 2 from ticks of 0.1: `extra` zeros after the significant ones). */
function fixed(v: number, decimals: number, extraZeros: number): string {
  const scale = 10 ** decimals;
  const i = Math.floor(v / scale);
  const frac = decimals > 0 ? '.' + pad(v - i * scale, decimals) + '0'.repeat(extraZeros) : '';
  return `${i}${frac}`;
}

/** Shortest spelling: no trailing zeros, no dot for whole numbers ("30261", "30243.5", "0.06523858"). */
function trimmed(v: number, decimals: number): string {
  const s = fixed(v, decimals, 0);
  if (decimals === 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46) end--;
  return s.slice(0, end);
}

const SPELLINGS: Record<GeneratedVenue, Spelling> = {
  // "63921.70", "29.840"
  'binance-usdm': { price: (t) => fixed(t, 1, 1), size: (u) => fixed(u, 3, 0) },
  // "30243.5", "0.06523858", "0"
  okx: { price: (t) => trimmed(t, 1), size: (u) => trimmed(u, 8) },
  // "63982.70", "6.408", "0"
  'bybit-linear': { price: (t) => fixed(t, 1, 1), size: (u) => (u === 0 ? '0' : fixed(u, 3, 0)) },
  // the pair's precision: "45283.5", "0.50000000", "0.00000000"
  kraken: { price: (t) => fixed(t, 1, 0), size: (u) => fixed(u, 8, 0) },
  // "21921.74", "21921.3", "0.06317902", "0.02", "0" (ccxt's and the docs' l2_data examples)
  coinbase: { price: (t) => trimmed(t, 2), size: (u) => trimmed(u, 8) },
  // "22252.37", "0.612", "14300", "0.00001", "0" (cryptofeed_GEMINI.ws.1.0)
  'gemini-v2': { price: (t) => trimmed(t, 2), size: (u) => trimmed(u, 8) },
};

/** A published change: tick and units (0 deletes). */
type Change = [tick: number, units: number];

/**
 * Generate `n` events of `venue`: calls emit with each frame text in order (Kraken, Coinbase: and its text in
 * the older format tardis-dev reads), returns the snapshot text and the truth (the subscriber's book after
 * the last event).
 */
export function generateVenueEvents(
  venue: GeneratedVenue,
  n: number,
  seed: number,
  emit: (text: string, legacyText?: string) => void,
): VenueStream {
  const m = MODELS[venue];
  const sp = SPELLINGS[venue];
  const rnd = mulberry32(seed);
  const randSize = () => 1 + Math.floor(rnd() * rnd() * m.maxSize);
  const bids = new Side(1, m.mid);
  const asks = new Side(-1, m.mid);
  for (let t = m.mid, placed = 0; placed < m.depth; t--) {
    if (rnd() < 0.85 || t === m.mid) {
      bids.set(t, randSize());
      placed++;
    }
  }
  for (let t = m.mid + 1, placed = 0; placed < m.depth; t++) {
    if (rnd() < 0.85 || t === m.mid + 1) {
      asks.set(t, randSize());
      placed++;
    }
  }

  // What the subscriber holds: the top `window` levels of each side.
  const shown = [new TickMap(m.mid), new TickMap(m.mid)];
  const sides = [bids, asks];
  for (let s = 0; s < 2; s++) {
    const side = sides[s];
    for (let r = 0; r < Math.min(m.window, side.size); r++) {
      const t = side.tickAt(r);
      shown[s].set(t, side.units.get(t));
    }
  }
  const fmt = formatter(venue, m, sp, rnd, bids, asks);
  const snapshot = fmt.snapshot(sideLevels(bids, m.window), sideLevels(asks, m.window));
  const [snapshotText, legacySnapshotText] = typeof snapshot === 'string' ? [snapshot, undefined] : snapshot;

  const touched = [new TickSet(shown[0]), new TickSet(shown[1])];
  const out: [Change[], Change[]] = [[], []];

  const change = (s: 0 | 1, tick: number, units: number) => {
    if (touched[s].has(tick) && m.window === Infinity) return; // full-depth diff: one entry per price per event
    touched[s].add(tick);
    const side = sides[s];
    const before = side.size;
    const r = side.rank(tick);
    side.set(tick, units);
    if (m.window !== Infinity) {
      // the level that left the window (an insert above it) or entered it (a delete above it)
      if (units > 0 && r < 0 && -r - 1 < m.window && side.size > m.window) touched[s].add(side.tickAt(m.window));
      if (units === 0 && r >= 0 && r < m.window && before > m.window) touched[s].add(side.tickAt(m.window - 1));
    }
  };

  for (let e = 0; e < n; e++) {
    touched[0].clear();
    touched[1].clear();
    const k = m.changes(rnd);
    if (rnd() < m.moveShare) {
      // a trade eats the best level of one side; the other side often steps into the gap
      const up = rnd() < 0.5;
      const eaten = up ? 1 : 0;
      const eatenSide = sides[eaten];
      if (eatenSide.size > m.minDepth) {
        const old = eatenSide.best;
        change(eaten, old, 0);
        if (rnd() < 0.7) change((1 - eaten) as 0 | 1, old, randSize());
      }
    }
    for (let c = 0; c < k; c++) {
      const s: 0 | 1 = rnd() < 0.5 ? 0 : 1;
      const side = sides[s];
      const opposite = sides[1 - s];
      const spread = asks.best - bids.best;
      const u = rnd();
      let tick: number;
      if (u < 0.05 && spread > 1) tick = side.best + side.dir;
      else if (u < 0.85) tick = side.best - side.dir * Math.floor(-Math.log(1 - rnd()) * m.nearMean);
      else tick = side.best - side.dir * Math.floor(rnd() * m.depth * 1.2);
      if ((tick - opposite.best) * side.dir >= 0) continue; // would cross
      if (side.units.get(tick) !== 0 && rnd() < m.deleteShare && side.size > m.minDepth) change(s, tick, 0);
      else change(s, tick, randSize());
    }
    // what the subscriber sees change: each touched tick whose shown size differs
    for (let s = 0; s < 2; s++) {
      const side = sides[s];
      const list = out[s];
      list.length = 0;
      for (const tick of touched[s].list) {
        const r = side.rank(tick);
        const now = r >= 0 && r < m.window ? side.units.get(tick) : 0;
        const was = shown[s].get(tick);
        if (now === was && m.window !== Infinity) continue;
        shown[s].set(tick, now);
        // pushed out of the window but still in the book: Kraken sends nothing (its subscriber truncates)
        if (now === 0 && !m.deletesPushedOut && side.units.get(tick) !== 0) continue;
        list.push([tick, now]);
      }
    }
    if (out[0].length + out[1].length === 0) {
      // never send an empty message: the best bid changes size
      const t = bids.best;
      const units = randSize();
      bids.set(t, units);
      shown[0].set(t, units);
      out[0].push([t, units]);
    }
    const texts = fmt.event(out[0], out[1]);
    if (typeof texts === 'string') emit(texts);
    else emit(texts[0], texts[1]);
  }

  // the subscriber's book is the window of the deep book: check the bookkeeping, then report it
  for (let s = 0; s < 2; s++) {
    const side = sides[s];
    const depth = Math.min(m.window, side.size);
    if (shown[s].size !== depth) throw new Error(`generator: ${venue} side ${s} shows ${shown[s].size} != ${depth}`);
    for (let r = 0; r < depth; r++) {
      const t = side.tickAt(r);
      if (shown[s].get(t) !== side.units.get(t)) throw new Error(`generator: ${venue} shown level ${t} differs`);
    }
  }
  const top = (side: Side): Level[] =>
    sideLevels(side, 10).map((l) => [l[0] / 10 ** m.priceDecimals, l[1] / 10 ** m.sizeDecimals]);
  return {
    venue,
    symbol: m.symbol,
    snapshotText,
    ...(legacySnapshotText !== undefined ? { legacySnapshotText } : {}),
    truth: {
      bids: top(bids),
      asks: top(asks),
      bidDepth: Math.min(m.window, bids.size),
      askDepth: Math.min(m.window, asks.size),
      lastSeq: fmt.lastSeq(),
    },
  };
}

/** The best `n` levels of a side as [ticks, units], best first. */
function sideLevels(side: Side, n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let r = 0; r < Math.min(n, side.size); r++) {
    const t = side.tickAt(r);
    out.push([t, side.units.get(t)]);
  }
  return out;
}

/** A frame's text, or (Kraken, Coinbase) its text and its text in the older format tardis-dev reads. */
type Texts = string | [current: string, legacy: string];

interface Formatter {
  /** The initial book (bids and asks best first, [ticks, units]). */
  snapshot(bids: [number, number][], asks: [number, number][]): Texts;
  /** One event from its changes (in the order they were made); the deep book is already changed. */
  event(bids: Change[], asks: Change[]): Texts;
  lastSeq(): number;
}

function formatter(
  venue: GeneratedVenue,
  m: VenueModel,
  sp: Spelling,
  rnd: () => number,
  bidSide: Side,
  askSide: Side,
): Formatter {
  let time = 1_786_541_222_707;
  const asc = (a: Change, b: Change) => a[0] - b[0];
  const desc = (a: Change, b: Change) => b[0] - a[0];
  switch (venue) {
    case 'binance-usdm': {
      // U..u in an id space shared by every symbol: U jumps over pu (the previous u)
      let last = 11_270_657_199_444;
      let nextU = last + 8 + Math.floor(rnd() * 580);
      const lv = (l: Change[]) => l.map(([t, u]) => `["${sp.price(t)}","${sp.size(u)}"]`).join(',');
      const sym = m.symbol;
      return {
        snapshot(bids, asks) {
          // REST /fapi/v1/depth: lastUpdateId falls inside [U, u] of the first event (as in the ccxt recording,
          // and as tardis' futures mapper requires); E and T come before the level lists
          const level = (l: [number, number]) => `["${sp.price(l[0])}","${sp.size(l[1])}"]`;
          return (
            `{"lastUpdateId":${nextU},"E":${time - 7},"T":${time - 8},"bids":[${bids.map(level).join(',')}],` +
            `"asks":[${asks.map(level).join(',')}]}`
          );
        },
        event(bids, asks) {
          const pu = last;
          const U = nextU;
          const u = U + bids.length + asks.length + Math.floor(rnd() * 14_000);
          last = u;
          nextU = u + 8 + Math.floor(rnd() * 580);
          time += 100 + Math.floor(rnd() * 5);
          const T = time - 1 - Math.floor(rnd() * 4);
          return (
            `{"stream":"${sym.toLowerCase()}@depth@100ms","data":{"e":"depthUpdate","E":${time},"T":${T},` +
            `"s":"${sym}","ps":"${sym}","U":${U},"u":${u},"pu":${pu},"b":[${lv(bids.sort(asc))}],` +
            `"a":[${lv(asks.sort(asc))}],"st":1}}`
          );
        },
        lastSeq: () => last,
      };
    }
    case 'okx': {
      let seqId = 79_706_756_139;
      const lv = (l: Change[]) =>
        l
          .map(
            ([t, u]) => `["${sp.price(t)}","${sp.size(u)}","0","${u === 0 ? 0 : 1 + Math.floor(rnd() * rnd() * 40)}"]`,
          )
          .join(',');
      const frame = (action: string, asks: string, bids: string, prev: number, seq: number) =>
        `{"arg":{"channel":"books","instId":"${m.symbol}"},"action":"${action}","data":[{"asks":[${asks}],` +
        `"bids":[${bids}],"ts":"${time}","checksum":0,"prevSeqId":${prev},"seqId":${seq}}]}`;
      return {
        snapshot(bids, asks) {
          return frame('snapshot', lv(asks), lv(bids), -1, seqId);
        },
        event(bids, asks) {
          const prev = seqId;
          seqId += 1 + Math.floor(rnd() * rnd() * 400);
          time += 100;
          return frame('update', lv(asks.sort(asc)), lv(bids.sort(desc)), prev, seqId);
        },
        lastSeq: () => seqId,
      };
    }
    case 'bybit-linear': {
      let u = 53_935_309;
      let seq = 760_578_520_655;
      const lv = (l: Change[]) => l.map(([t, n]) => `["${sp.price(t)}","${sp.size(n)}"]`).join(',');
      const frame = (type: string, bids: string, asks: string) => {
        const cts = time - 1 - Math.floor(rnd() * 3);
        return (
          `{"topic":"orderbook.50.${m.symbol}","type":"${type}","ts":${time},"data":{"s":"${m.symbol}",` +
          `"b":[${bids}],"a":[${asks}],"u":${u},"seq":${seq}},"cts":${cts}}`
        );
      };
      return {
        snapshot(bids, asks) {
          return frame('snapshot', lv(bids), lv(asks));
        },
        event(bids, asks) {
          u += 1;
          seq += 1 + Math.floor(rnd() * 60);
          time += 20;
          return frame('delta', lv(bids.sort(desc)), lv(asks.sort(asc)));
        },
        lastSeq: () => u,
      };
    }
    case 'kraken': {
      // the CRC32 of the book's top 10 after the message, over the levels as they are spelled on the wire
      const spelled = (side: Side) =>
        sideLevels(side, 10).map((l): [string, string] => [sp.price(l[0]), sp.size(l[1])]);
      const checksum = () => krakenChecksum(spelled(askSide), spelled(bidSide));
      const v2 = (l: readonly (readonly [number, number])[]) =>
        l.map(([t, u]) => `{"price":${sp.price(t)},"qty":${sp.size(u)}}`).join(',');
      const v1 = (l: readonly (readonly [number, number])[], ts: string) =>
        l.map(([t, u]) => `["${sp.price(t)}","${sp.size(u)}","${ts}"]`).join(',');
      // v1: one channel id per subscription, the pair in v1 spelling
      const tail = `"book-${m.window}","XBT/USD"]`;
      const head = '[336,';
      const stamps = () => {
        const micros = Math.floor(rnd() * 1000);
        const iso = new Date(time).toISOString().replace('Z', `${pad(micros, 3)}Z`);
        const unix = `${Math.floor(time / 1000)}.${pad(time % 1000, 3)}${pad(micros, 3)}`;
        return { iso, unix };
      };
      const frame = (type: string, bids: string, asks: string, iso: string) =>
        `{"channel":"book","type":"${type}","data":[{"symbol":"${m.symbol}","bids":[${bids}],"asks":[${asks}],` +
        `"checksum":${checksum()},"timestamp":"${iso}"}]}`;
      return {
        snapshot(bids, asks) {
          const { iso, unix } = stamps();
          return [
            frame('snapshot', v2(bids), v2(asks), iso),
            `${head}{"as":[${v1(asks, unix)}],"bs":[${v1(bids, unix)}]},${tail}`,
          ];
        },
        event(bids, asks) {
          time += 5 + Math.floor(rnd() * 40);
          const { iso, unix } = stamps();
          bids.sort(desc);
          asks.sort(asc);
          const c = `"c":"${checksum()}"`;
          let old: string;
          if (bids.length === 0) old = `${head}{"a":[${v1(asks, unix)}],${c}},${tail}`;
          else if (asks.length === 0) old = `${head}{"b":[${v1(bids, unix)}],${c}},${tail}`;
          else old = `${head}{"a":[${v1(asks, unix)}]},{"b":[${v1(bids, unix)}],${c}},${tail}`;
          return [frame('update', v2(bids), v2(asks), iso), old];
        },
        // Kraken has no sequence ids
        lastSeq: () => 0,
      };
    }
    case 'coinbase': {
      // one connection carrying this one book: sequence_num counts its messages (the snapshot is 0)
      let seq = 0;
      const product = m.symbol;
      const nanos = () => {
        const ns = pad(Math.floor(rnd() * 1e6), 6);
        return new Date(time).toISOString().replace('Z', `${ns}Z`);
      };
      const updates = (side: string, l: readonly (readonly [number, number])[], eventTime: string) =>
        l.map(
          ([t, u]) =>
            `{"side":"${side}","event_time":"${eventTime}","price_level":"${sp.price(t)}","new_quantity":"${sp.size(u)}"}`,
        );
      // Coinbase Exchange (the feed before Advanced Trade, which tardis-dev's coinbase mapper reads)
      const legacyLevels = (l: readonly (readonly [number, number])[]) =>
        l.map(([t, u]) => `["${sp.price(t)}","${sp.size(u)}"]`).join(',');
      const legacyChanges = (side: string, l: readonly (readonly [number, number])[]) =>
        l.map(([t, u]) => `["${side}","${sp.price(t)}","${sp.size(u)}"]`);
      const frame = (type: string, ups: string[], ts: string) =>
        `{"channel":"l2_data","client_id":"","timestamp":"${ts}","sequence_num":${seq},"events":[{"type":"${type}",` +
        `"product_id":"${product}","updates":[${ups.join(',')}]}]}`;
      return {
        snapshot(bids, asks) {
          const ts = nanos();
          // a snapshot's levels are stamped 1970 (ccxt's and the docs' examples)
          const epoch = '1970-01-01T00:00:00Z';
          return [
            frame('snapshot', [...updates('bid', bids, epoch), ...updates('offer', asks, epoch)], ts),
            `{"type":"snapshot","product_id":"${product}","bids":[${legacyLevels(bids)}],` +
              `"asks":[${legacyLevels(asks)}]}`,
          ];
        },
        event(bids, asks) {
          seq++;
          time += 1 + Math.floor(rnd() * 40);
          const eventTime = new Date(time).toISOString().replace('Z', `${pad(Math.floor(rnd() * 1000), 3)}Z`);
          const ts = nanos();
          bids.sort(desc);
          asks.sort(asc);
          const changes = [...legacyChanges('buy', bids), ...legacyChanges('sell', asks)].join(',');
          return [
            frame('update', [...updates('bid', bids, eventTime), ...updates('offer', asks, eventTime)], ts),
            `{"type":"l2update","product_id":"${product}","changes":[${changes}],"time":"${eventTime}"}`,
          ];
        },
        lastSeq: () => seq,
      };
    }
    case 'gemini-v2': {
      const change = (side: string, l: readonly (readonly [number, number])[]) =>
        l.map(([t, u]) => `["${side}","${sp.price(t)}","${sp.size(u)}"]`);
      return {
        snapshot(bids, asks) {
          // the first l2_updates after subscribing is the book, with the last trades and auction events
          // (what tells it from an update); two of each here, as the recording's shape has them
          const trade = (id: number, px: number, side: string) =>
            `{"type":"trade","symbol":"${m.symbol}","event_id":${id},"timestamp":${time - (id % 1000)},` +
            `"price":"${sp.price(px)}","quantity":"0.02","side":"${side}"}`;
          const auction = (type: string) =>
            `{"type":"${type}","symbol":"${m.symbol}","time_ms":${time - 7_200_000},"result":"failure",` +
            `"highest_bid_price":"${sp.price(bids[0][0])}","lowest_ask_price":"${sp.price(asks[0][0])}",` +
            `"collar_price":"${sp.price(bids[0][0])}"}`;
          const changes = [...change('buy', bids), ...change('sell', asks)].join(',');
          return (
            `{"type":"l2_updates","symbol":"${m.symbol}","changes":[${changes}],` +
            `"trades":[${trade(122258166738, asks[0][0], 'buy')},${trade(122258141090, bids[0][0], 'sell')}],` +
            `"auction_events":[${auction('auction_result')},${auction('auction_indicative')}]}`
          );
        },
        event(bids, asks) {
          // changes in the order they were made, buys first (as in the recording)
          return `{"type":"l2_updates","symbol":"${m.symbol}","changes":[${[...change('buy', bids), ...change('sell', asks)].join(',')}]}`;
        },
        // Gemini v2 has no sequence ids
        lastSeq: () => 0,
      };
    }
  }
}
