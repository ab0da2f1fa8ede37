/**
 * Issue 13, restarts by kill -9: several hundred books, two collector and two arbiter processes (the CLI, as a
 * user runs them), each arbiter the other's peer. A collector is SIGKILLed and restarted, then an arbiter:
 * the simulator's own counters show neither restart cost a REST snapshot, the client following the
 * surviving arbiter saw no gap and no resync on any book, and every book ends equal to the truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { subscribeVenue, type VenueUpdate } from '../../src/client/venue.js';
import type { OrderBook } from '../../src/core/book.js';
import { silentLogger } from '../../src/log.js';
import { busFlags, freeEndpoints, freePort, sleep, startCli, waitFor } from '../helpers.js';
import { restCallsSettled } from './harness.js';

const BOOKS = Number(process.env.BOOKWIRE_TEST_BOOKS ?? 300);

/** Follows every book of one arbiter: the live books, gaps and snapshots per book. */
function follow(symbols: string[], publish: string[], snapshot: string[], signal: AbortSignal) {
  const books = new Map<string, OrderBook>();
  const seqs = new Map<string, number>();
  const snapshots = new Map<string, number>();
  const gapBooks = new Set<string>();
  let synced = 0;
  const done = (async () => {
    for await (const u of subscribeVenue({
      venue: 'binance',
      endpoints: { publish, snapshot },
      signal,
    }) as AsyncGenerator<VenueUpdate>) {
      books.set(u.symbol, u.book);
      seqs.set(u.symbol, u.seq);
      synced = u.synced;
      if (u.kind === 'snapshot') snapshots.set(u.symbol, (snapshots.get(u.symbol) ?? 0) + 1);
      if (u.gaps > 0) gapBooks.add(u.symbol);
    }
  })();
  return {
    books,
    seqs,
    snapshots,
    gapBooks,
    done,
    get synced() {
      return synced;
    },
  };
}

test(`${BOOKS} books: kill -9 of a collector, then of an arbiter, next to running peers: no REST, no gap`, async (t) => {
  const symbols = Array.from({ length: BOOKS }, (_, i) => `S${String(i).padStart(3, '0')}USDT`);
  const sim = new ExchangeSimulator({ port: 0, symbols, seed: 21, eventsPerSec: 2, levels: 60, logger: silentLogger });
  await sim.start();
  const procs: ChildProcess[] = [];
  const ac = new AbortController();
  t.after(async () => {
    ac.abort();
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await sim.stop();
  });
  const start = (args: string[]) => {
    const c = startCli([...args, '--log-level', 'warn']);
    procs.push(c.proc);
    return c;
  };
  const eps = [await freeEndpoints(), await freeEndpoints()];
  const list = symbols.join(',');
  const metrics = [await freePort(), await freePort()];
  const arbiter = (i: number) =>
    start([
      'arbitrate',
      '--id',
      `arb-${i + 1}`,
      '--symbols',
      list,
      ...busFlags(eps[i]),
      '--peers',
      eps[1 - i].snapshot[0],
      '--metrics',
      String(metrics[i]),
    ]);
  /** The arbiters' books by state, from their metrics (for failure messages). */
  const states = async () =>
    (
      await Promise.all(
        metrics.map(async (p) => {
          const txt = await (await fetch(`http://127.0.0.1:${p}/metrics`).catch(() => undefined))?.text();
          return (txt ?? '')
            .split('\n')
            .filter((l) => l.startsWith('bookwire_arbiter_books'))
            .join(' ');
        }),
      )
    ).join(' | ');
  const both = { ingest: [...eps[0].ingest, ...eps[1].ingest], publish: [...eps[0].publish, ...eps[1].publish] };
  // each collector its own IP to the venue, as in production (the simulator enforces Binance's limits per IP)
  const collector = (id: string) =>
    start([
      'collect',
      '--local-address',
      id === 'a' ? '127.0.0.2' : '127.0.0.3',
      '--id',
      id,
      '--symbols',
      list,
      '--ws-url',
      sim.wsBase,
      '--rest-url',
      sim.restBase,
      '--snapshot-limit',
      '100',
      '--reconnect-min-ms',
      '50',
      '--ingest',
      both.ingest.join(','),
      '--publish',
      both.publish.join(','),
    ]);
  const arbs = [arbiter(0), arbiter(1)];
  const cols = [collector('a'), collector('b')];
  const one = follow(symbols, eps[0].publish, eps[0].snapshot, ac.signal);
  const two = follow(symbols, eps[1].publish, eps[1].snapshot, ac.signal);
  const out = () => [...arbs, ...cols].map((c) => c.output().slice(-2000)).join('\n---\n');
  await waitFor(() => one.synced === BOOKS && two.synced === BOOKS, 60_000, `every book synced at both arbiters`).catch(
    async (e: Error) => {
      throw new Error(`${e.message} (${one.synced}, ${two.synced}) ${await states()}\n${out()}`);
    },
  );
  // the cold start's requests still in flight land first
  const coldRest = await restCallsSettled(sim);
  const coldSnaps = sim.stats().snapshotsServed;
  const snapsAtOne = [...one.snapshots.values()].reduce((a, b) => a + b, 0);

  // collector a: kill -9, then back; b carries every book meanwhile, and a's return needs no snapshot
  cols[0].proc.kill('SIGKILL');
  await cols[0].exited;
  await sleep(1000);
  cols[0] = collector('a');
  // a is back when the simulator counts its symbol check (one exchangeInfo per 100 symbols)
  const check = Math.ceil(BOOKS / 100);
  await waitFor(() => sim.stats().restRequests >= coldRest + check, 15_000, "the restarted collector's symbol check");
  await sleep(2000);
  assert.equal(sim.stats().snapshotsServed, coldSnaps, 'no snapshot for the collector restart');
  assert.equal(sim.stats().restRequests, coldRest + check, 'the symbol check alone for the collector restart');

  // arbiter 2: kill -9, then back next to arbiter 1: every book from the peer
  arbs[1].proc.kill('SIGKILL');
  await arbs[1].exited;
  await sleep(500);
  arbs[1] = arbiter(1);
  // its client heals every book from the restarted arbiter's snapshot service
  const healed = () => symbols.every((s) => (two.seqs.get(s) ?? 0) >= (one.seqs.get(s) ?? Infinity));
  await sleep(3000);
  await waitFor(healed, 30_000, 'the restarted arbiter to serve every book');
  assert.equal(sim.stats().restRequests, coldRest + check, 'no REST call for the arbiter restart');

  // the client of the surviving arbiter saw neither a gap nor a resync on any book
  assert.equal(one.gapBooks.size, 0, `gaps at arbiter 1: ${[...one.gapBooks].slice(0, 5).join(',')}`);
  assert.equal(
    [...one.snapshots.values()].reduce((a, b) => a + b, 0),
    snapsAtOne,
    'no resync at arbiter 1',
  );

  // every book of both clients equals the truth
  sim.pause();
  for (const s of symbols) {
    const truth = sim.truth(s, 20);
    for (const c of [one, two]) {
      await waitFor(() => c.seqs.get(s) === truth.lastUpdateId, 5000, `${s} at the truth's seq`);
      assert.deepEqual(c.books.get(s)!.top(20), { bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) }, s);
    }
  }
  assert.equal(sim.stats().restRequests, coldRest + check, 'still no REST call');
  ac.abort();
  await Promise.all([one.done, two.done]);
});
