/**
 * Kraken end to end over real websockets and real ZeroMQ: the simulator speaking Kraken v2 -> collector a
 * (its stream silently corrupted: a level's size changed, Kraken's checksum left as the venue computed it)
 * and collector b (flaky: drops, duplicates, malformed frames, disconnects) -> arbiter (replica merge) ->
 * client SDK. Kraken has no per-book id: each feed's book is verified on its own and the consolidated
 * stream follows whichever verified copy is first. The client must never hold a state the venue's book
 * never had (checked on every update against a clean connection's view of the venue), see no gap and no
 * resync, and end equal to the truth; stopping a collector mid-run costs nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { OrderBook } from '../../src/core/book.js';
import type { Level } from '../../src/core/types.js';
import { sleep, waitFor } from '../helpers.js';
import { assertDeltasChain, followFromVenueStart, waitForTruthTop, zmqParts } from './harness.js';

const TOP = 10;
const key = (b: OrderBook) => JSON.stringify(b.top(TOP));

/** Every top-10 state of the venue's book, as a clean depth-10 connection sees it (Kraken's own rules). */
function venueStates(url: string) {
  const states = new Set<string>();
  const book = new OrderBook();
  const ws = new WebSocket(url);
  const lv = (xs: { price: number; qty: number }[]): Level[] => xs.map((x) => [x.price, x.qty]);
  ws.on('open', () =>
    ws.send(JSON.stringify({ method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: TOP } })),
  );
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as {
      channel?: string;
      type?: string;
      data?: { bids: never[]; asks: never[] }[];
    };
    if (m.channel !== 'book' || !m.data) return;
    const d = m.data[0];
    if (m.type === 'snapshot') book.applySnapshot(lv(d.bids), lv(d.asks));
    else book.apply(lv(d.bids), lv(d.asks));
    book.dropBeyond(TOP);
    states.add(key(book));
  });
  return { states, close: () => ws.close() };
}

test('kraken: a corrupted feed and a flaky feed; the client never holds a state the venue did not, sees no gap or resync, and ends equal to the truth', async (t) => {
  const p = await zmqParts(t, {
    venue: 'kraken',
    symbols: ['BTC/USD'],
    seed: 5,
    rate: 100,
    profiles: ['corrupt', 'flaky'],
    faults: { corrupt: { corruptRate: 0.03, jitterMs: 2 } },
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 1000,
  });
  // the venue held still while a clean connection takes its book: it then sees every state the pipeline can
  const seen: string[] = [];
  let snapshots = 0;
  const { venue, c, ac } = await followFromVenueStart(t, p, {
    venue: 'kraken',
    symbol: 'BTC/USD',
    watchVenue: () => venueStates(`${p.sim.venueWsBase('kraken')}/v2`),
    onUpdate: (u) => {
      seen.push(key(u.book));
      if (u.message.type === 'snapshot') snapshots++;
    },
  });
  await waitFor(() => c.state.updates > 100, 15_000, 'first updates');
  await sleep(3000);
  await p.collectors[1].stop(); // the flaky one goes; the corrupted one carries on alone
  await sleep(1500);
  p.sim.pause();
  await sleep(500);
  await waitForTruthTop(c, p.sim, 'kraken', 'BTCUSD', 5000);
  const core = p.arbiter.bookOf('kraken', 'BTC/USD')!;
  const fa = core.feedStats().get('a')!;
  const fb = core.feedStats().get('b')!;
  assert.ok(p.sim.stats().corrupted > 0, 'the simulator corrupted messages');
  assert.ok(fa.checksumMismatches + (fa.disagreements ?? 0) > 0, 'feed a was caught');
  assert.ok(fb.messages > 0 && fa.won > 0 && fb.won > 0, 'both feeds led at times');
  const bad = seen.map((s, i) => [i, s] as const).filter(([, s]) => !venue.states.has(s));
  assert.deepEqual(bad.slice(0, 3), [], `${bad.length} of ${seen.length} client states the venue never had`);
  assert.equal(snapshots, 1, 'one snapshot (the first): failovers reached the client as deltas');
  assert.equal(c.state.last!.gaps, 0);
  assertDeltasChain(c.state.deltas);
  ac.abort();
});
