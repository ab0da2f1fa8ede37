/**
 * Property tests for interval cover (core/sequence.ts) through the arbiter core and the replica: one
 * exchange's updates, grouped into messages differently by every connection (as real Binance USD-M
 * connections do), with update ids either consecutive (Binance spot, OKX, Bybit) or interleaved with other
 * books' ids (Binance USD-M: only `pu` shows continuity). Feeds lose and repeat messages, but every update
 * reaches some feed; the feeds interleave arbitrarily. Then: the arbiter never resyncs, every publish
 * leaves its book equal to the exchange's at that id, and the final book is the exchange's. Two arbiters
 * fed different interleavings, merged by one replica (hot-hot), never show the replica a gap.
 * Set FC_SEED to replay a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BookArbiter, type ArbiterSink } from '../../src/core/arbiter.js';
import { BookReplica } from '../../src/core/replica.js';
import type { BookDelta, BookSnapshot, Level } from '../../src/core/types.js';
import type { ConsolidatedDelta } from '../../src/wire/messages.js';
import { coverStart } from '../../src/core/sequence.js';
import { mulberry32 } from '../../src/sim/prng.js';

type Rng = () => number;
const VENUE = 'v';
const SYMBOL = 'S';

interface Exchange {
  /** Update ids of this book, ascending; ids[0] is the snapshot's id (no update). */
  ids: number[];
  /** The single-level change of update k (k >= 1). */
  change: { bid: boolean; price: number; size: number }[];
  /** Book after update k, as JSON and as levels. */
  json: string[];
  levels: { bids: Level[]; asks: Level[] }[];
}

function makeExchange(rng: Rng, n: number, interleaved: boolean): Exchange {
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const size = () => Math.round(rng() * 1000) / 100 + 0.01;
  for (let i = 0; i < 10; i++) {
    bids.set(990 + i, size());
    asks.set(1001 + i, size());
  }
  const sorted = (m: Map<number, number>, desc: boolean): Level[] =>
    [...m.entries()].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0]));
  const ex: Exchange = { ids: [1000], change: [{ bid: true, price: 0, size: 0 }], json: [], levels: [] };
  const record = () => {
    const l = { bids: sorted(bids, true), asks: sorted(asks, false) };
    ex.levels.push(l);
    ex.json.push(JSON.stringify(l));
  };
  record();
  for (let k = 1; k <= n; k++) {
    // interleaved: other books' updates take ids in between (USD-M's one id space for all symbols)
    ex.ids.push(ex.ids[k - 1] + 1 + (interleaved ? Math.floor(rng() * 4) : 0));
    const bid = rng() < 0.5;
    const price = (bid ? 990 : 1001) + Math.floor(rng() * 10); // never crossed
    const s = rng() < 0.3 ? 0 : size();
    (bid ? bids : asks)[s === 0 ? 'delete' : 'set'](price, s as never);
    ex.change.push({ bid, price, size: s });
    record();
  }
  return ex;
}

/** One connection's messages: updates 1..n cut into runs of 1-4, each an event covering (ids[a-1], ids[b]]. */
function groupings(
  rng: Rng,
  ex: Exchange,
  collector: string,
  withPrev: boolean,
): { ev: BookDelta; from: number; to: number }[] {
  const out: { ev: BookDelta; from: number; to: number }[] = [];
  const n = ex.ids.length - 1;
  for (let a = 1; a <= n;) {
    const b = Math.min(n, a + Math.floor(rng() * 4));
    const bm = new Map<number, number>();
    const am = new Map<number, number>();
    for (let k = a; k <= b; k++) (ex.change[k].bid ? bm : am).set(ex.change[k].price, ex.change[k].size);
    const ev: BookDelta = {
      type: 'delta',
      venue: VENUE,
      symbol: SYMBOL,
      first: ex.ids[a],
      last: ex.ids[b],
      exchTime: 0,
      recvTime: 0,
      collector,
      bids: [...bm.entries()],
      asks: [...am.entries()],
    };
    if (withPrev) ev.prev = ex.ids[a - 1];
    out.push({ ev, from: a, to: b });
    a = b + 1;
  }
  return out;
}

interface Scenario {
  ex: Exchange;
  /** Deliveries in arrival order. */
  order: BookDelta[];
}

function scenario(seed: number, nFeeds: number, n: number, interleaved: boolean): Scenario {
  const rng = mulberry32(seed);
  const ex = makeExchange(rng, n, interleaved);
  const feeds = Array.from({ length: nFeeds }, (_, f) => groupings(rng, ex, `f${f}`, interleaved || rng() < 0.5));
  const loss = feeds.map(() => rng() * 0.5);
  const kept = feeds.map((msgs, f) => msgs.map(() => rng() >= loss[f]));
  // every update reaches some feed: restore a message covering each update no kept message covers
  for (let k = 1; k <= n; k++) {
    const covered = feeds.some((msgs, f) => msgs.some((m, i) => kept[f][i] && m.from <= k && k <= m.to));
    if (covered) continue;
    const f = Math.floor(rng() * nFeeds);
    kept[f][feeds[f].findIndex((m) => m.from <= k && k <= m.to)] = true;
  }
  const queues = feeds.map((msgs, f) =>
    msgs.flatMap((m, i) => (!kept[f][i] ? [] : rng() < 0.05 ? [m.ev, m.ev] : [m.ev])),
  );
  const order: BookDelta[] = [];
  const ptr = queues.map(() => 0);
  const weight = queues.map(() => 1 + Math.floor(rng() * 5));
  for (;;) {
    const ready = queues.map((_, f) => f).filter((f) => ptr[f] < queues[f].length);
    if (ready.length === 0) break;
    let r = rng() * ready.reduce((s, f) => s + weight[f], 0);
    let pick = ready[ready.length - 1];
    for (const f of ready) if ((r -= weight[f]) < 0) { pick = f; break; } // prettier-ignore
    order.push(queues[pick][ptr[pick]++]);
  }
  return { ex, order };
}

/** Run one arbiter over the deliveries; snapshot requests are answered at once with the book at ids[0]. */
function arbitrate(s: Scenario, onPublish: (d: ConsolidatedDelta) => void): BookArbiter {
  const { ex } = s;
  const index = new Map(ex.ids.map((id, k) => [id, k]));
  let chain = NaN;
  const sink: ArbiterSink = {
    publish(ev, prev) {
      assert.equal(prev, chain, 'prev chains to the previous publish');
      const k = index.get(ev.last);
      assert.ok(k !== undefined, 'published seq is an update id of this book');
      assert.equal(JSON.stringify(core.book.snapshot()), ex.json[k], `book equals truth at ${ev.last}`);
      chain = ev.last;
      onPublish({
        v: 1, type: 'delta', venue: VENUE, symbol: SYMBOL, seq: ev.last, prev, first: coverStart(ev) + 1,
        bids: ev.bids, asks: ev.asks, exchTime: 0, recvTime: 0, pubTime: 0, feed: ev.collector,
      }); // prettier-ignore
    },
    requestSnapshot() {
      pendingSnapshot = true;
    },
    reset(_r, snap) {
      chain = snap.seq;
    },
  };
  let pendingSnapshot = false;
  const core = new BookArbiter(VENUE, SYMBOL, sink);
  const snap: BookSnapshot = {
    type: 'snapshot', venue: VENUE, symbol: SYMBOL, seq: ex.ids[0], recvTime: 0, collector: 'f0',
    bids: ex.levels[0].bids, asks: ex.levels[0].asks,
  }; // prettier-ignore
  core.start(0);
  for (const ev of s.order) {
    if (pendingSnapshot) {
      pendingSnapshot = false;
      core.onSnapshot(snap, 0);
    }
    core.onDelta(ev, 0); // time stands still: no gap may time out
  }
  if (pendingSnapshot) core.onSnapshot(snap, 0);
  return core;
}

const params = fc.record({
  seed: fc.integer(),
  nFeeds: fc.integer({ min: 1, max: 4 }),
  n: fc.integer({ min: 1, max: 80 }),
  interleaved: fc.boolean(),
});
const fcSeed = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };

test('regrouped copies across feeds: the arbiter never resyncs and ends on the exchange book', () => {
  let regroupedRuns = 0;
  fc.assert(
    fc.property(params, (p) => {
      const s = scenario(p.seed, p.nFeeds, p.n, p.interleaved);
      const core = arbitrate(s, () => {});
      const last = s.ex.ids.length - 1;
      assert.equal(core.counters.resyncs, 0, 'no resync: every update reached a feed');
      assert.equal(core.state, 'synced');
      assert.equal(core.seq, s.ex.ids[last]);
      assert.equal(JSON.stringify(core.book.snapshot()), s.ex.json[last], 'final book equals truth');
      const lasts = new Set(s.order.map((e) => `${coverStart(e)}-${e.last}`));
      const byLast = new Set(s.order.map((e) => e.last));
      if (lasts.size > byLast.size) regroupedRuns++;
    }),
    { numRuns: 400, includeErrorInReport: true, ...fcSeed },
  );
  assert.ok(regroupedRuns > 50, `runs where two feeds sent different covers ending at one id: ${regroupedRuns}`);
});

test('hot-hot: a replica merging two arbiters that saw different groupings never has a gap', () => {
  fc.assert(
    fc.property(params, fc.integer(), (p, mixSeed) => {
      const a = scenario(p.seed, p.nFeeds, p.n, p.interleaved);
      // the second arbiter: same exchange, its own feeds' groupings and interleaving
      const b = scenario(p.seed, p.nFeeds, p.n, p.interleaved);
      const b2 = scenario(p.seed ^ 0x5bd1e995, p.nFeeds, p.n, p.interleaved);
      assert.deepEqual(a.ex.ids, b.ex.ids);
      const outA: ConsolidatedDelta[] = [];
      const outB: ConsolidatedDelta[] = [];
      arbitrate(a, (d) => outA.push(d));
      // b2's exchange differs (other seed): use its groupings only if its ids match, else b's
      arbitrate(b2.ex.json[0] === a.ex.json[0] && b2.ex.ids.join() === a.ex.ids.join() ? b2 : b, (d) => outB.push(d));
      const rng = mulberry32(mixSeed);
      const r = new BookReplica();
      r.onSnapshot({
        v: 1,
        type: 'snapshot',
        venue: VENUE,
        symbol: SYMBOL,
        seq: a.ex.ids[0],
        ...a.ex.levels[0],
        exchTime: 0,
        pubTime: 0,
        reason: 'reply',
      });
      let i = 0;
      let j = 0;
      while (i < outA.length || j < outB.length) {
        const d = j >= outB.length || (i < outA.length && rng() < 0.5) ? outA[i++] : outB[j++];
        assert.notEqual(r.onDelta(d), 'gap', `replica at ${r.seq} got (${d.first - 1}, ${d.seq}] from ${d.feed}`);
      }
      const last = a.ex.ids.length - 1;
      assert.equal(r.seq, a.ex.ids[last]);
      assert.equal(JSON.stringify(r.book.snapshot()), a.ex.json[last]);
    }),
    { numRuns: 300, includeErrorInReport: true, ...fcSeed },
  );
});
