import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { mutatedFrames } from './mutate.js';
import { OrderBook } from '../../src/core/book.js';
import { projectRoot } from '../helpers.js';
import type { BookDelta, Level } from '../../src/core/types.js';
import {
  BINANCE_REST_BASE,
  BINANCE_VENUE,
  BINANCE_WS_BASE,
  decimal,
  exchangeInfoUrl,
  parseMessage,
  parseMessageJson,
  parseSnapshot,
  scanDepthUpdate,
  sequenceRule,
  snapshotUrl,
  snapshotWeight,
  streamName,
  wsUrl,
} from '../../src/venues/binance.js';

const FIXTURES = join(projectRoot(), 'test', 'fixtures', 'real');

const RAW =
  '{"e":"depthUpdate","E":1633998512568,"s":"NKNUSDT","U":499869753,"u":499869754,' +
  '"b":[["0.35170000","4265.00000000"]],"a":[["0.35290000","10968.00000000"],["0.35300000","0.00000000"]]}';
const COMBINED = `{"stream":"nknusdt@depth@100ms","data":${RAW}}`;

// ------------------------------------------------------------------------------------------ URLs

test('stream names and websocket URLs', () => {
  assert.equal(streamName('BTCUSDT', '100ms'), 'btcusdt@depth@100ms');
  assert.equal(streamName('btcusdt', '1000ms'), 'btcusdt@depth'); // 1000ms is the default, unsuffixed stream
  assert.equal(
    wsUrl(BINANCE_WS_BASE, ['BTCUSDT', 'ETHUSDT'], 'combined', '100ms'),
    'wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms',
  );
  assert.equal(
    wsUrl(BINANCE_WS_BASE, ['BTCUSDT'], 'raw', '100ms'),
    'wss://stream.binance.com:9443/ws/btcusdt@depth@100ms',
  );
  assert.equal(
    wsUrl('ws://127.0.0.1:9000/', ['a', 'b'], 'raw', '100ms'),
    'ws://127.0.0.1:9000/ws/a@depth@100ms/b@depth@100ms',
  );
  assert.throws(() => wsUrl(BINANCE_WS_BASE, [], 'raw', '100ms'), RangeError);
});

test('snapshot and exchangeInfo URLs, request weight', () => {
  assert.equal(
    exchangeInfoUrl(BINANCE_REST_BASE, 'btcusdt'),
    'https://api.binance.com/api/v3/exchangeInfo?symbol=BTCUSDT',
  );
  assert.equal(
    snapshotUrl(BINANCE_REST_BASE, 'btcusdt', 1000),
    'https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000',
  );
  assert.equal(
    snapshotUrl('http://127.0.0.1:8080/', 'ETHUSDT', 100),
    'http://127.0.0.1:8080/api/v3/depth?symbol=ETHUSDT&limit=100',
  );
  const weights: [number, number][] = [
    [1, 5],
    [100, 5],
    [101, 25],
    [500, 25],
    [501, 50],
    [1000, 50],
    [1001, 250],
    [5000, 250],
  ];
  for (const [limit, w] of weights) assert.equal(snapshotWeight(limit), w, `limit ${limit}`);
});

// ------------------------------------------------------------------------------------------ parseMessage

test('parses a raw depthUpdate into a BookDelta, keeping the raw text', () => {
  const r = parseMessage(RAW, 'c1', 42);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.delta, {
    type: 'delta',
    venue: BINANCE_VENUE,
    symbol: 'NKNUSDT',
    first: 499869753,
    last: 499869754,
    exchTime: 1633998512568,
    recvTime: 42,
    collector: 'c1',
    bids: [[0.3517, 4265]],
    asks: [
      [0.3529, 10968],
      [0.353, 0],
    ],
    raw: RAW,
  } satisfies BookDelta);
});

test('combined envelopes parse to the same delta (raw = the envelope text)', () => {
  const a = parseMessage(COMBINED, 'c1', 42).delta!;
  const b = parseMessage(RAW, 'c1', 42).delta!;
  assert.deepEqual({ ...a, raw: undefined }, { ...b, raw: undefined });
  assert.equal(a.raw, COMBINED);
});

test('symbol is upper-cased, also when it changes between messages', () => {
  const lower = RAW.replace('"s":"NKNUSDT"', '"s":"nknusdt"');
  assert.equal(parseMessage(lower, 'c', 0).delta?.symbol, 'NKNUSDT');
  assert.equal(parseMessage(RAW.replace('NKNUSDT', 'BTCUSDT'), 'c', 0).delta?.symbol, 'BTCUSDT');
  assert.equal(parseMessage(RAW, 'c', 0).delta?.symbol, 'NKNUSDT');
});

test('ignores acks and non-depth streams', () => {
  const cases: [string, string][] = [
    ['{"result":null,"id":1}', 'response'],
    ['{"result":["btcusdt@depth@100ms"],"id":3}', 'response'],
    ['{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"1","q":"1"}}', 'aggTrade'],
    ['{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT","k":{}}}', 'kline'],
    ['{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}}', 'bookTicker'],
    ['{"u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}', 'bookTicker'],
    ['{"e":"trade","E":1,"s":"BTCUSDT"}', 'trade'],
  ];
  for (const [text, why] of cases) {
    const r = parseMessage(text, 'c', 0);
    assert.deepEqual(r, { ignored: why }, text);
  }
});

test('returns a clear error for malformed input, never throws', () => {
  const bad: [string, RegExp][] = [
    ['{"e":"depthUpdate",', /malformed JSON/],
    ['', /malformed JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['42', /not a JSON object/],
    ['{}', /unrecognised message/],
    ['{"stream":5,"data":{}}', /combined envelope/],
    ['{"stream":"x@depth@100ms","data":null}', /combined envelope/],
    ['{"stream":"x@depth@100ms","data":{"U":1}}', /unrecognised/],
    ['{"error":{"code":2,"msg":"Invalid request"},"id":1}', /venue error/],
    [RAW.replace('"U":499869753', '"U":"499869753"'), /"U" and "u" must be integers/],
    [RAW.replace('"U":499869753', '"U":1.5'), /"U" and "u" must be integers/],
    [RAW.replace('"U":499869753', '"U":499869755'), /"U" \(499869755\) > "u" \(499869754\)/],
    [RAW.replace(',"u":499869754', ''), /must be integers/],
    [RAW.replace('"s":"NKNUSDT"', '"s":7'), /"s" must be a non-empty string/],
    [RAW.replace('"s":"NKNUSDT"', '"s":""'), /"s" must be a non-empty string/],
    [RAW.replace('"E":1633998512568', '"E":"now"'), /"E" must be a number/],
    [RAW.replace('"b":[["0.35170000","4265.00000000"]]', '"b":{}'), /"b" must be an array/],
    [
      RAW.replace('"b":[["0.35170000","4265.00000000"]]', '"b":[["0.35170000"]]'),
      /"b"\[0\] must be a \[price, size\] pair/,
    ],
    [RAW.replace('"0.35170000"', '"abc"'), /"b"\[0\] has a non-numeric/],
    [RAW.replace('"0.35170000"', '0.3517'), /"b"\[0\] has a non-numeric/],
    [RAW.replace('"0.35170000"', '""'), /non-numeric/],
    [RAW.replace('"0.35170000"', '"-1"'), /non-numeric/],
    [RAW.replace('"0.35170000"', '"0"'), /out-of-range/],
    [RAW.replace('"4265.00000000"', '"1e5"'), /non-numeric/],
    [RAW.replace('"4265.00000000"', '"Infinity"'), /non-numeric/],
    [RAW.replace('"4265.00000000"', '"0x10"'), /non-numeric/],
    [RAW.replace('"4265.00000000"', '" 1"'), /non-numeric/],
    [RAW.replace('"4265.00000000"', '"1.2.3"'), /non-numeric/],
    [RAW.replace('"a":[', '"a":[[null,null],'), /"a"\[0\] has a non-numeric/],
  ];
  for (const [text, re] of bad) {
    const r = parseMessage(text, 'c', 0);
    assert.equal(r.delta, undefined, text);
    assert.match(r.error ?? '', re, text);
  }
});

test('never throws and always returns exactly one outcome, on arbitrary input', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify({ stream: 'x@depth', data: v })),
      ),
      (text) => {
        const r = parseMessage(text, 'c', 0);
        assert.equal([r.delta, r.ignored, r.error].filter((x) => x !== undefined).length, 1);
      },
    ),
    { numRuns: 500 },
  );
});

// ------------------------------------------------------------------------------------------ fast path

const decimalString = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 12 }), fc.boolean())
  .map(([int, decimals, trailingDot]) => {
    const digits = int.toString();
    if (decimals === 0) return trailingDot ? `${digits}.` : digits;
    const padded = digits.padStart(decimals + 1, '0');
    return `${padded.slice(0, -decimals)}.${padded.slice(-decimals)}`;
  });

test('decimal() equals Number() for every plain decimal string, rejects the rest', () => {
  fc.assert(
    fc.property(decimalString, (s) => assert.equal(decimal(s), Number(s), s)),
    { numRuns: 2000 },
  );
  for (const s of ['50000.12000000', '0.00000001', '123456789012345678.12345678', '1.', '007'])
    assert.equal(decimal(s), Number(s), s);
  for (const s of ['', '.5', '-1', '+1', '1e5', '0x10', ' 1', '1 ', '1.2.3', 'NaN', 'Infinity'])
    assert.ok(Number.isNaN(decimal(s)), s);
  assert.ok(Number.isNaN(decimal(5)));
});

const levelArb = fc.tuple(
  decimalString.filter((s) => Number(s) > 0),
  decimalString,
);
const depthUpdateArb = fc.record({
  E: fc.integer({ min: 0, max: 2 ** 45 }),
  s: fc.constantFrom('BTCUSDT', 'nknusdt', 'ETHBTC'),
  U: fc.integer({ min: 0, max: 2 ** 40 }),
  n: fc.integer({ min: 0, max: 5 }),
  b: fc.array(levelArb, { maxLength: 6 }),
  a: fc.array(levelArb, { maxLength: 6 }),
});
const canonical = (m: { E: number; s: string; U: number; n: number; b: [string, string][]; a: [string, string][] }) =>
  `{"e":"depthUpdate","E":${m.E},"s":"${m.s}","U":${m.U},"u":${m.U + m.n},"b":${JSON.stringify(m.b)},"a":${JSON.stringify(m.a)}}`;

test('the scanner handles every canonical depthUpdate and agrees with JSON.parse', () => {
  fc.assert(
    fc.property(depthUpdateArb, fc.boolean(), (m, wrap) => {
      const raw = canonical(m);
      const text = wrap ? `{"stream":"${m.s.toLowerCase()}@depth@100ms","data":${raw}}` : raw;
      const fast = scanDepthUpdate(text, 'c', 1);
      assert.notEqual(fast, undefined, text);
      assert.deepEqual(fast, parseMessageJson(text, 'c', 1).delta);
    }),
    { numRuns: 500 },
  );
});

test('parseMessage and the JSON path agree on mutated and re-formatted messages', () => {
  fc.assert(
    fc.property(mutatedFrames(depthUpdateArb.map(canonical), '0123456789.,:"[]{}eE-+ \\xué\u0130\u0122'), (text) => {
      assert.deepEqual(parseMessage(text, 'c', 1), parseMessageJson(text, 'c', 1), text);
    }),
    { numRuns: 2000 },
  );
  // cases the scanner once got wrong (found by this property): each must be an error, as JSON.parse says
  for (const text of [
    RAW.replace('"4265.00000000"', '4265.00000000"'), // size without its opening quote
    RAW.replace('"U":499869753', '"U":0499869753'), // leading zero
    RAW.replace('"s":"NKNUSDT"', '"s":"\nKNUSDT"'), // raw control character in a string
    COMBINED.replace('"nknusdt@depth@100ms"', '"nknusdt\t@depth"'),
  ]) {
    assert.match(parseMessage(text, 'c', 1).error ?? '', /malformed JSON/, text);
  }
  // an empty symbol right after a frame for another symbol: the JSON path's error, not the cached symbol
  assert.ok(parseMessage(RAW, 'c', 1).delta);
  assert.match(parseMessage(RAW.replace('"s":"NKNUSDT"', '"s":""'), 'c', 1).error ?? '', /"s" must be a non-empty/);
  // other key orders and escapes go through JSON.parse with the same result
  const reordered = '{"E":1,"e":"depthUpdate","u":5,"U":3,"s":"BTC\\u0055SDT","a":[],"b":[["1.5","2"]]}';
  assert.equal(scanDepthUpdate(reordered, 'c', 0), undefined);
  assert.deepEqual(parseMessage(reordered, 'c', 0).delta?.bids, [[1.5, 2]]);
  assert.equal(parseMessage(reordered, 'c', 0).delta?.symbol, 'BTCUSDT');
});

// ------------------------------------------------------------------------------------------ parseSnapshot

const SNAP = '{"lastUpdateId":100,"bids":[["10.0","1.0"],["9.5","2.0"]],"asks":[["10.5","3.0"],["11","0.5"]]}';

test('parses a REST snapshot', () => {
  const r = parseSnapshot(SNAP, 'btcusdt', 'c1', 7);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.snapshot, {
    type: 'snapshot',
    venue: 'binance',
    symbol: 'BTCUSDT',
    seq: 100,
    recvTime: 7,
    collector: 'c1',
    bids: [
      [10, 1],
      [9.5, 2],
    ],
    asks: [
      [10.5, 3],
      [11, 0.5],
    ],
    raw: SNAP,
  });
});

test('rejects crossed, mistyped and incomplete snapshots', () => {
  const bad: [string, RegExp][] = [
    ['{"lastUpdateId":1,"bids":[["10","1"]],"asks":[["10","1"]]}', /crossed snapshot/],
    ['{"lastUpdateId":1,"bids":[["10","1"],["12","1"]],"asks":[["11","1"]]}', /crossed snapshot/],
    ['{"bids":[],"asks":[]}', /lastUpdateId/],
    ['{"lastUpdateId":"1","bids":[],"asks":[]}', /lastUpdateId/],
    ['{"lastUpdateId":-1,"bids":[],"asks":[]}', /lastUpdateId/],
    ['{"lastUpdateId":1,"asks":[]}', /"bids" must be an array/],
    ['{"lastUpdateId":1,"bids":[],"asks":[[10,1]]}', /"asks"\[0\] has a non-numeric/],
    ['{"code":-1121,"msg":"Invalid symbol."}', /venue error -1121: Invalid symbol/],
    ['<html>', /malformed JSON/],
    ['[]', /not a JSON object/],
  ];
  for (const [text, re] of bad) {
    const r = parseSnapshot(text, 'BTCUSDT', 'c', 0);
    assert.equal(r.snapshot, undefined, text);
    assert.match(r.error ?? '', re, text);
  }
  // a zero-size level does not count towards crossing
  assert.ok(
    parseSnapshot('{"lastUpdateId":1,"bids":[["12","0"],["10","1"]],"asks":[["11","1"]]}', 'X', 'c', 0).snapshot,
  );
});

// ------------------------------------------------------------------------------------------ sync rule

test('sync rule after a snapshot and along the chain (Binance spot U/u)', () => {
  const L = 1000; // snapshot lastUpdateId
  const check = (first: number, last: number, seq = L) => sequenceRule.check(seq, { first, last });
  assert.equal(check(990, 999), 'stale', 'event entirely before lastUpdateId');
  assert.equal(check(995, 1000), 'stale', 'u == lastUpdateId');
  assert.equal(check(1001, 1003), 'apply', 'U == lastUpdateId + 1');
  assert.equal(check(998, 1001), 'apply', 'U < lastUpdateId + 1 == u');
  assert.equal(check(998, 1005), 'apply', 'U < lastUpdateId + 1 < u');
  assert.equal(check(1002, 1005), 'gap', 'U > lastUpdateId + 1');
  // the chain: after applying 998..1005, seq = 1005
  assert.equal(check(1006, 1006, 1005), 'apply', 'U == prev u + 1');
  assert.equal(check(1006, 1010, 1005), 'apply', 'U == prev u + 1, range');
  assert.equal(check(1007, 1010, 1005), 'gap', 'one id skipped');
});

// ------------------------------------------------------------------------------------------ real recordings

/** cryptofeed raw recording: `<prefix> TS: <json>` lines; split once on ': ' (see fixtures README). */
function recordLines(file: string): { prefix: string; json: string }[] {
  const out: { prefix: string; json: string }[] = [];
  for (const line of readFileSync(join(FIXTURES, file), 'utf8').split('\n')) {
    const at = line.indexOf(': ');
    if (at < 0) continue; // connection-open lines and blank lines
    out.push({ prefix: line.slice(0, at), json: line.slice(at + 2) });
  }
  return out;
}

test('real Binance recording: snapshot + diff sync, no gaps, never crossed, matches a reference book', () => {
  const snapshots = new Map<
    string,
    { seq: number; bids: Level[]; asks: Level[]; strings: { bids: [string, string][]; asks: [string, string][] } }
  >();
  for (const { prefix, json } of recordLines('cryptofeed_BINANCE.http.0.0')) {
    const symbol = /[?&]symbol=([A-Z0-9]+)/.exec(prefix)?.[1];
    assert.ok(symbol, prefix);
    const r = parseSnapshot(json, symbol, 'fixture', 0);
    assert.ok(r.snapshot, r.error);
    snapshots.set(symbol, {
      ...r.snapshot,
      strings: JSON.parse(json) as { bids: [string, string][]; asks: [string, string][] },
    });
  }
  assert.deepEqual([...snapshots.keys()].sort(), ['BLZETH', 'LRCBTC', 'NKNUSDT', 'RUNEEUR']);
  assert.equal(snapshots.get('NKNUSDT')!.seq, 499869752);

  const deltas = new Map<string, BookDelta[]>();
  const ignored = new Map<string, number>();
  for (const { json } of recordLines('cryptofeed_BINANCE.ws.1.0')) {
    const r = parseMessage(json, 'fixture', 0);
    assert.equal(r.error, undefined, json.slice(0, 120));
    if (r.ignored !== undefined) ignored.set(r.ignored, (ignored.get(r.ignored) ?? 0) + 1);
    if (r.delta === undefined) continue;
    // real frames are in Binance's exact shape: the fast path takes them, with the JSON path's result
    assert.deepEqual(scanDepthUpdate(json, 'fixture', 0), parseMessageJson(json, 'fixture', 0).delta);
    const list = deltas.get(r.delta.symbol) ?? [];
    list.push(r.delta);
    deltas.set(r.delta.symbol, list);
  }
  assert.deepEqual(Object.fromEntries(ignored), { bookTicker: 84, kline: 2, aggTrade: 2 });
  assert.deepEqual(Object.fromEntries([...deltas].map(([s, l]) => [s, l.length])), {
    NKNUSDT: 150,
    BLZETH: 10,
    LRCBTC: 15,
    RUNEEUR: 2,
  });

  const nkn = deltas.get('NKNUSDT')!;
  assert.deepEqual([nkn[0].first, nkn[0].last], [499869750, 499869752]);
  assert.equal(sequenceRule.check(499869752, nkn[0]), 'stale');
  assert.equal(nkn[1].first, 499869753);
  assert.equal(sequenceRule.check(499869752, nkn[1]), 'apply');

  const expectedStale: Record<string, number> = { NKNUSDT: 1, BLZETH: 1, LRCBTC: 2, RUNEEUR: 1 };
  for (const [symbol, snap] of snapshots) {
    const book = new OrderBook();
    const stringBook = new OrderBook({ keepStrings: true });
    const ref = { bid: new Map<number, number>(), ask: new Map<number, number>() };
    const refSet = (side: 'bid' | 'ask', levels: Level[]) => {
      for (const [p, s] of levels) {
        if (s === 0) ref[side].delete(p);
        else ref[side].set(p, s);
      }
    };
    book.applySnapshot(snap.bids, snap.asks);
    stringBook.applySnapshotStrings(snap.strings.bids, snap.strings.asks);
    refSet('bid', snap.bids);
    refSet('ask', snap.asks);
    assert.equal(book.isCrossed(), false, `${symbol} snapshot crossed`);

    let seq = snap.seq;
    let stale = 0;
    let applied = 0;
    for (const d of deltas.get(symbol)!) {
      const verdict = sequenceRule.check(seq, d);
      assert.notEqual(verdict, 'gap', `${symbol}: gap at seq ${seq}, event U=${d.first} u=${d.last}`);
      if (verdict === 'stale') {
        assert.equal(applied, 0, `${symbol}: stale event after the chain started`);
        stale++;
        continue;
      }
      if (applied === 0)
        assert.ok(
          d.first <= snap.seq + 1 && snap.seq + 1 <= d.last,
          `${symbol}: first applied event must cover lastUpdateId+1`,
        );
      else assert.equal(d.first, seq + 1, `${symbol}: chain U == prev u + 1`);
      book.apply(d.bids, d.asks);
      const msg = JSON.parse(d.raw!) as { data: { b: [string, string][]; a: [string, string][] } };
      stringBook.applyStrings(msg.data.b, msg.data.a);
      refSet('bid', d.bids);
      refSet('ask', d.asks);
      seq = d.last;
      applied++;
      assert.equal(book.isCrossed(), false, `${symbol} crossed after U=${d.first}`);
    }
    assert.equal(stale, expectedStale[symbol], `${symbol} stale events`);
    assert.equal(applied, deltas.get(symbol)!.length - stale);

    const sortedRef = (side: 'bid' | 'ask') =>
      [...ref[side].entries()].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0])) as Level[];
    assert.deepEqual(book.snapshot(), { bids: sortedRef('bid'), asks: sortedRef('ask') }, `${symbol} final book`);
    assert.deepEqual(stringBook.snapshot(), book.snapshot(), `${symbol} keepStrings book`);
    // the keepStrings book returns Binance's own spelling
    const top = stringBook.topStrings(1);
    assert.match(top.bids[0][0], /^\d+\.\d{8}$/);
    assert.equal(Number(top.bids[0][0]), book.bestBid()![0]);
  }
});

test('a frame scanned right after a longer one is read on its own, not with the bytes the longer one left', () => {
  // the scanner reads a copy of the frame in a reused buffer; at the end of RAW it looks two bytes ahead for
  // USD-M's "st", which this longer frame left there
  assert.notEqual(scanDepthUpdate(`${RAW.slice(0, -1)},"st":1}`, 'c', 1), undefined);
  const fast = scanDepthUpdate(RAW, 'c', 1);
  assert.notEqual(fast, undefined);
  assert.deepEqual(fast, parseMessageJson(RAW, 'c', 1).delta);
});
