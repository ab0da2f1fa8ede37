import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderBook } from '../../src/core/book.js';
import { ADAPTERS, findVenue, VENUE_IDS, venueSymbolFrom } from '../../src/venues/index.js';
import {
  decodeGeminiV2,
  GEMINI_MAX_CHANGES,
  GEMINI_REST_BASE,
  GEMINI_V2_WS_BASE,
  geminiUnifiedSymbol,
  geminiV2,
  geminiV2ResyncMessages,
  geminiV2SubscribeMessages,
  geminiVenueSymbol,
  parseGeminiV2Message,
} from '../../src/venues/gemini-v2.js';
import { cryptofeedReceived } from './real-fixtures.js';

type Change = [side: string, price: string, qty: string];

function l2(changes: Change[], extra = ''): string {
  return `{"type":"l2_updates","symbol":"BTCUSD","changes":${JSON.stringify(changes)}${extra}}`;
}

// ------------------------------------------------------------------------------------------ the adapter

test('gemini-v2 is registered, a replica venue with a websocket snapshot', () => {
  assert.ok(VENUE_IDS.includes('gemini-v2'));
  assert.equal(findVenue('gemini-v2'), geminiV2);
  assert.equal(ADAPTERS.filter((a) => a.id === 'gemini-v2').length, 1);
  assert.equal(geminiV2.merge, 'replica');
  assert.equal(geminiV2.snapshotSource, 'websocket');
  assert.equal(geminiV2.defaultWsUrl, GEMINI_V2_WS_BASE);
  assert.equal(geminiV2.defaultRestUrl, GEMINI_REST_BASE);
  assert.equal(geminiV2.integrity, undefined, 'no checksum');
  assert.equal(geminiV2.bookDepth, undefined, 'the full book');
  assert.equal(geminiV2.wsUrl(GEMINI_V2_WS_BASE + '/', ['BTCUSD']), GEMINI_V2_WS_BASE);
  assert.throws(() => geminiV2.wsUrl(GEMINI_V2_WS_BASE, []), RangeError);
});

test('gemini-v2 symbols: BTCUSD is BTC/USD; GUSD and USDT win over USD; unknown quotes are not split', () => {
  assert.equal(geminiVenueSymbol('BTC/USD'), 'BTCUSD');
  assert.equal(geminiVenueSymbol('btcusd'), 'BTCUSD');
  assert.equal(geminiVenueSymbol('BTC/USDT:USDT'), undefined, 'no perpetuals');
  assert.equal(geminiVenueSymbol('BTC-USD'), undefined);
  assert.equal(geminiUnifiedSymbol('BTCUSD'), 'BTC/USD');
  assert.equal(geminiUnifiedSymbol('BTCGUSD'), 'BTC/GUSD');
  assert.equal(geminiUnifiedSymbol('ETHUSDT'), 'ETH/USDT');
  assert.equal(geminiUnifiedSymbol('ZECLTC'), 'ZEC/LTC');
  assert.equal(geminiUnifiedSymbol('LINKETH'), 'LINK/ETH');
  assert.equal(geminiUnifiedSymbol('USD'), undefined);
  assert.equal(geminiUnifiedSymbol('BTCXYZ'), undefined);
  assert.equal(geminiUnifiedSymbol('btcusd'), undefined, 'venue spelling is upper case');
  // from another venue's spelling
  assert.equal(venueSymbolFrom('gemini-v2', 'BTC/USD'), 'BTCUSD');
  assert.equal(venueSymbolFrom('gemini-v2', 'ETH-USDT'), 'ETHUSDT');
});

test('gemini-v2 subscribe and resync frames', () => {
  assert.deepEqual(
    geminiV2SubscribeMessages(['BTCUSD', 'ETHUSD']).map((f) => JSON.parse(f)),
    [{ type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD', 'ETHUSD'] }] }],
  );
  const many = Array.from({ length: 120 }, (_, i) => `S${i}USD`);
  const frames = geminiV2SubscribeMessages(many).map((f) => JSON.parse(f));
  assert.deepEqual(
    frames.map((f) => f.subscriptions[0].symbols.length),
    [50, 50, 20],
  );
  assert.deepEqual(
    geminiV2ResyncMessages('BTCUSD').map((f) => JSON.parse(f)),
    [
      { type: 'unsubscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD'] }] },
      { type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD'] }] },
    ],
  );
  assert.deepEqual(geminiV2.subscribeMessages(['BTCUSD']), geminiV2SubscribeMessages(['BTCUSD']));
});

// ------------------------------------------------------------------------------------------ parsing

test('an l2_updates with "trades" is the snapshot: seq 0, levels by side, raw kept', () => {
  const text = l2(
    [
      ['buy', '9122.04', '0.00121425'],
      ['buy', '9121.00', '2'],
      ['sell', '9122.07', '0.98942292'],
    ],
    ',"trades":[{"type":"trade","symbol":"BTCUSD","event_id":1,"timestamp":1,"price":"9122.04","quantity":"1","side":"sell"}],"auction_events":[]',
  );
  const r = parseGeminiV2Message(text, 'c1', 7);
  assert.ok(r.snapshot, r.error);
  assert.equal(r.delta, undefined);
  assert.deepEqual(r.snapshot, {
    type: 'snapshot',
    venue: 'gemini-v2',
    symbol: 'BTCUSD',
    seq: 0,
    recvTime: 7,
    collector: 'c1',
    bids: [
      [9122.04, 0.00121425],
      [9121, 2],
    ],
    asks: [[9122.07, 0.98942292]],
    raw: text,
  });
  // an empty trade list still marks the snapshot (a book that never traded)
  assert.ok(parseGeminiV2Message(l2([['buy', '1', '1']], ',"trades":[]'), 'c1', 0).snapshot);
  // a snapshot holds no deletes
  const z = parseGeminiV2Message(
    l2(
      [
        ['buy', '1', '0'],
        ['buy', '2', '1'],
      ],
      ',"trades":[]',
    ),
    'c1',
    0,
  );
  assert.deepEqual(z.snapshot?.bids, [[2, 1]]);
});

test('an l2_updates without "trades" is an update: first = last = 0, prev unset, "0" deletes', () => {
  const text = l2([
    ['sell', '9160.20', '0.1921229751'],
    ['buy', '9100', '0'],
  ]);
  const r = parseGeminiV2Message(text, 'c2', 9);
  assert.ok(r.delta, r.error);
  assert.equal(r.snapshot, undefined);
  const d = r.delta;
  assert.equal(d.venue, 'gemini-v2');
  assert.equal(d.symbol, 'BTCUSD');
  assert.equal(d.first, 0);
  assert.equal(d.last, 0);
  assert.equal(d.prev, undefined);
  assert.deepEqual(d.bids, [[9100, 0]]);
  assert.deepEqual(d.asks, [[9160.2, 0.1921229751]]);
  assert.equal(d.raw, text);
  assert.equal(d.collector, 'c2');
  assert.equal(d.recvTime, 9);
  // an update may change nothing
  assert.deepEqual(parseGeminiV2Message(l2([]), 'c', 0).delta?.bids, []);
});

test('trades, heartbeats, candles and acks are ignored; error replies are errors', () => {
  const ignored = [
    '{"type":"trade","symbol":"BTCUSD","event_id":3575573053,"timestamp":151231241,"price":"9004.21000000","quantity":"0.09110000","side":"buy"}',
    '{"type":"heartbeat","timestamp":1624493666869}',
    '{"type":"candles_1m_updates","symbol":"BTCUSD","changes":[[1561054500000,9350.18,9358.35,9350.18,9355.51,2.07]]}',
  ];
  for (const t of ignored) assert.ok(parseGeminiV2Message(t, 'c', 0).ignored !== undefined, t);
  assert.equal(parseGeminiV2Message(ignored[1], 'c', 0).ignored, 'heartbeat');
  const err = parseGeminiV2Message('{"result":"error","reason":"InvalidJson","message":"bad"}', 'c', 0);
  assert.match(err.error ?? '', /venue error: InvalidJson/);
  assert.match(parseGeminiV2Message('{"type":"error","reason":"x"}', 'c', 0).error ?? '', /venue error/);
});

test('hostile input: every malformed frame is an error, never a throw', () => {
  const bad: string[] = [
    '',
    'nope',
    '{',
    'null',
    '[]',
    '42',
    '"l2_updates"',
    '{}',
    '{"type":7}',
    '{"type":"l2_updates"}',
    '{"type":"l2_updates","symbol":"BTCUSD"}',
    '{"type":"l2_updates","symbol":7,"changes":[]}',
    '{"type":"l2_updates","symbol":"BTC/USD","changes":[]}',
    '{"type":"l2_updates","symbol":"' + 'A'.repeat(100) + '","changes":[]}',
    '{"type":"l2_updates","symbol":"BTCUSD","changes":{}}',
    '{"type":"l2_updates","symbol":"BTCUSD","changes":"x"}',
    l2([['buy', '1']] as unknown as Change[]),
    l2([['buy', '1', '1', '1']] as unknown as Change[]),
    l2([['bid', '1', '1']]),
    l2([['BUY', '1', '1']]),
    l2([['buy', '-1', '1']]),
    l2([['buy', '0', '1']]),
    l2([['buy', '1', '-1']]),
    l2([['buy', '1e3', '1']]),
    l2([['buy', 'NaN', '1']]),
    l2([['buy', 'Infinity', '1']]),
    l2([['buy', '', '1']]),
    l2([['buy', ' 1', '1']]),
    '{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy",1,"1"]]}',
    '{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","1",1]]}',
    '{"type":"l2_updates","symbol":"BTCUSD","changes":[null]}',
    '{"type":"l2_updates","symbol":"BTCUSD","changes":[],"trades":{}}',
    '{"type":"l2_updates","symbol":"BTCUSD","changes":[],"trades":"x"}',
    // a crossed snapshot
    l2(
      [
        ['buy', '101', '1'],
        ['sell', '100', '1'],
      ],
      ',"trades":[]',
    ),
  ];
  for (const text of bad) {
    let r;
    assert.doesNotThrow(() => (r = parseGeminiV2Message(text, 'c', 0)), text.slice(0, 80));
    assert.ok(r!.error !== undefined, `error expected for ${text.slice(0, 80)}`);
    assert.equal(r!.delta, undefined);
    assert.equal(r!.snapshot, undefined);
  }
  // too many changes
  const huge = l2(Array.from({ length: GEMINI_MAX_CHANGES + 1 }, (_, i) => ['buy', String(i + 1), '1'] as Change));
  assert.match(parseGeminiV2Message(huge, 'c', 0).error ?? '', /at most/);
  // a crossed update is not refused by the parser: the book after it decides (the arbiter checks)
  assert.ok(parseGeminiV2Message(l2([['buy', '1000000', '1']]), 'c', 0).delta);
  // unknown extra keys do not stop a book
  assert.ok(parseGeminiV2Message(l2([['buy', '1', '1']], ',"x":1'), 'c', 0).delta);
  assert.ok(decodeGeminiV2('{"type":"whatever"}').ignored);
});

// ------------------------------------------------------------------------------------------ real data

test('REAL DATA: the cryptofeed Gemini v2 recording (10 symbols): 10 snapshots, 645 updates, books never crossed', () => {
  const books = new Map<string, OrderBook>();
  let snapshots = 0;
  let updates = 0;
  let others = 0;
  let deletes = 0;
  for (const text of cryptofeedReceived('cryptofeed_GEMINI.ws.1.0')) {
    const r = parseGeminiV2Message(text, 'c', 0);
    const isBook = text.includes('"type":"l2_updates"');
    if (!isBook) {
      assert.ok(r.ignored !== undefined, text.slice(0, 80));
      others++;
      continue;
    }
    assert.equal(r.error, undefined, `${r.error}: ${text.slice(0, 80)}`);
    if (r.snapshot) {
      const s = r.snapshot;
      assert.ok(!books.has(s.symbol), `one snapshot per symbol (${s.symbol})`);
      const b = new OrderBook();
      b.applySnapshot(s.bids, s.asks);
      books.set(s.symbol, b);
      snapshots++;
      assert.ok(s.bids.length > 0 && s.asks.length > 0);
    } else {
      const d = r.delta!;
      const b = books.get(d.symbol);
      assert.ok(b, `an update of ${d.symbol} after its snapshot`);
      b.apply(d.bids, d.asks);
      for (const l of [...d.bids, ...d.asks]) if (l[1] === 0) deletes++;
      updates++;
      const bid = b.bestBidPrice();
      const ask = b.bestAsk()?.[0] ?? Infinity;
      assert.ok(bid < ask, `${d.symbol} crossed after an update: ${bid} >= ${ask}`);
    }
  }
  assert.equal(snapshots, 10);
  assert.equal(updates, 645);
  assert.equal(books.size, 10);
  assert.ok(deletes > 50, `${deletes} deletes`);
  assert.equal(others, 16 + 7, 'trades and heartbeats');
  // the snapshot marker: every first l2_updates of a symbol carries "trades"; no later one does
  const seen = new Set<string>();
  for (const text of cryptofeedReceived('cryptofeed_GEMINI.ws.1.0')) {
    if (!text.includes('"type":"l2_updates"')) continue;
    const o = JSON.parse(text) as { symbol: string; trades?: unknown };
    assert.equal(Array.isArray(o.trades), !seen.has(o.symbol), o.symbol);
    seen.add(o.symbol);
  }
});
