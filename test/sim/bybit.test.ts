/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** bybit and bybit-linear: orderbook.N.SYMBOL topics (ack, ping, snapshot + deltas, u +1, restart), REST. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, LocalBook, Probe, startSim, waitFor } from './helpers.js';

/** Pushes of one topic, in arrival order. */
function pushes(p: Probe, topic: string): any[] {
  return p.json().filter((o) => o.topic === topic);
}

/** Bybit's procedure: a snapshot (re)sets the book, each delta has u = previous u + 1. */
function rebuild(msgs: any[]) {
  const book = new LocalBook();
  let u: number | undefined;
  let deltas = 0;
  for (const m of msgs) {
    const d = m.data;
    if (m.type === 'snapshot') book.reset(d.b, d.a);
    else {
      assert.equal(m.type, 'delta');
      assert.equal(d.u, u! + 1, `delta u ${d.u} after ${u}`);
      book.apply(d.b, d.a);
      deltas++;
    }
    u = d.u;
  }
  return { book, u, deltas };
}

test('bybit spot: subscribe ack, ping/pong, snapshot then deltas with u +1 per message; each depth = truth; no regrouping', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    venues: ['bybit'],
    eventsPerSec: 200,
    levels: 300,
    faults: { default: { regroupRate: 1 } },
  });
  const p = await Probe.open(t, `${sim.venueWsBase('bybit')}/v5/public/spot`);
  p.send({ req_id: 'r1', op: 'subscribe', args: ['orderbook.50.BTCUSDT', 'orderbook.1.BTCUSDT'] });
  const ack = await p.waitJson((o) => o.op === 'subscribe');
  assert.deepEqual(Object.keys(ack), ['success', 'ret_msg', 'conn_id', 'req_id', 'op']);
  assert.equal(ack.success, true);
  assert.equal(ack.req_id, 'r1');
  assert.match(ack.conn_id, /^[0-9a-f-]{36}$/);
  p.send({ req_id: 'hb', op: 'ping' });
  assert.deepEqual(await p.waitJson((o) => o.op === 'ping'), {
    success: true,
    ret_msg: 'pong',
    conn_id: ack.conn_id,
    req_id: 'hb',
    op: 'ping',
  });
  await waitFor(() => pushes(p, 'orderbook.50.BTCUSDT').length >= 200, 5000, '200 pushes');
  sim.pause();
  const truth50 = sim.truth('BTCUSDT', 50, 'bybit', 50);
  const truth1 = sim.truth('BTCUSDT', 1, 'bybit', 1);
  for (const [topic, truth] of [
    ['orderbook.50.BTCUSDT', truth50],
    ['orderbook.1.BTCUSDT', truth1],
  ] as const)
    await waitFor(() => pushes(p, topic).at(-1)?.data.u === truth.lastUpdateId, 3000, `the last ${topic} delta`);
  const msgs = pushes(p, 'orderbook.50.BTCUSDT');
  assert.deepEqual(Object.keys(msgs[0]), ['topic', 'ts', 'type', 'data', 'cts'], 'spot field order');
  assert.deepEqual(Object.keys(msgs[0].data), ['s', 'b', 'a', 'u', 'seq']);
  assert.equal(msgs[0].type, 'snapshot');
  assert.equal(msgs[0].data.b.length, 50);
  assert.ok(msgs.every((m) => m.cts <= m.ts && m.data.s === 'BTCUSDT'));
  for (let i = 2; i < msgs.length; i++) assert.ok(msgs[i].data.seq > msgs[i - 1].data.seq, 'seq grows');
  const r50 = rebuild(msgs);
  assert.ok(r50.deltas > 150);
  assert.equal(r50.u, truth50.lastUpdateId);
  assert.deepEqual(r50.book.levels(), { bids: truth50.bids, asks: truth50.asks }, 'the 50-level view is exact');
  assert.ok(sim.truth('BTCUSDT', Infinity, 'bybit').bids.length > 250);
  const ones = pushes(p, 'orderbook.1.BTCUSDT');
  const r1 = rebuild(ones);
  assert.deepEqual(r1.book.levels(), { bids: truth1.bids, asks: truth1.asks });
  // each depth is its own stream: its own u space, and a message only when its top N changed
  assert.notEqual(truth1.lastUpdateId, truth50.lastUpdateId, 'orderbook.1 and orderbook.50 count their own u');
  assert.equal(sim.truth('BTCUSDT', 1, 'bybit').lastUpdateId, truth50.lastUpdateId, 'default stream: orderbook.50');
  assert.ok(
    ones.length < msgs.length,
    `orderbook.1 sent ${ones.length} < orderbook.50 ${msgs.length}: no empty deltas`,
  );
  assert.ok(
    ones.every((m) => m.data.b.length + m.data.a.length > 0),
    'no empty delta',
  );
  assert.equal(sim.stats().regrouped, 0, 'Bybit cannot regroup: u counts messages');
  const rest = await getJson(`${sim.venueRestBase('bybit')}/v5/market/orderbook?category=spot&symbol=BTCUSDT&limit=50`);
  assert.equal(rest.body.retCode, 0);
  assert.deepEqual(Object.keys(rest.body.result), ['s', 'a', 'b', 'ts', 'u', 'seq', 'cts']);
  assert.equal(rest.body.result.u, sim.truth('BTCUSDT', 1, 'bybit', 200).lastUpdateId, 'REST u = orderbook.200 u');
  const viaEndpoint = await getJson(`${sim.venueRestBase('bybit')}/sim/truth?symbol=BTCUSDT&depth=1&stream=1`);
  assert.equal(viaEndpoint.body.lastUpdateId, truth1.lastUpdateId, '/sim/truth?stream=');
  const noStream = await getJson(`${sim.venueRestBase('bybit')}/sim/truth?symbol=BTCUSDT&stream=7`);
  assert.equal(noStream.status, 400);
  assert.match(noStream.body.error, /no orderbook\.7 stream/);
  assert.deepEqual(
    rest.body.result.b.map((l: string[]) => [Number(l[0]), Number(l[1])]),
    truth50.bids,
  );
});

test('bybit-linear: linear field order and ack; a service restart sends u = 1 snapshots, deltas go on from 2', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], venues: ['bybit-linear'], eventsPerSec: 100, levels: 300 });
  const V = 'bybit-linear' as const;
  await assert.rejects(Probe.open(t, `${sim.venueWsBase(V)}/v5/public/spot`), /404/);
  const p = await Probe.open(t, `${sim.venueWsBase(V)}/v5/public/linear`);
  p.send({ op: 'subscribe', args: ['orderbook.200.BTCUSDT', 'orderbook.50.BTCUSDT'] });
  const ack = await p.waitJson((o) => o.op === 'subscribe');
  assert.equal(ack.success, true);
  assert.equal(ack.ret_msg, '');
  const topic = 'orderbook.200.BTCUSDT';
  await waitFor(() => pushes(p, topic).length >= 20, 3000, 'deltas');
  assert.deepEqual(Object.keys(pushes(p, topic)[1]), ['topic', 'type', 'ts', 'data', 'cts'], 'linear field order');
  sim.pause();
  const r = await fetch(`${sim.restBase}/sim/reset?venue=bybit-linear&symbol=BTCUSDT`, { method: 'POST' });
  assert.deepEqual(await r.json(), { symbol: 'BTCUSDT', u: 1 });
  for (const tp of [topic, 'orderbook.50.BTCUSDT'])
    await waitFor(
      () => pushes(p, tp).some((m) => m.type === 'snapshot' && m.data.u === 1),
      2000,
      `${tp} restart snapshot`,
    );
  const rest = await getJson(`${sim.venueRestBase(V)}/v5/market/orderbook?category=linear&symbol=BTCUSDT`);
  assert.equal(rest.body.result.u, 1, 'every depth restarts, orderbook.1000 (the REST u) too');
  assert.equal(rest.body.result.b.length, 25, 'linear default limit 25');
  sim.resume();
  const sinceRestart = () => {
    const msgs = pushes(p, topic);
    return msgs.length - msgs.findIndex((m) => m.data.u === 1) - 1;
  };
  await waitFor(() => sinceRestart() >= 20, 3000, 'deltas after the restart');
  sim.pause();
  const truth = sim.truth('BTCUSDT', 200, V, 200);
  await waitFor(() => pushes(p, topic).at(-1)?.data.u === truth.lastUpdateId, 3000, 'the last delta');
  const msgs = pushes(p, topic);
  const at = msgs.findIndex((m) => m.data.u === 1);
  assert.equal(msgs[at].type, 'snapshot');
  assert.equal(msgs[at + 1].data.u, 2);
  assert.ok(truth.lastUpdateId > 20 && truth.lastUpdateId < 1000);
  const { book } = rebuild(msgs);
  assert.deepEqual(book.levels(), { bids: truth.bids, asks: truth.asks });
});

test('bybit errors and REST: too many args, unknown topics, already subscribed, categories, instruments', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    venues: ['bybit', 'bybit-linear'],
    eventsPerSec: 20,
  });
  const p = await Probe.open(t, `${sim.venueWsBase('bybit')}/v5/public/spot`);
  p.send({ req_id: 'x', op: 'subscribe', args: Array.from({ length: 11 }, (_, i) => `orderbook.1.S${i}USDT`) });
  assert.equal((await p.waitJson((o) => o.req_id === 'x')).ret_msg, 'args size >10');
  p.send({
    req_id: 'y',
    op: 'subscribe',
    args: ['orderbook.7.BTCUSDT', 'orderbook.50.NOPEUSDT', 'orderbook.50.ETHUSDT'],
  });
  const y = await p.waitJson((o) => o.req_id === 'y');
  assert.equal(y.success, false);
  assert.match(y.ret_msg, /orderbook\.7\.BTCUSDT.*orderbook\.50\.NOPEUSDT/);
  await p.waitJson((o) => o.topic === 'orderbook.50.ETHUSDT' && o.type === 'snapshot', 2000, 'the valid topic');
  p.send({ req_id: 'z', op: 'subscribe', args: ['orderbook.50.ETHUSDT'] });
  assert.match((await p.waitJson((o) => o.req_id === 'z')).ret_msg, /already subscribed/);
  p.send({ req_id: 'u', op: 'unsubscribe', args: ['orderbook.50.ETHUSDT'] });
  assert.equal((await p.waitJson((o) => o.req_id === 'u')).success, true);
  p.send('nope');
  await p.waitJson((o) => o.success === false && o.op === '');

  const spot = sim.venueRestBase('bybit');
  const one = await getJson(`${spot}/v5/market/orderbook?category=spot&symbol=BTCUSDT`);
  assert.equal(one.body.result.b.length, 1, 'spot default limit 1');
  assert.equal((await getJson(`${spot}/v5/market/orderbook?category=spot&symbol=NOPEUSDT`)).body.retCode, 10001);
  assert.equal((await getJson(`${spot}/v5/market/orderbook?symbol=BTCUSDT`)).body.retCode, 10001);
  const wrong = await getJson(`${spot}/v5/market/orderbook?category=linear&symbol=BTCUSDT`);
  assert.match(wrong.body.retMsg, /bybit-linear/);
  const lin = await getJson(`${sim.venueRestBase('bybit-linear')}/v5/market/instruments-info?category=linear`);
  assert.deepEqual(
    lin.body.result.list.map((i: any) => [i.symbol, i.contractType, i.priceFilter.tickSize]),
    [
      ['BTCUSDT', 'LinearPerpetual', '0.01'],
      ['ETHUSDT', 'LinearPerpetual', '0.01'],
    ],
  );
  // another category's instruments: an empty list (ccxt's fetchMarkets asks for every category); status filters
  const none = await getJson(`${spot}/v5/market/instruments-info?category=linear&limit=1000`);
  assert.equal(none.body.retCode, 0);
  assert.deepEqual(none.body.result.list, []);
  const spotList = async (q: string) =>
    (await getJson(`${spot}/v5/market/instruments-info?category=spot${q}`)).body.result.list.map((i: any) => i.symbol);
  assert.deepEqual(await spotList(''), ['BTCUSDT', 'ETHUSDT']);
  assert.deepEqual(await spotList('&symbol=ETHUSDT&status=Trading'), ['ETHUSDT']);
  assert.deepEqual(await spotList('&status=PreLaunch'), []);
  const tm = await getJson(`${spot}/v5/market/time`);
  assert.ok(Math.abs(Number(tm.body.result.timeSecond) * 1000 - Date.now()) < 5000);
});
