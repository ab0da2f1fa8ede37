/**
 * Hot-hot arbiters in one process over real ZeroMQ: the simulator serving one book, two ArbiterServices
 * (arb-1, arb-2) each on loopback endpoints of its own, and collectors a and b publishing to both (and
 * answering both arbiters' snapshot requests). For the tests of what listens to both arbiters: a client
 * (hot-hot, hot-hot-replica, restart-peer-replica) or a bridge (test/bridge/epochs).
 */
import assert from 'node:assert/strict';
import { ExchangeSimulator, type VenueId } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService, type ArbiterServiceOptions } from '../../src/arbiter/service.js';
import { subscribe } from '../../src/client/subscribe.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { silentLogger } from '../../src/log.js';
import { freeEndpoints, waitFor } from '../helpers.js';

type Endpoints = Awaited<ReturnType<typeof freeEndpoints>>;

/**
 * Start the simulator, both arbiters and both collectors; everything (and every `transport()`) is stopped
 * after the test, after the `beforeStop` hooks (last registered first). `startArbiter(i)` starts arbiter i
 * again after `stopArbiter(i)`.
 */
export async function hotHotArbiters(
  t: { after(fn: () => Promise<void> | void): void },
  o: {
    /** Default binance. */
    venue?: VenueId;
    /** The book, as the simulator names it (BTCUSD for Kraken's BTC/USD). */
    simSymbol: string;
    /** The book, as the venue's collectors and arbiters name it. */
    symbol: string;
    seed: number;
    rate: number;
    /** More options of both arbiters. */
    arbiter?: Partial<ArbiterServiceOptions>;
    /** Each arbiter names the other as its peer (src/arbiter/peers.ts). */
    peers?: boolean;
  },
) {
  const venueId = o.venue ?? 'binance';
  const sim = new ExchangeSimulator({
    venues: [venueId],
    port: 0,
    symbols: [o.simSymbol],
    seed: o.seed,
    eventsPerSec: o.rate,
    logger: silentLogger,
  });
  const transports: ZmqTransport[] = [];
  const arbs: (ArbiterService | undefined)[] = [];
  const collectors: Collector[] = [];
  const hooks: (() => Promise<void> | void)[] = [];
  // registered before anything starts: a start that throws must not leave the rest running
  t.after(async () => {
    for (const h of hooks.reverse()) await h();
    for (const c of collectors) await c.stop();
    for (const a of arbs) await a?.stop();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });
  await sim.start();
  const eps: [Endpoints, Endpoints] = [await freeEndpoints(), await freeEndpoints()];
  const transport = (ep: ConstructorParameters<typeof ZmqTransport>[0]) => {
    const tr = new ZmqTransport(ep, { logger: silentLogger });
    transports.push(tr);
    return tr;
  };
  const startArbiter = async (i: number) => {
    const a = new ArbiterService({
      id: `arb-${i + 1}`,
      transport: transport(eps[i]),
      ...(o.peers ? { peers: transport({ snapshot: eps[1 - i].snapshot }) } : {}),
      venue: venueId,
      symbols: [o.symbol],
      ...o.arbiter,
    });
    arbs[i] = a;
    await a.start();
    return a;
  };
  const stopArbiter = async (i: number) => {
    await arbs[i]?.stop();
    arbs[i] = undefined;
  };
  await startArbiter(0);
  await startArbiter(1);
  const urls =
    venueId === 'binance'
      ? { wsUrl: sim.wsBase, restUrl: sim.restBase }
      : underPrefix(venue(venueId), sim.venueWsBase(venueId), sim.venueRestBase(venueId));
  for (const id of ['a', 'b']) {
    const c = new Collector({
      id,
      venue: venueId,
      symbols: [o.symbol],
      ...urls,
      transport: transport({
        ingest: [...eps[0].ingest, ...eps[1].ingest],
        publish: [...eps[0].publish, ...eps[1].publish],
      }),
      logger: silentLogger,
    });
    collectors.push(c);
    await c.start();
  }
  const synced = (a: ArbiterService | undefined) => a?.bookOf(venueId, o.symbol)?.state === 'synced';
  return {
    sim,
    eps,
    arbs,
    collectors,
    transport,
    startArbiter,
    stopArbiter,
    /** True when arbiter `a` (running) has the book synced. */
    synced,
    /** Wait until both arbiters have the book synced. */
    bothSynced: () => waitFor(() => arbs.every(synced), 10_000, 'both arbiters synced'),
    /** The endpoints a reader of both arbiters' output connects to. */
    both: { publish: [...eps[0].publish, ...eps[1].publish], snapshot: [...eps[0].snapshot, ...eps[1].snapshot] },
    beforeStop: (fn: () => Promise<void> | void) => void hooks.push(fn),
  };
}

/**
 * A client of a replica venue's book (Kraken: each arbiter numbers it its own way, an epoch) on `transport`:
 * the epochs it followed, in order (a new one must start with its snapshot, never a delta: `done` rejects
 * otherwise), its snapshot and delta updates, its gap count and its top 20 levels.
 */
export function followEpochs(transport: ZmqTransport, book: { venue: VenueId; symbol: string }, signal: AbortSignal) {
  const epochs: string[] = [];
  const client = { updates: 0, gaps: 0, last: undefined as unknown };
  const done = (async () => {
    for await (const u of subscribe({ transport, venue: book.venue, symbol: book.symbol, signal })) {
      if (u.kind !== 'snapshot' && u.kind !== 'delta') continue;
      const e = u.message.epoch!;
      if (epochs.at(-1) !== e) {
        assert.equal(u.kind, 'snapshot', 'a new numbering starts with its snapshot, never with a delta');
        epochs.push(e);
      }
      client.updates++;
      client.gaps = u.gaps;
      client.last = u.book.top(20);
    }
  })();
  return { epochs, client, done };
}
