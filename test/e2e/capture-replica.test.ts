/**
 * Capture replay end to end on the venues without per-book ids (kraken, coinbase, gemini-v2): simulator
 * replaying a capture -> collectors a and b -> arbiter (replica merge) -> client SDK, over real websockets and
 * ZeroMQ. The client's book must end equal to the replay's truth (the capture's snapshot and every update
 * after it; Kraken's cut to the recorded depth), Kraken's checksums verified on the way with no mismatch.
 * Real recordings (test/fixtures/real, see its README) for kraken and gemini-v2; captures written by
 * `bookwire capture` (writeCapture) of a running simulator for all three, replayed clean and through faults
 * (drops, duplicates, malformed frames, disconnects; Kraken: a silently corrupted feed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { subscribe } from '../../src/client/subscribe.js';
import { silentLogger } from '../../src/log.js';
import { ExchangeSimulator, loadCapture, type VenueId } from '../../src/sim/index.js';
import { writeCapture } from '../../src/sim/captureWriter.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { sleep, waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/real/${name}`, import.meta.url));

/** The pipeline on `file`; resolves once the whole capture went out and the client's book equals the truth. */
async function replay(
  t: { after(fn: () => Promise<void> | void): void },
  c: { venue: VenueId; file: string; symbol: string; events: number; profiles?: [string?, string?] },
) {
  const p = await zmqParts(t, {
    venue: c.venue,
    symbols: [c.symbol],
    capture: c.file,
    seed: 1,
    rate: 100,
    profiles: [c.profiles?.[0], c.profiles?.[1]],
    faults: { regroup: { regroupRate: 0.4 }, corrupt: { corruptRate: 0.03, jitterMs: 2 } },
  });
  const stats = p.sim.stats();
  assert.equal(stats.captureGaps, 0, 'the recording is whole');
  const ac = new AbortController();
  t.after(() => ac.abort());
  const client = follow(subscribe({ venue: c.venue, symbol: c.symbol, endpoints: p.ep, signal: ac.signal }));
  const canonical = p.sim.symbolsOf(c.venue)[0];
  const truth = () => {
    const x = p.sim.truth(canonical, Infinity, c.venue);
    return JSON.stringify({ bids: x.bids, asks: x.asks });
  };
  const book = () => JSON.stringify(client.state.last?.book.snapshot());
  await waitFor(() => book() === truth(), 10_000, 'the client synced on the snapshot');
  p.sim.resume(); // the replay starts once everyone listens
  await waitFor(() => p.sim.stats().eventsGenerated === c.events, 15_000, 'the whole capture replayed');
  await waitFor(() => book() === truth(), 10_000, "the client's book equals the truth");
  await sleep(300); // anything late (a duplicate, a stale copy) must not move it
  assert.equal(book(), truth(), 'and stays there');
  assert.equal(client.state.last!.gaps, 0);
  for (let i = 1; i < client.state.deltas.length; i++)
    assert.equal(client.state.deltas[i].prev, client.state.deltas[i - 1].seq, 'nothing lost, nothing twice');
  const core = p.arbiter.bookOf(c.venue, c.symbol)!;
  ac.abort();
  return { p, core };
}

test('kraken: the real capture (ccxt, BTC/USD depth 10) reaches the client equal to the truth, every checksum verified', async (t) => {
  const { core } = await replay(t, {
    venue: 'kraken',
    file: fixture('capture_kraken_btc-usd.ndjson'),
    symbol: 'BTC/USD',
    events: 8,
  });
  // two snapshots and seven updates per feed, all Kraken's own checksums, on the collectors' depth-100 books
  assert.ok(core.counters.checksumsVerified >= 2 * 8, `checksums verified: ${core.counters.checksumsVerified}`);
  assert.equal(core.counters.checksumMismatches, 0);
});

test('gemini-v2: the real capture (cryptofeed, BATBTC) reaches the client equal to the truth, one feed regrouped', async (t) => {
  await replay(t, {
    venue: 'gemini-v2',
    file: fixture('capture_gemini-v2_batbtc.ndjson'),
    symbol: 'BATBTC',
    events: 46,
    profiles: ['regroup'],
  });
});

const WRITTEN: { venue: VenueId; symbol: string; profiles: [string?, string?] }[] = [
  { venue: 'kraken', symbol: 'BTC/USD', profiles: ['corrupt', 'flaky'] },
  { venue: 'coinbase', symbol: 'BTC-USD', profiles: [undefined, 'flaky'] },
  { venue: 'gemini-v2', symbol: 'BTCUSD', profiles: ['regroup', 'flaky'] },
];

for (const c of WRITTEN) {
  test(`${c.venue}: bookwire capture of a simulator, replayed through faults (${c.profiles.filter(Boolean).join(', ')}), reaches the client equal to the truth`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bookwire-capture-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'cap.ndjson');
    const src = new ExchangeSimulator({
      venues: [c.venue],
      symbols: [c.symbol],
      eventsPerSec: 100,
      levels: 300,
      seed: 9,
      logger: silentLogger,
    });
    t.after(() => src.stop());
    await src.start();
    const urls = underPrefix(venue(c.venue), src.venueWsBase(c.venue), src.venueRestBase(c.venue));
    const ac = new AbortController();
    const writing = writeCapture({ venue: c.venue, symbol: c.symbol, out, ...urls, signal: ac.signal });
    await sleep(3000);
    src.pause();
    await sleep(300); // the last frames land
    ac.abort();
    assert.equal((await writing).end, 'interrupted');
    await src.stop();
    const data = await loadCapture(out, c.venue);
    assert.equal(data.gaps, 0);
    assert.ok(data.events.length >= 100, `events: ${data.events.length}`);
    // the replay ends on the book the source ended on (Kraken: as deep as the capture's depth-100 stream)
    const want = src.truth(src.symbolsOf(c.venue)[0], c.venue === 'kraken' ? 100 : Infinity, c.venue);
    const { p, core } = await replay(t, {
      venue: c.venue,
      file: out,
      symbol: c.symbol,
      events: data.events.length,
      profiles: c.profiles,
    });
    const truth = p.sim.truth(p.sim.symbolsOf(c.venue)[0], Infinity, c.venue);
    assert.deepEqual({ bids: truth.bids, asks: truth.asks }, { bids: want.bids, asks: want.asks });
    const stats = p.sim.stats();
    if (c.profiles.includes('flaky')) assert.ok(stats.dropped + stats.disconnects > 0, 'the faults happened');
    if (c.venue === 'kraken') {
      const a = core.feedStats().get('a')!;
      assert.ok(stats.corrupted > 0, 'the simulator corrupted messages');
      assert.ok(a.checksumMismatches + (a.disagreements ?? 0) > 0, 'the corrupted feed was caught');
      // (the flaky feed's drops show as checksum mismatches too: without ids, that is how a loss shows)
    }
  });
}
