import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BookReplica, EPOCH_SILENT_US, EpochWatch } from '../../src/core/replica.js';
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

test('EpochWatch: leaves the followed epoch when it is silent while another speaks, or the other is busy; never while the other is silent too', () => {
  const r = new BookReplica(10, true);
  const w = new EpochWatch(r);
  const inEpoch = (epoch: string, seq: number) => ({ ...snap(seq), epoch });
  w.heard(inEpoch('A', 1), 0);
  assert.equal(r.onSnapshot(inEpoch('A', 1)), 'reset');
  w.took('reset', 0);
  assert.equal(r.onSnapshot(inEpoch('B', 9)), 'other');
  // silent: A quiet past EPOCH_SILENT_US, B heard recently
  w.heard({ type: 'heartbeat', epoch: 'B' }, EPOCH_SILENT_US);
  assert.equal(w.leaveSilentEpoch(EPOCH_SILENT_US), false, 'not yet');
  assert.equal(w.leaveSilentEpoch(EPOCH_SILENT_US + 1), true);
  assert.equal(r.synced, false, 'released: the next snapshot of any epoch is taken');
  assert.equal(r.onSnapshot(inEpoch('B', 9)), 'reset');
  w.took('reset', EPOCH_SILENT_US + 2);
  // busy: 5 deltas of A (now the other) over more than 250 ms since B spoke
  const t0 = EPOCH_SILENT_US + 2;
  for (let i = 1; i <= 4; i++) w.heard({ type: 'delta', epoch: 'A' }, t0 + i * 60_000);
  assert.equal(w.leaveSilentEpoch(t0 + 240_000), false, '4 deltas');
  w.heard({ type: 'delta', epoch: 'A' }, t0 + 260_000);
  assert.equal(w.leaveSilentEpoch(t0 + 260_000), true, '5 deltas over 260 ms');
  assert.equal(w.switches, 2);
  // both silent: nothing to switch to
  r.onSnapshot(inEpoch('C', 20));
  w.took('reset', t0 + 300_000);
  assert.equal(w.leaveSilentEpoch(t0 + 300_000 + 3 * EPOCH_SILENT_US), false);
  // sequenced venues' books (no epoch): never
  const plain = new BookReplica(10, true);
  const pw = new EpochWatch(plain);
  plain.onSnapshot(snap(1));
  pw.heard({ type: 'delta', epoch: 'X' }, 10 * EPOCH_SILENT_US);
  assert.equal(pw.leaveSilentEpoch(10 * EPOCH_SILENT_US), false);
});
