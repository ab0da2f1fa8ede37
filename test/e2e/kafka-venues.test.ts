/**
 * Every new venue through the Kafka bus (the 3-broker test cluster, real sockets), in one process: one
 * simulator serving binance-usdm, okx and bybit, two collectors per venue (b through the `flaky` profile),
 * one arbiter for all their books, one client per book. Skips without the test broker (test/kafka-helpers.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { subscribe } from '../../src/client/subscribe.js';
import { Collector } from '../../src/collector/collector.js';
import { ExchangeSimulator, type VenueId } from '../../src/sim/index.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { sleep, waitFor } from '../helpers.js';
import { kafkaSkip } from '../kafka-helpers.js';
import { FLAKY, track } from './harness.js';
import { kafkaTestBus } from './kafka-rig.js';

const BOOKS: [VenueId, string][] = [
  ['binance-usdm', 'BTC/USDT:USDT'],
  ['okx', 'BTC/USDT'],
  ['bybit', 'BTC/USDT'],
];

test(
  'on Kafka: binance-usdm, okx and bybit books equal the simulator truth after faults, gap-free',
  { skip: kafkaSkip, timeout: 90_000 },
  async (t) => {
    const { broker, transport: mk } = await kafkaTestBus(t);
    const sim = new ExchangeSimulator({
      venues: BOOKS.map(([v]) => v),
      port: 0,
      symbols: ['BTCUSDT'],
      seed: 5,
      eventsPerSec: 40,
      faults: { flaky: FLAKY },
    });
    await sim.start();
    const books = BOOKS.map(([v, s]) => ({ venue: v, symbol: venue(v).venueSymbol(s)! }));
    const arbiter = new ArbiterService({
      transport: mk(),
      symbols: books.map((b) => `${b.venue}.${b.symbol}`),
      gapTimeoutMs: 300,
      snapshotTimeoutMs: 1500,
    });
    await arbiter.start();
    const collectors: Collector[] = [];
    for (const b of books) {
      for (const id of ['a', 'b']) {
        const p = id === 'b' ? '/p/flaky' : '';
        const urls = underPrefix(venue(b.venue), sim.venueWsBase(b.venue) + p, sim.venueRestBase(b.venue) + p);
        const c = new Collector({
          id: `${b.venue}-${id}`,
          venue: b.venue,
          symbols: [b.symbol],
          ...urls,
          transport: mk(),
          reconnectMinMs: 50,
          reconnectMaxMs: 500,
          staleAfterMs: 2000,
        });
        await c.start();
        collectors.push(c);
      }
    }
    const ac = new AbortController();
    broker.beforeStop(async () => {
      ac.abort();
      for (const c of collectors) await c.stop();
      await arbiter.stop();
      await sim.stop();
    });
    const clients = books.map((b) =>
      track(subscribe({ venue: b.venue, symbol: b.symbol, transport: mk(), signal: ac.signal })),
    );
    await sleep(6000);
    sim.pause();
    for (const [i, b] of books.entries()) {
      const truth = sim.truth(b.symbol, 20, b.venue);
      const c = clients[i];
      await waitFor(() => c.s.last?.seq === truth.lastUpdateId, 10_000, `${b.venue} client to reach the truth seq`);
      const top = c.s.last!.book.top(20);
      assert.deepEqual(top.bids, truth.bids.slice(0, 20), `${b.venue} bids`);
      assert.deepEqual(top.asks, truth.asks.slice(0, 20), `${b.venue} asks`);
      assert.deepEqual(c.s.broken, [], `${b.venue}: every delta chains onto the previous update`);
      assert.equal(c.s.last!.gaps, 0, `${b.venue}: the client never saw a gap`);
      assert.ok(c.s.deltas > 30, `${b.venue}: too few deltas ${c.s.deltas}`);
      const stats = arbiter.bookOf(b.venue, b.symbol)!.feedStats();
      assert.ok(stats.get(`${b.venue}-b`)!.messages > 0, `${b.venue}: the flaky feed delivered too`);
    }
  },
);
