/**
 * An OKX perpetual swap end to end: the simulator serves BTC-USDT-SWAP on `books` like a spot instrument;
 * collectors a (regrouping) and b (flaky) -> arbiter -> client subscribed by the unified symbol BTC/USDT:USDT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from '../../src/client/subscribe.js';
import { sleep, waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

test('okx swap BTC-USDT-SWAP: the client (BTC/USDT:USDT) equals the truth after faults and regrouping', async (t) => {
  const p = await zmqParts(t, {
    venue: 'okx',
    symbols: ['BTC/USDT:USDT'],
    seed: 3,
    rate: 100,
    faulty: true,
    profiles: ['regroup', 'flaky'],
    faults: { regroup: { regroupRate: 0.4 } },
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 1000,
  });
  const ep = p.ep;
  assert.deepEqual(p.sim.symbolsOf('okx'), ['BTCUSDTSWAP']);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const c = follow(subscribe({ venue: 'okx', symbol: 'BTC/USDT:USDT', endpoints: ep, signal: ac.signal }));
  await waitFor(() => c.state.updates > 100, 15_000, 'updates');
  await sleep(500);
  p.sim.pause();
  const truth = p.sim.truth('BTC-USDT-SWAP', 20, 'okx');
  await waitFor(() => c.state.last?.seq === truth.lastUpdateId, 5000, 'the client at the truth seq');
  assert.equal(c.state.last!.message.symbol, 'BTC-USDT-SWAP', 'topics keep the venue spelling');
  const top = c.state.last!.book.top(20);
  assert.deepEqual(top.bids, truth.bids);
  assert.deepEqual(top.asks, truth.asks);
  assert.ok(truth.bids[0][0] > 10_000, 'priced like its spot pair');
  ac.abort();
});
