import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scanCollectorDelta, scanConsolidatedDelta } from '../../src/wire/scan.js';
import {
  decodeCollectorEvent,
  decodeConsolidated,
  encode,
  encodeCollectorEvent,
  encodeConsolidatedDelta,
} from '../../src/wire/messages.js';
import type { BookDelta, Level } from '../../src/core/types.js';

const base: BookDelta = {
  type: 'delta',
  venue: 'binance',
  symbol: 'BTCUSDT',
  first: 10,
  last: 12,
  exchTime: 1700000000000,
  recvTime: 1700000000000123,
  collector: 'a',
  bids: [[100.5, 1.25]],
  asks: [[101, 0]],
};

const head = (ev: BookDelta) => encodeCollectorEvent(ev);

/** What JSON.parse makes of the same head, without the version field. */
function slow(text: string): object {
  const { v: _v, ...rest } = JSON.parse(text) as Record<string, unknown>;
  return rest;
}
function fast(text: string): object | undefined {
  const ev = scanCollectorDelta(text);
  if (ev === undefined) return undefined;
  const { bidsJson, asksJson, ...rest } = ev;
  // the kept texts are exactly the arrays' JSON
  assert.deepEqual(JSON.parse(bidsJson!), ev.bids);
  assert.deepEqual(JSON.parse(asksJson!), ev.asks);
  return rest;
}

// mostly exchange-like decimals (the fast path), sometimes any double (exponents: the JSON path)
const price = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 1, max: 10_000_000 }).map((c) => c / 100) },
  { weight: 1, arbitrary: fc.double({ min: 1e-9, max: 1e12, noNaN: true }) },
);
const size = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 20, arbitrary: fc.integer({ min: 0, max: 10 ** 12 }).map((s) => s / 1e8) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1e12, noNaN: true }).map((x) => x + 0) },
);
const levels = fc.array(fc.tuple(price, size) as fc.Arbitrary<Level>, { maxLength: 8 });
const plainOr = (plain: string[], odd: string[]) =>
  fc.oneof({ weight: 10, arbitrary: fc.constantFrom(...plain) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });

/** Names (sometimes needing escapes) and a sequence range, shared by the raw.* and book.* properties. */
const deltaFields = {
  venue: plainOr(['binance', 'okx', 'ü'], ['bin"ance']),
  symbol: plainOr(['BTCUSDT', 'ETH-USD'], ['A\\B', 'X\nY']),
  collector: plainOr(['a', 'b', 'collector-eu-1'], ['', 'x"y', '\u0000']),
  first: fc.integer({ min: 0, max: 2 ** 50 }),
  span: fc.integer({ min: 0, max: 100 }),
};

test('property: the scanner and JSON.parse decode every encoded head to the same event', () => {
  let scanned = 0;
  fc.assert(
    fc.property(
      fc.record({
        ...deltaFields,
        prev: fc.option(fc.integer({ min: 0, max: 2 ** 50 }), { nil: undefined }),
        exchTime: fc.integer({ min: 0, max: 2 ** 45 }),
        recvTime: fc.integer({ min: 0, max: 2 ** 52 }),
        bids: levels,
        asks: levels,
      }),
      (r) => {
        const ev: BookDelta = { ...base, ...r, last: r.first + r.span };
        delete (ev as { span?: number }).span;
        if (r.prev === undefined) delete ev.prev;
        const text = head(ev);
        const f = fast(text);
        if (f !== undefined) {
          scanned++;
          assert.deepEqual(f, slow(text));
        }
        // the public decoder gives the same event whichever path it took
        const { bidsJson: _b, asksJson: _a, v: _v, ...d } = decodeCollectorEvent(text) as BookDelta & { v?: number };
        assert.deepEqual(d, slow(text));
      },
    ),
    { numRuns: 500 },
  );
  assert.ok(scanned > 100, `the fast path took only ${scanned} of 500 heads`);
});

test('shapes the scanner does not know go to JSON.parse, never to a wrong event', () => {
  const text = head(base);
  const variants = [
    text.replace('"first":10', '"first": 10'), // whitespace
    text.replace('"bids":[[100.5,1.25]]', '"bids":[[1.005e2,1.25]]'), // exponent
    text.replace('"bids":[[100.5,1.25]]', '"bids":[[100.5,-1]]'), // negative size
    text.replace('"bids":[[100.5,1.25]]', '"bids":[[0100.5,1.25]]'), // leading zero: not JSON
    text.replace('"bids":[[100.5,1.25]]', '"bids":[[100.,1.25]]'), // not JSON
    text.replace('"collector":"a"', '"collector":"\\u0061"'), // escape
    text + ' ', // trailing byte
    text.slice(0, -1), // truncated
    text.replace('"type":"delta"', '"type":"snapshot"'),
  ];
  for (const v of variants) assert.equal(scanCollectorDelta(v), undefined, v);
  assert.deepEqual(fast(text), { ...base });
});

test('a copy whose levels are not wanted carries its range, times and collector, and empty levels', () => {
  const ev = { ...base, bids: [[1, 2]] as Level[] };
  const seen: unknown[] = [];
  const d = scanCollectorDelta(head(ev), (venue, symbol, first, last) => {
    seen.push([venue, symbol, first, last]);
    return false;
  });
  assert.deepEqual(seen, [['binance', 'BTCUSDT', 10, 12]]);
  assert.equal(d?.levelsSkipped, true);
  assert.deepEqual(
    [d?.first, d?.last, d?.collector, d?.recvTime, d?.bids, d?.asks],
    [10, 12, 'a', base.recvTime, [], []],
  );
});

test('the consolidated delta reuses the kept level texts byte for byte', () => {
  const ev = { ...base, bids: [[1e-7, 3]] as Level[], asks: [[2.5, 0.1]] as Level[] };
  const d = decodeCollectorEvent(head(ev)) as BookDelta;
  assert.equal(encodeConsolidatedDelta(d, 9, 5), encodeConsolidatedDelta(ev, 9, 5));
});

test('property: clients decode every consolidated delta the same way as JSON.parse, mostly on the fast path', () => {
  let scanned = 0;
  fc.assert(
    fc.property(
      fc.record({
        ...deltaFields,
        prev: fc.integer({ min: 0, max: 2 ** 50 }),
        exchTime: fc.integer({ min: 0, max: 2 ** 45 }),
        recvTime: fc.integer({ min: 0, max: 2 ** 52 }),
        pubTime: fc.integer({ min: 0, max: 2 ** 52 }),
        bids: levels,
        asks: levels,
      }),
      (r) => {
        const ev: BookDelta = { ...base, ...r, last: r.first + r.span };
        const text = encodeConsolidatedDelta(ev, r.prev, r.pubTime);
        const want = JSON.parse(text) as object;
        if (scanConsolidatedDelta(text) !== undefined) scanned++;
        assert.deepEqual(decodeConsolidated(text), want);
        assert.deepEqual(decodeConsolidated(Buffer.from(text)), want);
      },
    ),
    { numRuns: 500 },
  );
  assert.ok(scanned > 100, `the fast path took only ${scanned} of 500 deltas`);
});

test('consolidated shapes the scanner does not know go to JSON.parse', () => {
  const text = encodeConsolidatedDelta(base, 9, 5);
  assert.ok(scanConsolidatedDelta(text) !== undefined);
  for (const v of [
    text.replace('"seq":12', '"seq": 12'),
    text.replace('"prev":9', '"prev":-1'),
    text.replace('"feed":"a"', '"feed":"\\u0061"'),
    text + ' ',
    text.slice(0, -1),
    encode({
      v: 1,
      type: 'snapshot',
      venue: 'binance',
      symbol: 'BTCUSDT',
      seq: 1,
      bids: [],
      asks: [],
      exchTime: 0,
      pubTime: 0,
      reason: 'reply',
    }).toString(),
  ])
    assert.equal(scanConsolidatedDelta(v), undefined, v);
  assert.throws(() => decodeConsolidated(text.slice(0, -1)), /not JSON/);
});

test('levelsPrint: the same levels in another order print alike; a changed size or a level on the other side does not', async () => {
  const { levelsPrint } = await import('../../src/wire/scan.js');
  const p = (s: string) => levelsPrint(s, 0);
  const base = p(',"bids":[[100.5,2],[99,1]],"asks":[[101,3]]}');
  assert.equal(p(',"bids":[[99,1],[100.5,2]],"asks":[[101,3]]}'), base);
  assert.notEqual(p(',"bids":[[100.5,2],[99,1.5]],"asks":[[101,3]]}'), base);
  assert.notEqual(p(',"bids":[[100.5,2]],"asks":[[99,1],[101,3]]}'), base);
});
