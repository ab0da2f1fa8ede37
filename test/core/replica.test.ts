import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BookReplica } from '../../src/core/replica.js';
import type { ConsolidatedDelta, ConsolidatedSnapshot } from '../../src/wire/messages.js';
import type { Level } from '../../src/core/types.js';

const snap = (seq: number, bids: Level[] = [[10, 1]], asks: Level[] = [[11, 1]]): ConsolidatedSnapshot => ({
  v: 1,
  type: 'snapshot',
  venue: 'binance',
  symbol: 'X',
  seq,
  bids,
  asks,
  exchTime: 0,
  pubTime: 0,
  reason: 'reply',
});
const delta = (
  first: number,
  seq: number,
  prev: number,
  bids: Level[] = [],
  asks: Level[] = [],
): ConsolidatedDelta => ({
  v: 1,
  type: 'delta',
  venue: 'binance',
  symbol: 'X',
  seq,
  prev,
  first,
  bids,
  asks,
  exchTime: 0,
  recvTime: 0,
  pubTime: 0,
  feed: 'a',
});

test('deltas before the first snapshot are held and replayed on top of it', () => {
  const r = new BookReplica();
  assert.equal(r.onMessage(delta(5, 6, 4, [[10, 2]])), 'buffered');
  assert.equal(r.onMessage(delta(7, 7, 6, [[9, 1]])), 'buffered');
  assert.equal(r.onMessage(snap(5)), 'reset');
  assert.equal(r.seq, 7);
  assert.deepEqual(r.book.top(5).bids, [
    [10, 2],
    [9, 1],
  ]);
});

test('stale copies are dropped; a gap stops updates until a snapshot', () => {
  const r = new BookReplica();
  r.onMessage(snap(10));
  assert.equal(r.onMessage(delta(11, 12, 10, [[10, 5]])), 'applied');
  assert.equal(r.onMessage(delta(11, 12, 10, [[10, 5]])), 'stale');
  assert.equal(r.onMessage(delta(15, 16, 14, [[10, 7]])), 'gap');
  assert.equal(r.synced, false);
  assert.equal(r.gaps, 1);
  assert.equal(r.onMessage(delta(17, 17, 16, [[10, 8]])), 'buffered');
  // a snapshot at 16 heals it; the held delta at 17 applies on top
  assert.equal(r.onMessage(snap(16, [[10, 7]])), 'reset');
  assert.equal(r.seq, 17);
  assert.deepEqual(r.book.bestBid(), [10, 8]);
});

test('an older snapshot (a lagging hot-hot arbiter) does not roll the book back', () => {
  const r = new BookReplica();
  r.onMessage(snap(10));
  r.onMessage(delta(11, 11, 10, [[10, 3]]));
  assert.equal(r.onMessage(snap(9, [[10, 1]])), 'stale');
  assert.deepEqual(r.book.bestBid(), [10, 3]);
});

test('property: any loss pattern never yields a book that differs from the source at the same seq', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 5 }), fc.boolean()), {
        minLength: 1,
        maxLength: 200,
      }),
      (steps) => {
        // source: a chain of deltas on price levels 1..20; `lost` ones never reach the replica
        const truth = new Map<number, number>();
        const r = new BookReplica();
        r.onMessage(snap(0, [], []));
        let seq = 0;
        for (const [price, size, lost] of steps) {
          const d = delta(seq + 1, seq + 1, seq, [[price, size]]);
          seq++;
          if (size === 0) truth.delete(price);
          else truth.set(price, size);
          if (lost) continue;
          r.onMessage(d);
          if (r.synced) {
            assert.equal(r.seq, seq);
            const expect = [...truth.entries()].sort((a, b) => b[0] - a[0]);
            assert.deepEqual(r.book.snapshot().bids, expect);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a snapshot at our own seq is a consistency check: equal -> no-op, different -> reset and counted', () => {
  const r = new BookReplica();
  r.onMessage(snap(10, [[10, 1]], [[11, 1]]));
  assert.equal(r.onMessage(snap(10, [[10, 1]], [[11, 1]])), 'stale');
  assert.equal(r.divergences, 0);
  assert.equal(r.onMessage(snap(10, [[10, 2]], [[11, 1]])), 'reset');
  assert.equal(r.divergences, 1);
  assert.deepEqual(r.book.bestBid(), [10, 2]);
});

test('a heartbeat ahead of the book (same numbering) reveals lost messages: a gap; behind, equal or another numbering: nothing', () => {
  const hb = (seq: number, offset?: number) => ({
    v: 1 as const,
    type: 'heartbeat' as const,
    venue: 'binance',
    symbol: 'X',
    seq,
    pubTime: 0,
    arbiter: 'arb-1',
    stale: false,
    ...(offset === undefined ? {} : { offset }),
  });
  const r = new BookReplica();
  assert.equal(r.onHeartbeat(hb(50)), 'stale', 'unsynced: nothing to compare');
  r.onMessage(snap(100));
  assert.equal(r.onHeartbeat(hb(99)), 'stale', 'a hot-hot arbiter behind us');
  assert.equal(r.onHeartbeat(hb(100)), 'stale', 'where we are');
  assert.equal(r.onHeartbeat(hb(105, 7_000_000)), 'stale', 'another numbering: not comparable');
  assert.equal(r.synced, true);
  // The last deltas before a quiet spell were lost: only the heartbeat tells.
  assert.equal(r.onHeartbeat(hb(101)), 'gap');
  assert.equal(r.synced, false);
  assert.equal(r.gaps, 1);
  // healed by the next snapshot as usual
  assert.equal(r.onMessage(snap(101)), 'reset');
  assert.equal(r.synced, true);
});
