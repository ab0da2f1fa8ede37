/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** binance-usdm: /public streams, T and pu, one id space shared by every symbol, /fapi/v1, regrouping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cover } from '../../src/core/sequence.js';
import { BINANCE_DECIMAL, getJson, LocalBook, Probe, startSim, waitFor } from './helpers.js';

interface UsdmUpdate {
  e: 'depthUpdate';
  E: number;
  T: number;
  s: string;
  U: number;
  u: number;
  pu: number;
  b: [string, string][];
  a: [string, string][];
}

const V = 'binance-usdm' as const;

function updates(p: Probe, symbol?: string): UsdmUpdate[] {
  return (p.events() as unknown as UsdmUpdate[]).filter((e) => symbol === undefined || e.s === symbol);
}

/** Binance's recipe with interval cover on (pu, u]: returns the book and how many events were applied. */
function rebuild(snapshot: { lastUpdateId: number; bids: string[][]; asks: string[][] }, evs: UsdmUpdate[]) {
  const book = new LocalBook();
  book.reset(snapshot.bids, snapshot.asks);
  let seq = snapshot.lastUpdateId;
  let applied = 0;
  for (const ev of evs) {
    const v = cover(seq, ev.pu, ev.u);
    if (v === 'stale') continue;
    assert.equal(v, 'apply', `(${ev.pu}, ${ev.u}] must chain onto ${seq}`);
    book.apply(ev.b, ev.a);
    seq = ev.u;
    applied++;
  }
  return { book, seq, applied };
}

test('binance-usdm: depthUpdate with T and pu, ids shared by all symbols, unbroken pu chains, snapshot + deltas = truth', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], venues: [V], eventsPerSec: 200 });
  const rest = sim.venueRestBase(V);
  const p = await Probe.open(t, `${sim.venueWsBase(V)}/public/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms`);
  await waitFor(() => updates(p).length >= 20, 3000, 'buffered events');
  const snap = await getJson(`${rest}/fapi/v1/depth?symbol=BTCUSDT&limit=1000`);
  assert.equal(snap.status, 200);
  assert.deepEqual(Object.keys(snap.body), ['lastUpdateId', 'E', 'T', 'bids', 'asks']);
  assert.ok(snap.body.T <= snap.body.E);
  assert.ok(Number(snap.headers.get('x-mbx-used-weight-1m')) >= 20, 'limit 1000 weighs 20');
  await waitFor(() => updates(p).length >= 300, 5000, '300 events');
  sim.pause();
  const truth = { BTCUSDT: sim.truth('BTCUSDT', Infinity, V), ETHUSDT: sim.truth('ETHUSDT', Infinity, V) };
  await waitFor(
    () =>
      updates(p, 'BTCUSDT').at(-1)?.u === truth.BTCUSDT.lastUpdateId &&
      updates(p, 'ETHUSDT').at(-1)?.u === truth.ETHUSDT.lastUpdateId,
    3000,
    'the last events',
  );
  const raw = p.json();
  assert.deepEqual(Object.keys(raw[0]), ['stream', 'data']);
  assert.deepEqual(Object.keys(raw[0].data), ['e', 'E', 'T', 's', 'U', 'u', 'pu', 'b', 'a']);
  const all = updates(p);
  for (let i = 1; i < all.length; i++) assert.ok(all[i].U > all[i - 1].u, 'one id space: ids grow across symbols');
  assert.ok(new Set(all.map((e) => e.s)).size === 2);
  for (const sym of ['BTCUSDT', 'ETHUSDT']) {
    const evs = updates(p, sym);
    for (let i = 1; i < evs.length; i++) assert.equal(evs[i].pu, evs[i - 1].u, `${sym} pu chain at ${i}`);
    assert.ok(
      evs.every((e) => e.U > e.pu + 1),
      `${sym}: U jumps over the other symbol's ids`,
    );
    for (const e of evs) {
      assert.ok(e.T <= e.E && e.u >= e.U);
      for (const [px, q] of [...e.b, ...e.a]) assert.ok(BINANCE_DECIMAL.test(px) && BINANCE_DECIMAL.test(q));
    }
  }
  const { book, seq, applied } = rebuild(snap.body, updates(p, 'BTCUSDT'));
  assert.ok(applied > 100);
  assert.equal(seq, truth.BTCUSDT.lastUpdateId);
  assert.deepEqual(book.levels(), { bids: truth.BTCUSDT.bids, asks: truth.BTCUSDT.asks });
  const viaEndpoint = await getJson(`${rest}/sim/truth?symbol=ETHUSDT&depth=3`);
  assert.deepEqual(viaEndpoint.body, sim.truth('ETHUSDT', 3, V));
});

test('binance-usdm: /public/ws with live SUBSCRIBE, paths without /public refused, server pings', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    venues: [V],
    eventsPerSec: 100,
    pingIntervalMs: 50,
    // pongs to pings every 50 ms would break the 10 messages/s limit, which limits.test.ts covers
    limits: { venues: { [V]: { messagesPerSecond: 0 } } },
  });
  const base = sim.venueWsBase(V);
  await assert.rejects(Probe.open(t, `${base}/ws/btcusdt@depth`), /404/);
  await assert.rejects(Probe.open(t, `${base}/stream?streams=btcusdt@depth`), /404/);
  const p = await Probe.open(t, `${base}/public/ws`);
  p.send({ method: 'SUBSCRIBE', params: ['btcusdt@depth@500ms'], id: 1 });
  assert.deepEqual(await p.waitJson((o) => o.id === 1), { result: null, id: 1 });
  await waitFor(() => updates(p).length >= 5, 3000, 'raw events');
  assert.ok(p.json().every((o) => o.id === 1 || (o.e === 'depthUpdate' && o.stream === undefined)));
  p.send({ method: 'LIST_SUBSCRIPTIONS', id: 2 });
  assert.deepEqual(await p.waitJson((o) => o.id === 2), { result: ['btcusdt@depth@500ms'], id: 2 });
  await waitFor(() => p.pings >= 2, 2000, 'server pings');
});

test('binance-usdm REST: limits, errors, exchangeInfo; binance spot keeps its paths on the same port', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], venues: ['binance', V] });
  const rest = sim.venueRestBase(V);
  const d = await getJson(`${rest}/fapi/v1/depth?symbol=BTCUSDT&limit=5`);
  assert.equal(d.body.bids.length, 5);
  assert.equal(
    (await getJson(`${rest}/fapi/v1/depth?symbol=BTCUSDT`)).body.bids.length,
    Math.min(500, sim.truth('BTCUSDT', Infinity, V).bids.length),
  );
  assert.deepEqual((await getJson(`${rest}/fapi/v1/depth?symbol=BTCUSDT&limit=7`)).body.code, -1130);
  const unknown = await getJson(`${rest}/fapi/v1/depth?symbol=NOPEUSDT`);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.code, -1121);
  const info = await getJson(`${rest}/fapi/v1/exchangeInfo`);
  assert.deepEqual(
    info.body.symbols.map((s: any) => [s.symbol, s.contractType, s.status]),
    [
      ['BTCUSDT', 'PERPETUAL', 'TRADING'],
      ['ETHUSDT', 'PERPETUAL', 'TRADING'],
    ],
  );
  assert.ok(info.body.rateLimits.some((r: any) => r.rateLimitType === 'REQUEST_WEIGHT' && r.limit === 2400));
  // unprefixed paths are Binance spot, whose /fapi/v1/exchangeInfo stays empty (for ccxt)
  assert.deepEqual((await getJson(`${sim.restBase}/fapi/v1/exchangeInfo`)).body.symbols, []);
  assert.equal((await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=5`)).status, 200);
  assert.equal((await getJson(`${rest}/api/v3/depth?symbol=BTCUSDT&limit=5`)).status, 404);
  // the two venues have their own books and ids
  assert.notEqual(sim.truth('BTCUSDT').lastUpdateId, sim.truth('BTCUSDT', Infinity, V).lastUpdateId);
});

test('regrouping (usdm): fewer messages, each covering a run of consecutive updates with merged levels; the book still rebuilds', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    venues: [V],
    eventsPerSec: 200,
    faults: { merge: { regroupRate: 0.5 } },
  });
  const streams = 'public/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms';
  const clean = await Probe.open(t, `${sim.venueWsBase(V)}/${streams}`);
  const merged = await Probe.open(t, `${sim.venueWsBase(V)}/p/merge/${streams}`);
  await waitFor(() => updates(merged).length >= 10, 3000, 'buffered events');
  const snap = await getJson(`${sim.venueRestBase(V)}/fapi/v1/depth?symbol=ETHUSDT&limit=1000`);
  await waitFor(() => updates(clean).length >= 400, 5000, '400 events');
  sim.pause();
  const truth = sim.truth('ETHUSDT', Infinity, V);
  for (const p of [clean, merged])
    await waitFor(() => updates(p, 'ETHUSDT').at(-1)?.u === truth.lastUpdateId, 3000, 'the last event');
  const c = updates(clean, 'ETHUSDT');
  const m = updates(merged, 'ETHUSDT');
  assert.ok(m.length < c.length * 0.8, `${m.length} regrouped messages for ${c.length} updates`);
  assert.ok(sim.stats().regrouped > 20);
  const byPu = new Map(c.map((e, i) => [e.pu, i]));
  const byU = new Map(c.map((e, i) => [e.u, i]));
  let multi = 0;
  for (let k = 0; k < m.length; k++) {
    const ev = m[k];
    if (k > 0) assert.equal(ev.pu, m[k - 1].u, 'the regrouped messages chain too');
    const i = byPu.get(ev.pu);
    const j = byU.get(ev.u);
    assert.ok(i !== undefined && j !== undefined && j >= i, `(${ev.pu}, ${ev.u}] is a run of updates`);
    if (j > i) multi++;
    assert.equal(ev.U, c[i].U, 'U of the first');
    assert.equal(ev.E, c[j].E, 'time of the last');
    const want = new LocalBook();
    for (const e of c.slice(i, j + 1)) {
      for (const [px, q] of e.b) want.bids.set(px, q);
      for (const [px, q] of e.a) want.asks.set(px, q);
    }
    assert.deepEqual(ev.b, want.sorted(true), 'bids merged, later sizes winning');
    assert.deepEqual(ev.a, want.sorted(false), 'asks merged, later sizes winning');
  }
  assert.ok(multi > 10, `${multi} messages cover several updates`);
  const { book, seq } = rebuild(snap.body, m);
  assert.equal(seq, truth.lastUpdateId);
  assert.deepEqual(book.levels(), { bids: truth.bids, asks: truth.asks });
});
