/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/**
 * Third-party client: ccxt pro's binance watchOrderBook, unmodified, pointed at the simulator by
 * overriding its URLs. ccxt needs `loadHttpProxyAgent()` before it will open a plain ws:// URL, and its
 * fetchMarkets also calls the futures exchangeInfo endpoints (served empty by the simulator).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ccxt from 'ccxt';
import { sleep, startSim, waitFor } from './helpers.js';

test('ccxt pro binance watchOrderBook builds the book from the simulator; best bid/ask match the truth', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], eventsPerSec: 50, levels: 300 });
  const ex = new ccxt.pro.binance();
  t.after(() => ex.close());
  const api = ex.urls['api'] as Record<string, any>;
  for (const k of Object.keys(api)) {
    if (typeof api[k] === 'string') api[k] = sim.restBase + new URL(api[k]).pathname; // /api/v3, /fapi/v1, ...
  }
  api['ws']['spot'] = `${sim.wsBase}/ws`;
  await ex.loadHttpProxyAgent();

  const first = await ex.watchOrderBook('BTC/USDT');
  assert.ok(first.bids.length > 0 && first.asks.length > 0, 'a book after the first update');
  for (let i = 0; i < 20; i++) await ex.watchOrderBook('BTC/USDT'); // live updates keep coming
  sim.pause();
  const truth = sim.truth('BTCUSDT', 5);
  await waitFor(
    () => (ex.orderbooks['BTC/USDT'] as any)?.nonce === truth.lastUpdateId,
    3000,
    'ccxt to catch up with the paused truth',
  );
  await sleep(20);
  const book = ex.orderbooks['BTC/USDT'] as any;
  assert.equal(book.symbol, 'BTC/USDT');
  const plain = (side: ArrayLike<unknown>[]) => Array.from(side.slice(0, 5), (l) => [Number(l[0]), Number(l[1])]);
  assert.deepEqual(plain(book.bids)[0], truth.bids[0], 'best bid');
  assert.deepEqual(plain(book.asks)[0], truth.asks[0], 'best ask');
  assert.deepEqual(plain(book.bids), truth.bids, 'top 5 bids');
  assert.deepEqual(plain(book.asks), truth.asks, 'top 5 asks');
  assert.ok(sim.stats().snapshotsServed >= 1, 'ccxt fetched a REST snapshot');
});
