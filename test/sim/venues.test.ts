/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** Several venues on one port: path prefixes, the default venue, faults on non-Binance venues, spot regrouping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { getJson, Probe, startSim, waitFor } from './helpers.js';

const okxBooks = (p: Probe) => p.json().filter((o) => o.arg?.channel === 'books' && o.action !== undefined);

function okxGaps(msgs: any[]): number {
  let n = 0;
  for (let i = 1; i < msgs.length; i++) if (msgs[i].data[0].prevSeqId !== msgs[i - 1].data[0].seqId) n++;
  return n;
}

test('one port, several venues: /<venue> prefixes, unprefixed paths are binance, unserved venues 404, truth per venue', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], venues: ['binance', 'okx', 'bybit'], eventsPerSec: 100 });
  assert.deepEqual(sim.venues, ['binance', 'okx', 'bybit']);
  assert.equal(sim.venueWsBase('okx'), `${sim.wsBase}/okx`);
  const bare = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth@100ms`);
  const prefixed = await Probe.open(t, `${sim.wsBase}/binance/ws/btcusdt@depth@100ms`);
  const okx = await Probe.open(t, `${sim.wsBase}/okx/ws/v5/public`);
  okx.send({ op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-USDT' }] });
  const bybit = await Probe.open(t, `${sim.wsBase}/bybit/v5/public/spot`);
  bybit.send({ op: 'subscribe', args: ['orderbook.50.BTCUSDT'] });
  await waitFor(
    () =>
      bare.events().length > 5 && prefixed.events().length > 5 && okxBooks(okx).length > 5 && bybit.json().length > 5,
    3000,
    'data on every venue',
  );
  assert.ok(bare.events().every((e) => e.e === 'depthUpdate' && e.s === 'BTCUSDT'));
  await assert.rejects(Probe.open(t, `${sim.wsBase}/binance-usdm/public/ws/btcusdt@depth`), /404/);
  await assert.rejects(Probe.open(t, `${sim.wsBase}/okx/ws/btcusdt@depth`), /404/, "binance's paths are not okx's");
  assert.equal((await getJson(`${sim.restBase}/binance-usdm/fapi/v1/depth?symbol=BTCUSDT`)).status, 404);
  assert.equal((await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=5`)).status, 200);
  assert.equal((await getJson(`${sim.restBase}/binance/api/v3/depth?symbol=BTCUSDT&limit=5`)).status, 200);
  sim.pause();
  const ids = new Set<number>();
  for (const v of ['binance', 'okx', 'bybit'] as const) {
    const viaQuery = await getJson(`${sim.restBase}/sim/truth?venue=${v}&symbol=BTCUSDT&depth=2`);
    const viaPrefix = await getJson(`${sim.restBase}/${v}/sim/truth?symbol=BTCUSDT&depth=2`);
    assert.deepEqual(viaQuery.body, sim.truth('BTCUSDT', 2, v));
    assert.deepEqual(viaPrefix.body, viaQuery.body);
    ids.add(viaQuery.body.lastUpdateId);
  }
  assert.equal(ids.size, 3, 'each venue has its own book and ids');
  assert.deepEqual((await getJson(`${sim.restBase}/sim/truth?symbol=BTCUSDT&depth=1`)).body, sim.truth('BTCUSDT', 1));
  assert.equal((await getJson(`${sim.restBase}/sim/truth?venue=bybit-linear&symbol=BTCUSDT`)).status, 400);
  assert.equal(
    (await fetch(`${sim.restBase}/sim/reset?symbol=BTCUSDT`, { method: 'POST' })).status,
    400,
    'binance has no reset',
  );
});

test('without binance, the unprefixed paths are the first venue; unknown venues are refused', async (t) => {
  const sim = await startSim(t, { symbols: ['ETHUSDT'], venues: ['okx'], eventsPerSec: 50 });
  assert.deepEqual(sim.symbols, ['ETHUSDT']);
  const p = await Probe.open(t, `${sim.wsBase}/ws/v5/public`);
  p.send({ op: 'subscribe', args: [{ channel: 'books', instId: 'ETH-USDT' }] });
  await p.waitJson((o) => o.action === 'snapshot');
  assert.equal((await getJson(`${sim.restBase}/api/v5/market/books?instId=ETH-USDT`)).body.code, '0');
  assert.equal((await getJson(`${sim.restBase}/api/v3/depth?symbol=ETHUSDT`)).status, 404);
  assert.throws(
    () => new ExchangeSimulator({ symbols: ['BTCUSDT'], venues: ['nosuchvenue' as never], logger: silentLogger }),
    /unknown venue "nosuchvenue"/,
  );
});

test('faults on okx and bybit: drop (gaps on that connection only), malformed, disconnect, snapshot errors', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    venues: ['okx', 'bybit'],
    eventsPerSec: 300,
    faults: {
      lossy: { dropRate: 0.2 },
      bad: { malformedRate: 0.3 },
      cut: { disconnectEveryS: 0.3 },
      down: { snapshotErrorRate: 1, snapshotErrorStatus: 503 },
    },
  });
  const sub = { op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-USDT' }] };
  const clean = await Probe.open(t, `${sim.wsBase}/okx/ws/v5/public`);
  const lossy = await Probe.open(t, `${sim.wsBase}/okx/p/lossy/ws/v5/public`);
  const bad = await Probe.open(t, `${sim.wsBase}/okx/p/bad/ws/v5/public`);
  for (const p of [clean, lossy, bad]) p.send(sub);
  const t0 = Date.now();
  const cut = await Probe.open(t, `${sim.wsBase}/bybit/p/cut/v5/public/spot`);
  cut.send({ op: 'subscribe', args: ['orderbook.50.BTCUSDT'] });
  await waitFor(() => okxBooks(clean).length >= 300, 5000, '300 okx pushes');
  assert.equal(okxGaps(okxBooks(clean)), 0, 'the clean connection is untouched');
  assert.ok(okxGaps(okxBooks(lossy)) > 10, `lossy gaps: ${okxGaps(okxBooks(lossy))}`);
  assert.ok(okxBooks(lossy)[0].action === 'snapshot', 'the snapshot itself is never dropped');
  let badJson = 0;
  let badType = 0;
  for (const f of bad.frames) {
    let o: any;
    try {
      o = JSON.parse(f.text);
    } catch {
      badJson++;
      continue;
    }
    const d = o.data?.[0];
    if (d && (typeof d.seqId !== 'number' || typeof d.prevSeqId !== 'number')) badType++;
  }
  assert.ok(badJson > 5 && badType > 5, `malformed: ${badJson} truncated, ${badType} wrong types`);
  await waitFor(() => cut.closed, 3000, 'the bybit disconnect');
  const after = Date.now() - t0;
  assert.ok(after >= 250 && after < 1500, `closed after ${after} ms`);
  assert.equal(cut.closeCode, 1006);
  assert.ok(cut.json().some((o) => o.type === 'snapshot'));
  const okxDown = await getJson(`${sim.restBase}/okx/p/down/api/v5/market/books?instId=BTC-USDT`);
  assert.equal(okxDown.status, 503);
  assert.equal(okxDown.body.code, '50001');
  const bybitDown = await getJson(`${sim.restBase}/bybit/p/down/v5/market/orderbook?category=spot&symbol=BTCUSDT`);
  assert.equal(bybitDown.status, 503);
  assert.equal(bybitDown.body.retCode, 10016);
  const s = sim.stats();
  assert.ok(s.dropped > 10 && s.malformed > 10 && s.disconnects === 1 && s.snapshotErrors === 2);
});

test('regrouping on binance spot: U of the first, u of the last, the U = u + 1 chain holds with fewer messages', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 300, faults: { merge: { regroupRate: 0.6 } } });
  const clean = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth@100ms`);
  const merged = await Probe.open(t, `${sim.wsBase}/p/merge/ws/btcusdt@depth@100ms`);
  await waitFor(() => clean.events().length >= 300, 5000, '300 events');
  sim.pause();
  const last = sim.truth('BTCUSDT').lastUpdateId;
  await waitFor(() => merged.events().at(-1)?.u === last, 3000, 'the last message');
  const c = clean.events();
  const m = merged.events();
  assert.ok(m.length < c.length * 0.7, `${m.length} messages for ${c.length} events`);
  for (let i = 1; i < m.length; i++) assert.equal(m[i].U, m[i - 1].u + 1, 'chain');
  const starts = new Set(c.map((e) => e.U));
  const ends = new Set(c.map((e) => e.u));
  assert.ok(m.every((e) => starts.has(e.U) && ends.has(e.u)));
  assert.ok(
    m.some((e) => c.filter((x) => x.U >= e.U && x.u <= e.u).length >= 3),
    'some cover 3+ events',
  );
});
