/**
 * Issue 13, "restarts cost no REST": with many books, a restarted collector and a restarted arbiter next to a
 * running peer come back without a single REST call to the exchange (the simulator's own count proves it),
 * and every book of both arbiters ends equal to the truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { Transport } from '../../src/transport/types.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { freeEndpoints, sleep, waitFor } from '../helpers.js';
import { restCallsSettled } from './harness.js';

const BOOKS = Number(process.env.BOOKWIRE_TEST_BOOKS ?? 120);

test(`${BOOKS} books: a collector and an arbiter restart without a REST call while a peer is up`, async (t) => {
  const symbols = Array.from({ length: BOOKS }, (_, i) => `S${String(i).padStart(3, '0')}USDT`);
  const sim = new ExchangeSimulator({ port: 0, symbols, seed: 13, eventsPerSec: 2, levels: 60, logger: silentLogger });
  const transports: Transport[] = [];
  const arbs: (ArbiterService | undefined)[] = [];
  const collectors: (Collector | undefined)[] = [];
  t.after(async () => {
    for (const c of collectors) await c?.stop();
    for (const a of arbs) await a?.stop();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });
  await sim.start();
  const eps = [await freeEndpoints(), await freeEndpoints()];
  const mk = (ep: ConstructorParameters<typeof ZmqTransport>[0]) => {
    const tr = new ZmqTransport(ep);
    transports.push(tr);
    return tr;
  };
  // each arbiter names the other as its peer
  const arbiter = (i: number) =>
    new ArbiterService({
      id: `arb-${i + 1}`,
      transport: mk(eps[i]),
      peers: mk({ snapshot: eps[1 - i].snapshot }),
      symbols,
      snapshotTimeoutMs: 2000,
      logger: process.env.DBG ? createLogger(`arb-${i + 1}`, 'info') : silentLogger,
    });
  for (const i of [0, 1]) {
    arbs[i] = arbiter(i);
    await arbs[i]!.start();
  }
  const both = { ingest: [...eps[0].ingest, ...eps[1].ingest], publish: [...eps[0].publish, ...eps[1].publish] };
  const collector = (id: string) =>
    new Collector({
      id,
      symbols,
      wsUrl: sim.wsBase,
      restUrl: sim.restBase,
      snapshotLimit: 100,
      transport: mk(both),
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
      logger: silentLogger,
    });
  for (const [i, id] of ['a', 'b'].entries()) {
    collectors[i] = collector(id);
    await collectors[i]!.start();
  }
  const synced = (a: ArbiterService | undefined) =>
    symbols.filter((s) => a !== undefined && a.bookOf('binance', s)?.state === 'synced').length;
  await waitFor(() => synced(arbs[0]) === BOOKS && synced(arbs[1]) === BOOKS, 60_000, 'every book synced on both');
  // the cold start's requests still in flight land first
  const coldRest = await restCallsSettled(sim);
  const coldSnaps = sim.stats().snapshotsServed;
  assert.ok(coldSnaps >= BOOKS, `cold start: ${coldSnaps} snapshots for ${BOOKS} books`);

  // collector a dies and comes back: b carries every book meanwhile, and a's return needs no snapshot
  await collectors[0]!.stop();
  collectors[0] = undefined;
  await sleep(1500);
  collectors[0] = collector('a');
  await collectors[0].start();
  await sleep(1500);
  assert.equal(synced(arbs[0]), BOOKS);
  assert.equal(synced(arbs[1]), BOOKS);
  assert.equal(sim.stats().snapshotsServed, coldSnaps, 'no snapshot for the collector restart');
  // its calls at start: the symbol check (one exchangeInfo per 100 symbols)
  const check = Math.ceil(BOOKS / 100);
  assert.equal(sim.stats().restRequests, coldRest + check, 'the symbol check alone for the collector restart');

  // arbiter 2 dies and comes back next to arbiter 1: every book from the peer
  await arbs[1]!.stop();
  arbs[1] = undefined;
  await sleep(500);
  arbs[1] = arbiter(1);
  await arbs[1].start();
  await waitFor(() => synced(arbs[1]) === BOOKS, 30_000, 'every book synced on the restarted arbiter');
  assert.equal(
    sim.stats().restRequests,
    coldRest + check,
    `no REST call for the arbiter restart (peer: ${JSON.stringify(arbs[1].counters)})`,
  );
  assert.ok(arbs[1].counters.peerSnapshots >= BOOKS, `books from the peer (${arbs[1].counters.peerSnapshots})`);

  // both arbiters' books equal the truth
  sim.pause();
  for (const s of symbols) {
    const truth = sim.truth(s, 20);
    for (const a of arbs) {
      const core = a!.bookOf('binance', s)!;
      await waitFor(() => core.seq === truth.lastUpdateId, 5000, `${s} at the truth's seq`);
      assert.deepEqual(core.book.top(20), { bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) }, s);
    }
  }
  assert.equal(sim.stats().restRequests, coldRest + check, 'still no REST call');
});
