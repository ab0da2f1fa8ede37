import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BookArbiter } from '../../src/core/arbiter.js';
import type { BookDelta } from '../../src/core/types.js';
import fc from 'fast-check';
import { parseMessage, parseMessageJson, scanDepthUpdate } from '../../src/venues/binance.js';
import { binanceUsdm, usdmSnapshotWeight } from '../../src/venues/binance-usdm.js';
import { findVenue, venue } from '../../src/venues/index.js';
import { FIXTURES } from './real-fixtures.js';

const lines = (f: string) =>
  readFileSync(join(FIXTURES, f), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);

test('real USD-M depthUpdates (ccxt 2026 recording): parsed with pu, the pu chain is unbroken, U jumps', () => {
  const frames = lines('ccxt_binance-usdm_depth.jsonl');
  const deltas: BookDelta[] = [];
  for (const f of frames) {
    const r = binanceUsdm.parse(f, 'a', 1);
    if (r.ignored !== undefined) continue;
    assert.equal(r.error, undefined, r.error);
    const d = r.delta!;
    assert.equal(d.venue, 'binance-usdm');
    assert.equal(d.symbol, 'BTCUSDT');
    // the fast scanner reads every real frame (they end with "st"), and agrees with JSON.parse
    assert.notEqual(scanDepthUpdate(f, 'a', 1, 'binance-usdm'), undefined, f.slice(0, 80));
    assert.deepEqual(
      { ...d, raw: undefined },
      { ...parseMessageJson(f, 'a', 1, 'binance-usdm').delta!, raw: undefined },
    );
    deltas.push(d);
  }
  assert.equal(deltas.length, 11);
  let jumps = 0;
  for (let i = 1; i < deltas.length; i++) {
    assert.equal(deltas[i].prev, deltas[i - 1].last, 'pu == previous u');
    if (deltas[i].first > deltas[i].prev! + 1) jumps++;
  }
  assert.ok(jumps > 0, 'U jumps past pu+1 (one id space for all symbols)');
});

test('real USD-M snapshot + stream through the arbiter: aligned by interval cover, every event applied, never crossed', () => {
  const snap = binanceUsdm.parseSnapshot!(
    readFileSync(join(FIXTURES, 'ccxt_binance-usdm_depth_snapshot.json'), 'utf8'),
    'BTCUSDT',
    'a',
    1,
  );
  assert.equal(snap.error, undefined);
  const published: number[] = [];
  let resets = 0;
  const core = new BookArbiter('binance-usdm', 'BTCUSDT', {
    publish: (ev) => published.push(ev.last),
    requestSnapshot: () => {},
    reset: () => resets++,
  }, { rule: binanceUsdm.rule }); // prettier-ignore
  core.start(0);
  const deltas = lines('ccxt_binance-usdm_depth.jsonl').flatMap((f) => binanceUsdm.parse(f, 'a', 1).delta ?? []);
  for (const d of deltas) core.onDelta(d, 0);
  core.onSnapshot(snap.snapshot!, 0);
  assert.equal(resets, 1);
  assert.equal(core.state, 'synced');
  const L = snap.snapshot!.seq;
  // Binance: drop u < lastUpdateId; the first applied event has U <= lastUpdateId <= u
  const expected = deltas.filter((d) => d.last > L).map((d) => d.last);
  assert.ok(expected.length > 0 && deltas.some((d) => d.last <= L), 'the recording straddles the snapshot');
  assert.deepEqual(published, expected);
  assert.ok(!core.book.isCrossed());
});

test('USD-M bounds: a depthUpdate without pu, or with pu >= U, is an error (never guessed from U)', () => {
  const base = '{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":12';
  assert.match(binanceUsdm.parse(`${base},"b":[],"a":[]}`, 'a', 1).error ?? '', /pu/);
  assert.match(binanceUsdm.parse(`${base},"pu":10,"b":[],"a":[]}`, 'a', 1).error ?? '', /pu/);
  assert.match(binanceUsdm.parse(`${base},"pu":-1,"b":[],"a":[]}`, 'a', 1).error ?? '', /pu/);
  assert.equal(binanceUsdm.parse(`${base},"pu":9,"b":[["1.5","2"]],"a":[]}`, 'a', 1).delta?.prev, 9);
});

test('USD-M endpoints, weights and symbols', () => {
  assert.equal(
    binanceUsdm.wsUrl(binanceUsdm.defaultWsUrl, ['BTCUSDT', 'ETHUSDT']),
    'wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms',
  );
  const r = binanceUsdm.snapshotRequest!('https://fapi.binance.com/', 'btcusdt', 1000);
  assert.deepEqual(r, { url: 'https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000', weight: 20 });
  assert.deepEqual([50, 100, 500, 1000].map(usdmSnapshotWeight), [2, 5, 10, 20]);
  assert.equal(binanceUsdm.venueSymbol('BTC/USDT:USDT'), 'BTCUSDT');
  assert.equal(binanceUsdm.venueSymbol('BTC/USDT'), undefined, 'a spot symbol is not a USD-M one');
  assert.equal(binanceUsdm.unifiedSymbol('BTCUSDT'), 'BTC/USDT:USDT');
  assert.equal(findVenue('binance-usdm'), binanceUsdm);
  assert.throws(() => venue('nope'), /unknown venue "nope" \(known: binance, binance-usdm/);
});

test('fast path: USD-M frames as the combined stream sends them (T, ps, pu, st) are scanned, with the JSON path result', () => {
  const level = fc.tuple(
    fc.integer({ min: 1, max: 10 ** 9 }).map((t) => (t / 100).toFixed(2)),
    fc.integer({ min: 0, max: 10 ** 7 }).map((u) => (u / 1000).toFixed(3)),
  );
  const frame = fc.record({
    E: fc.nat({ max: 2 ** 45 }),
    T: fc.nat({ max: 2 ** 45 }),
    pu: fc.nat({ max: 2 ** 50 }),
    jump: fc.integer({ min: 1, max: 600 }),
    n: fc.nat({ max: 20_000 }),
    b: fc.array(level, { maxLength: 8 }),
    a: fc.array(level, { maxLength: 8 }),
    st: fc.option(fc.nat({ max: 9 }), { nil: undefined }),
    wrap: fc.boolean(),
  });
  fc.assert(
    fc.property(frame, (m) => {
      const U = m.pu + m.jump;
      const st = m.st === undefined ? '' : `,"st":${m.st}`;
      const raw =
        `{"e":"depthUpdate","E":${m.E},"T":${m.T},"s":"BTCUSDT","ps":"BTCUSDT","U":${U},"u":${U + m.n},"pu":${m.pu},` +
        `"b":${JSON.stringify(m.b)},"a":${JSON.stringify(m.a)}${st}}`;
      const text = m.wrap ? `{"stream":"btcusdt@depth@100ms","data":${raw}}` : raw;
      const fast = scanDepthUpdate(text, 'c', 1, 'binance-usdm');
      assert.notEqual(fast, undefined, text);
      assert.deepEqual(fast, parseMessageJson(text, 'c', 1, 'binance-usdm').delta, text);
      // "st" other than a plain integer: the JSON path, with the same result
      const odd = text.replace(/"st":[0-9]+/, '"st":"x"');
      assert.deepEqual(parseMessage(odd, 'c', 1, 'binance-usdm'), parseMessageJson(odd, 'c', 1, 'binance-usdm'));
    }),
    { numRuns: 1000 },
  );
});
