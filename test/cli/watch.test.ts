/** The live view model of one book (src/cli/watch.ts): what it takes from the arbiter's stats messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveBookView } from '../../src/cli/watch.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { encode, topics, type ArbiterStats } from '../../src/wire/messages.js';
import { waitFor } from '../helpers.js';

test("the view takes why a book waits and each feed's REST budget from the arbiter's stats", async (t) => {
  const bus = new InprocBus();
  const [viewT, arbT] = [new InprocTransport(bus), new InprocTransport(bus)];
  const view = new LiveBookView({ transport: viewT, venue: 'binance', symbol: 'BUSDT', title: 't' });
  view.start();
  t.after(async () => {
    await view.stop();
    for (const tr of [viewT, arbT]) await tr.close();
  });
  const pub = await arbT.publisher('book');
  const feed = { connected: true, messages: 3, duplicates: 0, won: 3, gapsFilled: 0, resyncs: 1, lagP50: 1, lagP99: 2 };
  const rest = { used: 1200, limit: 6000, blockedMs: 0, rateLimited: 0, banned: 0, time: 42 };
  const stats: ArbiterStats = {
    ...{ v: 1, type: 'arbiter-stats', venue: 'binance', symbol: 'BUSDT', arbiter: 'arb-1', time: 1, seq: 0 },
    synced: false,
    waiting: { reason: 'initial', attempt: 1, forMs: 5000, rateLimitedMs: 9000 },
    ...{ updatesPerSec: 0, processingP50: 0, processingP99: 0, resyncs: 0 },
    feeds: [
      { collector: 'a', ...feed, rest },
      { collector: 'b', ...feed },
    ],
  };
  await waitFor(
    () => {
      pub.send(topics.stats('binance', 'BUSDT'), encode(stats)); // until the view's subscription is up
      return view.state().feeds.length === 2;
    },
    3000,
    'the stats in the view',
  );
  const s = view.state();
  assert.deepEqual(s.waiting, stats.waiting);
  assert.deepEqual(s.feeds[0].rest, {
    used: 1200,
    limit: 6000,
    blockedMs: 0,
    rateLimited: 0,
    banned: 0,
    at: 42,
  });
  assert.equal(s.feeds[1].rest, undefined);
});
