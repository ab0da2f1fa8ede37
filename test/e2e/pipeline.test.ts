/**
 * End to end over real ZeroMQ sockets and real websockets, in one process:
 * simulator -> 2 collectors (one through the `flaky` fault profile) -> arbiter -> client SDK.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from '../../src/client/subscribe.js';
import { sleep, waitFor } from '../helpers.js';
import { assertAtTruth, assertDeltasChain, clientsReachTruth, follow, pipeline } from './harness.js';

test('client book equals the simulator truth after faults, for a client from the start and a late joiner', async (t) => {
  const p = await pipeline(t, { faulty: true });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const early = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }));
  await sleep(2500);
  const late = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }));
  await sleep(2000);
  p.sim.pause();
  const truth = p.sim.truth('BTCUSDT', 20);
  await clientsReachTruth([early, late], truth, 5000);
  assert.ok(early.state.deltas.length > 100, `too few deltas: ${early.state.deltas.length}`);
  // The faulty feed really was faulty, and the healthy feed covered it: no resync was needed.
  const stats = p.arbiter.bookOf('binance', 'BTCUSDT')!.feedStats();
  assert.ok(stats.get('b')!.gapsFilled > 0, 'feed b should have had gaps filled by feed a');
  ac.abort();
});

test('killing one collector mid-run loses nothing: the consolidated stream stays contiguous', async (t) => {
  const p = await pipeline(t, { faulty: false, rate: 200 });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const c = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }));
  await waitFor(() => c.state.updates > 50, 5000, 'first updates');
  await p.collectors[0].stop();
  await sleep(1500);
  p.sim.pause();
  const truth = p.sim.truth('BTCUSDT', 20);
  await clientsReachTruth([c], truth, 5000);
  // every delta after the first snapshot chains onto the previous one: nothing lost, nothing twice
  assertDeltasChain(c.state.deltas);
  assert.equal(c.state.resets, 1, 'only the initial snapshot, no resync');
  ac.abort();
});

// High-water marks count ZeroMQ messages, and a batching arbiter packs up to 64 payloads into one: the
// batching run (bus.coalesce, opt-in) uses smaller marks so that both fall behind within the test's time.
for (const coalesce of [false, true])
  test(`a deliberately slow client detects its gaps and recovers by snapshot (${coalesce ? 'batching opted in' : 'default: one payload per message'})`, async (t) => {
    const p = await pipeline(t, { faulty: false, rate: 1000, arbiterSendHwm: coalesce ? 2 : 20, coalesce });
    const ac = new AbortController();
    t.after(() => ac.abort());
    let slow = true;
    const hwm = coalesce ? 1 : 5;
    const c = follow(
      subscribe({
        symbol: 'BTCUSDT',
        endpoints: p.ep,
        highWaterMark: hwm,
        receiveBufferSize: coalesce ? 4096 : 32 * 1024,
        signal: ac.signal,
      }),
      async () => {
        if (slow) await sleep(30);
      },
    );
    // slow until the bus has dropped something for it (kernel buffers absorb the first second or so)
    await waitFor(() => (c.state.last?.gaps ?? 0) > 0, 25_000, 'the slow client to fall past its high-water mark');
    slow = false;
    p.sim.pause();
    const truth = p.sim.truth('BTCUSDT', 20);
    await waitFor(() => c.state.last?.seq === truth.lastUpdateId, 8000, 'slow client to catch up');
    assert.ok(c.state.last!.gaps > 0, 'the slow client should have lost messages past its high-water mark');
    assertAtTruth(c.state.last, truth);
    ac.abort();
  });
