/**
 * Coinbase Advanced Trade end to end: the simulator numbers each connection's messages across channels
 * (`sequence_num`); collector b's stream loses messages (flaky: drops, duplicates, disconnects), collector a
 * is clean. A hole in b's numbering resyncs b's books (the collector skips its own count, the arbiter sees a
 * gap and asks for a resubscription), so b's book never silently diverges; the client never holds a state
 * the venue did not have, sees no gap and no resync, and ends equal to the truth after a is stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { OrderBook } from '../../src/core/book.js';
import { sleep, waitFor } from '../helpers.js';
import { followFromVenueStart, waitForTruthTop, zmqParts } from './harness.js';

const key = (b: OrderBook) => JSON.stringify(b.snapshot());

/** Every state of the venue's book, as a clean connection sees it. */
function venueStates(url: string) {
  const states = new Set<string>();
  const book = new OrderBook();
  const ws = new WebSocket(url);
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', product_ids: ['BTC-USD'], channel: 'level2' })));
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as {
      channel?: string;
      events?: { type: string; updates: { side: string; price_level: string; new_quantity: string }[] }[];
    };
    if (m.channel !== 'l2_data' || !m.events) return;
    for (const e of m.events) {
      if (e.type === 'snapshot') book.clear();
      for (const u of e.updates)
        book.setLevel(u.side === 'bid' ? 'bid' : 'ask', Number(u.price_level), Number(u.new_quantity));
    }
    states.add(key(book));
  });
  return { states, close: () => ws.close() };
}

test('coinbase: a lossy feed resyncs on every hole in its sequence_num; the client only holds venue states and ends equal to the truth', async (t) => {
  const p = await zmqParts(t, {
    venue: 'coinbase',
    symbols: ['BTC-USD'],
    seed: 4,
    rate: 100,
    profiles: [undefined, 'flaky'],
  });
  const seen: string[] = [];
  let snapshots = 0;
  const { venue, c, ac } = await followFromVenueStart(t, p, {
    venue: 'coinbase',
    symbol: 'BTC-USD',
    watchVenue: () => venueStates(p.sim.venueWsBase('coinbase')),
    onUpdate: (u) => {
      if (u.kind === 'snapshot') snapshots++;
      if (u.kind === 'snapshot' || u.kind === 'delta') seen.push(key(u.book));
    },
  });
  await waitFor(() => p.collectors[1].counters.connectionGaps >= 2, 20_000, 'holes in b');
  await sleep(1000);
  await p.collectors[0].stop(); // the clean feed goes; b, resynced at each hole, carries the book alone
  await sleep(2000);
  p.sim.pause();
  await sleep(500);
  await waitForTruthTop(c, p.sim, 'coinbase', 'BTCUSD', 8000);
  const bad = seen.filter((s) => !venue.states.has(s));
  assert.equal(bad.length, 0, `${bad.length} of ${seen.length} client states the venue never had`);
  assert.equal(snapshots, 1, 'one snapshot: failovers reached the client as deltas');
  assert.equal(c.state.last!.gaps, 0);
  const fb = p.arbiter.bookOf('coinbase', 'BTC-USD')!.feedStats().get('b')!;
  assert.ok(fb.resyncs >= 2, `b resynced at its holes (${fb.resyncs})`);
  ac.abort();
});
