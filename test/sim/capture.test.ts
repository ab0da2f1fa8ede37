/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** Capture mode: replay a recorded venue stream (snapshot + events), truth = snapshot + events. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OrderBook } from '../../src/core/book.js';
import { loadCapture, parseCapture } from '../../src/sim/capture.js';
import { okxChecksum } from '../../src/venues/okx.js';
import { getJson, Probe, sleep, startSim, toLevels, waitFor } from './helpers.js';

test('capture replay: events sent as captured (E re-stamped), truth = snapshot + events, junk ignored', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bookwire-sim-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const snapshot = {
    lastUpdateId: 1000,
    bids: [
      ['100.10000000', '1.00000000'],
      ['100.00000000', '2.00000000'],
      ['99.90000000', '3.00000000'],
    ],
    asks: [
      ['100.20000000', '1.50000000'],
      ['100.30000000', '2.50000000'],
    ],
  };
  const events: any[] = [];
  let U = 995;
  for (let i = 0; i < 40; i++) {
    const u = U + 1 + (i % 3);
    const px = (100.1 - (i % 5) * 0.1).toFixed(8);
    const ax = (100.2 + (i % 4) * 0.1).toFixed(8);
    events.push({
      e: 'depthUpdate',
      E: 1_700_000_000_000 + i * 100,
      s: 'ABCUSDT',
      U,
      u,
      b: [[px, i % 7 === 0 ? '0.00000000' : `${i}.00000000`]],
      a: [[ax, `${i + 1}.50000000`]],
    });
    U = u + 1;
  }
  const lines = [JSON.stringify(snapshot)];
  events.forEach((e, i) => {
    lines.push(i % 2 === 0 ? JSON.stringify(e) : JSON.stringify({ stream: 'abcusdt@depth@100ms', data: e }));
    if (i === 10) lines.push('{"result":null,"id":1}', 'garbage');
  });
  const file = join(dir, 'capture.ndjson');
  await writeFile(file, lines.join('\n') + '\n');

  const sim = await startSim(t, { symbols: [], capture: file, eventsPerSec: 200 });
  sim.pause(); // hold the replay until we listen
  assert.deepEqual(sim.symbols, ['ABCUSDT']);
  const stats = sim.stats();
  assert.equal(stats.captureIgnored, 2);
  const applicable = events.filter((e) => e.u > snapshot.lastUpdateId);
  assert.equal(stats.captureStale, events.length - applicable.length);
  assert.ok(stats.captureStale > 0, 'the capture starts before its snapshot');
  const first = await getJson(`${sim.restBase}/api/v3/depth?symbol=ABCUSDT&limit=100`);
  assert.deepEqual(first.body, snapshot, 'before replay the REST book is the captured snapshot');
  const info = await getJson(`${sim.restBase}/api/v3/exchangeInfo?symbol=ABCUSDT`);
  assert.equal(info.body.symbols[0].filters[0].tickSize, '0.10000000', 'tick inferred from the capture');

  const p = await Probe.open(t, `${sim.wsBase}/ws/abcusdt@depth@100ms`);
  sim.resume();
  const t0 = Date.now();
  await waitFor(() => p.events().length === applicable.length, 3000, 'the whole replay');
  await sleep(50);
  assert.equal(p.events().length, applicable.length, 'replay stops at the end of the capture');
  const got = p.events();
  got.forEach((e, i) => {
    const { E, ...rest } = e;
    const { E: _capturedE, ...want } = applicable[i];
    assert.deepEqual(rest, want, `event ${i} as captured`);
    assert.ok(E >= t0 - 5 && E <= Date.now(), 'E re-stamped to the send time');
  });
  const book = new OrderBook();
  book.applySnapshot(toLevels(snapshot.bids as [string, string][]), toLevels(snapshot.asks as [string, string][]));
  for (const e of applicable) book.apply(toLevels(e.b), toLevels(e.a));
  const truth = sim.truth('ABCUSDT');
  assert.equal(truth.lastUpdateId, applicable.at(-1).u);
  assert.deepEqual({ bids: truth.bids, asks: truth.asks }, book.snapshot());
});

test('a capture file without a snapshot line fails to start with a clear error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bookwire-sim-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.ndjson');
  await writeFile(file, '{"e":"depthUpdate","E":1,"s":"X","U":1,"u":1,"b":[],"a":[]}\n');
  await assert.rejects(startSim(t, { symbols: [], capture: file }), /snapshot/);
});

// ---- every venue: real recordings (test/fixtures/real/capture_*, see its README) ----

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/real/${name}`, import.meta.url));
const textOf = (l: any[]) => l.map((x) => [String(x[0]), String(x[1])] as [string, string]);

test('okx capture: the subscribe snapshot is the recorded book (its real checksum too), updates go out as recorded with ts re-stamped, and the truth is what OKX had', async (t) => {
  const file = fixture('capture_okx_btc-usdt.ndjson');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const recorded = lines.map((l) => JSON.parse(l));
  const sim = await startSim(t, {
    symbols: [],
    venues: ['okx'],
    capture: file,
    eventsPerSec: 200,
    okx: { checksum: true },
  });
  sim.pause();
  assert.deepEqual(sim.symbolsOf('okx'), ['BTCUSDT']);
  const p = await Probe.open(t, `${sim.venueWsBase('okx')}/ws/v5/public`);
  p.send({ op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-USDT' }] });
  const snap = await p.waitJson((o) => o.action === 'snapshot', 3000, 'the snapshot');
  const want = recorded[1].data[0];
  const two = (l: string[][]) => l.map((x) => x.slice(0, 2));
  assert.deepEqual(two(snap.data[0].bids), two(want.bids), 'bids as recorded');
  assert.deepEqual(two(snap.data[0].asks), two(want.asks), 'asks as recorded');
  assert.equal(snap.data[0].checksum, want.checksum, "our checksum of the recorded book is OKX's");
  const t0 = Date.now();
  sim.resume();
  const updates = () => p.frames.filter((f) => f.text.includes('"action":"update"'));
  await waitFor(() => updates().length === recorded.length - 2, 5000, 'the whole replay');
  updates().forEach((f, i) => {
    const ts = Number(JSON.parse(f.text).data[0].ts);
    assert.ok(ts >= t0 - 5 && ts <= Date.now(), 'ts re-stamped to the send time');
    assert.equal(f.text, lines[i + 2].replace(/"ts":"\d+"/, `"ts":"${ts}"`), `update ${i} as recorded`);
  });
  // the truth after the replay: OKX's own checksum of its book then must match ours of the truth
  const truth = sim.truth('BTC-USDT', 25, 'okx');
  assert.equal(truth.lastUpdateId, recorded.at(-1).data[0].seqId);
  assert.equal(okxChecksum(textOf(truth.bids), textOf(truth.asks)), recorded.at(-1).data[0].checksum);
});

test('bybit capture: served at its recorded depth only, snapshot then the delta as recorded', async (t) => {
  const file = fixture('capture_bybit-linear_btcusdt.ndjson');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const sim = await startSim(t, { symbols: [], venues: ['bybit-linear'], capture: file, eventsPerSec: 50 });
  sim.pause();
  const p = await Probe.open(t, `${sim.venueWsBase('bybit-linear')}/v5/public/linear`);
  p.send({ op: 'subscribe', args: ['orderbook.200.BTCUSDT'] });
  const refused = await p.waitJson((o) => o.op === 'subscribe', 3000, 'the reply');
  assert.equal(refused.success, false, 'a depth the capture was not recorded at is not served');
  p.send({ op: 'subscribe', req_id: 'x', args: ['orderbook.50.BTCUSDT'] });
  const snap = await p.waitJson((o) => o.type === 'snapshot', 3000, 'the snapshot');
  const rec = JSON.parse(lines[0]);
  // the subscribe snapshot is the truth, spelled the simulator's way (63982.7 for Bybit's 63982.70)
  const num = (l: string[][]) => l.map((x) => x.map(Number));
  assert.deepEqual(num(snap.data.b), num(rec.data.b));
  assert.deepEqual(num(snap.data.a), num(rec.data.a));
  assert.equal(snap.data.u, rec.data.u);
  sim.resume();
  const delta = await p.waitJson((o) => o.type === 'delta', 3000, 'the delta');
  assert.equal(JSON.stringify(delta), lines[1].replace(/"ts":\d+/, `"ts":${delta.ts}`));
});

test('binance-usdm capture: pu, U, u and the level strings go out as recorded', async (t) => {
  const file = fixture('capture_binance-usdm_btcusdt.ndjson');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const sim = await startSim(t, { symbols: [], venues: ['binance-usdm'], capture: file, eventsPerSec: 50 });
  assert.equal(sim.stats().captureStale, 10, 'ten events end before the snapshot');
  const p = await Probe.open(t, `${sim.venueWsBase('binance-usdm')}/public/ws/btcusdt@depth@100ms`);
  const ev = await p.waitJson((o) => o.e === 'depthUpdate', 3000, 'the event');
  const rec = JSON.parse(lines.at(-1)!);
  for (const k of ['U', 'u', 'pu', 'b', 'a', 's']) assert.deepEqual(ev[k], rec[k], k);
});

test('a capture of another venue, or no capture at all, is refused with one clear line', () => {
  const okx = readFileSync(fixture('capture_okx_btc-usdt.ndjson'), 'utf8');
  const bybit = readFileSync(fixture('capture_bybit_btcusdt.ndjson'), 'utf8');
  assert.throws(
    () => parseCapture(okx, 'bybit'),
    (e: Error) => e.name === 'CaptureError' && /no Bybit spot book snapshot/.test(e.message),
  );
  assert.throws(() => parseCapture(okx, 'binance'), /line 1 is not a Binance spot REST depth snapshot/);
  assert.throws(() => parseCapture(bybit, 'okx'), /no OKX book snapshot/);
  for (const e of [() => parseCapture(okx, 'bybit'), () => parseCapture(bybit, 'okx')])
    assert.throws(e, (err: Error) => !err.message.includes('\n'));
});

test('capture levels finer than the truth holds (1e-8) are refused, not rounded', () => {
  const snap =
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["10.123456789","1","0","1"]],"bids":[["9","1","0","1"]],"ts":"1","checksum":0,"prevSeqId":-1,"seqId":5}]}';
  assert.throws(() => parseCapture(snap, 'okx'), /finer than 1e-8/);
});

test('a capture file larger than the replay holds in memory is refused before it is read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bookwire-sim-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'big.ndjson');
  await writeFile(file, readFileSync(fixture('capture_bybit_btcusdt.ndjson'), 'utf8'));
  assert.equal((await loadCapture(file, 'bybit', 1000)).events.length, 1, 'within the bound: read');
  await assert.rejects(
    loadCapture(file, 'bybit', 100),
    /capture: .*big\.ndjson is 372 bytes, more than a replay holds in memory \(100 bytes\)/,
  );
});

test('gemini capture: the first depthUpdate is the book (served as the subscribe snapshot), the update goes out as recorded with E re-stamped', async (t) => {
  const file = fixture('capture_gemini_gusdgbp.ndjson');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const sim = await startSim(t, { symbols: [], venues: ['gemini'], capture: file, eventsPerSec: 50 });
  sim.pause();
  const p = await Probe.open(t, `${sim.venueWsBase('gemini')}?snapshot=-1`);
  p.send({ id: 1, method: 'SUBSCRIBE', params: ['gusdgbp@depth@100ms'] });
  const snap = await p.waitJson((o) => o.e === 'depthUpdate', 3000, 'the snapshot');
  const rec = JSON.parse(lines[0]);
  assert.deepEqual([snap.U, snap.u], [rec.U, rec.u]);
  const num = (l: string[][]) => l.map((x) => x.map(Number));
  assert.deepEqual([num(snap.b), num(snap.a)], [num(rec.b), num(rec.a)]);
  sim.resume();
  await waitFor(() => p.json().filter((o) => o.e === 'depthUpdate').length === 2, 3000, 'the update');
  const text = p.frames.at(-1)!.text;
  const E = (JSON.parse(text) as { E: number }).E;
  assert.equal(text.replace(/"E":\d+/, '"E":0'), lines[1].replace(/"E":\d+/, '"E":0'));
  assert.notEqual(text, lines[1], 'E re-stamped');
  assert.ok(E > 1.7e18, 'in nanoseconds');
});
