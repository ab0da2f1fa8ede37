import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  answerSnapshotQuery,
  DecodeError,
  decodeAny,
  decodeCollectorEvent,
  decodeBookMessage,
  decodeConsolidated,
  encode,
  encodeHeartbeat,
  isHeartbeat,
  encodeCollectorEvent,
  encodeConsolidatedDelta,
  MAX_RAW_LEVELS_PER_SIDE,
  type ConsolidatedSnapshot,
} from '../../src/wire/messages.js';
import type { BookDelta, BookSnapshot } from '../../src/core/types.js';

const delta: BookDelta = {
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
  raw: '{"e":"depthUpdate","note":"line1\nline2 \\" quoted"}',
};

/** The decoded event without what only one of the two decoders adds (the JSON path's `v`, the scanner's level texts). */
function norm(ev: object): object {
  const { v: _v, bidsJson: _b, asksJson: _a, ...rest } = ev as Record<string, unknown>;
  return rest;
}

test('collector events round-trip; the raw text travels after the JSON head, untouched', () => {
  const buf = Buffer.from(encodeCollectorEvent(delta)); // as it arrives off the bus
  assert.deepEqual(norm(decodeCollectorEvent(buf, true)), delta);
  const { raw: _r, ...noRaw } = delta;
  assert.deepEqual(norm(decodeCollectorEvent(buf)), noRaw, 'without withRaw the raw text is not decoded');
  assert.deepEqual(norm(decodeCollectorEvent(buf.toString(), true)), delta);
  const snap: BookSnapshot = {
    type: 'snapshot',
    venue: 'binance',
    symbol: 'BTCUSDT',
    seq: 9,
    recvTime: 1,
    collector: 'b',
    bids: [[1, 2]],
    asks: [[3, 4]],
    raw: '{}',
  };
  assert.deepEqual(decodeCollectorEvent(encodeCollectorEvent(snap), true), { v: 1, ...snap });
});

test('property: any raw text and any levels survive the round trip', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary' }),
      fc.array(
        fc.tuple(
          fc.double({ min: 0.01, max: 1e9, noNaN: true }),
          fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
        ),
      ),
      (raw, lv) => {
        const ev = { ...delta, raw, bids: lv, asks: [] };
        assert.deepEqual(norm(decodeCollectorEvent(encodeCollectorEvent(ev), true)), ev);
      },
    ),
    { numRuns: 200 },
  );
});

test('malformed payloads are DecodeErrors with a reason, never anything else', () => {
  const bad: [string, RegExp][] = [
    ['nope', /not JSON/],
    ['[1,2]', /version|object/],
    ['{"v":2}', /version 2/],
    [
      '{"v":1,"type":"delta","venue":"binance","symbol":"X","collector":"a","recvTime":1,"first":1,"last":2,"bids":[["1","2"]],"asks":[]}',
      /bids/,
    ],
    [
      '{"v":1,"type":"delta","venue":"binance","symbol":"X","collector":"a","recvTime":1,"first":3,"last":2,"bids":[],"asks":[]}',
      /first > last/,
    ],
    [
      '{"v":1,"type":"delta","venue":"binance","symbol":"X","collector":"a","recvTime":1,"first":"1","last":2,"bids":[],"asks":[]}',
      /first/,
    ],
    [
      '{"v":1,"type":"hello","venue":"binance","symbol":"X","collector":"a","recvTime":1,"bids":[],"asks":[]}',
      /unexpected type/,
    ],
  ];
  for (const [text, why] of bad)
    assert.throws(
      () => decodeCollectorEvent(text),
      (e: unknown) => e instanceof DecodeError && why.test((e as Error).message),
      text,
    );
  assert.throws(() => decodeConsolidated('{"v":1,"type":"error","message":"resyncing"}'), /resyncing/);
  assert.throws(
    () => decodeConsolidated('{"v":1,"type":"delta","venue":"b","symbol":"X","seq":2,"bids":[],"asks":[]}'),
    /prev/,
  );
});

test('a consolidated delta encodes to what decodeConsolidated reads back', () => {
  const m = decodeConsolidated(encodeConsolidatedDelta(delta, 9, 1700000000000999));
  assert.deepEqual(m, {
    v: 1,
    type: 'delta',
    venue: 'binance',
    symbol: 'BTCUSDT',
    seq: 12,
    prev: 9,
    first: 10,
    bids: delta.bids,
    asks: delta.asks,
    exchTime: delta.exchTime,
    recvTime: delta.recvTime,
    pubTime: 1700000000000999,
    feed: 'a',
  });
});

test('snapshot service replies: the book, or an error naming why not', () => {
  const snap: ConsolidatedSnapshot = {
    v: 1,
    type: 'snapshot',
    venue: 'binance',
    symbol: 'BTCUSDT',
    seq: 7,
    bids: [[1, 2]],
    asks: [[3, 4]],
    exchTime: 0,
    pubTime: 1,
    reason: 'reply',
  };
  const books = new Map([
    ['binance.BTCUSDT', { synced: true, snapshot: () => snap }],
    ['binance.ETHUSDT', { synced: false, snapshot: () => snap }],
  ]);
  const ask = (payload: Buffer) =>
    decodeAny(
      answerSnapshotQuery(
        payload,
        (q) => `${q.venue}.${q.symbol}`,
        (n) => books.get(n),
      ),
    );
  const query = (symbol: string) => encode({ v: 1, type: 'snapshot-query', venue: 'binance', symbol });
  assert.deepEqual(ask(query('BTCUSDT')), snap);
  assert.deepEqual(ask(query('XRPUSDT')), { v: 1, type: 'error', message: 'unknown book binance.XRPUSDT' });
  assert.deepEqual(ask(query('ETHUSDT')), { v: 1, type: 'error', message: 'book binance.ETHUSDT is resyncing' });
  assert.match((ask(Buffer.from('{oops')) as unknown as { message: string }).message, /not JSON/);
});

test('a venue reset flag survives the raw.* wire (encode -> decode)', () => {
  const ev = {
    type: 'delta' as const, venue: 'okx', symbol: 'BTC-USDT', first: 3, last: 3, prev: 15, reset: true as const,
    exchTime: 1, recvTime: 2, collector: 'a', bids: [], asks: [],
  }; // prettier-ignore
  const back = decodeCollectorEvent(encodeCollectorEvent(ev));
  assert.equal(back.type === 'delta' && back.reset, true);
  const plain = decodeCollectorEvent(encodeCollectorEvent({ ...ev, reset: undefined }));
  assert.equal(plain.type === 'delta' && plain.reset, undefined);
});

test('heartbeats: encoded with a fixed prefix, decoded by decodeBookMessage only, checked like any input', () => {
  const h = encodeHeartbeat({
    venue: 'okx',
    symbol: 'BTC-USDT',
    seq: 42,
    pubTime: 7,
    arbiter: 'arb-2',
    stale: true,
    staleSince: 5,
  });
  assert.ok(isHeartbeat(h));
  assert.deepEqual(decodeBookMessage(h), {
    v: 1,
    type: 'heartbeat',
    venue: 'okx',
    symbol: 'BTC-USDT',
    seq: 42,
    pubTime: 7,
    arbiter: 'arb-2',
    stale: true,
    staleSince: 5,
  });
  // code written for deltas and snapshots never gets one by surprise
  assert.throws(() => decodeConsolidated(h), DecodeError);
  const snapshot = encode({ v: 1, type: 'snapshot', venue: 'x', symbol: 'y', seq: 1, bids: [], asks: [] });
  assert.equal(isHeartbeat(snapshot), false);
  assert.equal(decodeBookMessage(snapshot).type, 'snapshot');
  for (const bad of [{ seq: 1.5 }, { seq: -2 }, { seq: 1e300 }, { stale: 'no' }, { arbiter: 3 }])
    assert.throws(
      () =>
        decodeBookMessage(
          encode({ v: 1, type: 'heartbeat', venue: 'x', symbol: 'y', seq: 1, arbiter: 'a', stale: false, ...bad }),
        ),
      DecodeError,
      JSON.stringify(bad),
    );
});

test('hostile numbers in a raw.* event are DecodeErrors on both the fast and the JSON path, never an event', () => {
  // Each one, applied, would poison a book: `last = 1e300` makes every real event after it stale.
  const base = { ...delta, raw: undefined };
  const bad: [string, Record<string, unknown>][] = [
    ['last 1e300', { last: 1e300 }],
    ['last above 2^53', { last: 2 ** 60 }],
    ['negative first', { first: -5 }],
    ['fractional last', { last: 12.5 }],
    ['negative prev', { prev: -1 }],
    ['fractional prev', { prev: 10.5 }],
    ['negative price', { bids: [[-100, 1]] }],
    ['zero price', { asks: [[0, 1]] }],
    ['absurd price', { bids: [[1e300, 1]] }],
    ['negative size', { bids: [[100, -1]] }],
    ['absurd size', { asks: [[101, 1e200]] }],
    ['negative recvTime', { recvTime: -1 }],
    ['negative exchTime', { exchTime: -1 }],
  ];
  for (const [what, patch] of bad) {
    const ev = { ...base, ...patch };
    // the hand-built encoder (fast-path shape) and JSON.stringify (JSON.parse path) must both be refused
    for (const text of [encodeCollectorEvent(ev as BookDelta), JSON.stringify({ v: 1, ...ev })])
      assert.throws(() => decodeCollectorEvent(text), DecodeError, `${what}: ${text}`);
  }
  const snap = {
    v: 1,
    type: 'snapshot',
    venue: 'binance',
    symbol: 'BTCUSDT',
    recvTime: 1,
    collector: 'a',
    bids: [],
    asks: [],
  };
  for (const seq of [1e300, -1, 2.5, 2 ** 60])
    assert.throws(() => decodeCollectorEvent(JSON.stringify({ ...snap, seq })), DecodeError, `snapshot seq ${seq}`);
  // the bounds are not tighter than real data: safe integers and small prices pass
  const ok = { ...base, first: Number.MAX_SAFE_INTEGER - 1, last: Number.MAX_SAFE_INTEGER, bids: [[1e-8, 0]] };
  assert.equal((decodeCollectorEvent(JSON.stringify({ v: 1, ...ok })) as BookDelta).last, Number.MAX_SAFE_INTEGER);
});

test('a raw event or snapshot with more levels per side than the bound is a DecodeError, at the bound it decodes', () => {
  const levels = (n: number, from: number): [number, number][] => Array.from({ length: n }, (_, i) => [from + i, 1]);
  const snapshot: BookSnapshot = {
    type: 'snapshot',
    venue: 'binance',
    symbol: 'BTCUSDT',
    seq: 5,
    recvTime: 1,
    collector: 'a',
    bids: [],
    asks: [],
  };
  const max = MAX_RAW_LEVELS_PER_SIDE;
  const cases: [string, BookDelta | BookSnapshot][] = [
    ['delta bids', { ...delta, raw: undefined, bids: levels(max + 1, 1), asks: [] }],
    ['delta asks', { ...delta, raw: undefined, bids: [], asks: levels(max + 1, 1e6) }],
    ['snapshot bids', { ...snapshot, bids: levels(max + 1, 1) }],
    ['snapshot asks', { ...snapshot, asks: levels(max + 1, 1e6) }],
  ];
  for (const [what, ev] of cases) {
    const text = encodeCollectorEvent(ev);
    // the fast scanner's exact shape, and the JSON.parse path (keys in another order)
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(text) as object).reverse()));
    for (const payload of [text, Buffer.from(text), reordered]) {
      assert.throws(() => decodeCollectorEvent(payload), DecodeError, what);
    }
    const trimmed = { ...ev, bids: ev.bids.slice(0, max), asks: ev.asks.slice(0, max) };
    const ok = decodeCollectorEvent(encodeCollectorEvent(trimmed));
    assert.equal(ok.bids.length + ok.asks.length, max, `${what} at the bound`);
  }
});

test("a collector's raw snapshot cannot carry a consolidated numbering or depth (offset, exactTo)", () => {
  const forged = JSON.stringify({
    v: 1,
    type: 'snapshot',
    venue: 'okx',
    symbol: 'BTC-USDT',
    seq: 5,
    recvTime: 0,
    collector: 'a',
    bids: [[1, 1]],
    asks: [[2, 1]],
    offset: 9e15,
    exactTo: { bid: 0, ask: 1e9 },
  });
  const ev = decodeCollectorEvent(forged);
  assert.equal(ev.type, 'snapshot');
  assert.equal('offset' in ev, false);
  assert.equal('exactTo' in ev, false);
});
