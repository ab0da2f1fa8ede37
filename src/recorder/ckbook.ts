/**
 * The book stream writer's copy of the book, for checkpoints (segment.ts): BookReplica's rules (a snapshot
 * replaces the book unless older, a delta applies when it chains, a gap stops applying until the next
 * snapshot), on a cheaper structure. Every level update of every recorded delta lands here, so its cost
 * is paid per event: the sorted arrays of OrderBook move up to ~1000 elements for a level far from the
 * top (~0.3 µs an event on Binance-shaped deltas); here a side is a dense array of sizes indexed by the
 * price in ticks (price * 10^E, E the book's price decimals), so a level update is one store (~0.03 µs),
 * and the sorting is done by the index when a checkpoint scans the array (every few thousand events).
 *
 * Exactness: a price p is kept as the integer k = p * 10^E only when k / 10^E === p (IEEE division of
 * two exact integers rounds to the same double), so a checkpoint holds exactly the numbers a BookReplica
 * would. Anything that does not fit -- more price decimals than the snapshot had, a book spanning more
 * than MAX_SPAN ticks -- converts this copy to a BookReplica once, and it carries on there.
 */
import { BookReplica } from '../core/replica.js';
import { consolidatedVerdict } from '../core/sequence.js';
import type { Level } from '../core/types.js';
import type { ConsolidatedDelta, ConsolidatedMessage, ConsolidatedSnapshot } from '../wire/messages.js';
import { applyParsedLevels, parsed, parsedLevels } from './binrec.js';

const POW10: number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Widest price range (in ticks) a dense side covers: 8 bytes each, the array is at most twice this. */
const MAX_SPAN = 1 << 19;
const MIN_CAP = 4096;
/** BookReplica's consistency check depth for a snapshot at our own seq. */
const CHECK_DEPTH = 20;

const NO_LEVELS = new Float64Array(0);

class DenseSide {
  sz = NO_LEVELS;
  base = 0;
  n = 0;

  /** Empty, and no window: the next levels set one around themselves (a snapshot re-windows the book). */
  clear(): void {
    this.sz = NO_LEVELS;
    this.base = 0;
    this.n = 0;
  }

  /** Set the size at tick `key` (size <= 0 or NaN deletes); false when the key is out of reach. */
  set(key: number, size: number): boolean {
    let i = key - this.base;
    if (!(i >= 0 && i < this.sz.length)) {
      if (Number.isNaN(key)) return false;
      if (!(size > 0)) return true; // deleting a level we do not have
      if (!this.cover(key)) return false;
      i = key - this.base;
    }
    const old = this.sz[i];
    if (size > 0) {
      if (old === 0) this.n++;
      this.sz[i] = size;
    } else if (old !== 0) {
      this.n--;
      this.sz[i] = 0;
    }
    return true;
  }

  /** Re-window the array to hold `key` as well as every level it has; false if that spans too much. */
  private cover(key: number): boolean {
    const sz = this.sz;
    let lo = key;
    let hi = key;
    // the occupied part of the old window: [a, b]
    let a = 0;
    let b = -1;
    if (this.n > 0) {
      while (sz[a] === 0) a++;
      b = sz.length - 1;
      while (sz[b] === 0) b--;
      lo = Math.min(lo, this.base + a);
      hi = Math.max(hi, this.base + b);
    }
    const span = hi - lo + 1;
    if (span > MAX_SPAN) return false;
    const cap = Math.max(MIN_CAP, 2 * span);
    const base = lo - Math.floor((cap - span) / 2);
    const next = new Float64Array(cap);
    if (b >= a) next.set(sz.subarray(a, b + 1), this.base + a - base);
    this.sz = next;
    this.base = base;
    return true;
  }

  /** Levels best first: bids from the top tick down, asks from the bottom up. */
  levels(scale: number, bid: boolean, max = Infinity): Level[] {
    const out: Level[] = [];
    const sz = this.sz;
    const d = POW10[scale];
    const want = Math.min(max, this.n);
    if (bid) {
      for (let i = sz.length - 1; i >= 0 && out.length < want; i--)
        if (sz[i] !== 0) out.push([(this.base + i) / d, sz[i]]);
    } else
      for (let i = 0; i < sz.length && out.length < want; i++) if (sz[i] !== 0) out.push([(this.base + i) / d, sz[i]]);
    return out;
  }
}

/** p as an integer number of ticks of 1/d (d = 10^E), or NaN when that does not give back exactly p. */
function tick(p: number, d: number): number {
  const k = Math.round(p * d);
  return k / d === p && k <= Number.MAX_SAFE_INTEGER && k >= -Number.MAX_SAFE_INTEGER ? k : NaN;
}

/** Price decimals E with k / 10^E === p for every price, k = round(p * 10^E); -1 if over 12. */
function priceScale(l: readonly Level[], from: number): number {
  let e = from;
  for (let i = 0; i < l.length; i++) {
    const p = l[i][0];
    while (Math.round(p * POW10[e]) / POW10[e] !== p) if (++e > 12) return -1;
  }
  return e;
}

export class CheckpointBook {
  private at = -1;
  private sync = false;
  private scale = 0;
  private readonly bid = new DenseSide();
  private readonly ask = new DenseSide();
  /** The delta that broke the chain (BookReplica holds it for the next snapshot). */
  private held: ConsolidatedDelta | undefined;
  /** Set once the dense form could not hold the book: BookReplica from then on. */
  private replica: BookReplica | undefined;

  get synced(): boolean {
    return this.replica ? this.replica.synced : this.sync;
  }

  /** seq of the last message applied. */
  get seq(): number {
    return this.replica ? this.replica.seq : this.at;
  }

  /** Still in the dense form (false once it moved onto a BookReplica). */
  get dense(): boolean {
    return this.replica === undefined;
  }

  /**
   * The delta of the last parseConsolidated (binrec.ts), known to chain (chainsOnto, core/sequence.ts)
   * on a synced book: its levels applied without building the message.
   */
  applyParsedDelta(): void {
    const r = this.replica;
    if (r) {
      applyParsedLevels(r.book);
      r.seq = parsed.seq;
      return;
    }
    const { pM, pF, sM, sF } = parsedLevels;
    const nb = parsed.nBids;
    const n = nb + parsed.nAsks;
    const e = this.scale;
    for (let i = 0; i < n; i++) {
      const f = pF[i];
      const key = f === e ? pM[i] : f < e ? pM[i] * POW10[e - f] : NaN;
      const size = sM[i] / POW10[sF[i]];
      if (
        !(key <= Number.MAX_SAFE_INTEGER && key >= -Number.MAX_SAFE_INTEGER) ||
        !(i < nb ? this.bid : this.ask).set(key, size)
      ) {
        // finish this delta (and every later message) on a BookReplica
        const rep = this.toReplica();
        for (; i < n; i++) rep.book.setLevel(i < nb ? 'bid' : 'ask', pM[i] / POW10[pF[i]], sM[i] / POW10[sF[i]]);
        rep.seq = parsed.seq;
        return;
      }
    }
    this.at = parsed.seq;
  }

  /** Any other message: BookReplica.onMessage's rules. */
  onMessage(m: ConsolidatedMessage): void {
    if (this.replica) {
      this.replica.onMessage(m);
      return;
    }
    if (m.type === 'snapshot') this.onSnapshot(m);
    else this.onDelta(m);
  }

  private onSnapshot(s: ConsolidatedSnapshot): void {
    if (this.sync && s.seq < this.at) return;
    if (this.sync && s.seq === this.at && this.sameTop(s)) return;
    const eb = priceScale(s.bids, 0);
    const ea = priceScale(s.asks, 0);
    const ok = eb >= 0 && ea >= 0 && this.load(s, Math.max(eb, ea));
    if (!ok) {
      const rep = this.toReplica();
      rep.synced = false; // the snapshot replaces whatever we had
      rep.onSnapshot(s);
      return;
    }
    this.at = s.seq;
    this.sync = true;
    const h = this.held;
    this.held = undefined;
    if (h) this.onMessage(h);
  }

  private load(s: ConsolidatedSnapshot, e: number): boolean {
    this.scale = e;
    this.bid.clear();
    this.ask.clear();
    const d = POW10[e];
    for (const [side, l] of [
      [this.bid, s.bids],
      [this.ask, s.asks],
    ] as const)
      for (let i = 0; i < l.length; i++) {
        const k = tick(l[i][0], d);
        if (k !== k || !side.set(k, l[i][1])) return false;
      }
    return true;
  }

  private onDelta(m: ConsolidatedDelta): void {
    if (!this.sync) {
      this.held = m; // BookReplica keeps more, but the writer only hands it deltas while in sync
      return;
    }
    const verdict = consolidatedVerdict(this.at, m);
    if (verdict === 'stale') return;
    if (verdict === 'apply') {
      const e = this.scale;
      const d = POW10[e];
      const fits = (l: Level[]) => l.every(([p]) => !Number.isNaN(tick(p, d)));
      if (!fits(m.bids) || !fits(m.asks)) {
        this.toReplica().onDelta(m);
        return;
      }
      for (const [p, s] of m.bids) if (!this.bid.set(tick(p, d), s)) return void this.fallBackWith(m);
      for (const [p, s] of m.asks) if (!this.ask.set(tick(p, d), s)) return void this.fallBackWith(m);
      this.at = m.seq;
      return;
    }
    this.sync = false;
    this.held = m;
  }

  /** A delta the dense form could not finish: the replica re-applies it whole (absolute sizes: idempotent). */
  private fallBackWith(m: ConsolidatedDelta): void {
    const rep = this.toReplica();
    rep.book.apply(m.bids, m.asks);
    rep.seq = m.seq;
  }

  private sameTop(s: ConsolidatedSnapshot): boolean {
    const eq = (x: Level[], y: Level[]) => {
      const n = Math.min(CHECK_DEPTH, y.length);
      if (x.length !== n) return false;
      for (let i = 0; i < n; i++) if (x[i][0] !== y[i][0] || x[i][1] !== y[i][1]) return false;
      return true;
    };
    return (
      eq(this.bid.levels(this.scale, true, CHECK_DEPTH), s.bids) &&
      eq(this.ask.levels(this.scale, false, CHECK_DEPTH), s.asks)
    );
  }

  /** The whole book, best first (as OrderBook.snapshot()). */
  snapshot(): { bids: Level[]; asks: Level[] } {
    if (this.replica) return this.replica.book.snapshot();
    return { bids: this.bid.levels(this.scale, true), asks: this.ask.levels(this.scale, false) };
  }

  private toReplica(): BookReplica {
    if (this.replica) return this.replica;
    const rep = new BookReplica();
    const { bids, asks } = this.snapshot();
    rep.book.applySnapshot(bids, asks);
    rep.seq = this.at;
    rep.synced = this.sync;
    if (this.held && !this.sync) rep.onDelta(this.held); // held again (buffered) for the next snapshot
    this.held = undefined;
    this.replica = rep;
    return rep;
  }
}
