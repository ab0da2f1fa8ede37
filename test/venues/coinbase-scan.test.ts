import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { coinbaseTime, decodeCoinbase, decodeCoinbaseJson, parseCoinbaseMessage } from '../../src/venues/coinbase.js';
import { COINBASE_MAX_UPDATES, scanCoinbaseL2 } from '../../src/venues/coinbase-scan.js';
import { mutatedFrames } from './mutate.js';
import { quotedDecimalText, timestampArb } from './scan-arbitraries.js';

/** Coinbase l2_data cases: mostly valid, with odd products, sides, sequence numbers and times now and then. */
const coinbaseArb = (odd: boolean) => {
  const time = fc.oneof(
    { arbitrary: timestampArb, weight: 9 },
    fc.constantFrom('1970-01-01T00:00:00Z', '1969-12-31T23:59:59Z'),
  );
  const update = fc.record({
    side: odd
      ? fc.oneof({ arbitrary: fc.constantFrom('bid', 'offer'), weight: 20 }, fc.constantFrom('ask', 'Bid', ''))
      : fc.constantFrom('bid', 'offer'),
    event_time: time,
    price_level: quotedDecimalText(odd),
    new_quantity: quotedDecimalText(odd),
  });
  return fc.record({
    type: fc.oneof(
      { arbitrary: fc.constantFrom('update', 'snapshot'), weight: 20 },
      fc.constantFrom('updates', 'snap'),
    ),
    product: fc.oneof(
      { arbitrary: fc.constantFrom('BTC-USD', 'ETH-USDC', 'A-B-C-D'), weight: 20 },
      fc.constantFrom('A-B-C-D-E', 'btc-usd', 'BTCUSD', 'X'.repeat(21) + '-USD', 'BTC-', '-USD', 'BTC--USD'),
    ),
    clientId: fc.oneof({ arbitrary: fc.constant(''), weight: 9 }, fc.constantFrom('abc', 'a"b', 'a\\b', '\u0001')),
    seq: fc.oneof({ arbitrary: fc.nat(), weight: 9 }, fc.constantFrom(0, 2 ** 53, 2 ** 53 - 1, -1, 1.5)),
    timestamp: time,
    updates: fc.array(update, { maxLength: 8 }),
  });
};
type CoinbaseCase = typeof coinbaseArb extends (odd: boolean) => fc.Arbitrary<infer T> ? T : never;
function coinbaseText(m: CoinbaseCase): string {
  return JSON.stringify({
    channel: 'l2_data',
    client_id: m.clientId,
    timestamp: m.timestamp,
    sequence_num: m.seq,
    events: [{ type: m.type, product_id: m.product, updates: m.updates }],
  });
}

test('coinbase scanner: reads Coinbase-spelled l2_data messages with the careful path result, or defers', () => {
  let scanned = 0;
  let accepted = 0;
  fc.assert(
    fc.property(coinbaseArb(true), (m) => {
      const text = coinbaseText(m);
      const fast = scanCoinbaseL2(text);
      const careful = decodeCoinbaseJson(text);
      // what Coinbase never writes is left to the careful path: a client_id with escapes, hour 24
      if (careful.message !== undefined && !/\\|T24:/.test(text)) accepted++;
      if (fast !== undefined) {
        scanned++;
        assert.deepEqual(fast, careful, text);
      }
      assert.deepEqual(decodeCoinbase(text), careful, text);
    }),
    { numRuns: 3000 },
  );
  assert.ok(accepted > 300 && scanned === accepted, `${scanned} of ${accepted} accepted messages scanned`);
  // the documented shape is scanned; whitespace, other key orders and several events are not
  const plain = coinbaseText({
    type: 'update',
    product: 'BTC-USD',
    clientId: '',
    seq: 7,
    timestamp: '2026-08-12T19:27:48.364886251Z',
    updates: [
      { side: 'bid', event_time: '2026-08-12T19:27:48.298771Z', price_level: '63310.25', new_quantity: '0.5' },
      { side: 'offer', event_time: '2026-08-12T19:27:49Z', price_level: '63311', new_quantity: '0' },
    ],
  });
  const r = scanCoinbaseL2(plain);
  assert.deepEqual(r, {
    message: {
      type: 'update',
      product: 'BTC-USD',
      bids: [[63310.25, 0.5]],
      asks: [[63311, 0]],
      ts: Date.parse('2026-08-12T19:27:48.364Z'),
      eventTime: Date.parse('2026-08-12T19:27:49Z'),
    },
    connectionSeq: 7,
  });
  assert.equal(scanCoinbaseL2(JSON.stringify(JSON.parse(plain), null, 1)), undefined);
  assert.equal(scanCoinbaseL2(plain.replace('"client_id":"",', '') + ''), undefined);
  const two = JSON.parse(plain);
  two.events.push(two.events[0]);
  assert.equal(scanCoinbaseL2(JSON.stringify(two)), undefined);
  assert.equal(decodeCoinbase(JSON.stringify(two)).message?.bids.length, 2);
  // hour 24 (Date.parse takes 24:00:00.000 only) is left to the careful path
  assert.equal(scanCoinbaseL2(plain.replace('19:27:49Z', '24:00:00Z')), undefined);
  assert.equal(
    decodeCoinbase(plain.replace('19:27:49Z', '24:00:00Z')).message?.eventTime,
    Date.parse('2026-08-13T00:00:00Z'),
  );
});

test('coinbase scanner: decodeCoinbase equals the careful path on mutated and re-formatted messages, never throws', () => {
  fc.assert(
    fc.property(mutatedFrames(coinbaseArb(false).map(coinbaseText)), (text) => {
      assert.deepEqual(decodeCoinbase(text), decodeCoinbaseJson(text), text);
      parseCoinbaseMessage(text, 'c', 1);
    }),
    { numRuns: 5000 },
  );
});

test('coinbase scanner: at most COINBASE_MAX_UPDATES updates, a truncated frame deferred', () => {
  const u = '{"side":"bid","event_time":"2026-08-12T19:27:48Z","price_level":"1","new_quantity":"1"}';
  const frame = (n: number) =>
    '{"channel":"l2_data","client_id":"","timestamp":"2026-08-12T19:27:48Z","sequence_num":1,"events":[{"type":"snapshot",' +
    `"product_id":"BTC-USD","updates":[${Array.from({ length: n }, () => u).join(',')}]}]}`;
  assert.equal(scanCoinbaseL2(frame(COINBASE_MAX_UPDATES))?.message.bids.length, COINBASE_MAX_UPDATES);
  const over = frame(COINBASE_MAX_UPDATES + 1);
  assert.equal(scanCoinbaseL2(over), undefined);
  assert.match(decodeCoinbase(over).error ?? '', /too many updates/);
  const small = frame(2);
  for (let n = 0; n < small.length; n++) assert.equal(scanCoinbaseL2(small.slice(0, n)), undefined, small.slice(0, n));
});

test('coinbaseTime (both paths read times with it or like it) is Date.parse of the time cut to ms, or NaN', () => {
  fc.assert(
    fc.property(fc.array(timestampArb, { minLength: 1, maxLength: 4 }), (times) => {
      // several in a row: the whole second kept from one time must not leak into the next
      for (const t of times) {
        const m = /^(.{19})(?:\.([0-9]{1,9}))?Z$/.exec(t);
        const expected = m === null ? NaN : Date.parse(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`);
        assert.deepEqual(coinbaseTime(t), expected >= 0 ? expected : NaN, t);
      }
    }),
    { numRuns: 2000 },
  );
});
