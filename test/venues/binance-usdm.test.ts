import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BookArbiter } from '../../src/core/arbiter.js';
import type { BookDelta } from '../../src/core/types.js';
import { parseMessageJson } from '../../src/venues/binance.js';
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
    // the fast scanner and JSON.parse agree on every real frame
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
