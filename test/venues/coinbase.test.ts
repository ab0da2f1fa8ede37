import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findVenue, underPrefix, VENUE_IDS, venueSymbolFrom } from '../../src/venues/index.js';
import {
  coinbase,
  COINBASE_MAX_UPDATES,
  COINBASE_WS_BASE,
  coinbaseResyncMessages,
  coinbaseSubscribeMessages,
  coinbaseTime,
  coinbaseUnifiedSymbol,
  coinbaseVenueSymbol,
  parseCoinbaseMessage,
} from '../../src/venues/coinbase.js';
import { jsonLines } from './real-fixtures.js';

type Up = [side: string, price: string, qty: string, eventTime?: string];

/** An l2_data message as Coinbase writes it (key order of the docs). */
function l2(type: 'snapshot' | 'update', updates: Up[], seq: number | string = 5, product = 'BTC-USD'): string {
  const u = updates.map(([side, p, q, t]) => ({
    side,
    event_time: t ?? '2026-08-12T19:27:48.298771Z',
    price_level: p,
    new_quantity: q,
  }));
  return JSON.stringify({
    channel: 'l2_data',
    client_id: '',
    timestamp: '2026-08-12T19:27:48.364886251Z',
    sequence_num: seq,
    events: [{ type, product_id: product, updates: u }],
  });
}

/** The heartbeats example of Coinbase's "Advanced Trade WebSocket Channels" page (data only). */
const DOC_HEARTBEAT =
  '{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":0,' +
  '"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}]}';

test('coinbase: registered, replica merge, websocket snapshots, no depth limit, default URL and sim prefix', () => {
  assert.ok(VENUE_IDS.includes('coinbase'));
  assert.equal(findVenue('coinbase'), coinbase);
  assert.equal(coinbase.merge, 'replica');
  assert.equal(coinbase.bookDepth, undefined);
  assert.equal(coinbase.snapshotSource, 'websocket');
  assert.equal(coinbase.defaultWsUrl, COINBASE_WS_BASE);
  assert.equal(coinbase.wsUrl('wss://advanced-trade-ws.coinbase.com/', ['BTC-USD']), COINBASE_WS_BASE);
  assert.throws(() => coinbase.wsUrl(COINBASE_WS_BASE, []), RangeError);
  // the simulator serves it under /coinbase with the venue's own path ('/'): nothing appended
  const u = underPrefix(coinbase, 'ws://127.0.0.1:9/coinbase/p/flaky', 'http://127.0.0.1:9/coinbase');
  assert.equal(u.wsUrl, 'ws://127.0.0.1:9/coinbase/p/flaky');
});

test('coinbase: symbols BTC-USD <-> BTC/USD, other venues spellings through the unified form', () => {
  assert.equal(coinbaseVenueSymbol('BTC-USD'), 'BTC-USD');
  assert.equal(coinbaseVenueSymbol('btc-usd'), 'BTC-USD');
  assert.equal(coinbaseVenueSymbol('BTC/USD'), 'BTC-USD');
  assert.equal(coinbaseVenueSymbol('BTCUSD'), undefined);
  assert.equal(coinbaseVenueSymbol('BTC/USDT:USDT'), undefined);
  assert.equal(coinbaseVenueSymbol('BTC-USDT-SWAP'), undefined);
  assert.equal(coinbaseUnifiedSymbol('BTC-USD'), 'BTC/USD');
  assert.equal(coinbaseUnifiedSymbol('BTC/USD'), undefined);
  assert.equal(coinbaseUnifiedSymbol('btc-usd'), undefined);
  assert.equal(venueSymbolFrom('coinbase', 'BTCUSDT'), 'BTC-USDT'); // Binance's spelling
  assert.equal(venueSymbolFrom('coinbase', 'BTC-USDT-SWAP'), undefined); // a perpetual: no Coinbase spot book
});

test('coinbase: subscribe level2 and heartbeats (one channel per frame), resync = unsubscribe + subscribe level2', () => {
  const products = Array.from({ length: 60 }, (_, i) => `A${i}-USD`);
  const frames = coinbaseSubscribeMessages(products).map((f) => JSON.parse(f));
  assert.equal(frames.length, 4);
  assert.deepEqual(
    frames.map((f) => [f.type, f.channel, f.product_ids.length]),
    [
      ['subscribe', 'level2', 50],
      ['subscribe', 'level2', 10],
      ['subscribe', 'heartbeats', 50],
      ['subscribe', 'heartbeats', 10],
    ],
  );
  assert.deepEqual(coinbase.subscribeMessages(['BTC-USD']), [
    '{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}',
    '{"type":"subscribe","product_ids":["BTC-USD"],"channel":"heartbeats"}',
  ]);
  assert.deepEqual(coinbaseResyncMessages('ETH-USD'), [
    '{"type":"unsubscribe","product_ids":["ETH-USD"],"channel":"level2"}',
    '{"type":"subscribe","product_ids":["ETH-USD"],"channel":"level2"}',
  ]);
  assert.deepEqual(coinbase.resyncMessages!('ETH-USD'), coinbaseResyncMessages('ETH-USD'));
});

test('coinbase: snapshot -> seq 0, bids/asks by side, "0" levels dropped, connectionSeq = sequence_num', () => {
  const text = l2(
    'snapshot',
    [
      ['bid', '63310.25', '0.5', '1970-01-01T00:00:00Z'],
      ['bid', '63310.2', '1.25'],
      ['bid', '63300', '0'],
      ['offer', '63310.26', '0.00000043'],
    ],
    0,
  );
  const r = parseCoinbaseMessage(text, 'c1', 1234);
  assert.equal(r.error, undefined);
  assert.equal(r.connectionSeq, 0);
  const s = r.snapshot!;
  assert.equal(s.venue, 'coinbase');
  assert.equal(s.symbol, 'BTC-USD');
  assert.equal(s.seq, 0);
  assert.equal(s.collector, 'c1');
  assert.equal(s.recvTime, 1234);
  assert.equal(s.raw, text);
  assert.deepEqual(s.bids, [
    [63310.25, 0.5],
    [63310.2, 1.25],
  ]);
  assert.deepEqual(s.asks, [[63310.26, 0.00000043]]);
  assert.equal(s.exchTime, Date.parse('2026-08-12T19:27:48.364Z'));
});

test('coinbase: update -> delta first = last = 0, prev unset, exchTime the latest event_time, "0" deletes kept', () => {
  const text = l2(
    'update',
    [
      ['bid', '72575', '0', '2026-03-05T09:05:32.449176Z'],
      ['bid', '72570', '68', '2026-03-05T09:05:32.449176Z'],
      ['offer', '72580', '13', '2026-03-05T09:05:32.449177Z'],
      ['bid', '72570', '67', '2026-03-05T09:05:32.449176Z'],
    ],
    229,
  );
  const r = parseCoinbaseMessage(text, 'c', 1);
  assert.equal(r.error, undefined);
  assert.equal(r.connectionSeq, 229);
  const d = r.delta!;
  assert.equal(d.first, 0);
  assert.equal(d.last, 0);
  assert.equal(d.prev, undefined);
  assert.equal(d.symbol, 'BTC-USD');
  // in message order: a price updated twice keeps both, the later applied last
  assert.deepEqual(d.bids, [
    [72575, 0],
    [72570, 68],
    [72570, 67],
  ]);
  assert.deepEqual(d.asks, [[72580, 13]]);
  assert.equal(d.exchTime, Date.parse('2026-03-05T09:05:32.449Z'));
  assert.equal(d.raw, text);
});

test('coinbase: several events of one book are applied in order; of several books, an error (with connectionSeq)', () => {
  const two = (p2: string, t2 = 'update') =>
    JSON.stringify({
      channel: 'l2_data',
      timestamp: '2026-08-12T19:27:48.364886251Z',
      sequence_num: 9,
      events: [
        { type: 'update', product_id: 'BTC-USD', updates: [{ side: 'bid', price_level: '1', new_quantity: '2' }] },
        { type: t2, product_id: p2, updates: [{ side: 'bid', price_level: '1', new_quantity: '3' }] },
      ],
    });
  const same = parseCoinbaseMessage(two('BTC-USD'), 'c', 0);
  assert.deepEqual(same.delta!.bids, [
    [1, 2],
    [1, 3],
  ]);
  const other = parseCoinbaseMessage(two('ETH-USD'), 'c', 0);
  assert.match(other.error!, /several books/);
  assert.equal(other.connectionSeq, 9);
  assert.match(parseCoinbaseMessage(two('BTC-USD', 'snapshot'), 'c', 0).error!, /several books or types/);
});

test('coinbase: heartbeats, subscriptions acks and other channels are ignored, each with its connectionSeq', () => {
  const hb = parseCoinbaseMessage(DOC_HEARTBEAT, 'c', 0);
  assert.deepEqual(hb, { ignored: 'heartbeats', connectionSeq: 0 });
  const ack = parseCoinbaseMessage(
    '{"channel":"subscriptions","client_id":"","timestamp":"2026-08-12T19:27:48.098899106Z","sequence_num":7,"events":[{"subscriptions":{"level2":["BTC-USD"],"heartbeats":["BTC-USD"]}}]}',
    'c',
    0,
  );
  assert.deepEqual(ack, { ignored: 'subscriptions', connectionSeq: 7 });
});

test('coinbase real messages (ccxt 2026): every frame ignored, sequence_num 0,1,2 per connection across channels', () => {
  const lines = jsonLines('ccxt_coinbase_advanced_trade.jsonl');
  assert.equal(lines.length, 6);
  const got = lines.map((l) => parseCoinbaseMessage(l, 'c', 0));
  assert.deepEqual(
    got.map((r) => [r.ignored, r.connectionSeq, r.error]),
    [
      ['market_trades', 0, undefined],
      ['subscriptions', 1, undefined],
      ['market_trades', 2, undefined],
      ['ticker', 0, undefined],
      ['subscriptions', 1, undefined],
      ['ticker', 2, undefined],
    ],
  );
});

test('coinbase: venue errors and malformed input are errors, never throws', () => {
  const e = parseCoinbaseMessage('{"type":"error","message":"failure to subscribe"}', 'c', 0);
  assert.match(e.error!, /venue error: failure to subscribe/);
  const bad: [string, RegExp][] = [
    ['not json', /malformed JSON/],
    ['[1]', /not a JSON object/],
    ['{"sequence_num":1}', /no "channel"/],
    ['{"channel":"heartbeats","sequence_num":-1,"events":[]}', /sequence_num/],
    ['{"channel":"heartbeats","sequence_num":"1","events":[]}', /sequence_num/],
    ['{"channel":"heartbeats","sequence_num":1.5,"events":[]}', /sequence_num/],
    ['{"channel":"l2_data","events":[]}', /without "sequence_num"/],
    ['{"channel":"l2_data","sequence_num":1,"events":[]}', /non-empty array/],
    ['{"channel":"l2_data","sequence_num":1}', /non-empty array/],
    [l2('update', [['ask', '1', '1']]), /side/],
    [l2('update', [['bid', '-1', '1']]), /price_level/],
    [l2('update', [['bid', '1e5', '1']]), /price_level/],
    [l2('update', [['bid', '1', ' 1']]), /new_quantity/],
    [l2('update', [['bid', '0', '1']]), /price_level/],
    [l2('update', [['bid', '1', '1', 'yesterday']]), /event_time/],
    [l2('update', [['bid', '1', '1']], 1, 'BTCUSD'), /product_id/],
    [l2('update', [['bid', '1', '1']], 1, 'x'.repeat(300)), /product_id/],
    [
      l2(
        'snapshot',
        [
          ['bid', '2', '1'],
          ['offer', '1', '1'],
        ],
        1,
      ),
      /crossed snapshot/,
    ],
    [l2('update', [['bid', '1', '1']]).replace('"update"', '"l2update"'), /type/],
    [l2('update', [['bid', '1', '1']]).replace(/"timestamp":"[^"]*"/, '"timestamp":5'), /timestamp/],
  ];
  for (const [text, re] of bad) {
    const r = parseCoinbaseMessage(text, 'c', 0);
    assert.match(r.error ?? '', re, text.slice(0, 120));
    assert.equal(r.delta, undefined);
    assert.equal(r.snapshot, undefined);
  }
  // the error of a numbered frame keeps its number: the collector still sees the connection's count
  assert.equal(parseCoinbaseMessage(l2('update', [['ask', '1', '1']], 44), 'c', 0).connectionSeq, 44);
  // bounded: one message may not carry more than COINBASE_MAX_UPDATES levels
  const many = JSON.stringify({
    channel: 'l2_data',
    sequence_num: 1,
    events: [
      {
        type: 'update',
        product_id: 'BTC-USD',
        updates: Array.from({ length: COINBASE_MAX_UPDATES + 1 }, () => ({
          side: 'bid',
          price_level: '1',
          new_quantity: '1',
        })),
      },
    ],
  });
  assert.match(parseCoinbaseMessage(many, 'c', 0).error!, /too many updates/);
  // hostile shapes of every field, none throws
  for (const v of ['null', '1', '"x"', '[]', '{}', '[null]', '[[]]', '[{"updates":null}]']) {
    const text = `{"channel":"l2_data","sequence_num":1,"events":${v}}`;
    assert.doesNotThrow(() => parseCoinbaseMessage(text, 'c', 0));
    assert.ok(parseCoinbaseMessage(text, 'c', 0).error !== undefined, text);
  }
});

test('coinbase: timestamps with 0-9 fraction digits', () => {
  assert.equal(coinbaseTime('2026-08-12T19:27:48.098821666Z'), Date.parse('2026-08-12T19:27:48.098Z'));
  assert.equal(coinbaseTime('2026-08-12T19:27:48Z'), Date.parse('2026-08-12T19:27:48Z'));
  assert.equal(coinbaseTime('1970-01-01T00:00:00Z'), 0);
  assert.ok(Number.isNaN(coinbaseTime('2026-08-12 19:27:48Z')));
  assert.ok(Number.isNaN(coinbaseTime(5)));
});
