/**
 * Issue 11 §6 / issue 14, per venue: "kill -9 a collector mid-run loses nothing", with the processes a user
 * runs (`bookwire arbitrate`, two `bookwire collect --venue V`) against the simulator, and a client of the SDK.
 * Collector a is SIGKILLed and restarted, then b (so whichever led the book is killed once); each comes
 * back and delivers again before the other goes, its new run's book taken at once (no message of it refused:
 * not its old run's book carried on until it failed). One collector is always up, so the client must see its
 * first snapshot and then only deltas, each chained to the one before (nothing lost, nothing twice), never
 * a stale book, and end equal to the simulator's truth. Replica venues (Kraken, Coinbase, Gemini v2: no id
 * shared by connections) fail over by a difference delta and are compared by state; sequenced venues with
 * websocket snapshots (OKX, Bybit) also by the venue's id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeSimulator, type VenueId } from '../../src/sim/index.js';
import { subscribe } from '../../src/client/subscribe.js';
import { venue as adapterOf } from '../../src/venues/index.js';
import { silentLogger } from '../../src/log.js';
import { busFlags, freeEndpoints, freePort, sleep, startCli, waitFor } from '../helpers.js';
import { collectArgs } from './harness.js';

/** Each venue's book, in its spelling. */
const CASES: { venue: VenueId; symbol: string }[] = [
  { venue: 'kraken', symbol: 'BTC/USD' },
  { venue: 'coinbase', symbol: 'BTC-USD' },
  { venue: 'gemini-v2', symbol: 'BTCUSD' },
  { venue: 'okx', symbol: 'BTC-USDT' },
  { venue: 'bybit', symbol: 'BTCUSDT' },
];

/** How long one collector carries the book alone, and how long a restarted one may take to deliver again. */
const ALONE_MS = 1500;
const BACK_MS = 10_000;

for (const { venue, symbol } of CASES) {
  const replica = adapterOf(venue).merge === 'replica';
  test(`${venue}: kill -9 of each collector process in turn, restarted: no resync, nothing lost or twice, the truth at the end`, async (t) => {
    const sim = new ExchangeSimulator({
      venues: [venue],
      port: 0,
      symbols: [symbol],
      seed: 14,
      eventsPerSec: 100,
      logger: silentLogger,
    });
    await sim.start();
    const procs: ReturnType<typeof startCli>[] = [];
    const ac = new AbortController();
    t.after(async () => {
      ac.abort();
      for (const c of procs) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await Promise.all(procs.map((c) => c.exited));
      await sim.stop();
    });
    const start = (args: string[]) => {
      const c = startCli([...args, '--log-level', 'warn']);
      procs.push(c);
      return c;
    };
    const ep = await freeEndpoints();
    const metricsPort = await freePort();
    const arbiter = start(['arbitrate', ...busFlags(ep), '--metrics', String(metricsPort)]);
    const collector = (id: 'a' | 'b') => start([...collectArgs(sim, venue, id, symbol), ...busFlags(ep)]);
    const cols = { a: collector('a'), b: collector('b') };
    const logs = () =>
      [arbiter, ...procs.filter((p) => p !== arbiter)].map((c) => c.output().slice(-1500)).join('\n---\n');

    /** The arbiter's metrics of its book and feeds. */
    const metrics = async (): Promise<string[]> => {
      const txt = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined))?.text();
      return (txt ?? '').split('\n').filter((l) => /^bookwire_(feed|book)_/.test(l));
    };
    /** A collector's feed_<name>_total at the arbiter. */
    const feed = async (name: string, id: string): Promise<number> => {
      const line = (await metrics()).find(
        (l) => l.startsWith(`bookwire_feed_${name}_total{`) && l.includes(`collector="${id}"`),
      );
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    /** Its copies published first: grows only while it delivers, synced and in step. */
    const won = (id: string) => feed('won', id);

    const seen = {
      snapshots: 0,
      /** Each snapshot the client took: why the arbiter sent it, its seq, the client's gaps and divergences then. */
      why: [] as string[],
      stale: 0,
      deltas: 0,
      broken: [] as string[],
      last: undefined as { seq: number; offset: number; top: string } | undefined,
    };
    let seq = -1;
    const done = (async () => {
      for await (const u of subscribe({
        venue,
        symbol,
        endpoints: { publish: ep.publish, snapshot: ep.snapshot },
        signal: ac.signal,
      })) {
        const m = u.message;
        if (u.kind === 'stale') seen.stale++;
        if (m.type === 'snapshot') {
          seen.snapshots++;
          seen.why.push(`${m.reason} at ${m.seq} (${u.kind}; gaps ${u.gaps})`);
        }
        if (m.type === 'delta') {
          if (m.prev !== seq) seen.broken.push(`delta ${m.first}..${m.seq} prev ${m.prev} after ${seq}`);
          seen.deltas++;
        }
        if (u.kind === 'snapshot' || u.kind === 'delta') {
          seq = u.seq;
          const offset = m.type === 'delta' || m.type === 'snapshot' ? (m.offset ?? 0) : 0;
          seen.last = { seq: u.seq, offset, top: JSON.stringify(u.book.top(20)) };
        }
      }
    })();

    const t0 = Date.now();
    const phase = (what: string) => t.diagnostic(`${what} at ${Date.now() - t0} ms`);
    const failWith = async (e: Error) => {
      throw new Error(`${e.message}\n${(await metrics()).join('\n')}\n${logs()}`);
    };
    // both collectors deliver (each has had copies published first) before either is killed
    await waitFor(
      async () => seen.deltas > 50 && (await won('a')) > 0 && (await won('b')) > 0,
      15_000,
      'the first 50 deltas, from both collectors',
    ).catch(failWith);
    phase('both delivering');
    for (const [victim, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const errorsBefore = await feed('errors', victim);
      cols[victim].proc.kill('SIGKILL');
      await cols[victim].exited;
      const before = seen.deltas;
      await sleep(ALONE_MS);
      assert.ok(seen.deltas > before + 20, `${other} alone carried the book (${seen.deltas - before} deltas)`);
      const wonBefore = await won(victim);
      cols[victim] = collector(victim);
      // back when its copies are published first again: synced, and in step with the book
      await waitFor(async () => (await won(victim)) > wonBefore, BACK_MS, `restarted ${victim} to deliver`).catch(
        failWith,
      );
      phase(`${victim} killed and back`);
      // its new run's book taken at once: not its old book carried on until it failed (checksum, crossed, diverged)
      assert.equal(await feed('errors', victim), errorsBefore, `restarted ${victim}: no message refused`);
    }
    await sleep(500);

    sim.pause();
    const truth = sim.truth(symbol, 20, venue);
    const want = JSON.stringify({ bids: truth.bids, asks: truth.asks });
    // replica venues: the arbiter numbers the book its own way, so by state; sequenced ones by the venue's id too
    await waitFor(
      () => seen.last?.top === want && (replica || seen.last.seq - seen.last.offset === truth.lastUpdateId),
      5000,
      'the client to reach the truth',
    ).catch((e: Error) => {
      throw new Error(`${e.message}: client at ${JSON.stringify(seen.last)}, truth ${truth.lastUpdateId} ${want}`);
    });
    assert.deepEqual(seen.broken.slice(0, 3), [], `${seen.broken.length} deltas not chained to the one before`);
    assert.equal(
      seen.snapshots,
      1,
      `the first snapshot only: failovers reached the client as deltas; snapshots: ${seen.why.join(', ')}\n${(await metrics()).join('\n')}\n${logs()}`,
    );
    assert.equal(seen.stale, 0, 'the book was never stale: one collector was always up');
    ac.abort();
    await done;
  });
}
