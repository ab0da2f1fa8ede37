/**
 * Gemini (current API) end to end over real websockets and real ZeroMQ: the simulator speaking
 * ws.gemini.com's protocol (the snapshot on subscribe is a depthUpdate like any other; ids one venue-wide
 * counter, each book's U the previous u) -> collectors a and b -> arbiter (sequenced merge, interval cover
 * with prev = U) -> client SDK.
 * 1. a regroups consecutive updates, b is flaky (drops, duplicates, malformed frames, disconnects: every
 *    reconnect's first depthUpdate is the snapshot): the client and a late joiner equal the truth, nothing
 *    lost or twice, no gap; b stopped mid-run costs nothing.
 * 2. a feed alone that loses messages: each gap is healed by a resubscription whose first depthUpdate the
 *    collector takes as the snapshot only once the venue answered the unsubscribe (messages still in flight
 *    are updates); the client ends equal to the truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from '../../src/client/subscribe.js';
import { sleep, waitFor } from '../helpers.js';
import { assertDeltasChain, clientsReachTruth, follow, zmqParts } from './harness.js';

const V = 'gemini' as const;

test('gemini: a regrouping feed and a flaky feed; client and late joiner equal the truth, nothing lost; a collector stopped mid-run costs nothing', async (t) => {
  const p = await zmqParts(t, {
    venue: V,
    symbols: ['BTC/USD'],
    seed: 12,
    rate: 100,
    profiles: ['regroup', 'flaky'],
    faults: { regroup: { regroupRate: 0.4 } },
  });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const early = follow(subscribe({ venue: V, symbol: 'BTC/USD', endpoints: p.ep, signal: ac.signal }));
  await waitFor(() => early.state.updates > 50, 10_000, 'first updates');
  const late = follow(subscribe({ venue: V, symbol: 'BTCUSD', endpoints: p.ep, signal: ac.signal }));
  await sleep(2000);
  await p.collectors[1].stop(); // the flaky one goes; the regrouping one carries on alone
  await sleep(1000);
  p.sim.pause();
  const truth = p.sim.truth('BTCUSD', 20, V);
  await clientsReachTruth([early, late], truth, 5000);
  assertDeltasChain(early.state.deltas);
  assert.equal(early.state.last!.gaps, 0, 'the client never saw a gap');
  const core = p.arbiter.bookOf(V, 'BTCUSD')!;
  assert.equal(core.counters.resyncs, 0, 'no resync: feed b was covered by feed a');
  const fb = core.feedStats().get('b')!;
  assert.ok(core.feedStats().get('a')!.won > 0 && fb.messages > 0, 'both feeds delivered');
  // b reconnected (flaky disconnects): each time its first depthUpdate became a snapshot, not a delta
  assert.ok(
    p.collectors[1].counters.snapshotsPublished >= 2,
    `b published ${p.collectors[1].counters.snapshotsPublished} snapshots`,
  );
  assert.ok(p.sim.stats().regrouped > 0);
  ac.abort();
});

test('gemini: a lossy feed alone heals every gap by resubscribing (the snapshot taken after the unsubscribe is answered); the client ends equal to the truth', async (t) => {
  const p = await zmqParts(t, {
    venue: V,
    symbols: ['BTCUSD'],
    seed: 13,
    rate: 100,
    profiles: ['lossy', undefined],
    faults: { lossy: { dropRate: 0.02, delayMs: 30, jitterMs: 3 } }, // late: messages are in flight when a resync is asked
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 3000,
  });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const c = follow(subscribe({ venue: V, symbol: 'BTCUSD', endpoints: p.ep, signal: ac.signal }));
  await waitFor(() => c.state.updates > 20, 10_000, 'first updates');
  await p.collectors[1].stop(); // the clean feed goes: a's losses are gaps nobody fills
  const core = p.arbiter.bookOf(V, 'BTCUSD')!;
  await waitFor(() => core.counters.resyncs >= 2, 20_000, 'two resyncs');
  await waitFor(() => core.state === 'synced', 5000, 'synced again');
  p.sim.pause();
  const truth = p.sim.truth('BTCUSD', 20, V);
  await clientsReachTruth([c], truth, 5000);
  const a = p.collectors[0].counters;
  assert.equal(a.parseErrors, 0);
  assert.ok(a.snapshotsPublished >= 3, `${a.snapshotsPublished} snapshots: the first and one per resync`);
  ac.abort();
});
