/**
 * Sequence rules: when an event chains onto a book. Pure. One implementation for every sequenced venue
 * and for the consolidated stream; the arbiter, the replica, the recorder and the bridge all use it.
 *
 * Interval cover: an event covers the venue's update ids (lo, last] and carries absolute sizes as of
 * `last`. A book at `seq` applies it iff lo <= seq < last, drops it iff last <= seq (already covered), and
 * otherwise has a gap (ids in (seq, lo] are missing). This stays exact when two connections group the same
 * updates into different messages (real Binance USD-M connections do: ccxt issue 26819): an overlapping
 * message re-sets levels to their values as of `last`, which is what the book must hold at `last`.
 *
 * Per venue, lo is: Binance spot U-1; Binance USD-M pu; OKX prevSeqId; Bybit u-1. An event whose lo equals
 * its last (an OKX keep-alive) covers nothing: stale when the book is at or past it, a gap when behind.
 */
import type { BookDelta } from './types.js';

export type SeqVerdict = 'stale' | 'apply' | 'gap';

export interface SequenceRule {
  /** Verdict for an event given the book is at `seq` (a snapshot's id, or the last applied event's last). */
  check(seq: number, ev: Pick<BookDelta, 'first' | 'last' | 'prev'>): SeqVerdict;
}

/** The interval-cover verdict for an event covering (lo, last] on a book at `seq`. */
export function cover(seq: number, lo: number, last: number): SeqVerdict {
  if (last <= seq) return 'stale';
  if (lo <= seq) return 'apply';
  return 'gap';
}

/** Lower end (exclusive) of the ids a venue event covers: its `prev` when the venue sends one, else first-1. */
export function coverStart(ev: Pick<BookDelta, 'first' | 'prev'>): number {
  return ev.prev ?? ev.first - 1;
}

/** Interval cover on venue events (see the top of this file). */
export const intervalRule: SequenceRule = {
  check(seq, ev) {
    return cover(seq, coverStart(ev), ev.last);
  },
};

/** Binance spot's U/u rule is interval cover with lo = U-1 (the name older code and docs use). */
export const rangeRule = intervalRule;

/** The fields of a consolidated delta (book.* topic) that say where it chains: see docs/wire-format.md. */
export interface ConsolidatedLink {
  /** Last venue id covered. */
  seq: number;
  /** The consolidated seq it was published on top of (one arbiter: the previous message's seq). */
  prev: number;
  /** First venue id covered: the interval is (first-1, seq]. */
  first: number;
}

/**
 * The consolidated stream's rule, for a reader whose book is at `seq`: interval cover on (first-1, seq],
 * and a delta published on top of exactly our seq always chains (prev === seq). The latter is implied by
 * the former for a correct arbiter (first-1 <= prev); taking the lower of the two keeps both true.
 */
export function consolidatedVerdict(seq: number, d: ConsolidatedLink): SeqVerdict {
  return cover(seq, d.prev < d.first - 1 ? d.prev : d.first - 1, d.seq);
}

/** True when a consolidated delta extends a book at `seq` (the hot paths' boolean form of consolidatedVerdict). */
export function chainsOnto(seq: number, d: ConsolidatedLink): boolean {
  return consolidatedVerdict(seq, d) === 'apply';
}
