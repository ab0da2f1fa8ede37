/**
 * Collectors against the simulator's enforced Binance limits (src/sim/limits.ts), real sockets: each
 * collector leaves from its own loopback address (its own IP to the venue), spends REST weight within the
 * venue's window, and the books still come up equal to the truth. The simulator's counters prove it: no
 * 429, no 418, and no IP ever used more weight in a window than the limit. OKX and Bybit, whose snapshots
 * come from subscribing: connections opened within the venue's rate per IP, subscription frames within its
 * budget per connection (shortened here, as the weight window is), and no limit of the simulator broken.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { limitViolations } from '../../src/sim/limits.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { Collector, type CollectorOptions } from '../../src/collector/collector.js';
import { REST_SOCKETS } from '../../src/collector/http.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../helpers.js';
import { decodeAny, topics, type SnapshotStatus } from '../../src/wire/messages.js';
import { restLimitedMarket } from '../rest-limited-market.js';

const N = 300;
/** The simulator's weight window and limit, shortened so the test takes seconds, not minutes. */
const WINDOW_MS = 2000;
const LIMIT = 150;

test(`two collectors, each its own IP, bring ${N} books up within the venue's limits: no 429, no 418`, async (t) => {
  // the first request over the limit bans the IP, so any overspend shows as a 418
  const { symbols, sim, arb, collector, synced } = await restLimitedMarket(t, {
    books: N,
    limit: LIMIT,
    windowMs: WINDOW_MS,
    seed: 5,
    levels: 150,
  });
  const t0 = performance.now();
  const collectors = await Promise.all(
    ['a', 'b'].map((id, i) => collector(id, `127.0.0.${i + 2}`, { maxBooksPerConnection: 100 })),
  );
  await waitFor(() => synced() === N, 90_000, `all ${N} books synced (${synced()} so far)`);
  const upMs = performance.now() - t0;

  // the books equal the truth: freeze the venue, let every book reach its last id, compare the tops
  sim.pause();
  const truth = new Map(symbols.map((s) => [s, sim.truth(s, 20)]));
  await waitFor(
    () => symbols.every((s) => arb.bookOf('binance', s)!.seq === truth.get(s)!.lastUpdateId),
    10_000,
    'every book at the truth id',
  );
  for (const s of symbols) {
    const top = arb.bookOf('binance', s)!.book.top(20);
    assert.deepEqual({ bids: top.bids, asks: top.asks }, { bids: truth.get(s)!.bids, asks: truth.get(s)!.asks }, s);
  }

  const st = sim.stats();
  const ips = sim.limitStats().binance!;
  assert.equal(st.rest429, 0, 'no 429');
  assert.equal(st.rest418, 0, 'no 418');
  assert.equal(st.wsRefusedConnections + st.wsRefusedStreams + st.wsMessageRateDisconnects, 0);
  assert.deepEqual(Object.keys(ips).sort(), ['127.0.0.2', '127.0.0.3'], 'each collector is its own IP');
  for (const [ip, u] of Object.entries(ips)) assert.ok(u.peakWindowWeight <= LIMIT, `${ip}: ${u.peakWindowWeight}`);
  for (const c of collectors) assert.equal(c.counters.rateLimited + c.counters.banned, 0);
  const weight = Object.values(ips).reduce((n, u) => n + u.weight, 0);
  console.log(
    `# ${N} books up in ${Math.round(upMs)} ms; REST weight ${weight} (${(weight / N).toFixed(1)} per book, ` +
      `snapshots served ${st.snapshotsServed}); limit ${LIMIT} per ${WINDOW_MS} ms per IP`,
  );
});

test('after a 429 the collector sends no REST until Retry-After, and never repeats a request the venue refused', async (t) => {
  const symbols = Array.from({ length: 20 }, (_, i) => `S${i}USDT`);
  const window = 4000;
  const sim = new ExchangeSimulator({
    port: 0,
    symbols,
    eventsPerSec: 2,
    levels: 150,
    logger: silentLogger,
    limits: { venues: { binance: { restWeight: 50, restWindowMs: window, banAfter429s: 100 } } },
  });
  await sim.start();
  const bus = new InprocBus();
  const tr = new InprocTransport(bus);
  // a budget set far above what this venue allows: only the venue's answers can hold it back
  const c = new Collector({
    id: 'a',
    symbols,
    wsUrl: sim.wsBase,
    restUrl: sim.restBase,
    transport: tr,
    localAddress: '127.0.0.4',
    restWeightPerMinute: 1000,
    restWindowMs: window,
    snapshotLimit: 100,
  });
  await c.start();
  t.after(async () => {
    await c.stop();
    await tr.close();
    await sim.stop();
  });
  const ip = () => sim.limitStats().binance!['127.0.0.4'];
  // the symbol check (one exchangeInfo for all 20) runs first
  await waitFor(() => ip() !== undefined && ip().requests >= 1, 5000, 'the symbol check');
  // wait for a fresh window, then ask for every book at once
  await new Promise((r) => setTimeout(r, window - (Date.now() % window) + 50));
  await Promise.all(symbols.map((s) => c.fetchSnapshot(s)));
  assert.ok(c.counters.rateLimited > 0, 'the overspend was answered with 429s');
  const failed = symbols.length - c.counters.snapshotsPublished;
  assert.ok(failed > 0);
  // asked again at once: nothing leaves before the Retry-After, then every one succeeds
  const before = ip().requests;
  const again = Promise.all(symbols.map((s) => c.fetchSnapshot(s)));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(ip().requests, before, 'no request while blocked');
  await again;
  assert.equal(ip().status418, 0, 'never banned');
  const sentBefore = ip().requests;
  const n0 = () => sentBefore;
  assert.ok(c.counters.snapshotsPublished >= symbols.length, `${c.counters.snapshotsPublished} snapshots`);
  // a request the venue refused as wrong (400, unknown symbol) is not repeated
  await c.fetchSnapshot('NOPEUSDT');
  assert.ok(ip().requests > n0(), 'sent once');
  const n = ip().requests;
  await c.fetchSnapshot('NOPEUSDT');
  assert.equal(ip().requests, n, 'the refused request was not sent again');
});

/**
 * A simulator of `symbols` whose snapshots answer `snapshotDelayMs` late (its profile "slow"), and collector a
 * of them on `bus` (with `more` options), not started; both stopped after the test.
 */
async function slowVenue(
  t: TestContext,
  symbols: string[],
  snapshotDelayMs: number,
  bus: InprocBus,
  more: Partial<CollectorOptions> = {},
): Promise<{ sim: ExchangeSimulator; c: Collector }> {
  const sim = new ExchangeSimulator({
    port: 0,
    symbols,
    eventsPerSec: 1,
    levels: 20,
    logger: silentLogger,
    faults: { slow: { snapshotDelayMs } },
  });
  await sim.start();
  const tr = new InprocTransport(bus);
  const c = new Collector({
    id: 'a',
    symbols,
    wsUrl: `${sim.wsBase}/p/slow`,
    restUrl: `${sim.restBase}/p/slow`,
    transport: tr,
    snapshotLimit: 100,
    logger: silentLogger,
    ...more,
  });
  t.after(async () => {
    await c.stop();
    await tr.close();
    await sim.stop();
  });
  return { sim, c };
}

test('a slow venue: a REST request waits in the line for a socket, and its deadline runs from when it is sent', async (t) => {
  // Six rounds of the REST_SOCKETS (16) at 2 s each: the last round is sent after 10 s, the deadline. When
  // requests queued in the HTTP agent for a socket with their deadline running, the last round timed out
  // unsent (8,089 such failures in a Kafka cold start of 2,000 books, issue 13).
  const symbols = Array.from({ length: 6 * REST_SOCKETS }, (_, i) => `S${i}USDT`);
  const { sim, c } = await slowVenue(t, symbols, 2000, new InprocBus());
  await c.start();
  await Promise.all(symbols.map((s) => c.fetchSnapshot(s)));
  assert.equal(c.counters.snapshotErrors, 0, 'no request timed out');
  assert.equal(c.counters.snapshotsPublished, symbols.length);
  assert.equal(sim.stats().snapshotsServed, symbols.length, 'each book fetched once');
});

test("a queued snapshot request still in line past the time it was announced for is announced again", async (t) => {
  // Four snapshots' weight a window, answers 2.5 s late: each answer crosses windows's end and counts in
  // both, so the line goes slower than its first ETAs said. Told nothing more, an arbiter's hold (ETA plus
  // its snapshot timeout) runs out and it asks another collector, which fetches the book too.
  const symbols = Array.from({ length: 8 }, (_, i) => `S${i}USDT`);
  const bus = new InprocBus();
  const { c } = await slowVenue(t, symbols, 2500, bus, { restWeightPerMinute: 20, restWindowMs: 1000 });
  const tapT = new InprocTransport(bus);
  t.after(() => tapT.close());
  const words = new Map<string, { at: number; state: string; etaMs: number }[]>();
  const sub = await tapT.subscriber('ingest', [topics.status('a')]);
  void (async () => {
    for await (const m of sub) {
      const x = decodeAny(m.payload) as unknown as SnapshotStatus;
      if (x.type !== 'snapshot-status') continue;
      const list = words.get(x.symbol) ?? [];
      list.push({ at: performance.now(), state: x.reason ?? x.state, etaMs: x.etaMs ?? 0 });
      words.set(x.symbol, list);
    }
  })();
  await c.start();
  await Promise.all(symbols.map((s) => c.fetchSnapshot(s)));
  assert.equal(c.counters.snapshotsPublished, symbols.length);
  // every word until the request went out was followed by the next within its ETA (and a second of slack)
  let late = 0;
  for (const s of symbols) {
    const w = words.get(s) ?? [];
    for (let k = 1; k < w.length; k++) if (w[k].at > w[k - 1].at + w[k - 1].etaMs + 1000) late++;
  }
  assert.ok(c.counters.lateAnnounced > 0, 'some requests went later than first announced');
  assert.equal(late, 0, `words that came late: ${JSON.stringify([...words])}`);
});

test('a connection the venue refuses for its connection rate waits the Retry-After instead of hammering', async (t) => {
  const symbols = ['S1USDT', 'S2USDT', 'S3USDT', 'S4USDT'];
  const sim = new ExchangeSimulator({
    port: 0,
    symbols,
    eventsPerSec: 5,
    levels: 50,
    logger: silentLogger,
    // 2 new connections per 3 s per IP; the collector opens 4 (one book each), 400 ms apart
    limits: { venues: { binance: { connections: 2, connectionWindowMs: 3000 } } },
  });
  await sim.start();
  const tr = new InprocTransport(new InprocBus());
  const c = new Collector({
    id: 'a',
    symbols,
    wsUrl: sim.wsBase,
    restUrl: sim.restBase,
    transport: tr,
    localAddress: '127.0.0.5',
    maxBooksPerConnection: 1,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
  });
  await c.start();
  t.after(async () => {
    await c.stop();
    await tr.close();
    await sim.stop();
  });
  await waitFor(() => c.status().feeds.every((f) => f.connected), 15_000, 'every connection up');
  // with a 20-200 ms backoff alone, the two waiting connections would be refused dozens of times
  const refused = sim.stats().wsRefusedConnections;
  assert.ok(refused >= 1 && refused <= 3, `refused ${refused} times`);
});

/** OKX's subscription frames per connection, shortened from 480 an hour so that the test takes seconds. */
const SUBSCRIBES = 40;
const SUBSCRIBE_WINDOW_MS = 4000;

/** A simulator of OKX and Bybit with OKX's subscribe budget shortened; every other limit as documented. */
async function okxBybitSim(t: import('node:test').TestContext, symbols: string[]): Promise<ExchangeSimulator> {
  const sim = new ExchangeSimulator({
    port: 0,
    symbols,
    venues: ['okx', 'bybit'],
    seed: 9,
    eventsPerSec: 1,
    levels: 30,
    logger: silentLogger,
    limits: { venues: { okx: { subscribes: SUBSCRIBES, subscribeWindowMs: SUBSCRIBE_WINDOW_MS } } },
  });
  await sim.start();
  t.after(() => sim.stop());
  return sim;
}

/** One collector of `venueId` leaving from `ip`, stopped after the test. */
async function collectorOf(
  t: import('node:test').TestContext,
  bus: InprocBus,
  sim: ExchangeSimulator,
  venueId: 'okx' | 'bybit',
  id: string,
  ip: string,
  symbols: string[],
  subscribeLimit = { requests: SUBSCRIBES, windowMs: SUBSCRIBE_WINDOW_MS },
): Promise<Collector> {
  const tr = new InprocTransport(bus);
  const c = new Collector({
    id,
    venue: venueId,
    symbols,
    ...underPrefix(venue(venueId), sim.venueWsBase(venueId), sim.venueRestBase(venueId)),
    transport: tr,
    localAddress: ip,
    subscribeLimit,
  });
  await c.start();
  t.after(async () => {
    await c.stop();
    await tr.close();
  });
  return c;
}

test(`OKX and Bybit: ${N} books each, two collectors each, every book synced within the venues' limits`, async (t) => {
  const symbols = Array.from({ length: N }, (_, i) => `S${i}USDT`);
  const sim = await okxBybitSim(t, symbols);
  const bus = new InprocBus();
  const arbT = new InprocTransport(bus);
  const arb = new ArbiterService({ transport: arbT });
  await arb.start();
  t.after(async () => {
    await arb.stop();
    await arbT.close();
  });
  const unified = symbols.map((s) => `${s.slice(0, -4)}/USDT`);
  const okxIds = unified.map((s) => venue('okx').venueSymbol(s)!);
  const t0 = performance.now();
  // each IP runs one collector of each venue: 6 OKX connections (50 books) and 12 Bybit ones (25) per IP
  const okxCollectors: Collector[] = [];
  for (const [i, ip] of ['127.0.0.6', '127.0.0.7'].entries()) {
    okxCollectors.push(await collectorOf(t, bus, sim, 'okx', `okx-${i}`, ip, unified));
    await collectorOf(t, bus, sim, 'bybit', `bybit-${i}`, ip, symbols);
  }
  const synced = () =>
    okxIds.filter((s) => arb.bookOf('okx', s)?.state === 'synced').length +
    symbols.filter((s) => arb.bookOf('bybit', s)?.state === 'synced').length;
  await waitFor(() => synced() === 2 * N, 20_000, `all ${2 * N} books synced (${synced()} so far)`);
  const upMs = performance.now() - t0;

  // a resync of every OKX book at once on one collector: 600 subscription frames on its 6 connections,
  // 40 per 4 s each (counted over 5.2 s by the collector), so they take ~10 s; every book gets its fresh
  // snapshot and no connection is closed
  const [a] = okxCollectors;
  const before = a.counters.snapshotsPublished;
  const t1 = performance.now();
  for (const s of okxIds) a.resubscribe(s, 'test');
  await waitFor(() => a.counters.snapshotsPublished - before >= N, 25_000, 'a fresh snapshot of every OKX book');
  const resyncMs = performance.now() - t1;

  const st = sim.stats();
  const broken = Object.entries(st).filter(([k, v]) => /^(rest4|ws)/.test(k) && v !== 0);
  assert.equal(limitViolations(st), 0, `no limit of the simulator broken: ${JSON.stringify(broken)}`);
  assert.ok(a.counters.resyncsDelayed > 0, 'the burst had to wait for the budget');
  const ips = sim.limitStats();
  assert.deepEqual(Object.keys(ips.okx!).sort(), ['127.0.0.6', '127.0.0.7']);
  assert.deepEqual(Object.keys(ips.bybit!).sort(), ['127.0.0.6', '127.0.0.7']);
  console.log(
    `# ${2 * N} OKX + Bybit books up in ${Math.round(upMs)} ms (connections: ${st.connectionsTotal}); ` +
      `${N} OKX resyncs at once, ${SUBSCRIBES} frames per ${SUBSCRIBE_WINDOW_MS} ms per connection: ` +
      `${Math.round(resyncMs)} ms, ${a.counters.resyncsDelayed} deferrals; limit violations ${limitViolations(st)}`,
  );
});

test('a collector that ignored the budget would be caught: the simulator closes its connections (60014)', async (t) => {
  const symbols = Array.from({ length: 100 }, (_, i) => `S${i}USDT`);
  const sim = await okxBybitSim(t, symbols);
  const unified = symbols.map((s) => `${s.slice(0, -4)}/USDT`);
  // the collector believes in a budget 50 times the venue's
  const c = await collectorOf(t, new InprocBus(), sim, 'okx', 'x', '127.0.0.8', unified, {
    requests: 1000,
    windowMs: SUBSCRIBE_WINDOW_MS,
  });
  await waitFor(() => c.counters.snapshotsPublished >= 100, 10_000, 'every book subscribed');
  for (const s of unified) c.resubscribe(venue('okx').venueSymbol(s)!, 'test');
  await waitFor(() => sim.stats().wsSubscribeRateDisconnects > 0, 5000, 'the venue closing a connection');
  assert.ok(limitViolations(sim.stats()) > 0);
});
