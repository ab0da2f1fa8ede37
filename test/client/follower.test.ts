/** A client's view of one book: staleness as the strategy sees it (BookFollower, no I/O). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BookFollower } from '../../src/client/follower.js';
import type { ConsolidatedDelta, ConsolidatedHeartbeat, ConsolidatedSnapshot } from '../../src/core/consolidated.js';
import { silentLogger } from '../../src/log.js';

const S = 1_000_000; // µs
const snap = (seq: number): ConsolidatedSnapshot => ({
  v: 1,
  type: 'snapshot',
  venue: 'binance',
  symbol: 'BTCUSDT',
  seq,
  bids: [[100, 1]],
  asks: [[101, 1]],
  exchTime: 0,
  pubTime: 0,
  reason: 'reply',
});
const delta = (seq: number): ConsolidatedDelta =>
  ({
    v: 1,
    type: 'delta',
    venue: 'binance',
    symbol: 'BTCUSDT',
    first: seq,
    seq,
    prev: seq - 1,
    bids: [[100, 2]],
    asks: [],
    exchTime: 0,
    pubTime: 0,
    recvTime: 0,
    feed: 'a',
  }) as ConsolidatedDelta;
const hb = (arbiter: string, seq: number, stale: boolean, since = 0): ConsolidatedHeartbeat => ({
  v: 1,
  type: 'heartbeat',
  venue: 'binance',
  symbol: 'BTCUSDT',
  seq,
  pubTime: 0,
  arbiter,
  stale,
  ...(stale ? { staleSince: since } : {}),
});

test("hot-hot: one arbiter cut off says stale while the other's deltas flow: no stale notice", () => {
  const f = new BookFollower('binance', 'BTCUSDT', 3000, 0, silentLogger);
  let t = 10 * S;
  assert.equal(f.onReply(snap(100), t).update?.kind, 'snapshot');
  const kinds: string[] = [];
  for (let seq = 101; seq < 300; seq++) {
    t += 5000; // a delta every 5 ms from the live arbiter
    const u = f.onMessage(delta(seq), t).update;
    if (u) kinds.push(u.kind);
    // the partitioned arbiter keeps saying stale (its heartbeats come every 250 ms here)
    if (seq % 50 === 0) {
      const h = f.onMessage(hb('arb-2', seq - 1, true, t - S), t + 1).update;
      if (h) kinds.push(h.kind);
    }
    const tick = f.tick(t + 2);
    if (tick) kinds.push(tick.kind);
  }
  assert.deepEqual([...new Set(kinds)], ['delta'], 'only deltas, never stale');
  assert.equal(f.stale, false);
});

test('every arbiter heard from says stale and no data comes: stale, then fresh on data', () => {
  const f = new BookFollower('binance', 'BTCUSDT', 3000, 0, silentLogger);
  let t = 10 * S;
  f.onReply(snap(100), t);
  f.onMessage(delta(101), t);
  t += 2 * S; // the feeds died; the arbiter says so
  const u = f.onMessage(hb('arb-1', 101, true, t - S), t).update;
  assert.equal(u?.kind, 'stale');
  assert.equal(u?.staleSince, t - S);
  t += S;
  assert.equal(f.onMessage(delta(102), t).update?.stale, false, 'data again: fresh');
});

test('silence on the topic: stale after staleAfterMs', () => {
  const f = new BookFollower('binance', 'BTCUSDT', 3000, 0, silentLogger);
  f.onReply(snap(100), 10 * S);
  f.onMessage(delta(101), 10 * S);
  assert.equal(f.tick(12 * S), undefined);
  assert.equal(f.tick(13.1 * S)?.kind, 'stale');
});
