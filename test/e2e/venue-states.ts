/**
 * What a clean connection sees of a venue's book, in the venue's own protocol: every state the book passes
 * through, to check that a client never holds a state the venue did not have.
 */
import { WebSocket } from 'ws';
import { OrderBook } from '../../src/core/book.js';
import { followFromVenueStart, type zmqParts } from './harness.js';

/** A book's whole state as a string: equal books, equal keys. */
export const bookKey = (b: OrderBook) => JSON.stringify(b.snapshot());

/** Every state (`bookKey`) of Gemini v2's BTCUSD book, as a clean `l2` connection to `url` sees it. */
export function geminiV2States(url: string) {
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
    states.add(bookKey(book));
  });
  return { states, close: () => ws.close() };
}

/**
 * A client of Gemini v2's BTCUSD compared with the venue (`followFromVenueStart`): `seen` keeps the state
 * (`bookKey`) the client holds after every message (snapshot or delta), `venue.states` every state the
 * venue had.
 */
export async function followGeminiV2FromStart(
  t: { after(fn: () => Promise<void> | void): void },
  p: Awaited<ReturnType<typeof zmqParts>>,
) {
  const seen: string[] = [];
  const follower = await followFromVenueStart(t, p, {
    venue: 'gemini-v2',
    symbol: 'BTCUSD',
    watchVenue: () => geminiV2States(`${p.sim.venueWsBase('gemini-v2')}/v2/marketdata`),
    onUpdate: (u) => {
      if (u.kind === 'snapshot' || u.kind === 'delta') seen.push(bookKey(u.book));
    },
  });
  return { ...follower, seen };
}
