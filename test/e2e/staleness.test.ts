/**
 * Staleness is part of the contract (docs/wire-format.md, "Heartbeats and staleness"): a strategy never
 * takes an old book for a fresh one. Every feed cut -> stale within the configured time; feeds back ->
 * fresh again, no gap, book equal to the truth; arbiter dead -> stale by silence; /healthz follows.
 * Real simulator, real websockets, real ZeroMQ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { BinanceSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { subscribe, type BookUpdate } from '../../src/client/subscribe.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { serveMetrics } from '../../src/metrics/exporter.js';
import { registerArbiterMetrics } from '../../src/metrics/arbiter.js';
import type { Transport } from '../../src/transport/types.js';
import { freeEndpoints, sleep, waitFor } from '../helpers.js';

const FEED_TIMEOUT_MS = 600;
const HEARTBEAT_MS = 200;
const CLIENT_STALE_MS = 1000;

test('all feeds cut -> stale within the feed timeout; back -> fresh, no gap, truth; arbiter dead -> stale by silence; /healthz follows', async (t) => {
  const sim = new BinanceSimulator({ port: 0, symbols: ['BTCUSDT'], seed: 5, eventsPerSec: 100 });
  await sim.start();
  const ep = await freeEndpoints();
  const transports: Transport[] = [];
  const mk = () => {
    const tr = new ZmqTransport(ep);
    transports.push(tr);
    return tr;
  };
  const arbiter = new ArbiterService({
    transport: mk(),
    symbols: ['BTCUSDT'],
    snapshotTimeoutMs: 500,
    feedTimeoutMs: FEED_TIMEOUT_MS,
    statsIntervalMs: 200,
    heartbeatMs: HEARTBEAT_MS,
  });
  await arbiter.start();
  const reg = new client.Registry();
  registerArbiterMetrics(reg, arbiter);
  const metrics = await serveMetrics('127.0.0.1:0', reg, undefined, () =>
    arbiter.staleBooks().map((b) => `stale: ${b.book}`),
  );
  const healthz = async () => {
    const r = await fetch(metrics.url.replace('/metrics', '/healthz'));
    return { status: r.status, body: await r.text() };
  };
  let collectors: Collector[] = [];
  const startCollectors = async () => {
    for (const id of ['a', 'b']) {
      const c = new Collector({
        id,
        symbols: ['BTCUSDT'],
        wsUrl: sim.wsBase,
        restUrl: sim.restBase,
        transport: mk(),
        reconnectMinMs: 50,
        statusIntervalMs: 100,
      });
      await c.start();
      collectors.push(c);
    }
  };
  const stopCollectors = async () => {
    for (const c of collectors) await c.stop();
    collectors = [];
  };
  let arbiterStopped = false;
  const ac = new AbortController();
  t.after(async () => {
    ac.abort();
    await stopCollectors();
    if (!arbiterStopped) await arbiter.stop();
    await metrics.close();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });

  await startCollectors();
  const updates: (BookUpdate & { at: number })[] = [];
  const done = (async () => {
    for await (const u of subscribe({
      symbol: 'BTCUSDT',
      endpoints: ep,
      signal: ac.signal,
      staleAfterMs: CLIENT_STALE_MS,
    }))
      updates.push({ ...u, at: performance.now() });
  })();
  const last = () => updates[updates.length - 1];
  await waitFor(() => updates.some((u) => u.kind === 'delta'), 8000, 'the client to get deltas');
  assert.equal(last().stale, false);
  await waitFor(async () => (await healthz()).status === 200, 3000, '/healthz ok while fed');

  // 1. Every feed cut: the arbiter says stale within the feed timeout (plus a heartbeat tick).
  const cutAt = performance.now();
  await stopCollectors();
  await waitFor(() => last().kind === 'stale', 4000, 'a stale update after every feed was cut');
  const staleAfter = last().at - cutAt;
  assert.ok(staleAfter < FEED_TIMEOUT_MS + 2 * HEARTBEAT_MS + 400, `stale after ${staleAfter.toFixed(0)} ms`);
  assert.ok(last().staleSince! > 0 && last().staleSince! <= Date.now() * 1000);
  const h = await healthz();
  assert.equal(h.status, 503);
  assert.match(h.body, /stale: book\.binance\.BTCUSDT/);
  assert.match(await (await fetch(metrics.url)).text(), /book_stale\{[^}]*symbol="BTCUSDT"[^}]*\} 1/);
  // Nothing pretends to be fresh meanwhile: no update with stale false while the feeds are down.
  const staleIndex = updates.length - 1;
  await sleep(1500);
  const whileDown = updates.slice(staleIndex);
  assert.ok(
    whileDown.every((u) => u.stale),
    `fresh-looking updates while every feed was down: ${whileDown.filter((u) => !u.stale).length}`,
  );

  // 2. Feeds back: fresh again, the client never saw a gap, and its book equals the truth.
  await startCollectors();
  await waitFor(() => last().kind === 'delta' && !last().stale, 8000, 'fresh deltas after the feeds came back');
  await waitFor(async () => (await healthz()).status === 200, 3000, '/healthz ok again');
  sim.pause();
  const truth = sim.truth('BTCUSDT', 20);
  await waitFor(() => last().seq === truth.lastUpdateId, 5000, 'the client to reach the truth seq');
  assert.deepEqual(last().book.top(20), { bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) });
  assert.equal(last().gaps, 0, 'no gap reported to the client');
  // Rebuilt from an exchange snapshot: the stream says down to which prices the book is exact.
  const snapshot = updates.filter((u) => u.message.type === 'snapshot').pop()!.message;
  assert.ok(snapshot.type === 'snapshot' && snapshot.exactTo, 'snapshots carry exactTo');
  assert.ok(snapshot.exactTo.bid <= snapshot.bids[0][0] && snapshot.exactTo.ask >= snapshot.asks[0][0]);
  sim.resume();

  // 3. The arbiter dies: heartbeats stop and the client says stale by silence within staleAfterMs.
  await sleep(300);
  const killedAt = performance.now();
  await arbiter.stop();
  arbiterStopped = true;
  await waitFor(() => last().kind === 'stale', CLIENT_STALE_MS + 2000, 'a stale update after the arbiter died');
  const silentAfter = last().at - killedAt;
  assert.ok(silentAfter >= CLIENT_STALE_MS - 100, `stale too early: ${silentAfter.toFixed(0)} ms`);
  assert.ok(silentAfter < CLIENT_STALE_MS + 700, `stale after ${silentAfter.toFixed(0)} ms`);
  assert.equal(last().message.type, 'heartbeat');
  ac.abort();
  await done;
});
