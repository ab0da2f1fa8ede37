/**
 * Capture replay end to end, per venue, on real recorded messages (test/fixtures/real/capture_*, see its
 * README): simulator replaying the capture in the venue's protocol -> collectors a and b -> arbiter ->
 * client SDK over real websockets and ZeroMQ. The client's book must equal the simulator's truth, which is
 * the capture's snapshot plus its events as the venue's own adapter parses them. OKX's recorded checksums are
 * verified by the arbiter on the way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { subscribe } from '../../src/client/subscribe.js';
import type { VenueId } from '../../src/sim/index.js';
import { waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/real/${name}`, import.meta.url));

const CASES: { venue: VenueId; file: string; symbol: string; events: number }[] = [
  { venue: 'okx', file: 'capture_okx_btc-usdt.ndjson', symbol: 'BTC-USDT', events: 40 },
  { venue: 'binance-usdm', file: 'capture_binance-usdm_btcusdt.ndjson', symbol: 'BTCUSDT', events: 1 },
  { venue: 'bybit', file: 'capture_bybit_btcusdt.ndjson', symbol: 'BTCUSDT', events: 1 },
  { venue: 'bybit-linear', file: 'capture_bybit-linear_btcusdt.ndjson', symbol: 'BTCUSDT', events: 1 },
];

for (const c of CASES) {
  test(`${c.venue}: a real capture replayed by the simulator reaches the client equal to the truth`, async (t) => {
    const p = await zmqParts(t, {
      venue: c.venue,
      symbols: [c.symbol],
      capture: fixture(c.file),
      okx: { checksum: true }, // the subscribe snapshot's checksum too (the recording's updates carry OKX's own)
      seed: 1,
      rate: 20,
      faulty: false,
      profiles: [c.venue.startsWith('bybit') ? undefined : 'regroup', undefined],
      faults: { regroup: { regroupRate: 0.4 } },
      gapTimeoutMs: 50,
      snapshotTimeoutMs: 1000,
    });
    const ep = p.ep;
    const stats = p.sim.stats();
    assert.equal(stats.captureGaps, 0, 'the recording chains');
    const start = p.sim.truth(c.symbol, Infinity, c.venue);
    const ac = new AbortController();
    t.after(() => ac.abort());
    const client = follow(subscribe({ venue: c.venue, symbol: c.symbol, endpoints: ep, signal: ac.signal }));
    if (c.venue === 'binance-usdm')
      // a REST venue's book syncs on its first event (the arbiter then asks for the REST snapshot)
      await waitFor(() => p.sim.stats().connections === 2, 10_000, 'the collectors connected');
    else
      await waitFor(() => client.state.last?.seq === start.lastUpdateId, 10_000, 'the client synced on the snapshot');
    p.sim.resume(); // the replay starts once everyone listens
    await waitFor(() => p.sim.stats().eventsGenerated === c.events, 10_000, 'the whole capture replayed');
    const truth = p.sim.truth(c.symbol, Infinity, c.venue);
    assert.notEqual(truth.lastUpdateId, start.lastUpdateId, 'the replay moved the book');
    await waitFor(() => client.state.last?.seq === truth.lastUpdateId, 5000, 'the client reached the end');
    const book = client.state.last!.book.snapshot();
    assert.deepEqual(book.bids, truth.bids, 'bids equal the truth');
    assert.deepEqual(book.asks, truth.asks, 'asks equal the truth');
    assert.equal(client.state.last!.gaps, 0);
    if (c.venue === 'okx') {
      // the recording's real checksums, verified on the consolidated book as it went
      const core = p.arbiter.bookOf('okx', c.symbol)!;
      // fewer than the events when a regrouped copy won
      const verified = core.counters.checksumsVerified;
      assert.ok(verified >= c.events / 2, `checksums verified: ${verified}`);
      assert.equal(core.counters.checksumMismatches, 0);
    }
    ac.abort();
  });
}
