/** Sequence continuity and the Binance local-book recipe against the simulator's truth. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderBook } from '../../src/core/book.js';
import { rangeRule } from '../../src/core/sequence.js';
import { getJson, Probe, startSim, toLevels, waitFor, type DepthUpdate } from './helpers.js';

test('with no faults every event chains: U = previous u + 1, u >= U, several ids per event', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], eventsPerSec: 500 });
  const p = await Probe.open(t, `${sim.wsBase}/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms`);
  await waitFor(() => p.events().length >= 400, 5000, '400 events');
  for (const sym of ['BTCUSDT', 'ETHUSDT']) {
    const evs = p.events().filter((e) => e.s === sym);
    assert.ok(evs.length >= 150);
    for (let i = 1; i < evs.length; i++) {
      assert.equal(evs[i].U, evs[i - 1].u + 1, `${sym} event ${i} chains`);
      assert.ok(evs[i].u >= evs[i].U);
    }
    assert.ok(
      evs.some((e) => e.u > e.U),
      'some events aggregate several update ids',
    );
    assert.ok(
      evs.every((e) => e.b.length + e.a.length > 0),
      'no empty events',
    );
  }
});

test('events arrive at about eventsPerSec', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 200 });
  const p = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth@100ms`);
  const t0 = Date.now();
  await waitFor(() => Date.now() - t0 >= 1000, 2000, '1 s');
  const n = p.events().length;
  assert.ok(n > 140 && n < 260, `got ${n} events in 1 s at 200/s`);
});

/** Binance's recipe: buffer events, fetch a snapshot, drop stale events, apply from the one covering id+1. */
function buildBook(
  snapshot: { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] },
  events: DepthUpdate[],
) {
  const book = new OrderBook();
  book.applySnapshot(toLevels(snapshot.bids), toLevels(snapshot.asks));
  let seq = snapshot.lastUpdateId;
  let applied = 0;
  for (const ev of events) {
    const verdict = rangeRule.check(seq, { first: ev.U, last: ev.u });
    if (verdict === 'stale') continue;
    assert.equal(verdict, 'apply', `event ${ev.U}-${ev.u} must chain to ${seq}`);
    book.apply(toLevels(ev.b), toLevels(ev.a));
    seq = ev.u;
    applied++;
    assert.equal(book.isCrossed(), false, `book crossed after ${ev.u}`);
  }
  return { book, seq, applied };
}

test('snapshot + subsequent events (Binance rule) equal truth() after pause; faults on another connection do not touch it', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    eventsPerSec: 300,
    faults: { flaky: { dropRate: 0.3, dupRate: 0.3, malformedRate: 0.1, reorderRate: 0.1, jitterMs: 5 } },
  });
  const clean = await Probe.open(t, `${sim.wsBase}/stream?streams=btcusdt@depth@100ms`);
  const flaky = await Probe.open(t, `${sim.wsBase}/p/flaky/stream?streams=btcusdt@depth@100ms`);
  await waitFor(() => clean.events().length >= 20, 3000, 'buffered events');
  const snap = await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=5000`);
  assert.equal(snap.status, 200);
  await waitFor(() => clean.events().length >= 200, 5000, 'more events');
  sim.pause();
  const truth = sim.truth('BTCUSDT');
  await waitFor(() => clean.events().at(-1)?.u === truth.lastUpdateId, 3000, 'the last event to arrive');
  const events = clean.events();
  assert.ok(events[0].U <= snap.body.lastUpdateId, 'the stream was buffered before the snapshot');
  const { book, seq, applied } = buildBook(snap.body, events);
  assert.ok(applied > 100);
  assert.equal(seq, truth.lastUpdateId);
  assert.deepEqual(book.snapshot(), { bids: truth.bids, asks: truth.asks });
  assert.ok(truth.bids.length > 150 && truth.asks.length > 150, 'a deep book');
  assert.ok(flaky.frames.length > 50 && sim.stats().dropped > 0, 'the flaky connection saw faults meanwhile');
});
