/**
 * End to end per venue over real websockets and real ZeroMQ: the simulator speaking the venue's protocol ->
 * collectors a (regrouping, where the venue can: consecutive updates merged into one message, as real
 * Binance USD-M connections do) and b (flaky: drops, duplicates, malformed frames, disconnects) -> arbiter ->
 * client SDK. The client's book must equal the simulator's truth; a collector stopped mid-run loses
 * nothing; a late joiner is correct; an OKX maintenance reset and a Bybit restart reach clients without a gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, type BookUpdate } from '../../src/client/subscribe.js';
import type { VenueId } from '../../src/sim/index.js';
import type { CollectorOptions } from '../../src/collector/collector.js';
import { sleep, waitFor } from '../helpers.js';
import { assertDeltasChain, follow, zmqParts } from './harness.js';

const UNIFIED: Record<string, string> = {
  'binance-usdm': 'BTC/USDT:USDT',
  okx: 'BTC/USDT',
  bybit: 'BTC/USDT',
  'bybit-linear': 'BTC/USDT:USDT',
};

async function venuePipeline(
  t: { after(fn: () => Promise<void> | void): void },
  venue: VenueId,
  o: { regroup: boolean; faultyB: boolean; collector?: Partial<CollectorOptions> },
) {
  const parts = await zmqParts(t, {
    venue,
    symbols: [UNIFIED[venue]],
    seed: 11,
    rate: 100,
    faulty: false,
    profiles: [o.regroup ? 'regroup' : undefined, o.faultyB ? 'flaky' : undefined],
    faults: { regroup: { regroupRate: 0.4 } },
    collector: o.collector,
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 1000,
  });
  const ep = parts.ep;
  const symbol = parts.collectors[0].venue.venueSymbol(UNIFIED[venue])!;
  return { ...parts, ep, symbol };
}

/** The client's book is the simulator's truth (the venue's id: consolidated seq minus the reset offset). */
function assertTruth(
  u: BookUpdate | undefined,
  truth: { lastUpdateId: number; bids: [number, number][]; asks: [number, number][] },
) {
  assert.ok(u, 'client received no update');
  assert.equal(u.seq - (u.message.offset ?? 0), truth.lastUpdateId);
  const top = u.book.top(20);
  assert.deepEqual(top.bids, truth.bids.slice(0, 20));
  assert.deepEqual(top.asks, truth.asks.slice(0, 20));
}

for (const venue of ['binance-usdm', 'okx', 'bybit', 'bybit-linear'] as VenueId[]) {
  const canRegroup = !venue.startsWith('bybit'); // Bybit's u counts messages: nothing to regroup
  test(`${venue}: client and late joiner equal the truth after faults${canRegroup ? ' and regrouping' : ''}; a collector stopped mid-run loses nothing`, async (t) => {
    const p = await venuePipeline(t, venue, { regroup: canRegroup, faultyB: true });
    const ac = new AbortController();
    t.after(() => ac.abort());
    const early = follow(subscribe({ venue, symbol: UNIFIED[venue], endpoints: p.ep, signal: ac.signal }));
    await waitFor(() => early.state.updates > 50, 10_000, 'first updates');
    const late = follow(subscribe({ venue, symbol: p.symbol, endpoints: p.ep, signal: ac.signal }));
    await sleep(1500);
    await p.collectors[1].stop(); // the flaky one goes; the regrouping one carries on alone
    await sleep(1000);
    p.sim.pause();
    const truth = p.sim.truth(p.symbol, 20, venue);
    await waitFor(
      () => early.state.last?.seq === truth.lastUpdateId && late.state.last?.seq === truth.lastUpdateId,
      5000,
      'clients to reach the truth seq',
    );
    assertTruth(early.state.last, truth);
    assertTruth(late.state.last, truth);
    assertDeltasChain(early.state.deltas);
    assert.equal(early.state.last!.gaps, 0, 'the client never saw a gap');
    const core = p.arbiter.bookOf(venue, p.symbol)!;
    assert.equal(core.counters.resyncs, 0, 'no resync: feed b was covered by feed a');
    const fa = core.feedStats().get('a')!;
    assert.ok(fa.won > 0 && core.feedStats().get('b')!.messages > 0, 'both feeds delivered');
    ac.abort();
  });
}

for (const venue of ['okx', 'bybit'] as VenueId[]) {
  test(`${venue}: a venue ${venue === 'okx' ? 'maintenance reset' : 'restart (u = 1)'} reaches clients without a gap; the book stays the truth`, async (t) => {
    const p = await venuePipeline(t, venue, { regroup: false, faultyB: false });
    const ac = new AbortController();
    t.after(() => ac.abort());
    const c = follow(subscribe({ venue, symbol: p.symbol, endpoints: p.ep, signal: ac.signal }));
    await waitFor(() => c.state.updates > 30, 10_000, 'first updates');
    const before = c.state.last!.seq;
    p.sim.reset(venue, p.symbol);
    await sleep(1500);
    p.sim.pause();
    const truth = p.sim.truth(p.symbol, 20, venue);
    await waitFor(
      () => c.state.last !== undefined && c.state.last.seq - (c.state.last.message.offset ?? 0) === truth.lastUpdateId,
      5000,
      'client to reach the truth',
    );
    assertTruth(c.state.last, truth);
    assert.ok(c.state.last!.seq > before, 'the consolidated seq went on up across the reset');
    assert.equal(c.state.last!.gaps, 0, 'no gap reported to the client');
    assert.equal(p.arbiter.bookOf(venue, p.symbol)!.counters.venueResets, 1);
    ac.abort();
  });
}

test('okx with REST snapshots (books?source=0, as OKX announced): synced from REST by seqId, the client equals the truth', async (t) => {
  const p = await venuePipeline(t, 'okx', { regroup: true, faultyB: true, collector: { snapshotSource: 'rest' } });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const c = follow(subscribe({ venue: 'okx', symbol: 'BTC/USDT', endpoints: p.ep, signal: ac.signal }));
  await waitFor(() => c.state.updates > 50, 10_000, 'first updates');
  p.sim.pause();
  const truth = p.sim.truth(p.symbol, 20, 'okx');
  await waitFor(() => c.state.last?.seq === truth.lastUpdateId, 5000, 'client to reach the truth seq');
  assertTruth(c.state.last, truth);
  assert.ok(p.sim.stats().snapshotsServed >= 1, 'the book came from a REST snapshot');
  assert.equal(
    p.collectors[0].counters.snapshotsPublished + p.collectors[1].counters.snapshotsPublished,
    p.sim.stats().snapshotsServed - p.sim.stats().snapshotErrors,
    'only REST snapshots were published',
  );
  ac.abort();
});
