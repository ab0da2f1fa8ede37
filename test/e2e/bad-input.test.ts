/**
 * Bad input from the exchange and the bus: each is logged/counted and the pipeline keeps serving.
 * Real simulator, real websockets, real ZeroMQ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultProfile } from '../../src/sim/index.js';
import { clientReachesTruth, simAndArbiter } from './harness.js';
import { sleep, waitFor } from '../helpers.js';

/** The simulator (seed 3, `faults` as its profiles) and an arbiter of `symbols`; collectors on demand. */
function setup(
  t: { after(fn: () => Promise<void> | void): void },
  faults: Record<string, FaultProfile>,
  symbols = ['BTCUSDT'],
) {
  return simAndArbiter(t, { seed: 3, faults, symbols });
}

test('malformed frames and wrong-type fields from the venue are counted, never crash, and the book stays right', async (t) => {
  const p = await setup(t, { bad: { malformedRate: 0.2 } });
  const c = await p.collector('a', 'bad');
  await clientReachesTruth(p, 2500);
  assert.ok(c.counters.parseErrors > 10, `expected parse errors, got ${c.counters.parseErrors}`);
  assert.ok(c.counters.published > 100);
});

test('undecodable messages on the bus are counted and dropped; the arbiter keeps serving', async (t) => {
  const p = await setup(t, {});
  await p.collector('a');
  const rogue = await p.mk().publisher('ingest');
  await sleep(300); // ZeroMQ slow joiner: let the rogue PUB connect
  const junk = [
    'not json',
    '{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT"}',
    '{"v":99}',
    '{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","collector":"x","recvTime":1,"first":"a","last":2,"bids":[],"asks":[]}',
    '{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","collector":"x","recvTime":1,"first":1,"last":2,"bids":[["1","2"]],"asks":[]}',
  ];
  for (let i = 0; i < 20; i++) for (const j of junk) rogue.send('raw.binance.BTCUSDT', j);
  await rogue.flush();
  await clientReachesTruth(p, 1500);
  assert.ok(p.arbiter.counters.decodeErrors >= 100, `decode errors: ${p.arbiter.counters.decodeErrors}`);
});

test('HTTP 500 snapshots: the arbiter retries on another collector and syncs', async (t) => {
  const p = await setup(t, { broken: { snapshotErrorRate: 1, snapshotErrorStatus: 500 } });
  const b = await p.collector('b', 'broken');
  await waitFor(() => b.counters.snapshotErrors > 0, 5000, 'collector b to fail a snapshot');
  assert.equal(p.arbiter.bookOf('binance', 'BTCUSDT')?.state, 'unsynced');
  await p.collector('a');
  await clientReachesTruth(p, 1500);
});

test('HTTP 429 snapshots: the collector backs off for Retry-After instead of hammering the venue', async (t) => {
  const p = await setup(t, { limited: { snapshotErrorRate: 1, snapshotErrorStatus: 429 } });
  const b = await p.collector('b', 'limited');
  await sleep(2500);
  // The arbiter re-asks every 250-500 ms (about 6 times in 2.5 s), but after each 429 the collector holds
  // off for Retry-After (the simulator says 1 s), so at most 3 requests reach the venue.
  assert.ok(
    b.counters.snapshotErrors >= 2 && b.counters.snapshotErrors <= 3,
    `snapshot requests sent: ${b.counters.snapshotErrors}`,
  );
  assert.ok(p.sim.stats().snapshotErrors >= 1);
});

test('an unknown symbol is reported clearly by the collector, and the known ones keep flowing', async (t) => {
  const p = await setup(t, {}, ['BTCUSDT', 'NOPEUSDT']);
  const c = await p.collector('a');
  await waitFor(() => c.unknownSymbols.length > 0, 5000, 'the symbol check');
  assert.deepEqual(c.unknownSymbols, ['NOPEUSDT']);
  await clientReachesTruth(p, 1500);
});

test('a crossed snapshot on the bus is rejected by the arbiter, which asks again and syncs', async (t) => {
  const p = await setup(t, {});
  const rogue = await p.mk().publisher('ingest');
  await sleep(300); // ZeroMQ slow joiner
  rogue.send(
    'raw.binance.BTCUSDT',
    JSON.stringify({
      v: 1,
      type: 'snapshot',
      venue: 'binance',
      symbol: 'BTCUSDT',
      seq: 1,
      recvTime: 1,
      collector: 'rogue',
      bids: [[101, 1]],
      asks: [[100, 1]],
    }),
  );
  await rogue.flush();
  await waitFor(
    () => (p.arbiter.bookOf('binance', 'BTCUSDT')?.counters.snapshotsRejected ?? 0) === 1,
    3000,
    'the crossed snapshot to be rejected',
  );
  await p.collector('a');
  await clientReachesTruth(p, 1500);
});
