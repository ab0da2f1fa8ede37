/**
 * The replica merge's 'confirmed' publication (src/core/replicaArbiter.ts, PublishPolicy): a state is
 * published once a second feed's copy reached it, so a copy corrupted on the wire that arrives FIRST is never
 * published; 'first' publishes it (the trade-off: lowest latency). Every published message is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { OrderBook, type StringBookLevels } from '../../src/core/book.js';
import type { ArbiterSink } from '../../src/core/arbiter.js';
import type { BookIntegrity } from '../../src/core/integrity.js';
import { ReplicaArbiter, type PublishPolicy } from '../../src/core/replicaArbiter.js';
import type { BookDelta, BookSnapshot, Level } from '../../src/core/types.js';
import { replicaRuns, type ReplicaRun } from './replica-scenarios.js';

interface Published {
  deltas: BookDelta[];
  resets: BookSnapshot[];
  requests: { reason: string; collector?: string }[];
}

function sinkOf(p: Published): ArbiterSink {
  return {
    publish: (ev) => p.deltas.push(ev),
    reset: (_r, snap) => p.resets.push(snap),
    requestSnapshot: (reason, _a, collector) => p.requests.push({ reason, collector }),
  };
}

const strings = (levels: Level[]) => levels.map((l) => [String(l[0]), String(l[1])] as [string, string]);
const key = (b: OrderBook) => JSON.stringify(b.snapshot());

/** The venue's book (no depth limit unless given); each update returns its message and checksum over `sumDepth`. */
class Venue {
  readonly book = new OrderBook({ keepStrings: true });
  states: string[] = [];
  constructor(
    private readonly depth = Infinity,
    private readonly sumDepth = 0,
  ) {}
  apply(bids: Level[], asks: Level[]): { bids: Level[]; asks: Level[]; checksum?: number } {
    this.book.applyStrings(strings(bids), strings(asks));
    if (this.depth !== Infinity) this.book.dropBeyond(this.depth);
    this.states.push(key(this.book));
    return this.sumDepth === 0 ? { bids, asks } : { bids, asks, checksum: sum(this.book.topStrings(this.sumDepth)) };
  }
}

const sum = (top: StringBookLevels) => crc32(JSON.stringify([top.bids, top.asks])) >>> 0;

function delta(collector: string, n: number, m: { bids: Level[]; asks: Level[]; checksum?: number }, t = 0): BookDelta {
  return {
    type: 'delta',
    venue: 'coinbase',
    symbol: 'BTC-USD',
    first: n,
    last: n,
    prev: n - 1,
    exchTime: 0,
    recvTime: t,
    collector,
    bids: m.bids,
    asks: m.asks,
    ...(m.checksum === undefined
      ? {}
      : { integrity: { bids: strings(m.bids), asks: strings(m.asks), checksum: m.checksum } }),
  };
}

function snapshot(collector: string, n: number, b: OrderBook, checksum?: number): BookSnapshot {
  const { bids, asks } = b.snapshot();
  return {
    type: 'snapshot',
    venue: 'coinbase',
    symbol: 'BTC-USD',
    seq: n,
    recvTime: 0,
    collector,
    bids,
    asks,
    ...(checksum === undefined ? {} : { integrity: { ...b.topStrings(Infinity), checksum } }),
  };
}

/** What a reader of the consolidated stream holds after each message. */
function follow(p: Published): string[] {
  const b = new OrderBook();
  const seen: string[] = [];
  b.applySnapshot(p.resets[0].bids, p.resets[0].asks);
  seen.push(key(b));
  let seq = p.resets[0].seq;
  for (const d of p.deltas) {
    assert.equal(d.prev, seq, 'the consolidated stream chains');
    seq = d.last;
    b.apply(d.bids, d.asks);
    seen.push(key(b));
  }
  return seen;
}

/** Whether a published message carries the level [price, size] on its bid side. */
const carries = (d: BookDelta, [price, size]: Level) => d.bids.some((l) => l[0] === price && l[1] === size);

const initial = () => {
  const v = new Venue();
  v.apply(
    [
      [100, 1],
      [90, 1],
    ],
    [[101, 1]],
  );
  return v;
};

/**
 * Two or three feeds, no checksum (Coinbase, Gemini v2): feed a's copy of the first update is corrupted on
 * the wire ([90, 2] arrives as [90, 3]) and a delivers every message first. The venue goes on with updates
 * of other levels, so a's book keeps the corrupted level until it is resynced.
 */
function corruptFirst(publish: PublishPolicy, feeds: string[]) {
  const p: Published = { deltas: [], resets: [], requests: [] };
  const core = new ReplicaArbiter('coinbase', 'BTC-USD', sinkOf(p), { publish, divergeMs: 100 });
  const v = initial();
  const n = new Map(feeds.map((c) => [c, 1]));
  for (const c of feeds) core.onSnapshot(snapshot(c, 1, v.book), 0);
  const send = (c: string, m: { bids: Level[]; asks: Level[] }, now: number) => {
    n.set(c, n.get(c)! + 1);
    core.onDelta(delta(c, n.get(c)!, m, now * 1000), now);
  };
  const m1 = v.apply([[90, 2]], []);
  send('a', { ...m1, bids: [[90, 3]] }, 1); // corrupted, first
  for (const c of feeds.slice(1)) send(c, m1, 2);
  let now = 3;
  for (let i = 0; i < 8; i++) {
    const m = v.apply([[100, 2 + i]], []);
    for (const c of feeds) send(c, m, now++);
    core.onTimer(now);
    now += 20;
  }
  // resyncs are answered with the venue's book as it is, while the venue goes on
  for (let i = 0; i < 8; i++) {
    for (const r of p.requests.splice(0)) {
      n.set(r.collector!, n.get(r.collector!)! + 1);
      core.onSnapshot(snapshot(r.collector!, n.get(r.collector!)!, v.book), now++);
    }
    const m = v.apply([], [[101, 2 + i]]);
    for (const c of feeds) send(c, m, now++);
    now += 60;
    core.onTimer(now);
  }
  return { p, core, v };
}

test("'first': the corrupted copy that arrives first is published (the trade-off: lowest latency)", () => {
  const { p, v } = corruptFirst('first', ['a', 'b']);
  assert.ok(
    p.deltas.some((d) => carries(d, [90, 3])),
    'the corrupted level went out',
  );
  assert.equal(follow(p).at(-1), v.states.at(-1), 'caught later: the book ends right');
});

test("'confirmed', two feeds: the corrupted first copy is never published; both copies resynced, the book ends right", () => {
  const { p, core, v } = corruptFirst('confirmed', ['a', 'b']);
  for (const d of p.deltas) assert.ok(!carries(d, [90, 3]), `published the corrupted level: ${JSON.stringify(d)}`);
  for (const st of follow(p).slice(1)) assert.ok(v.states.includes(st), `a state the venue never had: ${st}`);
  assert.equal(follow(p).at(-1), v.states.at(-1));
  const stats = core.feedStats();
  // two copies disagree and nothing tells which is right: both are resynced, the venue's books decide
  assert.equal(stats.get('a')!.disagreements, 1);
  assert.equal(stats.get('b')!.disagreements, 1);
  assert.equal(core.state, 'synced');
});

test("'confirmed', three feeds: b and c confirm each state, a (corrupted, first) alone is resynced", () => {
  const { p, core, v } = corruptFirst('confirmed', ['a', 'b', 'c']);
  for (const d of p.deltas) assert.ok(!carries(d, [90, 3]), `published the corrupted level: ${JSON.stringify(d)}`);
  for (const st of follow(p).slice(1)) assert.ok(v.states.includes(st), `a state the venue never had: ${st}`);
  assert.equal(follow(p).at(-1), v.states.at(-1));
  const stats = core.feedStats();
  assert.equal(stats.get('a')!.disagreements, 1);
  assert.equal(stats.get('b')!.disagreements, 0);
  assert.equal(stats.get('c')!.disagreements, 0);
  assert.equal(core.counters.publishedAlone, 0);
  assert.ok(core.counters.confirmed >= 9, `confirmed ${core.counters.confirmed}`);
  assert.ok(core.confirmation().samples >= 9);
});

test("'confirmed': a state waits for the second copy; its wait is measured; the later copy is the confirmation", () => {
  const p: Published = { deltas: [], resets: [], requests: [] };
  const core = new ReplicaArbiter('coinbase', 'BTC-USD', sinkOf(p), { publish: 'confirmed' });
  const v = initial();
  for (const c of ['a', 'b']) core.onSnapshot(snapshot(c, 1, v.book), 0);
  const m1 = v.apply([[90, 2]], []);
  const m2 = v.apply([[99, 1]], []);
  core.onDelta(delta('a', 2, m1, 10_000), 10);
  core.onDelta(delta('a', 3, m2, 11_000), 11);
  assert.equal(p.deltas.length, 0, 'nothing before a second copy');
  core.onDelta(delta('b', 2, m1, 14_000), 14);
  assert.equal(p.deltas.length, 1);
  assert.deepEqual(p.deltas[0].bids, [[90, 2]]);
  assert.equal(p.deltas[0].collector, 'a', "the first copy's message, as it came");
  core.onDelta(delta('b', 3, m2, 17_000), 17);
  assert.equal(p.deltas.length, 2);
  assert.deepEqual(core.confirmation(), { p50Us: 4000, p99Us: 6000, samples: 2 });
  assert.equal(core.feedStats().get('b')!.lagP99, 6000);
  assert.equal(core.counters.confirmed, 2);
  assert.equal(follow(p).at(-1), v.states.at(-1));
});

test("'confirmed': copies that group messages differently meet at a later state: published as one delta", () => {
  const p: Published = { deltas: [], resets: [], requests: [] };
  const core = new ReplicaArbiter('coinbase', 'BTC-USD', sinkOf(p), { publish: 'confirmed' });
  const v = initial();
  for (const c of ['a', 'b']) core.onSnapshot(snapshot(c, 1, v.book), 0);
  const m1 = v.apply([[90, 2]], []);
  const m2 = v.apply([[99, 1]], []);
  core.onDelta(delta('a', 2, m1), 1);
  core.onDelta(delta('a', 3, m2), 2);
  core.onDelta(delta('b', 2, { bids: [...m1.bids, ...m2.bids], asks: [] }), 3); // both in one message
  assert.equal(p.deltas.length, 1);
  assert.equal(follow(p).at(-1), v.states.at(-1));
  assert.equal(p.requests.length, 0);
});

test("'confirmed': one feed alone publishes at once (counted); a waiting step goes out when the other feed fails", () => {
  const p: Published = { deltas: [], resets: [], requests: [] };
  const core = new ReplicaArbiter('coinbase', 'BTC-USD', sinkOf(p), { publish: 'confirmed' });
  const v = initial();
  core.onSnapshot(snapshot('a', 1, v.book), 0);
  core.onDelta(delta('a', 2, v.apply([[90, 2]], [])), 1);
  assert.equal(p.deltas.length, 1, 'nothing to compare with: at once');
  assert.equal(core.counters.publishedAlone, 1);
  core.onSnapshot(snapshot('b', 1, v.book), 2);
  core.onDelta(delta('a', 3, v.apply([[99, 1]], [])), 3);
  assert.equal(p.deltas.length, 1, 'b has a book: a waits for its copy');
  core.onDelta(delta('b', 3, v.apply([[98, 1]], [])), 4); // b skipped 2: a gap, resynced
  assert.deepEqual(p.requests, [{ reason: 'gap', collector: 'b' }]);
  assert.equal(p.deltas.length, 2, 'a alone now: its step goes out');
  assert.equal(core.counters.publishedAlone, 2);
  assert.equal(follow(p).at(-1), v.states.at(-2));
});

test("'confirmed': the other feeds silent for divergeMs after a step: it is published alone", () => {
  const p: Published = { deltas: [], resets: [], requests: [] };
  const core = new ReplicaArbiter('coinbase', 'BTC-USD', sinkOf(p), { publish: 'confirmed', divergeMs: 100 });
  const v = initial();
  for (const c of ['a', 'b']) core.onSnapshot(snapshot(c, 1, v.book), 0);
  core.onDelta(delta('a', 2, v.apply([[90, 2]], [])), 10);
  core.onTimer(50);
  assert.equal(p.deltas.length, 0);
  core.onTimer(120);
  assert.equal(p.deltas.length, 1);
  assert.equal(core.counters.publishedAlone, 1);
  assert.equal(p.requests.length, 0, 'silence is no disagreement');
  assert.equal(follow(p).at(-1), v.states.at(-1));
});

test("'confirmed', a checksum over the top 2 levels: a change within them is vouched for, one below waits", () => {
  const p: Published = { deltas: [], resets: [], requests: [] };
  const integrity: BookIntegrity = { depth: 2, read: () => undefined, verify: (top, c) => sum(top) === c };
  const core = new ReplicaArbiter('coinbase', 'BTC-USD', sinkOf(p), { publish: 'confirmed', integrity, depth: 5 });
  const v = new Venue(5, 2);
  const m0 = v.apply(
    [
      [100, 1],
      [99, 1],
      [98, 1],
      [97, 1],
    ],
    [
      [101, 1],
      [102, 1],
    ],
  );
  for (const c of ['a', 'b']) core.onSnapshot(snapshot(c, 1, v.book, m0.checksum), 0);
  core.onDelta(delta('a', 2, v.apply([[99, 2]], [[101, 3]])), 1); // ranks 2 and 1: covered
  assert.equal(p.deltas.length, 1, 'vouched: at once');
  assert.equal(core.counters.vouched, 1);
  core.onDelta(delta('a', 3, v.apply([[99.5, 1]], [])), 2); // a new second level (99 goes to rank 3): covered
  assert.equal(p.deltas.length, 2);
  const deep = v.apply([[97, 5]], []); // rank 5: past the checksum
  core.onDelta(delta('a', 4, { ...deep, bids: [[97, 6]] }), 3); // corrupted: the checksum cannot tell
  const del = v.apply([[98, 0]], []); // a delete below the covered levels: not vouched either
  core.onDelta(delta('a', 5, del), 4);
  assert.equal(p.deltas.length, 2, 'past the checksum: waits for a second copy');
  // b's copies: the two vouched messages (later copies), then the true deep level
  core.onDelta(delta('b', 2, { bids: [[99, 2]], asks: [[101, 3]] }), 5);
  core.onDelta(delta('b', 3, { bids: [[99.5, 1]], asks: [] }), 6);
  core.onDelta(delta('b', 4, deep), 7);
  core.onDelta(delta('b', 5, del), 8);
  for (const d of p.deltas) assert.ok(!carries(d, [97, 6]), 'never the corrupted deep level');
  assert.equal(p.deltas.length, 2);
  core.onTimer(2000); // a and b disagree past divergeMs: both resynced
  assert.deepEqual(p.requests.map((r) => r.collector).sort(), ['a', 'b']);
  for (const c of ['a', 'b']) core.onSnapshot(snapshot(c, 9, v.book, sum(v.book.topStrings(2))), 2001);
  for (const d of p.deltas) assert.ok(!carries(d, [97, 6]), 'never the corrupted deep level');
  assert.equal(follow(p).at(-1), v.states.at(-1));
});

type Scenario = ReplicaRun;

/**
 * One run: feeds without a checksum deliver the venue's messages in any interleaving, with loss on the bus
 * (a gap: resync), loss before the collector and corruption (a silently wrong book: only copies tell).
 * The stream always chains and ends equal to the venue; every published state is one the venue had when
 * nothing was lost silently, or when two feeds always had books and nothing was published on one's word.
 */
function confirmedScenario({ ops, feeds, order, faults }: Scenario): void {
  const p: Published = { deltas: [], resets: [], requests: [] };
  // Feeds' lag is arbitrary here (any interleaving) while a real feed lags far less than divergeMs: as in
  // replicaArbiter.test.ts's property, judgements by time are left out (disputes are tested above); copies
  // apart meet again when the venue sends every level once more.
  const core = new ReplicaArbiter('coinbase', 'BTC-USD', sinkOf(p), { publish: 'confirmed', divergeMs: 1e9 });
  const v = new Venue();
  v.apply([[100, 1]], [[101, 1]]);
  const first = key(v.book);
  const msgs = ops.map((o) => {
    const price = o.side ? 100 - o.tick / 2 : 101 + o.tick / 2;
    return v.apply(o.side ? [[price, o.size]] : [], o.side ? [] : [[price, o.size]]);
  });
  // the venue goes on touching every level once, untouched by faults: silently wrong books meet the truth
  const touched = new Map<string, Level>();
  for (const o of ops) {
    const price = o.side ? 100 - o.tick / 2 : 101 + o.tick / 2;
    touched.set(`${o.side}:${price}`, [price, 0]);
  }
  for (const [k, l] of touched) {
    const bid = k.startsWith('true');
    msgs.push(v.apply(bid ? [[l[0], 5]] : [], bid ? [] : [[l[0], 5]]));
  }
  msgs.push(v.apply([[1, 1]], []), v.apply([], [[200, 1]]));
  const states: string[] = [first, ...v.states.slice(1)];
  const fs = Array.from({ length: feeds }, (_, i) => ({ id: 'abc'[i], pos: 0, n: 1, resync: false }));
  const start = new OrderBook();
  start.applySnapshot([[100, 1]], [[101, 1]]);
  for (const f of fs) core.onSnapshot(snapshot(f.id, 1, start), 0);
  let now = 1;
  const step = (f: (typeof fs)[number]) => {
    now++;
    if (f.resync) {
      const b = new OrderBook();
      const lv = JSON.parse(states[f.pos]) as { bids: Level[]; asks: Level[] };
      b.applySnapshot(lv.bids, lv.asks);
      f.resync = false;
      core.onSnapshot(snapshot(f.id, ++f.n, b), now);
      return;
    }
    if (f.pos >= msgs.length) return;
    const m = msgs[f.pos++];
    const fault = f.pos > ops.length ? undefined : faults.find((x) => 'abc'[x.feed] === f.id && x.at === f.pos - 1);
    if (fault?.kind === 'venue') return;
    if (fault?.kind === 'bus') f.n++;
    // a level's size changed on the wire (as the simulator's corruptRate does)
    const wrong = (l: Level[]) => l.map((x) => [x[0], x[1] + 1] as Level);
    const sent = fault?.kind === 'corrupt' ? { bids: wrong(m.bids), asks: wrong(m.asks) } : m;
    core.onDelta(delta(f.id, ++f.n, sent), now);
    core.onTimer(now);
  };
  const answered = () => {
    for (const r of p.requests.splice(0)) {
      const f = fs.find((x) => x.id === r.collector);
      if (f) f.resync = true;
    }
  };
  for (const o of order) {
    step(fs[o % feeds]);
    answered();
  }
  for (let guard = 0; guard < 10_000 && fs.some((f) => f.pos < msgs.length || f.resync); guard++) {
    for (const f of fs) step(f);
    answered();
    now += 10;
    core.onTimer(now);
    answered();
  }
  for (let i = 0; i < 12; i++) {
    now += 20;
    core.onTimer(now);
    answered();
    for (const f of fs) step(f);
  }
  const seen = follow(p);
  assert.equal(seen.at(-1), v.states.at(-1), 'ends equal to the venue');
  // feeds whose book went silently wrong (two that lost the same message agree: no copy can tell)
  const wrongFeeds = new Set(
    faults.filter((x) => x.kind !== 'bus' && x.feed < feeds && x.at < ops.length).map((x) => x.feed),
  );
  const oneFeedsWord = core.counters.publishedAlone > 0 || core.counters.catchUps > 0;
  if (wrongFeeds.size === 0 || (feeds >= 2 && wrongFeeds.size === 1 && !oneFeedsWord)) {
    const venueStates = new Set([first, ...v.states]);
    for (const st of seen) assert.ok(venueStates.has(st), `a state the venue never had: ${st}`);
  }
}

test("property, 'confirmed': any interleaving, loss and corruption: the stream chains, holds only venue states when it must, ends equal", () => {
  fc.assert(fc.property(replicaRuns({ ops: 40, order: 300, faults: 3 }), confirmedScenario), { numRuns: 300 });
});
