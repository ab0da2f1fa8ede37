/**
 * The consolidated stream's messages (book.<venue>.<symbol>, arbiter -> clients): what a replica follows.
 * Pure data, no I/O. Their encoding is the wire's (src/wire/messages.ts, docs/wire-format.md).
 */
import type { Level } from './types.js';

/** Consolidated delta: it covers the venue's update ids (first-1, seq] with absolute sizes (interval
 * cover, core/sequence.ts). seq is the venue's last id (Binance u, OKX seqId, Bybit u), first one past the
 * venue's previous id (Binance spot U, USD-M pu+1, OKX prevSeqId+1, Bybit u), prev the consolidated seq it
 * was published on (one arbiter: the previous message's seq). A client at seq s applies it iff
 * first-1 <= s < seq or prev === s (consolidatedVerdict). */
export interface ConsolidatedDelta {
  v: 1;
  type: 'delta';
  venue: string;
  symbol: string;
  seq: number;
  prev: number;
  /** One past the venue's previous update id: the delta covers (first-1, seq]. */
  first: number;
  bids: Level[];
  asks: Level[];
  exchTime: number;
  /** Receive time (epoch µs) at the collector whose copy won. */
  recvTime: number;
  /** Arbiter publish time (epoch µs). */
  pubTime: number;
  /** Collector id whose copy won. */
  feed: string;
  /**
   * seq minus the venue's own id, where it is not 0: the venue restarted its ids (docs/wire-format.md,
   * "Venue resets"). Messages with different offsets are numbered differently: never chain one onto the other.
   */
  offset?: number;
  /**
   * The numbering's owner, on books of venues without a per-book id (Kraken, Coinbase, Gemini: merged by
   * replicas): each arbiter numbers such a book its own way, so a reader follows one epoch and ignores the
   * others' messages until that arbiter falls silent, then takes another's snapshot (docs/wire-format.md,
   * "Epochs"). Absent on sequenced venues' books, which every arbiter numbers alike.
   */
  epoch?: string;
}

/** Full consolidated book at seq. Authoritative: a client replaces its book with it. */
export interface ConsolidatedSnapshot {
  v: 1;
  type: 'snapshot';
  venue: string;
  symbol: string;
  seq: number;
  bids: Level[];
  asks: Level[];
  exchTime: number;
  pubTime: number;
  /** Why it was published: periodic, resync (book rebuilt after a gap no feed filled), reply (to a request). */
  reason: 'periodic' | 'resync' | 'reply';
  /** As ConsolidatedDelta.offset. */
  offset?: number;
  /** As ConsolidatedDelta.epoch. */
  epoch?: string;
  /** Present and true when the arbiter has no live feed for this book: the book may be old (since staleSince). */
  stale?: boolean;
  /** Epoch µs since when the book has been stale. */
  staleSince?: number;
  /**
   * The book was built from an exchange snapshot of limited depth: bids below `bid` and asks above `ask`
   * (that snapshot's last levels) may be missing. Levels within are exact.
   */
  exactTo?: { bid: number; ask: number };
}

/**
 * Sent by an arbiter on a book topic that published nothing for a while (and at once when `stale`
 * changes): the arbiter is alive, its book is at `seq`, and whether any feed still carries the book.
 * Not a book update. A client synced below `seq` (same offset) has lost messages: a gap.
 */
export interface ConsolidatedHeartbeat {
  v: 1;
  type: 'heartbeat';
  venue: string;
  symbol: string;
  /** The arbiter's consolidated seq; -1 while it has no book yet. */
  seq: number;
  offset?: number;
  /** As ConsolidatedDelta.epoch. */
  epoch?: string;
  pubTime: number;
  /** The arbiter that sent it (hot-hot clients weigh each arbiter's word separately). */
  arbiter: string;
  /** No feed of this arbiter carries the book (all down or silent), or it is resyncing. */
  stale: boolean;
  staleSince?: number;
}

export type ConsolidatedMessage = ConsolidatedDelta | ConsolidatedSnapshot;
