/**
 * A whole market against the simulator's REST weight limit, in one process (inproc bus): N Binance books,
 * one arbiter, collectors each on their own loopback IP with the venue's limit per window. For the tests of
 * how snapshot requests spend the venue's weight (arbiter/snapshot-move, arbiter/snapshot-line) and of the
 * collector within the venue's limits (collector/limits).
 */
import type { TestContext } from 'node:test';
import { ExchangeSimulator } from '../src/sim/index.js';
import { Collector, type CollectorOptions } from '../src/collector/collector.js';
import { ArbiterService } from '../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../src/transport/inproc.js';
import { silentLogger } from '../src/log.js';

export interface RestLimitedMarket {
  symbols: string[];
  sim: ExchangeSimulator;
  arb: ArbiterService;
  /**
   * Start a collector of every book, on its own IP (e.g. 127.0.0.2), with the market's weight per window
   * (and `more` options); stopped after the test.
   */
  collector(id: string, ip: string, more?: Partial<CollectorOptions>): Promise<Collector>;
  /** Books the arbiter has synced now. */
  synced(): number;
}

/**
 * `books` books (S0USDT...) of `levels` levels (default 120) each, 2 events a second, the venue's REST weight
 * limited to `limit` per `windowMs` per IP (the first request over it bans the IP: an overspend shows as a
 * 418); the arbiter of them all started.
 */
export async function restLimitedMarket(
  t: TestContext,
  o: { books: number; limit: number; windowMs: number; seed: number; levels?: number },
): Promise<RestLimitedMarket> {
  const symbols = Array.from({ length: o.books }, (_, i) => `S${i}USDT`);
  const sim = new ExchangeSimulator({
    port: 0,
    symbols,
    seed: o.seed,
    eventsPerSec: 2,
    levels: o.levels ?? 120,
    logger: silentLogger,
    limits: { venues: { binance: { restWeight: o.limit, restWindowMs: o.windowMs, banAfter429s: 0 } } },
  });
  await sim.start();
  const bus = new InprocBus();
  const stops: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const s of stops.reverse()) await s();
    await sim.stop();
  });
  const arbT = new InprocTransport(bus);
  const arb = new ArbiterService({ transport: arbT, symbols });
  await arb.start();
  stops.push(async () => {
    await arb.stop();
    await arbT.close();
  });
  return {
    symbols,
    sim,
    arb,
    async collector(id, ip, more) {
      const tr = new InprocTransport(bus);
      const c = new Collector({
        id,
        symbols,
        wsUrl: sim.wsBase,
        restUrl: sim.restBase,
        transport: tr,
        localAddress: ip,
        restWeightPerMinute: o.limit,
        restWindowMs: o.windowMs,
        snapshotLimit: 100,
        ...more,
      });
      await c.start();
      stops.push(async () => {
        await c.stop();
        await tr.close();
      });
      return c;
    },
    synced: () => symbols.filter((s) => arb.bookOf('binance', s)?.state === 'synced').length,
  };
}
