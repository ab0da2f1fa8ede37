/** The fast delta decoder gives exactly what JSON.parse gives, or declines. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { fastDecodeDelta } from '../../src/recorder/fastdecode.js';
import { synthStream } from './helpers.js';

const delta = (bids: number[][], asks: number[][], seq = 12345678901234) =>
  `{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","seq":${seq},"prev":${seq - 3},"first":${seq - 2},"bids":${JSON.stringify(bids)},"asks":${JSON.stringify(asks)},"exchTime":1700000000123,"recvTime":1795428000124512,"pubTime":1795428000124601,"feed":"a"}`;

test('same object as JSON.parse for arbiter-shaped deltas (random prices and sizes, every digit count)', () => {
  const price = fc.oneof(
    fc.double({ min: 0, max: 1e7, noNaN: true }),
    fc.integer({ min: 0, max: 1e9 }).map((x) => x / 100),
    fc.integer({ min: 1, max: 1e12 }).map((x) => x / 1e8),
  );
  const level = fc.tuple(price, price);
  fc.assert(
    fc.property(
      fc.array(level, { maxLength: 6 }),
      fc.array(level, { maxLength: 6 }),
      fc.integer({ min: 0, max: 2 ** 52 }),
      (b, a, seq) => {
        const text = delta(b, a, seq);
        const fast = fastDecodeDelta(Buffer.from(text));
        if (fast === undefined) return /e/i.test(text.replace(/"[a-zA-Z]+"/g, '')) || /\d{16,}/.test(text); // declined: exponent or too many digits
        assert.deepEqual(fast, JSON.parse(text));
        return true;
      },
    ),
    { numRuns: 2000 },
  );
});

test('the synthetic consolidated stream decodes identically', () => {
  for (const m of synthStream(500)) {
    if (m.snapshot) continue;
    assert.deepEqual(fastDecodeDelta(m.payload), decodeConsolidated(m.payload));
  }
});

test('declines anything not in the exact layout', () => {
  for (const text of [
    JSON.stringify({
      v: 1,
      symbol: 'X',
      venue: 'binance',
      type: 'delta',
      seq: 1,
      prev: 0,
      first: 1,
      bids: [],
      asks: [],
    }),
    delta([[1e21, 1]], []),
    delta([[1, -1]], []),
    delta([], []).replace('"feed":"a"', '"feed":"a\\"b"'),
    delta([], []) + ' ',
    delta([], []).slice(0, -5),
    '{"v":1,"type":"snapshot","venue":"binance"}',
  ])
    assert.equal(fastDecodeDelta(Buffer.from(text)), undefined, text);
  assert.ok(fastDecodeDelta(Buffer.from(delta([], []))));
});
