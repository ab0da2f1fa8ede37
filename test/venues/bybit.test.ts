import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mutatedFrames } from './mutate.js';
import { OrderBook } from '../../src/core/book.js';
import { intervalRule } from '../../src/core/sequence.js';
import type { BookDelta, BookSnapshot } from '../../src/core/types.js';
import {
  BYBIT_REST_BASE,
  bybitAdapter,
  bybitLinear,
  bybitSpot,
  bybitSubscribeMessages,
  bybitTopic,
  parseBybitMessage,
  parseBybitMessageJson,
  parseBybitSnapshot,
  scanBybitDelta,
} from '../../src/venues/bybit.js';
import { findVenue, VENUE_IDS } from '../../src/venues/index.js';
import type { ParsedFrame } from '../../src/venues/types.js';
import { jsonLines } from './real-fixtures.js';

const SNAP =
  '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1786540345129,"data":{"s":"BTCUSDT","b":[["63982.70","6.408"]],' +
  '"a":[["63982.80","5.015"]],"u":53935309,"seq":760578520600},"cts":1786540345127}';
const DELTA =
  '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1786540345149,"data":{"s":"BTCUSDT","b":[["63982.50","0.003"]],' +
  '"a":[["63990.50","0"]],"u":53935310,"seq":760578520655},"cts":1786540345147}';

// ------------------------------------------------------------------------------------------ adapter surface

test('registry: bybit (spot) and bybit-linear, one protocol on two endpoints', () => {
  assert.ok(VENUE_IDS.includes('bybit') && VENUE_IDS.includes('bybit-linear'));
  assert.equal(findVenue('bybit'), bybitSpot);
  assert.equal(findVenue('bybit-linear'), bybitLinear);
  assert.equal(bybitSpot.defaultWsUrl, 'wss://stream.bybit.com/v5/public/spot');
  assert.equal(bybitLinear.defaultWsUrl, 'wss://stream.bybit.com/v5/public/linear');
  assert.deepEqual(bybitSpot.markets, ['spot']);
  assert.deepEqual(bybitLinear.markets, ['perp']);
  for (const a of [bybitSpot, bybitLinear]) {
    assert.equal(a.snapshotSource, 'websocket');
    assert.deepEqual(a.ping, { intervalMs: 20_000, text: '{"op":"ping"}' });
    assert.equal(a.wsUrl(a.defaultWsUrl, ['BTCUSDT']), a.defaultWsUrl);
    assert.throws(() => a.wsUrl(a.defaultWsUrl, []), RangeError);
  }
  assert.equal(bybitSpot.wsUrl('ws://127.0.0.1:9000/v5/public/spot/', ['X']), 'ws://127.0.0.1:9000/v5/public/spot');
});

test('subscribe frames: orderbook.50 topics, at most 10 per frame; resync = unsubscribe + subscribe', () => {
  assert.deepEqual(bybitSpot.subscribeMessages(['BTCUSDT', 'ethusdt']), [
    '{"op":"subscribe","args":["orderbook.50.BTCUSDT","orderbook.50.ETHUSDT"]}',
  ]);
  const syms = Array.from({ length: 23 }, (_, i) => `C${i}USDT`);
  const frames = bybitLinear.subscribeMessages(syms);
  assert.deepEqual(
    frames.map((f) => JSON.parse(f).args.length),
    [10, 10, 3],
  );
  assert.deepEqual(
    frames.flatMap((f) => JSON.parse(f).args),
    syms.map((s) => `orderbook.50.${s}`),
  );
  assert.deepEqual(bybitSpot.subscribeMessages([]), []);
  assert.deepEqual(bybitSpot.resyncMessages!('BTCUSDT'), [
    '{"op":"unsubscribe","args":["orderbook.50.BTCUSDT"]}',
    '{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}',
  ]);
  // depth is a parameter of the adapter
  const deep = bybitAdapter('linear', 1000);
  assert.equal(deep.id, 'bybit-linear');
  assert.deepEqual(deep.subscribeMessages(['BTCUSDT']), ['{"op":"subscribe","args":["orderbook.1000.BTCUSDT"]}']);
  assert.equal(bybitTopic('btcusdt', 200), 'orderbook.200.BTCUSDT');
  assert.deepEqual(bybitSubscribeMessages(['A']), ['{"op":"subscribe","args":["orderbook.50.A"]}']);
});

test('REST: /v5/market/orderbook by category, weight 1; instruments-info', () => {
  assert.deepEqual(bybitSpot.snapshotRequest!(BYBIT_REST_BASE, 'btcusdt', 200), {
    url: 'https://api.bybit.com/v5/market/orderbook?category=spot&symbol=BTCUSDT&limit=200',
    weight: 1,
  });
  assert.equal(
    bybitLinear.snapshotRequest!('http://h/', 'BTCUSDT', 500).url,
    'http://h/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=500',
  );
  assert.equal(
    bybitLinear.symbolCheckUrl!(BYBIT_REST_BASE, 'ethusdt'),
    'https://api.bybit.com/v5/market/instruments-info?category=linear&symbol=ETHUSDT',
  );
});

test('symbols: spot BTC/USDT and linear BTC/USDT:USDT both spell BTCUSDT', () => {
  assert.equal(bybitSpot.venueSymbol('BTC/USDT'), 'BTCUSDT');
  assert.equal(bybitSpot.unifiedSymbol('BTCUSDT'), 'BTC/USDT');
  assert.equal(bybitLinear.venueSymbol('BTC/USDT:USDT'), 'BTCUSDT');
  assert.equal(bybitLinear.unifiedSymbol('BTCUSDT'), 'BTC/USDT:USDT');
  assert.equal(bybitLinear.unifiedSymbol('ETHUSDC'), 'ETH/USDC:USDC');
  for (const a of [bybitSpot, bybitLinear]) {
    for (const s of ['BTCUSDT', 'ETHUSDC', 'SOLUSDT']) assert.equal(a.venueSymbol(a.unifiedSymbol(s)!), s);
    assert.equal(a.venueSymbol('btcusdt'), 'BTCUSDT');
    assert.equal(a.venueSymbol('BTC-USDT'), undefined);
  }
  assert.equal(bybitSpot.venueSymbol('BTC/USDT:USDT'), undefined);
  assert.equal(bybitLinear.venueSymbol('BTC/USDT'), undefined);
  assert.equal(bybitLinear.unifiedSymbol('BTCPERP'), undefined); // USDC perps are not split by quote
});

// ------------------------------------------------------------------------------------------ parse

test('snapshot: seq = u; delta: prev = u-1, first = last = u; the venue id comes from the adapter', () => {
  assert.deepEqual(bybitLinear.parse(SNAP, 'c1', 42), {
    snapshot: {
      type: 'snapshot',
      venue: 'bybit-linear',
      symbol: 'BTCUSDT',
      seq: 53935309,
      exchTime: 1786540345129,
      recvTime: 42,
      collector: 'c1',
      bids: [[63982.7, 6.408]],
      asks: [[63982.8, 5.015]],
      raw: SNAP,
    } satisfies BookSnapshot,
  });
  const d = bybitSpot.parse(DELTA, 'c2', 7).delta!;
  assert.deepEqual(d, {
    type: 'delta',
    venue: 'bybit',
    symbol: 'BTCUSDT',
    first: 53935310,
    last: 53935310,
    prev: 53935309,
    exchTime: 1786540345149,
    recvTime: 7,
    collector: 'c2',
    bids: [[63982.5, 0.003]],
    asks: [[63990.5, 0]],
    raw: DELTA,
  } satisfies BookDelta);
  assert.equal(intervalRule.check(53935309, d), 'apply');
  assert.equal(intervalRule.check(53935310, d), 'stale');
  assert.equal(intervalRule.check(53935308, d), 'gap');
});

test('u = 1 (service restart, a full book per the docs): a snapshot with seq 1, whatever its type', () => {
  for (const text of [DELTA, SNAP]) {
    const restart = text.replace(/"u":\d+/, '"u":1');
    const r = parseBybitMessage(restart, 'c', 0, 'bybit');
    assert.equal(r.delta, undefined);
    assert.equal(r.snapshot?.seq, 1, restart);
    assert.equal(r.snapshot?.raw, restart);
    // and the next delta chains onto it
    const next = parseBybitMessage(DELTA.replace(/"u":\d+/, '"u":2'), 'c', 0, 'bybit').delta!;
    assert.equal(intervalRule.check(1, next), 'apply');
  }
  assert.equal('reset' in parseBybitMessage(DELTA, 'c', 0, 'bybit').delta!, false);
});

test('acks, pongs and other topics are ignored; a refused request is an error', () => {
  const cases: [string, ParsedFrame][] = [
    [
      '{"success":true,"ret_msg":"subscribe","conn_id":"d9avsh3fo0jvsls9d82g-5m9jh","req_id":"1","op":"subscribe"}',
      { ignored: 'subscribe' },
    ],
    ['{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}', { ignored: 'ping' }],
    ['{"req_id":"","op":"pong","args":["1675418560633"],"conn_id":"x"}', { ignored: 'pong' }],
    ['{"success":true,"ret_msg":"","conn_id":"x","op":"unsubscribe"}', { ignored: 'unsubscribe' }],
    ['{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT"},"cs":1,"ts":1}', { ignored: 'tickers' }],
    ['{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[]}', { ignored: 'publicTrade' }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseBybitMessage(text, 'c', 0, 'bybit'), want, text);
  assert.match(
    parseBybitMessage(
      '{"success":false,"ret_msg":"error:handler not found","conn_id":"x","op":"subscribe"}',
      'c',
      0,
      'bybit',
    ).error!,
    /^venue error on "subscribe": error:handler not found/,
  );
});

function edit(base: string, f: (o: Record<string, unknown>, d: Record<string, unknown>) => void): string {
  const o = JSON.parse(base) as Record<string, unknown>;
  f(o, o.data as Record<string, unknown>);
  return JSON.stringify(o);
}

test('bounds and malformed fields: a clear error, never a throw', () => {
  const many = Array.from({ length: 5001 }, (_, i) => [`${1000 + i}`, '1']);
  const cases: [string, RegExp][] = [
    ['', /malformed JSON/],
    ['[]', /not a JSON object/],
    ['{}', /unrecognised message/],
    ['{"topic":5}', /"topic" must be a string/],
    [edit(DELTA, (o) => (o.topic = 'orderbook.50')), /unrecognised orderbook topic/],
    [edit(DELTA, (o) => (o.topic = 'orderbook.x.BTCUSDT')), /unrecognised orderbook topic/],
    [edit(DELTA, (o) => (o.type = 'partial')), /"type" must be/],
    [edit(DELTA, (o) => delete o.ts), /"ts" must be/],
    [edit(DELTA, (o) => (o.ts = '1786540345149')), /"ts" must be/],
    [edit(DELTA, (o) => (o.cts = -1)), /"cts" must be/],
    [edit(DELTA, (o) => (o.data = [])), /"data" must be an object/],
    [edit(DELTA, (_o, d) => (d.s = 'ETHUSDT')), /"data.s" \("ETHUSDT"\) is not the topic's symbol BTCUSDT/],
    [edit(DELTA, (_o, d) => delete d.s), /"data.s" \(undefined\)/],
    [edit(DELTA, (_o, d) => (d.b = many)), /"data.b" has 5001 levels/],
    [edit(DELTA, (_o, d) => (d.a = [['x', '1']])), /"data.a"\[0\] has a non-numeric/],
    [edit(DELTA, (_o, d) => (d.a = [['100', '-1']])), /out-of-range/],
    [edit(DELTA, (_o, d) => (d.a = [['-100', '1']])), /out-of-range/],
    [edit(DELTA, (_o, d) => (d.a = [['100', '1', '0']])), /must be an array of 2 strings/],
    [edit(DELTA, (_o, d) => (d.a = [[100, 1]])), /non-numeric/],
    [edit(DELTA, (_o, d) => delete d.b), /"data.b" must be an array/],
    [edit(DELTA, (_o, d) => delete d.u), /"data.u" must be a positive integer/],
    [edit(DELTA, (_o, d) => (d.u = 0)), /"data.u" must be a positive integer/],
    [edit(DELTA, (_o, d) => (d.u = 1.5)), /"data.u"/],
    [edit(DELTA, (_o, d) => (d.u = '53935310')), /"data.u"/],
    [edit(DELTA, (_o, d) => (d.u = 2 ** 60)), /"data.u"/],
    [edit(DELTA, (_o, d) => (d.seq = -3)), /"data.seq" must be a non-negative integer/],
    [edit(SNAP, (_o, d) => (d.a = [['63982.70', '1']])), /crossed snapshot/],
  ];
  for (const [text, re] of cases) {
    let r: ParsedFrame | undefined;
    assert.doesNotThrow(() => (r = parseBybitMessage(text, 'c', 0, 'bybit')), text.slice(0, 80));
    assert.equal(r!.delta ?? r!.snapshot ?? r!.ignored, undefined, text.slice(0, 80));
    assert.match(r!.error ?? '', re, text.slice(0, 120));
  }
});

test('never throws and returns exactly one outcome, on arbitrary and mutated input', () => {
  const one = (r: object) => Object.keys(r).length === 1;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify({ topic: 'orderbook.50.BTCUSDT', type: 'delta', ts: 1, data: v })),
        fc
          .tuple(fc.constantFrom(SNAP, DELTA), fc.nat(), fc.constantFrom(...'0-9.,:"[]{}e '.split('')))
          .map(([s, at, c]) => s.slice(0, at % s.length) + c + s.slice((at % s.length) + 1)),
      ),
      (text) => {
        assert.ok(one(parseBybitMessage(text, 'c', 0, 'bybit')), text);
        assert.ok(one(parseBybitSnapshot(text, 'BTCUSDT', 'c', 0, 'bybit')), text);
      },
    ),
    { numRuns: 3000 },
  );
});

// ------------------------------------------------------------------------------------------ real recordings

/** Replay a topic's messages: snapshot, then deltas that must all apply; returns the book and its seq. */
function replay(
  lines: readonly string[],
  venue: string,
): Map<string, { book: OrderBook; seq: number; applied: number }> {
  const books = new Map<string, { book: OrderBook; seq: number; applied: number }>();
  for (const text of lines) {
    const r = parseBybitMessage(text, 'c', 0, venue);
    assert.equal(r.error, undefined, text.slice(0, 100));
    if (r.ignored !== undefined) continue;
    const topic = JSON.parse(text).topic as string;
    if (r.snapshot) {
      const book = new OrderBook();
      book.applySnapshot(r.snapshot.bids, r.snapshot.asks);
      const prev = books.get(topic);
      // a spot orderbook.1 pushes every update as a snapshot: consecutive ones still count up by 1
      if (prev) assert.equal(r.snapshot.seq, prev.seq + 1, topic);
      books.set(topic, { book, seq: r.snapshot.seq, applied: 0 });
    } else {
      const d = r.delta!;
      const b = books.get(topic);
      assert.ok(b, `delta before snapshot on ${topic}`);
      assert.equal(intervalRule.check(b.seq, d), 'apply', `${topic} u ${d.last} on ${b.seq}`);
      b.book.apply(d.bids, d.asks);
      b.seq = d.last;
      b.applied++;
    }
    const b = books.get(topic)!;
    assert.equal(b.book.isCrossed(), false, topic);
  }
  return books;
}

test('real Bybit linear orderbook.50 (ccxt 2026): 50-level snapshot, then a delta that chains (u + 1)', () => {
  const lines = jsonLines('ccxt_bybit_linear_orderbook50.jsonl');
  const snap = bybitLinear.parse(lines[0], 'c', 0).snapshot!;
  assert.equal(snap.seq, 53935309);
  assert.equal(snap.bids.length, 50);
  assert.equal(snap.asks.length, 50);
  assert.deepEqual(snap.bids[0], [63982.7, 6.408]);
  assert.deepEqual(snap.asks[0], [63982.8, 5.015]);
  const books = replay(lines, 'bybit-linear');
  const b = books.get('orderbook.50.BTCUSDT')!;
  assert.equal(b.seq, 53935310);
  assert.equal(b.applied, 1);
  assert.deepEqual(b.book.bestBid(), [63982.7, 6.408]);
  // the delta set 63982.50 to 0.003
  assert.ok(b.book.top(50).bids.some(([p, s]) => p === 63982.5 && s === 0.003));
});

test('real Bybit spot orderbook.1 (ccxt 2026, two connections): ack ignored, snapshots count up by one', () => {
  for (const [file, first] of [
    ['ccxt_bybit_spot_orderbook1_a.jsonl', 72212457],
    ['ccxt_bybit_spot_orderbook1_b.jsonl', 70913931],
  ] as const) {
    const lines = jsonLines(file);
    assert.deepEqual(bybitSpot.parse(lines[0], 'c', 0), { ignored: 'subscribe' });
    const seqs = lines.slice(1).map((l) => bybitSpot.parse(l, 'c', 0).snapshot!.seq);
    assert.deepEqual(seqs, [first, first + 1]);
    replay(lines, 'bybit');
  }
});

test('real Bybit v5 (tardis-node 2023): spot and linear chains apply; a delta from another session is stale', () => {
  const spot = replay(jsonLines('tardis_bybit_spot_orderbook.jsonl'), 'bybit');
  assert.deepEqual(
    [...spot].map(([t, b]) => [t, b.seq, b.applied]),
    [
      ['orderbook.1.BTCUSDT', 20404755, 1],
      ['orderbook.50.BTCUSDT', 59438061, 1],
    ],
  );
  const linear = jsonLines('tardis_bybit_linear_orderbook.jsonl');
  const books = replay(linear.slice(0, 4), 'bybit-linear');
  assert.equal(books.get('orderbook.50.BTCPERP')!.seq, 20683569);
  const lone = bybitLinear.parse(linear[4], 'c', 0).delta!;
  assert.equal(lone.last, 1188472);
  assert.equal(intervalRule.check(books.get('orderbook.1.BTCUSDT')!.seq, lone), 'stale');
});

// ------------------------------------------------------------------------------------------ REST

test('REST snapshot: seq = result.u; venue errors, another symbol, crossed and missing fields are errors', () => {
  // the docs' body shape carrying ccxt's real linear levels
  const snap = JSON.parse(jsonLines('ccxt_bybit_linear_orderbook50.jsonl')[0]);
  const result = { ...snap.data, ts: snap.ts, cts: snap.cts };
  const body = JSON.stringify({ retCode: 0, retMsg: 'OK', result, retExtInfo: {}, time: snap.ts + 1 });
  const s = bybitLinear.parseSnapshot!(body, 'btcusdt', 'c1', 9).snapshot!;
  assert.equal(s.venue, 'bybit-linear');
  assert.equal(s.symbol, 'BTCUSDT');
  assert.equal(s.seq, 53935309);
  assert.equal(s.exchTime, 1786540345129);
  assert.equal(s.bids.length, 50);
  assert.equal(s.raw, body);
  assert.equal(bybitSpot.parseSnapshot!(body, 'BTCUSDT', 'c', 0).snapshot?.venue, 'bybit');

  const with_ = (r: object) => JSON.stringify({ retCode: 0, retMsg: 'OK', result: { ...result, ...r } });
  const cases: [string, RegExp][] = [
    ['{"retCode":10001,"retMsg":"params error: symbol invalid","result":{}}', /^venue error 10001: params error/],
    ['{"retMsg":"OK","result":{}}', /venue error/],
    [JSON.stringify({ retCode: 0, result: null }), /"result" must be an object/],
    [with_({ s: 'ETHUSDT' }), /"result.s" \("ETHUSDT"\) is not BTCUSDT/],
    [with_({ u: undefined }), /"result.u" must be a positive integer/],
    [with_({ ts: 'now' }), /"result.ts"/],
    [with_({ b: [['63982.80', '1']] }), /crossed snapshot/],
    [with_({ a: [['1', '2', '3']] }), /must be an array of 2 strings/],
    ['oops', /malformed JSON/],
  ];
  for (const [text, re] of cases)
    assert.match(parseBybitSnapshot(text, 'BTCUSDT', 'c', 0, 'bybit').error ?? '', re, text.slice(0, 80));
});

// ------------------------------------------------------------------------------------------ fast path

/** Plain decimal strings as venues write them (and a few they might: leading zeros, a trailing dot). */
const decimalString = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 18n }), fc.integer({ min: 0, max: 10 }), fc.boolean())
  .map(([int, decimals, trailingDot]) => {
    const digits = int.toString();
    if (decimals === 0) return trailingDot ? `${digits}.` : digits;
    const padded = digits.padStart(decimals + 1, '0');
    return `${padded.slice(0, -decimals)}.${padded.slice(-decimals)}`;
  });
const bybitLevel = fc.tuple(
  decimalString.filter((s) => Number(s) > 0),
  decimalString,
);
const bybitDeltaArb = fc.record({
  depth: fc.constantFrom('1', '50', '200', '1000', '0050'),
  symbol: fc.constantFrom('BTCUSDT', 'BTCPERP', '1000PEPEUSDT', 'X'),
  spot: fc.boolean(),
  ts: fc.nat({ max: 2 ** 45 }),
  b: fc.array(bybitLevel, { maxLength: 6 }),
  a: fc.array(bybitLevel, { maxLength: 6 }),
  u: fc.integer({ min: 2, max: 2 ** 45 }),
  seq: fc.option(fc.nat({ max: 2 ** 50 }), { nil: undefined }),
  cts: fc.option(fc.nat({ max: 2 ** 45 }), { nil: undefined }),
});
/** A delta frame in Bybit's own key order and spelling (spot: ts before type; linear: type before ts). */
function bybitCanonical(m: typeof bybitDeltaArb extends fc.Arbitrary<infer T> ? T : never): string {
  const head = m.spot ? `"ts":${m.ts},"type":"delta"` : `"type":"delta","ts":${m.ts}`;
  const seq = m.seq === undefined ? '' : `,"seq":${m.seq}`;
  const cts = m.cts === undefined ? '' : `,"cts":${m.cts}`;
  return (
    `{"topic":"orderbook.${m.depth}.${m.symbol}",${head},"data":{"s":"${m.symbol}","b":${JSON.stringify(m.b)},` +
    `"a":${JSON.stringify(m.a)},"u":${m.u}${seq}}${cts}}`
  );
}

test('fast path: every canonical delta frame is scanned, with the JSON path result', () => {
  fc.assert(
    fc.property(bybitDeltaArb, fc.constantFrom('bybit', 'bybit-linear'), (m, venue) => {
      const text = bybitCanonical(m);
      const fast = scanBybitDelta(text, 'c', 1, venue);
      assert.notEqual(fast, undefined, text);
      assert.deepEqual(fast, parseBybitMessageJson(text, 'c', 1, venue).delta, text);
    }),
    { numRuns: 1000 },
  );
});

test('fast path: parseBybitMessage equals the JSON path on mutated and re-formatted frames', () => {
  fc.assert(
    fc.property(mutatedFrames(bybitDeltaArb.map(bybitCanonical)), (text) => {
      assert.deepEqual(parseBybitMessage(text, 'c', 1, 'bybit'), parseBybitMessageJson(text, 'c', 1, 'bybit'), text);
    }),
    { numRuns: 3000 },
  );
  // left to JSON.parse: snapshots, u = 1, another data.s, a 3-string level, a price of "1e5"
  for (const text of [
    SNAP,
    DELTA.replace('"u":53935310', '"u":1'),
    DELTA.replace('"s":"BTCUSDT"', '"s":"ETHUSDT"'),
    DELTA.replace('["63982.50","0.003"]', '["63982.50","0.003","1"]'),
    DELTA.replace('"63982.50"', '"1e5"'),
  ]) {
    assert.equal(scanBybitDelta(text, 'c', 0, 'bybit'), undefined, text);
    assert.deepEqual(parseBybitMessage(text, 'c', 0, 'bybit'), parseBybitMessageJson(text, 'c', 0, 'bybit'), text);
  }
});

test('fast path on real frames: every delta of the recordings is scanned, with the JSON path result', () => {
  let scanned = 0;
  for (const [file, venue] of [
    ['ccxt_bybit_linear_orderbook50.jsonl', 'bybit-linear'],
    ['ccxt_bybit_spot_orderbook1_a.jsonl', 'bybit'],
    ['ccxt_bybit_spot_orderbook1_b.jsonl', 'bybit'],
    ['tardis_bybit_linear_orderbook.jsonl', 'bybit-linear'],
    ['tardis_bybit_spot_orderbook.jsonl', 'bybit'],
  ] as const) {
    for (const text of jsonLines(file)) {
      assert.deepEqual(parseBybitMessage(text, 'c', 1, venue), parseBybitMessageJson(text, 'c', 1, venue), text);
      if (!text.includes('"type":"delta"')) continue;
      const fast = scanBybitDelta(text, 'c', 1, venue);
      assert.notEqual(fast, undefined, text);
      assert.deepEqual(fast, parseBybitMessageJson(text, 'c', 1, venue).delta);
      scanned++;
    }
  }
  assert.equal(scanned, 6);
});
