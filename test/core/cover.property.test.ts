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
import type { BookDelta, Level } from '../../src/core/types.js';
import { decodeConsolidated, encodeConsolidatedDelta, type ConsolidatedMessage } from '../../src/wire/messages.js';
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
  /** Index of the update that restarts the ids (a venue reset, as OKX maintenance), or 0 for none. */
  resetAt: number;
}

/** Exchange time of the reset message, ms: arbiters derive the new numbering from it. */
const RESET_TIME = 1_790_000_000_000;

function makeExchange(rng: Rng, n: number, interleaved: boolean, withReset: boolean): Exchange {
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const size = () => Math.round(rng() * 1000) / 100 + 0.01;
  for (let i = 0; i < 10; i++) {
    bids.set(990 + i, size());
    asks.set(1001 + i, size());
  }
  const sorted = (m: Map<number, number>, desc: boolean): Level[] =>
    [...m.entries()].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0]));
  const ex: Exchange = { ids: [1000], change: [{ bid: true, price: 0, size: 0 }], json: [], levels: [], resetAt: 0 };
  // ids after a reset start again below 10 and stay below 1000: an id names one update
  const record = () => {
    const l = { bids: sorted(bids, true), asks: sorted(asks, false) };
    ex.levels.push(l);
    ex.json.push(JSON.stringify(l));
  };
  record();
  for (let k = 1; k <= n; k++) {
    // interleaved: other books' updates take ids in between (USD-M's one id space for all symbols)
    if (withReset && ex.resetAt === 0 && n >= 2 && k === 1 + Math.floor(n / 2)) {
      ex.resetAt = k;
      ex.ids.push(1 + Math.floor(rng() * 5));
    } else ex.ids.push(ex.ids[k - 1] + 1 + (interleaved ? Math.floor(rng() * 4) : 0));
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
    let b = Math.min(n, a + Math.floor(rng() * 4));
    const r = ex.resetAt;
    if (r > 0 && a < r && b >= r) b = r - 1; // a reset message carries the restarting update alone
    if (a === r) b = a;
    const bm = new Map<number, number>();
    const am = new Map<number, number>();
    for (let k = a; k <= b; k++) (ex.change[k].bid ? bm : am).set(ex.change[k].price, ex.change[k].size);
    const ev: BookDelta = {
      type: 'delta',
      venue: VENUE,
      symbol: SYMBOL,
      first: ex.ids[a],
      last: ex.ids[b],
      exchTime: a === r ? RESET_TIME : 0,
      recvTime: 0,
      collector,
      bids: [...bm.entries()],
      asks: [...am.entries()],
    };
    if (withPrev || a === r) ev.prev = ex.ids[a - 1];
    if (a === r) ev.reset = true;
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

/** One exchange (from `p.seed`) and its feeds' groupings, losses and interleaving (from `feedSeed`). */
function scenario(p: Params, feedSeed = p.seed): Scenario {
  const { nFeeds, n } = p;
  const ex = makeExchange(mulberry32(p.seed), n, p.interleaved, p.reset);
  const rng = mulberry32(feedSeed ^ 0x2545f491);
  const interleaved = p.interleaved;
  const feeds = Array.from({ length: nFeeds }, (_, f) => groupings(rng, ex, `f${f}`, interleaved || rng() < 0.5));
  const loss = feeds.map(() => rng() * 0.5);
  // every feed gets the reset message (a feed that misses it is deaf to the new ids until it reconnects)
  const kept = feeds.map((msgs, f) => msgs.map((m) => m.from === ex.resetAt || rng() >= loss[f]));
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

/**
 * Run one arbiter over the deliveries, through the real consolidated encoder and decoder. A snapshot request
 * is answered at once: with the book at ids[0], or after a venue reset with the book at the reset (sent on
 * its own connection, as a venue does on resubscribe).
 */
function arbitrate(s: Scenario, out: ConsolidatedMessage[] = []): BookArbiter {
  const { ex } = s;
  const index = new Map(ex.ids.map((id, k) => [id, k]));
  let chain = NaN;
  const sink: ArbiterSink = {
    publish(ev, prev) {
      assert.equal(prev, chain, 'prev chains to the previous publish');
      const k = index.get(ev.last);
      assert.ok(k !== undefined, 'published seq is an update id of this book');
      assert.equal(JSON.stringify(core.book.snapshot()), ex.json[k], `book equals truth at ${ev.last}`);
      const d = decodeConsolidated(encodeConsolidatedDelta(ev, prev, 0, core.offset));
      assert.ok(d.seq > chain, 'consolidated seq only goes up');
      chain = d.seq;
      out.push(d);
    },
    requestSnapshot() {
      pendingSnapshot = true;
    },
    reset(_r, snap) {
      const seq = snap.seq + core.offset;
      assert.ok(!(seq < chain), 'consolidated seq never goes down');
      chain = seq;
      const { bids, asks } = core.book.snapshot();
      out.push({ v: 1, type: 'snapshot', venue: VENUE, symbol: SYMBOL, seq, bids, asks, exchTime: 0, pubTime: 0, reason: 'resync', ...(core.offset === 0 ? {} : { offset: core.offset }) }); // prettier-ignore
    },
  };
  let pendingSnapshot = false;
  const core = new BookArbiter(VENUE, SYMBOL, sink);
  const answer = () => {
    const k = core.counters.venueResets > 0 ? ex.resetAt : 0;
    core.onSnapshot({ type: 'snapshot', venue: VENUE, symbol: SYMBOL, seq: ex.ids[k], recvTime: 0, collector: k === 0 ? 'f0' : 'resubscribed', ...ex.levels[k] }, 0); // prettier-ignore
  };
  core.start(0);
  for (const ev of s.order) {
    if (pendingSnapshot) {
      pendingSnapshot = false;
      answer();
    }
    core.onDelta(ev, 0); // time stands still: no gap may time out
  }
  if (pendingSnapshot) answer();
  return core;
}

interface Params {
  seed: number;
  nFeeds: number;
  n: number;
  interleaved: boolean;
  reset: boolean;
}

const params = fc.record({
  seed: fc.integer(),
  nFeeds: fc.integer({ min: 1, max: 4 }),
  n: fc.integer({ min: 1, max: 80 }),
  interleaved: fc.boolean(),
  reset: fc.constant(false),
});
const withReset = params.map((p) => ({ ...p, reset: true }));
const fcSeed = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };

test('regrouped copies across feeds: the arbiter never resyncs and ends on the exchange book', () => {
  let regroupedRuns = 0;
  fc.assert(
    fc.property(params, (p) => {
      const s = scenario(p);
      const core = arbitrate(s);
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

function hotHot(
  p: Params,
  feedSeed: number,
  mixSeed: number,
): { replica: BookReplica; ex: Exchange; cores: BookArbiter[] } {
  // two arbiters: one exchange, each with its own feeds' groupings, losses and interleaving
  const a = scenario(p);
  const b = scenario(p, feedSeed);
  assert.deepEqual(a.ex.ids, b.ex.ids);
  const outA: ConsolidatedMessage[] = [];
  const outB: ConsolidatedMessage[] = [];
  const cores = [arbitrate(a, outA), arbitrate(b, outB)];
  const rng = mulberry32(mixSeed);
  const r = new BookReplica();
  const ex = a.ex;
  r.onSnapshot({ v: 1, type: 'snapshot', venue: VENUE, symbol: SYMBOL, seq: ex.ids[0], ...ex.levels[0], exchTime: 0, pubTime: 0, reason: 'reply' }); // prettier-ignore
  const index = new Map(ex.ids.map((id, k) => [id, k]));
  let i = 0;
  let j = 0;
  while (i < outA.length || j < outB.length) {
    const m = j >= outB.length || (i < outA.length && rng() < 0.5) ? outA[i++] : outB[j++];
    const v = r.onMessage(m);
    const what = m.type === 'delta' ? `(${m.first - 1}, ${m.seq}] from ${m.feed}` : `snapshot at ${m.seq}`;
    assert.notEqual(v, 'gap', `replica at ${r.seq} got ${what}`);
    if (v === 'applied' || v === 'reset') {
      const k = index.get(r.seq - r.offset);
      assert.ok(k !== undefined);
      assert.equal(JSON.stringify(r.book.snapshot()), ex.json[k], `replica equals truth after ${what}`);
    }
  }
  return { replica: r, ex, cores };
}

test('hot-hot: a replica merging two arbiters that saw different groupings never has a gap', () => {
  fc.assert(
    fc.property(params, fc.integer(), fc.integer(), (p, feedSeed, mixSeed) => {
      const { replica: r, ex } = hotHot(p, feedSeed, mixSeed);
      const last = ex.ids.length - 1;
      assert.equal(r.seq, ex.ids[last]);
      assert.equal(JSON.stringify(r.book.snapshot()), ex.json[last]);
    }),
    { numRuns: 300, includeErrorInReport: true, ...fcSeed },
  );
});

test('venue reset (ids restart, e.g. OKX maintenance): the arbiter ends on the truth, the consolidated seq only goes up', () => {
  let inPlace = 0;
  fc.assert(
    fc.property(withReset, (p) => {
      const s = scenario(p);
      const core = arbitrate(s);
      const last = s.ex.ids.length - 1;
      assert.equal(core.state, 'synced');
      assert.equal(core.seq, s.ex.ids[last]);
      assert.equal(JSON.stringify(core.book.snapshot()), s.ex.json[last], 'final book equals truth');
      if (s.ex.resetAt > 0) {
        assert.equal(core.counters.venueResets, 1, 'one reset, however many feeds carry it');
        assert.equal(core.offset, RESET_TIME * 1000, 'the new numbering comes from the reset message');
        if (core.counters.resyncs === 0) inPlace++;
      }
    }),
    { numRuns: 300, includeErrorInReport: true, ...fcSeed },
  );
  assert.ok(inPlace > 30, `runs where the reset applied in place: ${inPlace}`);
});

test('venue reset, hot-hot: two arbiters number the new ids alike; a replica merging them never gaps and equals truth', () => {
  fc.assert(
    fc.property(withReset, fc.integer(), fc.integer(), (p, feedSeed, mixSeed) => {
      const { replica: r, ex, cores } = hotHot(p, feedSeed, mixSeed);
      const last = ex.ids.length - 1;
      assert.equal(cores[0].offset, cores[1].offset);
      assert.equal(r.seq - r.offset, ex.ids[last]);
      assert.equal(JSON.stringify(r.book.snapshot()), ex.json[last]);
    }),
    { numRuns: 300, includeErrorInReport: true, ...fcSeed },
  );
});
