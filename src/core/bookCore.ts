/**
 * What the arbiter shell (src/arbiter/service.ts) sees of a book's merge core: BookArbiter (arbiter.ts) for
 * venues whose connections share per-book ids, ReplicaArbiter (replicaArbiter.ts) for the others. Pure.
 */
import type { OrderBook } from './book.js';
import type { ArbiterCounters, ArbiterState, FeedStats, SnapshotRequestReason } from './arbiter.js';
import type { BookDelta, BookSnapshot } from './types.js';

/**
 * When a feed's new state is published. 'first' (the default): the first copy to reach it, at once (lowest
 * latency; a copy corrupted on the wire that arrives first is published until another copy disagrees).
 * 'confirmed': once a second feed's copy reached the same state, so a corrupted copy is never published;
 * at once when the venue's checksum covers every level the message changed, or when no other feed has a
 * copy to compare with (docs/venues.md, "Publication"). Both merges: ReplicaArbiter by state, BookArbiter by
 * the venue's ids.
 */
export type PublishPolicy = 'first' | 'confirmed';

/** BookCore.confirmation(): how long confirmed states waited for their second copy, µs. */
export interface ConfirmationTimes {
  p50Us: number;
  p99Us: number;
  samples: number;
}

export interface BookCore {
  readonly book: OrderBook;
  readonly counters: ArbiterCounters;
  readonly seq: number;
  readonly offset: number;
  readonly consolidatedSeq: number;
  /** The numbering's owner on a replica venue's book (ConsolidatedDelta.epoch); undefined on sequenced ones. */
  readonly streamEpoch?: string;
  readonly state: ArbiterState;
  readonly waiting: { reason: SnapshotRequestReason; attempt: number; sinceMs: number } | undefined;
  readonly buffered: number;
  start(nowMs: number): void;
  onDelta(ev: BookDelta, nowMs: number): void;
  needsLevels(first: number, last: number): boolean;
  onSnapshot(snap: BookSnapshot, nowMs: number): void;
  /**
   * Continue the book from another arbiter's committed output (a Kafka group's takeover): its book at its
   * seq and, on a replica venue's book, the epoch whose numbering goes on. Not a feed's snapshot.
   */
  restore(snap: BookSnapshot, epoch: string | undefined, nowMs: number): void;
  onTimer(nowMs: number): void;
  shed(nowMs: number): number;
  onSnapshotStatus(state: 'queued' | 'failed', etaMs: number, nowMs: number): void;
  snapshotSources(nowMs: number): string[];
  /** A collector's 'queued' word holds the snapshot request now (the shell may move it to one with budget). */
  heldByQueue(nowMs: number): boolean;
  /** Ask for the snapshot again now (the request moved to another collector). */
  retryNow(nowMs: number): void;
  hasFeed(id: string): boolean;
  feedStats(): Map<string, FeedStats>;
  resetLagWindow(): void;
  /** When states are published (counted in counters.confirmed, publishedAlone, vouched). */
  readonly publishPolicy: PublishPolicy;
  /** 'confirmed': how long the last 1024 confirmed states waited for their second copy (µs). */
  confirmation(): ConfirmationTimes;
}
