/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** Binance wire shapes served by the simulator: REST market data, raw/combined streams, live requests. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { runSimulator } from '../../src/sim/index.js';
import { BINANCE_DECIMAL, getJson, Probe, sleep, startSim, waitFor } from './helpers.js';

test('GET /api/v3/depth returns a Binance snapshot at the truth, with weight headers', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 50 });
  sim.pause();
  const r = await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=5`);
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body), ['lastUpdateId', 'bids', 'asks']);
  assert.equal(r.body.bids.length, 5);
  assert.equal(r.body.asks.length, 5);
  for (const [p, q] of [...r.body.bids, ...r.body.asks]) {
    assert.match(p, BINANCE_DECIMAL);
    assert.match(q, BINANCE_DECIMAL);
  }
  const truth = sim.truth('BTCUSDT', 5);
  assert.equal(r.body.lastUpdateId, truth.lastUpdateId);
  assert.deepEqual(
    r.body.bids.map(([p, q]: string[]) => [Number(p), Number(q)]),
    truth.bids,
  );
  assert.ok(Number(r.body.bids[0][0]) < Number(r.body.asks[0][0]), 'not crossed');
  assert.ok(Number(r.headers.get('x-mbx-used-weight-1m')) >= 5);
  // default limit 100, max 5000 (levels=200 per side here, so 5000 returns the whole book)
  assert.equal((await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT`)).body.bids.length, 100);
  const all = await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=9999`);
  assert.equal(all.body.bids.length, sim.truth('BTCUSDT').bids.length);
});

test('REST errors use Binance codes: unknown symbol 400/-1121, missing and bad parameters', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'] });
  const unknown = await getJson(`${sim.restBase}/api/v3/depth?symbol=NOPEUSDT`);
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body, { code: -1121, msg: 'Invalid symbol.' });
  const missing = await getJson(`${sim.restBase}/api/v3/depth`);
  assert.equal(missing.status, 400);
  assert.equal(missing.body.code, -1102);
  const badLimit = await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=abc`);
  assert.equal(badLimit.status, 400);
  assert.equal(badLimit.body.code, -1100);
  const infoUnknown = await getJson(`${sim.restBase}/api/v3/exchangeInfo?symbol=NOPEUSDT`);
  assert.equal(infoUnknown.status, 400);
  assert.equal(infoUnknown.body.code, -1121);
});

test('exchangeInfo, ping and time have Binance shapes', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ethusdt', 'XRPUSDT'] });
  const all = await getJson(`${sim.restBase}/api/v3/exchangeInfo`);
  assert.equal(all.status, 200);
  assert.equal(all.body.timezone, 'UTC');
  assert.equal(typeof all.body.serverTime, 'number');
  assert.ok(all.body.rateLimits.some((r: any) => r.rateLimitType === 'REQUEST_WEIGHT' && r.limit === 6000));
  assert.deepEqual(
    all.body.symbols.map((s: any) => s.symbol),
    ['BTCUSDT', 'ETHUSDT', 'XRPUSDT'],
  );
  const btc = all.body.symbols[0];
  assert.equal(btc.status, 'TRADING');
  assert.equal(btc.baseAsset, 'BTC');
  assert.equal(btc.quoteAsset, 'USDT');
  assert.equal(btc.baseAssetPrecision, 8);
  assert.ok(btc.orderTypes.includes('LIMIT'));
  const pf = btc.filters.find((f: any) => f.filterType === 'PRICE_FILTER');
  assert.equal(pf.tickSize, '0.01000000');
  assert.ok(btc.filters.some((f: any) => f.filterType === 'LOT_SIZE'));
  const xrp = all.body.symbols[2].filters.find((f: any) => f.filterType === 'PRICE_FILTER');
  assert.equal(xrp.tickSize, '0.00010000');
  const some = await getJson(
    `${sim.restBase}/api/v3/exchangeInfo?symbols=${encodeURIComponent('["ETHUSDT","XRPUSDT"]')}`,
  );
  assert.deepEqual(
    some.body.symbols.map((s: any) => s.symbol),
    ['ETHUSDT', 'XRPUSDT'],
  );
  const one = await getJson(`${sim.restBase}/api/v3/exchangeInfo?symbol=ETHUSDT`);
  assert.deepEqual(
    one.body.symbols.map((s: any) => s.symbol),
    ['ETHUSDT'],
  );
  assert.deepEqual((await getJson(`${sim.restBase}/api/v3/ping`)).body, {});
  const time = await getJson(`${sim.restBase}/api/v3/time`);
  assert.ok(Math.abs(time.body.serverTime - Date.now()) < 5000);
});

test('raw stream /ws/<stream> sends bare depthUpdate events in Binance format', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], eventsPerSec: 100 });
  const p = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth@100ms`);
  await waitFor(() => p.events().length >= 5, 3000, '5 events');
  const raw = p.json();
  const ev = raw[0];
  assert.deepEqual(Object.keys(ev), ['e', 'E', 's', 'U', 'u', 'b', 'a']);
  assert.equal(ev.e, 'depthUpdate');
  assert.equal(ev.s, 'BTCUSDT');
  assert.ok(Number.isInteger(ev.E) && Math.abs(ev.E - Date.now()) < 5000);
  assert.ok(ev.u >= ev.U);
  assert.ok(
    raw.every((o) => o.s === 'BTCUSDT' && o.stream === undefined),
    'raw payloads, BTCUSDT only',
  );
  for (const e of p.events())
    for (const [px, q] of [...e.b, ...e.a]) assert.ok(BINANCE_DECIMAL.test(px) && BINANCE_DECIMAL.test(q));
});

test('several raw streams on one /ws path, and an unknown symbol stays silent', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], eventsPerSec: 100 });
  const p = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth/ethusdt@depth@100ms/dogeusdt@depth`);
  await waitFor(() => new Set(p.events().map((e) => e.s)).size === 2 && p.events().length > 10, 3000, 'both symbols');
  assert.deepEqual([...new Set(p.events().map((e) => e.s))].sort(), ['BTCUSDT', 'ETHUSDT']);
});

test('combined stream wraps events as {"stream","data"} under the subscribed name', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], eventsPerSec: 100 });
  const p = await Probe.open(t, `${sim.wsBase}/stream?streams=btcusdt@depth@100ms/ethusdt@depth`);
  await waitFor(() => new Set(p.json().map((o) => o.stream)).size === 2, 3000, 'both streams');
  for (const o of p.json()) {
    assert.deepEqual(Object.keys(o), ['stream', 'data']);
    assert.equal(o.data.e, 'depthUpdate');
    assert.equal(o.stream, o.data.s === 'BTCUSDT' ? 'btcusdt@depth@100ms' : 'ethusdt@depth');
  }
});

test('SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY and error frames', async (t) => {
  // requests back to back, faster than Binance's 5 a second (limits.test.ts covers that limit)
  const sim = await startSim(t, {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    eventsPerSec: 100,
    limits: { venues: { binance: { messagesPerSecond: 0 } } },
  });
  const p = await Probe.open(t, `${sim.wsBase}/ws`);
  await sleep(100);
  assert.equal(p.events().length, 0, 'no streams, no data');
  p.send({ method: 'SUBSCRIBE', params: ['btcusdt@depth@100ms', 'ethusdt@depth@100ms'], id: 1 });
  assert.deepEqual(await p.waitJson((o) => o.id === 1), { result: null, id: 1 });
  await waitFor(() => new Set(p.events().map((e) => e.s)).size === 2, 3000, 'both symbols after SUBSCRIBE');
  p.send({ method: 'LIST_SUBSCRIPTIONS', id: 2 });
  assert.deepEqual(await p.waitJson((o) => o.id === 2), {
    result: ['btcusdt@depth@100ms', 'ethusdt@depth@100ms'],
    id: 2,
  });
  p.send({ method: 'UNSUBSCRIBE', params: ['ethusdt@depth@100ms'], id: 3 });
  assert.deepEqual(await p.waitJson((o) => o.id === 3), { result: null, id: 3 });
  const mark = p.frames.length;
  await sleep(150);
  const after = p.frames.slice(mark).map((f) => JSON.parse(f.text));
  assert.ok(after.length > 0 && after.every((o) => o.s === 'BTCUSDT'), 'only BTCUSDT after UNSUBSCRIBE');
  // switch to combined payloads on a raw connection
  p.send({ method: 'SET_PROPERTY', params: ['combined', true], id: 4 });
  assert.deepEqual(await p.waitJson((o) => o.id === 4), { result: null, id: 4 });
  await p.waitJson((o) => o.stream === 'btcusdt@depth@100ms' && o.data?.e === 'depthUpdate');
  p.send({ method: 'GET_PROPERTY', params: ['combined'], id: 5 });
  assert.deepEqual(await p.waitJson((o) => o.id === 5), { result: true, id: 5 });
  // malformed requests
  p.send('not json');
  const e1 = await p.waitJson((o) => o.error?.code === 3);
  assert.equal(e1.id, null);
  p.send({ method: 'SUBSCRIBE', params: 'btcusdt@depth', id: 6 });
  assert.deepEqual((await p.waitJson((o) => o.id === 6)).error.code, 2);
  p.send({ method: 'NOPE', params: [], id: 7 });
  const e3 = await p.waitJson((o) => o.id === 7);
  assert.equal(e3.error.code, 2);
  assert.match(e3.error.msg, /^Invalid request/);
  p.send({ method: 'SUBSCRIBE', params: [], id: { x: 1 } });
  await p.waitJson((o) => o.error?.code === 2 && /request ID/.test(o.error.msg));
  p.send({ method: 'SET_PROPERTY', params: ['colour', true], id: 8 });
  assert.deepEqual(await p.waitJson((o) => o.id === 8), { error: { code: 0, msg: 'Unknown property' }, id: 8 });
  assert.equal(p.closed, false, 'bad requests do not close the connection');
});

test('an unknown websocket path is refused with 404', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'] });
  await assert.rejects(Probe.open(t, `${sim.wsBase}/nope`), /404/);
});

test('the server pings, and drops a client that never pongs', async (t) => {
  // pings every 50 ms: the pongs would break the 5 messages/s limit (limits.test.ts), which is not tested here
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    pingIntervalMs: 50,
    pongTimeoutMs: 300,
    limits: { venues: { binance: { messagesPerSecond: 0 } } },
  });
  const good = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth`);
  const mute = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth`, { autoPong: false });
  await waitFor(() => mute.closed, 3000, 'the silent client to be dropped');
  assert.ok(good.pings >= 3, `good client saw ${good.pings} pings`);
  assert.equal(good.closed, false);
  assert.equal(sim.stats().pongTimeouts, 1);
});

test('/sim/ endpoints: truth, stats, pause, resume, faults', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 100 });
  assert.equal((await fetch(`${sim.restBase}/sim/pause`, { method: 'POST' })).status, 200);
  const truth = await getJson(`${sim.restBase}/sim/truth?symbol=BTCUSDT&depth=3`);
  assert.deepEqual(truth.body, sim.truth('BTCUSDT', 3));
  await sleep(60);
  assert.equal(sim.truth('BTCUSDT').lastUpdateId, truth.body.lastUpdateId, 'paused: truth frozen');
  const stats = await getJson(`${sim.restBase}/sim/stats`);
  assert.equal(stats.body.paused, true);
  assert.equal(typeof stats.body.messagesSent, 'number');
  await fetch(`${sim.restBase}/sim/resume`, { method: 'POST' });
  await waitFor(() => sim.truth('BTCUSDT').lastUpdateId > truth.body.lastUpdateId, 2000, 'truth to advance');
  const set = await fetch(`${sim.restBase}/sim/faults?profile=bad`, {
    method: 'POST',
    body: JSON.stringify({ snapshotErrorRate: 1, snapshotErrorStatus: 503 }),
  });
  assert.equal(set.status, 200);
  assert.equal((await getJson(`${sim.restBase}/p/bad/api/v3/depth?symbol=BTCUSDT`)).status, 503);
  assert.deepEqual((await getJson(`${sim.restBase}/sim/faults`)).body.bad, {
    snapshotErrorRate: 1,
    snapshotErrorStatus: 503,
  });
});

test('runSimulator starts a listening simulator', async (t) => {
  const sim = await runSimulator({ symbols: ['BTCUSDT'], logger: silentLogger, printEvery: 1 });
  t.after(() => sim.stop());
  assert.ok(sim.port > 0);
  assert.equal(sim.restBase, `http://127.0.0.1:${sim.port}`);
  assert.equal(sim.wsBase, `ws://127.0.0.1:${sim.port}`);
  assert.equal((await getJson(`${sim.restBase}/api/v3/ping`)).status, 200);
});
