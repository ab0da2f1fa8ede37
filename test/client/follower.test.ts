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

// --- epochs: a replica venue's book, numbered by each arbiter its own way ---

const esnap = (epoch: string, seq: number, bid: number): ConsolidatedSnapshot => ({
  v: 1,
  type: 'snapshot',
  venue: 'kraken',
  symbol: 'BTC/USD',
  seq,
  bids: [[bid, 1]],
  asks: [[bid + 1, 1]],
  exchTime: 0,
  pubTime: 0,
  reason: 'periodic',
  epoch,
});
const edelta = (epoch: string, seq: number, bid: number): ConsolidatedDelta => ({
  v: 1,
  type: 'delta',
  venue: 'kraken',
  symbol: 'BTC/USD',
  seq,
  prev: seq - 1,
  first: seq,
  bids: [[bid, 2]],
  asks: [],
  exchTime: 0,
  recvTime: 0,
  pubTime: 0,
  feed: 'a',
  epoch,
});
const ebeat = (epoch: string, seq: number, arbiter: string): ConsolidatedHeartbeat => ({
  v: 1,
  type: 'heartbeat',
  venue: 'kraken',
  symbol: 'BTC/USD',
  seq,
  pubTime: 0,
  arbiter,
  stale: false,
  epoch,
});

test("epochs: another arbiter's numbering is ignored while ours speaks; when ours falls silent, the other's book is taken", () => {
  const f = new BookFollower('kraken', 'BTC/USD', 3000, 0, silentLogger);
  assert.ok(f.onMessage(esnap('A', 1000, 100), 1).update);
  // B numbers far above A: its messages must neither apply nor count as a gap
  assert.deepEqual(f.onMessage(edelta('B', 5_000_000, 100), 2), {});
  assert.deepEqual(f.onMessage(ebeat('B', 5_000_000, 'b'), 3), {});
  assert.ok(f.onMessage(edelta('A', 1001, 100), 4).update);
  assert.equal(f.replica.book.bestBid()![1], 2);
  assert.equal(f.replica.gaps, 0);
  assert.equal(f.wantsSnapshot(1_000_000), false, 'A spoke recently');
  // A falls silent; B keeps speaking
  for (let t = 1_000_000; t <= 4_000_000; t += 1_000_000) f.onMessage(ebeat('B', 5_000_000, 'b'), t);
  assert.equal(f.wantsSnapshot(4_000_000), true, 'asks for the other arbiter book');
  assert.equal(f.epochSwitches, 1);
  const r = f.onMessage(esnap('B', 5_000_001, 100), 4_100_000);
  assert.equal(r.update?.kind, 'snapshot');
  assert.equal(f.replica.epoch, 'B');
  assert.ok(f.onMessage(edelta('B', 5_000_002, 100), 4_200_000).update);
  assert.equal(f.wantsSnapshot(4_300_000), false, 'follows B now, no flapping');
  assert.deepEqual(f.onMessage(edelta('A', 1002, 100), 4_400_000), {}, "A's late message is another epoch");
});

test("the first snapshot published while our request was out: the reply ahead of the stream is not a second resync", () => {
  const f = new BookFollower('binance', 'BTCUSDT', 3000, 0, silentLogger);
  const t = 10 * S;
  f.asking = true; // asked at start, before the arbiter had a book
  assert.equal(f.onMessage(snap(100), t).update?.kind, 'snapshot', 'the arbiter published its first book');
  // the reply was taken after deltas 101..103 were published, and arrives before we read them
  assert.equal(f.onReply(snap(103), t).update, undefined, 'no second snapshot');
  const kinds = [101, 102, 103, 104].map((s) => f.onMessage(delta(s), t).update?.kind);
  assert.deepEqual(kinds, ['delta', 'delta', 'delta', 'delta'], 'the stream carries on, whole');
  assert.equal(f.replica.gaps, 0);
  assert.equal(f.asking, false);
});

test('a reply after a gap is taken (the stream is not whole)', () => {
  const f = new BookFollower('binance', 'BTCUSDT', 3000, 0, silentLogger);
  const t = 10 * S;
  f.onReply(snap(100), t);
  assert.equal(f.onMessage(delta(105), t).ask, true, 'a gap: ask');
  assert.equal(f.onReply(snap(106), t).update?.kind, 'snapshot');
  assert.equal(f.replica.seq, 106);
});
