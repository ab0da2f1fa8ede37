/**
 * Silent corruption on a sequenced venue: collector a's stream has a level's size changed now and then (ids
 * and framing intact), collector b is clean. The arbiter compares the copies of the same ids it receives
 * from both, catches every disagreement it can see, resyncs, and the client ends equal to the truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from '../../src/client/subscribe.js';
import type { VenueId } from '../../src/sim/index.js';
import { sleep, waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

for (const [venue, symbol] of [
  ['binance', 'BTCUSDT'],
  ['okx', 'BTC-USDT'],
] as [VenueId, string][]) {
  test(`${venue}: a corrupted copy is caught by the other feed's copy of the same ids; the client ends equal to the truth`, async (t) => {
    const p = await zmqParts(t, {
      venue,
      symbols: [symbol],
      seed: 21,
      rate: 100,
      profiles: ['corrupt', undefined],
      faults: { corrupt: { corruptRate: 0.02 } },
    });
    const ac = new AbortController();
    t.after(() => ac.abort());
    const c = follow(subscribe({ venue, symbol, endpoints: p.ep, signal: ac.signal }));
    await waitFor(() => c.state.updates > 50, 10_000, 'first updates');
    const core = p.arbiter.bookOf(venue, symbol)!;
    await waitFor(() => core.counters.copyMismatches >= 2, 20_000, 'two disagreements caught');
    await sleep(1000);
    p.sim.pause();
    const truth = p.sim.truth(symbol, 20, venue);
    // a corrupted copy that arrived first was published; its resync (a REST snapshot at the same seq) heals it
    const want = JSON.stringify({ bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) });
    await waitFor(
      () => c.state.last?.seq === truth.lastUpdateId && JSON.stringify(c.state.last.book.top(20)) === want,
      8000,
      'client to reach the truth',
    );
    assert.ok(p.sim.stats().corrupted >= 2);
    assert.ok(core.feedStats().get('a')!.disagreements! >= 2, 'charged to the corrupted feed');
    ac.abort();
  });
}
