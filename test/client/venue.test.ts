/**
 * A client that follows a whole venue (book.binance.) keeps every book equal to the truth and says how many
 * are synced: simulator -> 2 collectors -> arbiter -> subscribeVenue, over real sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { subscribeVenue, type VenueUpdate } from '../../src/client/venue.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { Transport } from '../../src/transport/types.js';
import { silentLogger } from '../../src/log.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { encode } from '../../src/wire/messages.js';
import { freeEndpoints, waitFor } from '../helpers.js';

const BOOKS = 60;

test(`subscribeVenue: ${BOOKS} books on one subscription, every one synced and equal to the truth`, async (t) => {
  const symbols = Array.from({ length: BOOKS }, (_, i) => `V${String(i).padStart(2, '0')}USDT`);
  const sim = new ExchangeSimulator({ port: 0, symbols, seed: 3, eventsPerSec: 5, levels: 40, logger: silentLogger });
  const transports: Transport[] = [];
  const parts: { stop(): Promise<void> }[] = [];
  const ac = new AbortController();
  t.after(async () => {
    ac.abort();
    for (const p of parts.reverse()) await p.stop();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });
  await sim.start();
  const ep = await freeEndpoints();
  const mk = () => {
    const tr = new ZmqTransport(ep);
    transports.push(tr);
    return tr;
  };
  const arb = new ArbiterService({ transport: mk(), symbols, logger: silentLogger });
  await arb.start();
  parts.push(arb);
  for (const id of ['a', 'b']) {
    const c = new Collector({
      id,
      symbols,
      wsUrl: sim.wsBase,
      restUrl: sim.restBase,
      snapshotLimit: 100,
      transport: mk(),
      logger: silentLogger,
    });
    await c.start();
    parts.push(c);
  }
  const last = new Map<string, VenueUpdate>();
  let latest: VenueUpdate | undefined;
  const done = (async () => {
    for await (const u of subscribeVenue({ venue: 'binance', transport: mk(), signal: ac.signal })) {
      last.set(u.symbol, u);
      latest = u;
    }
  })();
  await waitFor(() => latest?.books === BOOKS && latest.synced === BOOKS, 30_000, 'every book synced');
  sim.pause();
  for (const s of symbols) {
    const truth = sim.truth(s, 20);
    await waitFor(() => last.get(s)?.seq === truth.lastUpdateId, 5000, `${s} at the truth's seq`);
    assert.deepEqual(last.get(s)!.book.top(20), { bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) }, s);
    assert.equal(last.get(s)!.gaps, 0, `${s}: no gap`);
  }
  ac.abort();
  await done;
});

test('subscribeVenue: a flood of made-up books stops at maxBooks, the rest counted', async () => {
  const bus = new InprocBus();
  const [pubT, subT] = [new InprocTransport(bus), new InprocTransport(bus)];
  const ac = new AbortController();
  const seen: VenueUpdate[] = [];
  const done = (async () => {
    for await (const u of subscribeVenue({ venue: 'binance', transport: subT, maxBooks: 10, signal: ac.signal }))
      seen.push(u);
  })();
  const pub = await pubT.publisher('book');
  let round = 0;
  await waitFor(
    async () => {
      round++; // a newer snapshot each round: each followed book yields an update carrying the counts
      for (let i = 0; i < 50; i++)
        pub.send(
          `book.binance.F${i}USDT`,
          encode({
            v: 1,
            type: 'snapshot',
            venue: 'binance',
            symbol: `F${i}USDT`,
            seq: 5 + round,
            bids: [[1, 1]],
            asks: [[2, 1]],
            exchTime: 0,
            pubTime: 0,
            reason: 'periodic',
          }),
        );
      await new Promise((r) => setTimeout(r, 50));
      return seen.length > 0 && seen[seen.length - 1].ignoredBooks >= 40;
    },
    5000,
    'the flood counted',
  );
  const l = seen[seen.length - 1];
  assert.equal(l.books, 10);
  assert.equal(l.synced, 10);
  assert.equal(new Set(seen.map((u) => u.symbol)).size, 10, 'only 10 books ever followed');
  ac.abort();
  await done;
  await pubT.close();
  await subT.close();
});

test('subscribeVenue: a topic whose symbol is longer than any venue lists is not followed', async () => {
  const bus = new InprocBus();
  const [pubT, subT] = [new InprocTransport(bus), new InprocTransport(bus)];
  const ac = new AbortController();
  const seen: VenueUpdate[] = [];
  const done = (async () => {
    for await (const u of subscribeVenue({ venue: 'binance', transport: subT, signal: ac.signal })) seen.push(u);
  })();
  const pub = await pubT.publisher('book');
  const snap = (symbol: string, seq: number) =>
    encode({
      v: 1,
      type: 'snapshot',
      venue: 'binance',
      symbol,
      seq,
      bids: [[1, 1]],
      asks: [[2, 1]],
      exchTime: 0,
      pubTime: 0,
      reason: 'periodic',
    });
  const long = 'X'.repeat(10_000);
  let seq = 0;
  await waitFor(
    async () => {
      seq++;
      pub.send(`book.binance.${long}`, snap(long, seq));
      pub.send('book.binance.BTCUSDT', snap('BTCUSDT', seq));
      await new Promise((r) => setTimeout(r, 50));
      return seen.some((u) => u.symbol === 'BTCUSDT');
    },
    5000,
    'the real book',
  );
  assert.deepEqual([...new Set(seen.map((u) => u.symbol))], ['BTCUSDT']);
  assert.equal(seen[seen.length - 1].books, 1);
  ac.abort();
  await done;
  await pubT.close();
  await subT.close();
});
