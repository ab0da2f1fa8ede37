/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** The order-flow model and its building blocks, without sockets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderBook } from '../../src/core/book.js';
import { parseCapture } from '../../src/sim/capture.js';
import { corrupt } from '../../src/sim/faults.js';
import { spotJson } from '../../src/sim/protocols/binance.js';
import { mulberry32 } from '../../src/sim/prng.js';
import { SyntheticFeed } from '../../src/sim/synthetic.js';
import { formatUnits, parseUnits, unitsToNumber } from '../../src/sim/units.js';
import { toLevels, type DepthUpdate } from './helpers.js';

test('units: exact parse/format round trip in Binance format', () => {
  assert.equal(parseUnits('50000.01000000'), 5_000_001_000_000);
  assert.equal(parseUnits('0.00000001'), 1);
  assert.equal(parseUnits('0.0024'), 240_000);
  assert.equal(parseUnits('12'), 1_200_000_000);
  assert.ok(Number.isNaN(parseUnits('1.000000001')), 'more than 8 significant decimals');
  assert.ok(Number.isNaN(parseUnits('-1')));
  assert.ok(Number.isNaN(parseUnits('1e5')));
  assert.ok(Number.isNaN(parseUnits(5)));
  assert.equal(formatUnits(5_000_001_000_000), '50000.01000000');
  assert.equal(formatUnits(0), '0.00000000');
  assert.equal(formatUnits(1), '0.00000001');
  // units / 1e8 is exactly what a client gets from parseFloat of the string
  for (const s of ['50000.01000000', '0.12345678', '3499.99000000', '0.60010000'])
    assert.equal(unitsToNumber(parseUnits(s)), Number(s));
});

function run(seed: number, n: number, levels = 300): { feed: SyntheticFeed; events: DepthUpdate[] } {
  const feed = new SyntheticFeed('BTCUSDT', mulberry32(seed), levels);
  const events: DepthUpdate[] = [];
  for (let i = 0; i < n; i++) events.push(JSON.parse(spotJson(feed.next(1_700_000_000_000 + i))));
  return { feed, events };
}

test('synthetic book: never crossed, depth kept near `levels`, events replay the truth exactly', () => {
  const levels = 300;
  const feed = new SyntheticFeed('BTCUSDT', mulberry32(3), levels);
  const replica = new OrderBook();
  const t0 = feed.book;
  replica.applySnapshot(t0.bids.top(Infinity), t0.asks.top(Infinity));
  let prevU = feed.book.lastUpdateId;
  const mids: number[] = [];
  const distances: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const bestBid = feed.book.bids.best();
    const ev: DepthUpdate = JSON.parse(spotJson(feed.next(1)));
    assert.equal(ev.U, prevU + 1);
    prevU = ev.u;
    for (const [p] of ev.b) distances.push(Math.round((bestBid - parseUnits(p)) / 1_000_000));
    replica.apply(toLevels(ev.b), toLevels(ev.a));
    assert.ok(feed.book.bids.best() < feed.book.asks.best(), `crossed at event ${i}`);
    assert.ok(feed.book.bids.count >= levels * 0.95 - 1 && feed.book.bids.count <= levels * 1.05 + 1, 'bid depth');
    assert.ok(feed.book.asks.count >= levels * 0.95 - 1 && feed.book.asks.count <= levels * 1.05 + 1, 'ask depth');
    if (i % 1000 === 0) mids.push((feed.book.bids.best() + feed.book.asks.best()) / 2);
  }
  assert.deepEqual(replica.snapshot(), { bids: feed.book.bids.top(Infinity), asks: feed.book.asks.top(Infinity) });
  assert.ok(new Set(mids).size > 5, 'the mid moves');
  distances.sort((a, b) => a - b);
  assert.ok(distances[Math.floor(distances.length / 2)] <= 10, 'half the bid updates within 10 ticks of the top');
});

test('synthetic order flow is deterministic per seed', () => {
  assert.deepEqual(run(11, 500).events, run(11, 500).events);
  assert.notDeepEqual(run(11, 50).events, run(12, 50).events);
});

test('corrupt() yields truncated JSON or a wrong-typed field', () => {
  const rng = mulberry32(1);
  const good = '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":12,"b":[],"a":[]}';
  const kinds = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const bad = corrupt(good, rng);
    let o: any;
    try {
      o = JSON.parse(bad);
    } catch {
      kinds.add('truncated');
      assert.ok(good.startsWith(bad) && bad.length < good.length);
      continue;
    }
    if (typeof o.U === 'string') kinds.add('U string');
    else if (o.u === null) kinds.add('u null');
    else assert.fail(`not corrupted: ${bad}`);
  }
  assert.deepEqual([...kinds].sort(), ['U string', 'truncated', 'u null']);
});

test('parseCapture: raw and combined lines, ignores junk, other symbols and stale events', () => {
  const lines = [
    JSON.stringify({ lastUpdateId: 100, bids: [['10.00', '1.0']], asks: [['11.00', '2.0']] }),
    JSON.stringify({ e: 'depthUpdate', E: 1, s: 'ABCUSDT', U: 90, u: 100, b: [], a: [] }), // stale
    JSON.stringify({ e: 'depthUpdate', E: 1, s: 'ABCUSDT', U: 95, u: 101, b: [['10.00', '0']], a: [] }),
    'not json',
    JSON.stringify({
      stream: 'abcusdt@depth@100ms',
      data: { e: 'depthUpdate', E: 2, s: 'ABCUSDT', U: 102, u: 103, b: [['9.5', '3']], a: [] },
    }),
    JSON.stringify({ e: 'depthUpdate', E: 3, s: 'XYZUSDT', U: 1, u: 2, b: [], a: [] }),
    JSON.stringify({ result: null, id: 1 }),
    '',
    JSON.stringify({ e: 'depthUpdate', E: 4, s: 'ABCUSDT', U: 110, u: 111, b: [], a: [['11.00', '0']] }), // gap
  ];
  const c = parseCapture(lines.join('\n'));
  assert.equal(c.symbol, 'ABCUSDT');
  assert.deepEqual(
    c.events.map((e) => [e.first, e.last]),
    [
      [95, 101],
      [102, 103],
      [110, 111],
    ],
  );
  assert.equal(c.ignored, 3);
  assert.equal(c.stale, 1);
  assert.equal(c.gaps, 1);
  assert.throws(() => parseCapture('{"nope":1}\n'), /snapshot/);
});

test('truth book views: a client holding the top N and applying each event view holds the top N', () => {
  const depths = [1, 5, 50];
  const feed = new SyntheticFeed('BTCUSDT', mulberry32(7), 80, undefined, depths);
  const clients = depths.map((d) => {
    const b = new OrderBook();
    b.applySnapshot(feed.book.bids.top(d), feed.book.asks.top(d));
    return b;
  });
  const units = (l: [number, number][]): [number, number][] => l.map(([p, q]) => [unitsToNumber(p), unitsToNumber(q)]);
  let entered = 0;
  for (let i = 0; i < 3000; i++) {
    const ev = feed.next(1);
    depths.forEach((d, k) => {
      const v = ev.changes.views[k];
      clients[k].apply(units(v.bids), units(v.asks));
      assert.deepEqual(
        clients[k].snapshot(),
        { bids: feed.book.bids.top(d), asks: feed.book.asks.top(d) },
        `depth ${d} after event ${i}`,
      );
    });
    const touched = new Set(ev.changes.bids.map((l) => l[0]));
    entered += ev.changes.views[2].bids.filter((l) => !touched.has(l[0])).length;
  }
  assert.ok(entered > 50, `untouched levels entered or left the top 50 ${entered} times`);
});
