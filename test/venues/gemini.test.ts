import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BookArbiter } from '../../src/core/arbiter.js';
import type { BookDelta } from '../../src/core/types.js';
import {
  gemini,
  geminiResyncMessages,
  geminiSnapshotFromDelta,
  geminiSubscribeMessages,
  parseGeminiMessage,
} from '../../src/venues/gemini.js';
import { findVenue, underPrefix, VENUE_IDS } from '../../src/venues/index.js';
import { jsonLines } from './real-fixtures.js';

const FIXTURE = 'tardis_gemini_depth.jsonl';

test('real messages (tardis-node 2026): every depthUpdate parses, the rest is ignored', () => {
  const kinds: string[] = [];
  for (const line of jsonLines(FIXTURE)) {
    const r = gemini.parse(line, 'a', 5);
    assert.equal(r.error, undefined, `${r.error}: ${line.slice(0, 80)}`);
    kinds.push(r.delta ? `delta ${r.delta.symbol}` : `ignored ${r.ignored}`);
  }
  assert.deepEqual(kinds, [
    'delta WIFUSD',
    'ignored trade',
    'ignored bookTicker',
    'delta LINKRLUSD',
    'delta GUSDGBP',
    'delta GUSDGBP',
    'delta AUDUSD',
    'ignored reply',
    'ignored bookTicker',
    'ignored contractStatus',
  ]);
  const wif = gemini.parse(jsonLines(FIXTURE)[0], 'a', 5).delta!;
  assert.deepEqual(
    { prev: wif.prev, first: wif.first, last: wif.last, exchTime: wif.exchTime, bids: wif.bids, asks: wif.asks },
    {
      prev: 1764549594389289,
      first: 1764549594389290,
      last: 1764549594389676,
      exchTime: 1783981139947, // E is nanoseconds
      bids: [
        [0.1488, 11129.364219],
        [0.1489, 49574.823701],
      ],
      asks: [],
    },
  );
  assert.equal(wif.raw, jsonLines(FIXTURE)[0]);
  const link = gemini.parse(jsonLines(FIXTURE)[3], 'a', 5).delta!;
  assert.deepEqual(
    link.asks.map((l) => l[1]),
    [0, 0, 0],
    '"0.00000000" deletes',
  );
});

test('ids: one exchange-wide counter, and a book chains by U = the previous u (the recorded gusdgbp pair)', () => {
  const lines = jsonLines(FIXTURE);
  const d = lines.map((l) => gemini.parse(l, 'a', 1).delta);
  // wifusd's U..u, then an xrpgusd bookTicker's u inside the same span of ids: shared by every symbol
  const ticker = JSON.parse(lines[2]) as { u: number };
  assert.ok(ticker.u > d[0]!.last && ticker.u - d[0]!.last < 1000);
  // gusdgbp: the snapshot U = u, the next update starts at exactly that u
  const [snap, next] = [d[4]!, d[5]!];
  assert.equal(snap.prev, snap.last, 'the snapshot covers nothing of its own (U == u)');
  assert.equal(next.prev, snap.last, 'U of the next message == u of the previous one');
  assert.equal(gemini.rule.check(snap.last, next), 'apply');
  assert.equal(gemini.rule.check(snap.last - 1, next), 'gap', 'a book that has not seen id U misses something');
  assert.equal(gemini.rule.check(next.last, next), 'stale');
  // audusd's first message starts below gusdgbp's snapshot id: the id its book last changed at
  assert.ok(d[6]!.prev! < snap.last && d[6]!.last > snap.last);
});

test('the first depthUpdate after subscribing is the snapshot: seq u, deletes dropped, crossed refused', () => {
  const lines = jsonLines(FIXTURE);
  const s = geminiSnapshotFromDelta(gemini.parse(lines[4], 'a', 7).delta!);
  assert.equal(s.error, undefined);
  assert.deepEqual(
    { ...s.snapshot!, raw: undefined },
    {
      type: 'snapshot',
      venue: 'gemini',
      symbol: 'GUSDGBP',
      seq: 1764550512767893,
      exchTime: 1784851199088,
      recvTime: 7,
      collector: 'a',
      bids: [],
      asks: [[0.75196, 1325.499]],
      raw: undefined,
    },
  );
  const withDelete = gemini.parse(
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":5,"u":9,"b":[["10","1"],["9","0"]],"a":[["11","2"]]}',
    'a',
    1,
  ).delta!;
  assert.deepEqual(geminiSnapshotFromDelta(withDelete).snapshot!.bids, [[10, 1]]);
  const crossed = gemini.parse(
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":5,"u":9,"b":[["12","1"]],"a":[["11","2"]]}',
    'a',
    1,
  ).delta!;
  assert.match(geminiSnapshotFromDelta(crossed).error ?? '', /crossed/);
});

test('the recorded gusdgbp snapshot and update through the arbiter: synced at the snapshot, the update applied', () => {
  const lines = jsonLines(FIXTURE);
  const published: number[] = [];
  const core = new BookArbiter('gemini', 'GUSDGBP', {
    publish: (ev) => published.push(ev.last),
    requestSnapshot: () => {},
    reset: () => {},
  }, { rule: gemini.rule }); // prettier-ignore
  core.start(0);
  core.onSnapshot(geminiSnapshotFromDelta(gemini.parse(lines[4], 'a', 1).delta!).snapshot!, 0);
  assert.equal(core.state, 'synced');
  core.onDelta(gemini.parse(lines[5], 'a', 1).delta!, 0);
  assert.deepEqual(published, [1764550512813829]);
  assert.deepEqual(core.book.top(5), {
    bids: [[0.75074, 5201.8344]],
    asks: [
      [0.7515, 5175.2594],
      [0.75196, 1325.499],
    ],
  });
});

test('replies: an UNSUBSCRIBE answered names its book (resync), errors are errors', () => {
  assert.deepEqual(parseGeminiMessage('{"id":"u-btcusd","status":200}', 'a', 1), {
    ignored: 'reply',
    unsubscribed: 'BTCUSD',
  });
  assert.deepEqual(parseGeminiMessage('{"result":null,"id":"u-ethgusd"}', 'a', 1).unsubscribed, 'ETHGUSD');
  assert.deepEqual(parseGeminiMessage('{"id":"s0","status":200}', 'a', 1), { ignored: 'reply' });
  const err = parseGeminiMessage('{"id":"u-btcusd","status":400,"error":{"code":-1013,"msg":"bad"}}', 'a', 1);
  assert.match(err.error ?? '', /venue error/);
  assert.equal(err.unsubscribed, 'BTCUSD', 'even a refusal says the old subscription is over');
  assert.equal(parseGeminiMessage('{"id":"u-../x","status":200}', 'a', 1).unsubscribed, undefined);
});

test('hostile input: errors, never a throw, never a wrong delta', () => {
  const base = (over: string) =>
    `{"e":"depthUpdate","E":1784851239122227005,"s":"btcusd","U":10,"u":12,"b":[],"a":[]${over}}`;
  const bad = [
    'not json',
    '[]',
    '{}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":12,"u":10,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":1.5,"u":10,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":-1,"u":10,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":10,"u":9007199254740993,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":"10","u":12,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"BTC/USD","U":10,"u":12,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":"1","s":"btcusd","U":10,"u":12,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":10,"u":12,"b":[["1","-1"]],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":10,"u":12,"b":[["1e3","1"]],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":10,"u":12,"b":[["0","1"]],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":10,"u":12,"b":{},"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":10,"u":12,"b":[],"a":[["1","2","3"]]}',
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":10,"u":12,"a":[]}',
  ];
  for (const f of bad) assert.ok(parseGeminiMessage(f, 'a', 1).error, f);
  assert.equal(parseGeminiMessage(base(''), 'a', 1).delta?.last, 12);
  // bounds: more levels than any book has is refused before it is copied
  const many = Array.from({ length: 5001 }, (_, i) => `["${i + 1}","1"]`).join(',');
  assert.match(parseGeminiMessage(base(`,"b":[${many}]`), 'a', 1).error ?? '', /at most 5000/);
});

test('frames, endpoints and symbols', () => {
  assert.ok(VENUE_IDS.includes('gemini') && VENUE_IDS.includes('gemini-v2'));
  assert.equal(findVenue('gemini'), gemini);
  assert.equal(gemini.merge, 'sequence');
  assert.equal(gemini.wsUrl(gemini.defaultWsUrl, ['BTCUSD']), 'wss://ws.gemini.com?snapshot=-1');
  assert.deepEqual(geminiSubscribeMessages(['BTCUSD', 'ETHGUSD']), [
    '{"id":"s0","method":"SUBSCRIBE","params":["btcusd@depth@100ms","ethgusd@depth@100ms"]}',
  ]);
  assert.equal(geminiSubscribeMessages(Array.from({ length: 120 }, (_, i) => `X${i}USD`)).length, 3);
  assert.deepEqual(geminiResyncMessages('BTCUSD'), [
    '{"id":"u-btcusd","method":"UNSUBSCRIBE","params":["btcusd@depth@100ms"]}',
    '{"id":"s-btcusd","method":"SUBSCRIBE","params":["btcusd@depth@100ms"]}',
  ]);
  assert.equal(gemini.venueSymbol('BTC/USD'), 'BTCUSD');
  assert.equal(gemini.venueSymbol('btcusd'), 'BTCUSD');
  assert.equal(gemini.unifiedSymbol('ETHGUSD'), 'ETH/GUSD');
  const sim = underPrefix(gemini, 'ws://127.0.0.1:9/gemini', 'http://127.0.0.1:9/gemini');
  assert.equal(gemini.wsUrl(sim.wsUrl, ['BTCUSD']), 'ws://127.0.0.1:9/gemini?snapshot=-1');
});

test('a message of one book covering nothing (U == u) after the book: stale; before it: a gap', () => {
  const d: BookDelta = gemini.parse(
    '{"e":"depthUpdate","E":1,"s":"btcusd","U":20,"u":20,"b":[],"a":[]}',
    'a',
    1,
  ).delta!;
  assert.deepEqual([d.prev, d.first, d.last], [20, 20, 20]);
  assert.equal(gemini.rule.check(20, d), 'stale');
  assert.equal(gemini.rule.check(19, d), 'gap');
});
