/**
 * End to end over real ZeroMQ sockets and real websockets, in one process:
 * simulator -> 2 collectors (one through the `flaky` fault profile) -> arbiter -> client SDK.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinanceSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { subscribe, type BookUpdate } from '../../src/client/subscribe.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { Transport } from '../../src/transport/types.js';
import { freeEndpoints, sleep, waitFor } from '../helpers.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

async function pipeline(
  t: { after(fn: () => Promise<void> | void): void },
  opts: { faulty: boolean; rate?: number; arbiterSendHwm?: number },
) {
  const sim = new BinanceSimulator({
    port: 0,
    symbols: SYMBOLS,
    seed: 7,
    eventsPerSec: opts.rate ?? 100,
    faults: { flaky: { dropRate: 0.05, dupRate: 0.05, malformedRate: 0.01, disconnectEveryS: 1.5, jitterMs: 2 } },
  });
  await sim.start();
  const ep = await freeEndpoints();
  const transports: Transport[] = [];
  const mk = (sendHighWaterMark?: number) => {
    const tr = new ZmqTransport(ep, { sendHighWaterMark });
    transports.push(tr);
    return tr;
  };
  const arbiter = new ArbiterService({ transport: mk(opts.arbiterSendHwm), symbols: SYMBOLS, gapTimeoutMs: 50, snapshotTimeoutMs: 1000 });
  await arbiter.start();
  const collectors: Collector[] = [];
  for (const id of ['a', 'b']) {
    const prefix = id === 'b' && opts.faulty ? '/p/flaky' : '';
    const c = new Collector({
      id,
      symbols: SYMBOLS,
      wsUrl: sim.wsBase + prefix,
      restUrl: sim.restBase + prefix,
      transport: mk(),
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
      staleAfterMs: 2000,
    });
    await c.start();
    collectors.push(c);
  }
  t.after(async () => {
    for (const c of collectors) await c.stop();
    await arbiter.stop();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });
  return { sim, ep, arbiter, collectors, transports };
}

/** Consume a subscription in the background, keeping every update's seq and the last update. */
function follow(it: AsyncGenerator<BookUpdate>, onUpdate?: (u: BookUpdate) => Promise<void> | void) {
  const state = { last: undefined as BookUpdate | undefined, updates: 0, deltas: [] as { first: number; seq: number; prev: number }[], resets: 0 };
  const done = (async () => {
    for await (const u of it) {
      state.last = u;
      state.updates++;
      if (u.message.type === 'delta') state.deltas.push({ first: u.message.first, seq: u.message.seq, prev: u.message.prev });
      else state.resets++;
      if (onUpdate) await onUpdate(u);
    }
  })();
  return { state, done };
}

function assertBookEqualsTruth(u: BookUpdate | undefined, truth: { lastUpdateId: number; bids: [number, number][]; asks: [number, number][] }) {
  assert.ok(u, 'client received no update');
  assert.equal(u.seq, truth.lastUpdateId);
  const top = u.book.top(20);
  assert.deepEqual(top.bids, truth.bids.slice(0, 20));
  assert.deepEqual(top.asks, truth.asks.slice(0, 20));
}

test('client book equals the simulator truth after faults, for a client from the start and a late joiner', async (t) => {
  const p = await pipeline(t, { faulty: true });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const early = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }));
  await sleep(2500);
  const late = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }));
  await sleep(2000);
  p.sim.pause();
  const truth = p.sim.truth('BTCUSDT', 20);
  await waitFor(() => early.state.last?.seq === truth.lastUpdateId && late.state.last?.seq === truth.lastUpdateId, 5000, 'clients to reach the truth seq');
  assertBookEqualsTruth(early.state.last, truth);
  assertBookEqualsTruth(late.state.last, truth);
  assert.ok(early.state.deltas.length > 100, `too few deltas: ${early.state.deltas.length}`);
  // The faulty feed really was faulty, and the healthy feed covered it: no resync was needed.
  const stats = p.arbiter.bookOf('binance', 'BTCUSDT')!.feedStats();
  assert.ok(stats.get('b')!.gapsFilled > 0, 'feed b should have had gaps filled by feed a');
  ac.abort();
});

test('killing one collector mid-run loses nothing: the consolidated stream stays contiguous', async (t) => {
  const p = await pipeline(t, { faulty: false, rate: 200 });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const c = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }));
  await waitFor(() => c.state.updates > 50, 5000, 'first updates');
  await p.collectors[0].stop();
  await sleep(1500);
  p.sim.pause();
  const truth = p.sim.truth('BTCUSDT', 20);
  await waitFor(() => c.state.last?.seq === truth.lastUpdateId, 5000, 'client to reach the truth seq');
  assertBookEqualsTruth(c.state.last, truth);
  // every delta after the first snapshot chains onto the previous one: nothing lost, nothing twice
  for (let i = 1; i < c.state.deltas.length; i++) assert.equal(c.state.deltas[i].prev, c.state.deltas[i - 1].seq);
  assert.equal(c.state.resets, 1, 'only the initial snapshot, no resync');
  ac.abort();
});

test('a deliberately slow client detects its gaps and recovers by snapshot', async (t) => {
  const p = await pipeline(t, { faulty: false, rate: 1000, arbiterSendHwm: 20 });
  const ac = new AbortController();
  t.after(() => ac.abort());
  let slow = true;
  const c = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, highWaterMark: 5, signal: ac.signal }), async () => {
    if (slow) await sleep(30);
  });
  await sleep(3000);
  slow = false;
  p.sim.pause();
  const truth = p.sim.truth('BTCUSDT', 20);
  await waitFor(() => c.state.last?.seq === truth.lastUpdateId, 8000, 'slow client to catch up');
  assert.ok(c.state.last!.gaps > 0, 'the slow client should have lost messages past its high-water mark');
  assertBookEqualsTruth(c.state.last, truth);
  ac.abort();
});
