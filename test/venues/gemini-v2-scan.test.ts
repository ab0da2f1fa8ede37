import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeGeminiV2, decodeGeminiV2Json, parseGeminiV2Message } from '../../src/venues/gemini-v2.js';
import { GEMINI_MAX_CHANGES, scanGeminiV2Update } from '../../src/venues/gemini-v2-scan.js';
import { mutatedFrames } from './mutate.js';
import { cryptofeedReceived } from './real-fixtures.js';
import { quotedDecimalText } from './scan-arbitraries.js';

/** Gemini l2_updates cases: mostly valid updates, with odd symbols, sides, change arities and snapshots now and then. */
const geminiArb = (odd: boolean) => {
  const side = odd
    ? fc.oneof({ arbitrary: fc.constantFrom('buy', 'sell'), weight: 20 }, fc.constantFrom('bid', 'Buy', ''))
    : fc.constantFrom('buy', 'sell');
  const change = fc
    .tuple(side, quotedDecimalText(odd), quotedDecimalText(odd), fc.nat({ max: odd ? 40 : 0 }))
    .map(([s, p, q, arity]): string[] => (arity === 1 ? [s, p] : arity === 2 ? [s, p, q, '1'] : [s, p, q]));
  return fc.record({
    type: fc.oneof({ arbitrary: fc.constant('l2_updates'), weight: 20 }, fc.constantFrom('trade', 'l2_update')),
    symbol: fc.oneof(
      { arbitrary: fc.constantFrom('BTCUSD', 'ethusd', 'GUSDGBP'), weight: 20 },
      fc.constantFrom('B', 'X'.repeat(31), 'X'.repeat(30), 'BTC-USD', ''),
    ),
    changes: fc.array(change, { maxLength: 10 }),
    trades: fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, fc.constant([])),
  });
};
type GeminiCase = typeof geminiArb extends (odd: boolean) => fc.Arbitrary<infer T> ? T : never;
function geminiText(m: GeminiCase): string {
  return JSON.stringify({ type: m.type, symbol: m.symbol, changes: m.changes, trades: m.trades });
}

test('gemini-v2 scanner: reads Gemini-spelled l2_updates with the careful path result, or defers', () => {
  let scanned = 0;
  let updates = 0;
  fc.assert(
    fc.property(geminiArb(true), (m) => {
      const text = geminiText(m);
      const fast = scanGeminiV2Update(text);
      const careful = decodeGeminiV2Json(text);
      if (careful.message?.snapshot === false) updates++;
      if (fast !== undefined) {
        scanned++;
        assert.deepEqual({ message: fast }, careful, text);
      }
      assert.deepEqual(decodeGeminiV2(text), careful, text);
    }),
    { numRuns: 3000 },
  );
  // every update the careful path accepts is scanned (snapshots are left to it)
  assert.ok(updates > 600 && scanned === updates, `${scanned} of ${updates} accepted updates scanned`);
  const plain = '{"type":"l2_updates","symbol":"ETHEUR","changes":[["buy","1647.74","1.844"],["sell","1657.29","0"]]}';
  assert.deepEqual(scanGeminiV2Update(plain), {
    symbol: 'ETHEUR',
    snapshot: false,
    bids: [[1647.74, 1.844]],
    asks: [[1657.29, 0]],
  });
  // whitespace, a snapshot (trades), other key orders: the careful path
  assert.equal(scanGeminiV2Update(JSON.stringify(JSON.parse(plain), null, 1)), undefined);
  assert.equal(scanGeminiV2Update(plain.replace(']]}', ']],"trades":[]}')), undefined);
  assert.equal(decodeGeminiV2(plain.replace(']]}', ']],"trades":[]}')).message?.snapshot, true);
  assert.equal(scanGeminiV2Update(plain.replace('"symbol":"ETHEUR",', '') + ''), undefined);
});

test('gemini-v2 scanner: decodeGeminiV2 equals the careful path on mutated and re-formatted messages, never throws', () => {
  fc.assert(
    fc.property(mutatedFrames(geminiArb(false).map(geminiText)), (text) => {
      assert.deepEqual(decodeGeminiV2(text), decodeGeminiV2Json(text), text);
      parseGeminiV2Message(text, 'c', 1);
    }),
    { numRuns: 5000 },
  );
  // the recording's updates are scanned, with the careful path's result
  let scanned = 0;
  for (const text of cryptofeedReceived('cryptofeed_GEMINI.ws.1.0')) {
    if (scanGeminiV2Update(text) !== undefined) scanned++;
    assert.deepEqual(decodeGeminiV2(text), decodeGeminiV2Json(text), text);
  }
  assert.ok(scanned >= 600, `${scanned} of the recording's 645 updates scanned`);
});

test('gemini-v2 scanner: at most GEMINI_MAX_CHANGES changes, a truncated frame deferred', () => {
  const frame = (n: number) =>
    `{"type":"l2_updates","symbol":"BTCUSD","changes":[${Array.from({ length: n }, (_, i) => `["sell","${i + 1}","1"]`).join(',')}]}`;
  assert.equal(scanGeminiV2Update(frame(GEMINI_MAX_CHANGES))?.asks.length, GEMINI_MAX_CHANGES);
  assert.equal(scanGeminiV2Update(frame(GEMINI_MAX_CHANGES + 1)), undefined);
  assert.ok(decodeGeminiV2(frame(GEMINI_MAX_CHANGES + 1)).error);
  const small = frame(2);
  for (let n = 0; n < small.length; n++) assert.equal(scanGeminiV2Update(small.slice(0, n)), undefined);
});
