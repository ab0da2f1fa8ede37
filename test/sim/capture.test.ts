/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** Capture mode: replay a recorded snapshot + depthUpdate stream, truth = snapshot + events. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OrderBook } from '../../src/core/book.js';
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
