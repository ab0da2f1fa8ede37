/**
 * Gemini v2 end to end (no sequence, no checksum: replicas compared): the simulator speaking the v2 `l2`
 * feed -> collector a (its stream silently corrupted now and then, and 30 ms late) and collector b (clean)
 * -> arbiter -> client. Without a checksum a corrupted copy can only be caught by the other feeds' copies:
 * coming second, it is never published, and its feed is resynced. Then a is stopped and b carries the
 * book alone. The client never holds a state the venue did not have and ends equal to the truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { subscribe } from '../../src/client/subscribe.js';
import { OrderBook } from '../../src/core/book.js';
import { sleep, waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

const key = (b: OrderBook) => JSON.stringify(b.snapshot());

/** Every state of the venue's book, as a clean connection sees it. */
function venueStates(url: string) {
  const states = new Set<string>();
  const book = new OrderBook();
  const ws = new WebSocket(url);
  ws.on('open', () =>
    ws.send(JSON.stringify({ type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD'] }] })),
  );
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { type?: string; changes?: [string, string, string][] };
    if (m.type !== 'l2_updates' || !m.changes) return;
    for (const [side, p, q] of m.changes) book.setLevel(side === 'buy' ? 'bid' : 'ask', Number(p), Number(q));
    states.add(key(book));
  });
  return { states, close: () => ws.close() };
}

test('gemini-v2: a late corrupted feed is caught by comparison and never published; the client ends equal to the truth', async (t) => {
  const p = await zmqParts(t, {
    venue: 'gemini-v2',
    symbols: ['BTCUSD'],
    seed: 8,
    rate: 100,
    profiles: ['corrupt', undefined],
    faults: { corrupt: { corruptRate: 0.03, delayMs: 30 } },
  });
  p.sim.pause();
  const venue = venueStates(`${p.sim.venueWsBase('gemini-v2')}/v2/marketdata`);
  t.after(() => venue.close());
  await waitFor(
    () => venue.states.size > 0 && p.arbiter.bookOf('gemini-v2', 'BTCUSD')?.state === 'synced',
    10_000,
    'a book',
  );
  const ac = new AbortController();
  t.after(() => ac.abort());
  const seen: string[] = [];
  const c = follow(subscribe({ venue: 'gemini-v2', symbol: 'BTCUSD', endpoints: p.ep, signal: ac.signal }), (u) => {
    if (u.kind === 'snapshot' || u.kind === 'delta') seen.push(key(u.book));
  });
  await waitFor(() => c.state.updates > 0, 5000, 'the first book');
  p.sim.resume();
  const core = p.arbiter.bookOf('gemini-v2', 'BTCUSD')!;
  await waitFor(() => (core.feedStats().get('a')?.disagreements ?? 0) >= 1, 20_000, 'feed a caught');
  await p.collectors[0].stop(); // the corrupted feed goes; b carries the book alone
  await sleep(1500);
  p.sim.pause();
  await sleep(500);
  const truth = p.sim.truth('BTCUSD', 20, 'gemini-v2');
  await waitFor(
    () => JSON.stringify(c.state.last?.book.top(20)) === JSON.stringify({ bids: truth.bids, asks: truth.asks }),
    5000,
    'client to reach the truth',
  );
  const bad = seen.filter((s) => !venue.states.has(s));
  assert.equal(bad.length, 0, `${bad.length} of ${seen.length} client states the venue never had`);
  assert.ok(p.sim.stats().corrupted > 0);
  assert.equal(c.state.last!.gaps, 0, 'no gap at the client');
  ac.abort();
});
