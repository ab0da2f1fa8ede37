/**
 * MarketWatch, the demo's view of many books: one subscription per venue for the books and one for the
 * arbiter's stats, each book's state as the overview reads it (synced, why not, REST weight), in process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { MarketWatch } from '../../src/cli/market-watch.js';
import { BookTruth, topKey } from '../../src/cli/truth.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { summarize, unsyncedReason } from '../../src/view/market.js';
import { encode, type ArbiterStats } from '../../src/wire/messages.js';
import { waitFor } from '../helpers.js';

function stats(symbol: string, o: Partial<ArbiterStats>): Buffer {
  const s: ArbiterStats = {
    v: 1,
    type: 'arbiter-stats',
    venue: 'binance',
    symbol,
    arbiter: 'arb-1',
    time: 0,
    seq: 1,
    synced: true,
    updatesPerSec: 3,
    processingP50: 1,
    processingP99: 2,
    resyncs: 0,
    feeds: [
      {
        collector: 'a',
        connected: true,
        messages: 1,
        duplicates: 0,
        won: 1,
        gapsFilled: 0,
        resyncs: 0,
        lagP50: 1,
        lagP99: 2,
        rest: { used: 120, limit: 6000, blockedMs: 0, rateLimited: 0, banned: 0, time: 5 },
      },
    ],
    ...o,
  };
  return encode(s);
}

const snapshot = (symbol: string, seq: number) =>
  encode({
    v: 1,
    type: 'snapshot',
    venue: 'binance',
    symbol,
    seq,
    bids: [[100, 1]],
    asks: [[101, 2]],
    exchTime: 0,
    pubTime: 0,
    reason: 'periodic',
  });

test('MarketWatch: books and their arbiter stats on one subscription each per venue; why each is not synced', async (t) => {
  const bus = new InprocBus();
  const [pubT, subT] = [new InprocTransport(bus), new InprocTransport(bus)];
  const watch = new MarketWatch({
    transport: subT,
    books: ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT'].map((symbol) => ({ venue: 'binance', symbol, faulty: 'b' })),
  });
  watch.start();
  t.after(async () => {
    await watch.stop();
    await pubT.close();
    await subT.close();
  });
  assert.equal(watch.count, 4);
  const pub = await pubT.publisher('book');
  const gap = { reason: 'gap', attempt: 2, forMs: 1500, rateLimitedMs: 8000 };
  await waitFor(
    async () => {
      // A: the arbiter has it, this client not yet (no snapshot service here); B: the arbiter waits for the
      // venue's budget; C: synced here and there; D: nothing heard
      pub.send('stats.binance.AUSDT', stats('AUSDT', {}));
      pub.send('stats.binance.BUSDT', stats('BUSDT', { synced: false, waiting: gap }));
      pub.send('stats.binance.CUSDT', stats('CUSDT', {}));
      pub.send('book.binance.CUSDT', snapshot('CUSDT', 7));
      await new Promise((r) => setTimeout(r, 20));
      const s = watch.states(2);
      return s[0].clientWaitingMs !== undefined && s[1].waiting !== undefined && s[2].synced;
    },
    5000,
    'stats and a book',
  );
  const [a, b, c, d] = watch.states(2);
  assert.equal(unsyncedReason(a), 'client snapshot');
  assert.equal(a.synced, false);
  assert.equal(unsyncedReason(b), 'rate-limited');
  assert.deepEqual(b.waiting, gap);
  assert.equal(unsyncedReason(d), 'no stats');
  assert.equal(c.synced, true);
  assert.equal(c.seq, 7);
  assert.deepEqual([c.bids, c.asks], [[[100, 1]], [[101, 2]]]);
  assert.equal(c.updatesPerSec, 3);
  assert.equal(a.truthChecks, undefined, 'no simulator: no truth check');
  const [v] = summarize([a, b, c, d]);
  assert.equal(`${v.synced}/${v.total}`, '1/4');
  assert.deepEqual(v.rest.get('a'), { used: 120, limit: 6000, blockedMs: 0, rateLimited: 0, banned: 0, at: 5 });
  assert.equal(watch.allSynced(), false);
});

test('BookTruth: a sample at an id the client reached, passed or has yet to reach; a reset of the ids', () => {
  const top = (p: number) => topKey({ bids: [[p, 1]], asks: [[p + 1, 1]] });
  const sample = (id: number, p: number) => ({
    lastUpdateId: id,
    bids: [[p, 1]] as [number, number][],
    asks: [[p + 1, 1]] as [number, number][],
  });
  const t = new BookTruth();
  t.onBook(10, 0, false, top(100));
  t.onBook(11, 0, false, top(101));
  t.onSample(sample(10, 100));
  assert.deepEqual(t.checks, { ok: 1, diff: 0 }, 'passed: compared with what the client had at 10');
  t.onSample(sample(11, 999));
  assert.deepEqual(t.checks, { ok: 1, diff: 1 });
  assert.equal(t.matches, false);
  t.onSample(sample(13, 103));
  assert.deepEqual(t.checks, { ok: 1, diff: 1 }, 'ahead of the client: waits');
  t.onBook(13, 0, false, top(103));
  assert.deepEqual(t.checks, { ok: 2, diff: 1 });
  t.onSample(sample(14, 104));
  t.onBook(1014, 1000, false, top(104)); // the venue reset its ids: the old sample is in the old numbering
  assert.deepEqual(t.checks, { ok: 2, diff: 1 });
  t.forget();
  t.onSample(sample(14, 104));
  assert.deepEqual(t.checks, { ok: 2, diff: 1 }, 'forgotten: nothing kept to compare with');
  assert.equal(t.samples, 5);
});

test('MarketWatch of seven venues: no MaxListenersExceededWarning (one abort listener per subscription it ends)', async (t) => {
  const bus = new InprocBus();
  const subT = new InprocTransport(bus);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const venues = ['binance', 'binance-usdm', 'okx', 'bybit', 'kraken', 'coinbase', 'gemini'];
  const watch = new MarketWatch({
    transport: subT,
    books: venues.flatMap((venue) => ['A', 'B'].map((s) => ({ venue, symbol: `${s}USDT` }))),
  });
  watch.start();
  t.after(async () => {
    process.off('warning', onWarning);
    await watch.stop();
    await subT.close();
  });
  // the listeners are added as the subscriptions come up (two per venue); a warning comes a tick later
  const signal = (watch as unknown as { ac: AbortController }).ac.signal;
  await waitFor(() => getEventListeners(signal, 'abort').length >= 2 * venues.length, 5000, 'every subscription up');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
});
