/**
 * Sequence rules: how a venue's event sequence numbers chain. Pure.
 * Each venue adapter exports one; the arbiter and the client are written against this interface.
 */
import type { BookDelta } from './types.js';

export type SeqVerdict = 'stale' | 'apply' | 'gap';

export interface SequenceRule {
  /** Verdict for an event given the book is at `seq` (a snapshot's id, or the last applied event's last). */
  check(seq: number, ev: Pick<BookDelta, 'first' | 'last' | 'prev'>): SeqVerdict;
}

/**
 * Range rule (Binance spot U/u): an event is stale if it ends at or before the book's seq, applies if it
 * covers seq+1 (first <= seq+1 <= last), and is a gap otherwise. This is Binance's rule for the first event
 * after a snapshot; for later events Binance promises first == seq+1 on one connection, and accepting an
 * overlap is still exact because diffs carry absolute sizes as of `last`. Using one rule for both cases
 * lets the arbiter merge feeds whose event batching differs.
 */
export const rangeRule: SequenceRule = {
  check(seq, ev) {
    if (ev.last <= seq) return 'stale';
    if (ev.first <= seq + 1) return 'apply';
    return 'gap';
  },
};
