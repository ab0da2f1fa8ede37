/* eslint-disable @typescript-eslint/no-explicit-any -- ccxt's exchange objects and books are untyped here */
/**
 * Third-party client: ccxt pro's own watchOrderBook, unmodified, pointed at the simulator by overriding
 * its URLs (and nothing else). ccxt needs `loadHttpProxyAgent()` before it will open a plain ws:// URL.
 * Each venue: loadMarkets over the simulated REST, watchOrderBook for ~20 updates, pause, wait for ccxt's
 * book to reach the truth's last id (Binance u, OKX seqId; ccxt keeps no id for Bybit: wait for equality),
 * then the top 5 levels per side equal /sim/truth.
 *   binance       spot: /api/v3 exchangeInfo + depth snapshot, /ws diff stream (its fetchMarkets also asks
 *                 for the futures exchangeInfo, served empty on the spot venue)
 *   binanceusdm   /fapi/v1 exchangeInfo + depth snapshot, /public/ws diff stream with pu, ids shared by symbols
 *   okx           /api/v5/public/instruments (SPOT, and the empty SWAP/FUTURES/OPTION lists), `books` over
 *                 /ws/v5/public with the legacy CRC32 checksum on. ccxt 4.5 checks prevSeqId against its nonce
 *                 but no longer verifies checksums: the test runs ccxt's former check (its crc32) itself.
 *   bybit         /v5/market/instruments-info per category, orderbook.50 over /v5/public/spot and /linear
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import ccxt from 'ccxt';
import type { Level } from '../../src/core/types.js';
import type { BinanceSimulator, VenueId } from '../../src/sim/index.js';
import { Probe, sleep, startSim, waitFor } from './helpers.js';

const SEED = 20240611;
const UPDATES = 20;
/** Per test: a client that stops getting updates fails instead of hanging. */
const TIMEOUT = 20_000;

/** ccxt's book side (a sorted array of [price, amount]) as the truth's numbers, best first. */
const top5 = (side: ArrayLike<unknown>): Level[] =>
  Array.from(Array.prototype.slice.call(side, 0, 5) as unknown[][], (l) => [Number(l[0]), Number(l[1])]);

/** Point every string URL of a ccxt urls.api map at base + its own path (https://fapi.binance.com/fapi/v1 -> base/fapi/v1). */
function rebase(api: Record<string, any>, base: string): void {
  for (const k of Object.keys(api)) {
    if (typeof api[k] === 'string')
      api[k] = base + new URL(api[k].replace('{hostname}', 'h')).pathname.replace(/\/$/, '');
  }
}

interface Case {
  venue: VenueId;
  ex: any;
  symbol: string;
  /** The simulator's symbol. */
  canonical: string;
  /** Whether ccxt's book keeps the venue's last id (nonce). */
  nonce: boolean;
  /** watchOrderBook's limit (Bybit: the orderbook.N stream), default ccxt's. */
  limit?: number;
}

/** watchOrderBook ~20 updates, pause, catch up, compare with the truth. */
async function watchAndCompare(t: TestContext, sim: BinanceSimulator, c: Case): Promise<void> {
  const { ex, symbol } = c;
  t.after(() => ex.close());
  await ex.loadHttpProxyAgent();
  const first = await ex.watchOrderBook(symbol, c.limit);
  assert.ok(first.bids.length > 0 && first.asks.length > 0, 'a book after the first update');
  for (let i = 0; i < UPDATES; i++) await ex.watchOrderBook(symbol, c.limit); // live updates keep coming
  const book = () => ex.orderbooks[symbol] as any;
  const nonceBefore = book()?.nonce;
  sim.pause();
  const truth = sim.truth(c.canonical, 5, c.venue);
  const same = () => {
    const b = book();
    if (b === undefined) return false;
    if (c.nonce) return b.nonce === truth.lastUpdateId;
    return JSON.stringify([top5(b.bids), top5(b.asks)]) === JSON.stringify([truth.bids, truth.asks]);
  };
  await waitFor(same, 3000, `ccxt ${c.venue} to catch up with the paused truth`).catch(() => {
    /* the comparison below says what differs */
  });
  await sleep(50); // nothing more arrives after the pause
  const b = book();
  assert.ok(b !== undefined, 'ccxt still has the book');
  assert.equal(b.symbol, symbol);
  if (c.nonce) {
    assert.equal(b.nonce, truth.lastUpdateId, "ccxt's nonce is the venue's last id");
    assert.ok(typeof nonceBefore === 'number' && nonceBefore > 0, 'ccxt tracked the ids while live');
  }
  assert.deepEqual(top5(b.bids)[0], truth.bids[0], 'best bid');
  assert.deepEqual(top5(b.asks)[0], truth.asks[0], 'best ask');
  assert.deepEqual(top5(b.bids), truth.bids, 'top 5 bids');
  assert.deepEqual(top5(b.asks), truth.asks, 'top 5 asks');
  assert.equal(truth.bids.length, 5);
  assert.equal(truth.asks.length, 5);
}

test(
  'ccxt pro binance (spot) watchOrderBook: REST snapshot + diff stream equal the truth',
  { timeout: TIMEOUT },
  async (t) => {
    const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], eventsPerSec: 50, levels: 300, seed: SEED });
    const ex = new ccxt.pro.binance();
    const api = ex.urls['api'] as Record<string, any>;
    rebase(api, sim.restBase); // /api/v3, /fapi/v1, ...
    api['ws']['spot'] = `${sim.wsBase}/ws`;
    await watchAndCompare(t, sim, { venue: 'binance', ex, symbol: 'BTC/USDT', canonical: 'BTCUSDT', nonce: true });
    assert.ok(sim.stats().snapshotsServed >= 1, 'ccxt fetched a REST snapshot');
  },
);

test(
  'ccxt pro binanceusdm watchOrderBook: /fapi/v1 snapshot + /public/ws stream with pu equal the truth',
  { timeout: TIMEOUT },
  async (t) => {
    const venue = 'binance-usdm';
    const sim = await startSim(t, {
      symbols: ['BTCUSDT', 'ETHUSDT'],
      venues: [venue],
      eventsPerSec: 50,
      levels: 300,
      seed: SEED,
    });
    const ex = new ccxt.pro.binanceusdm();
    const api = ex.urls['api'] as Record<string, any>;
    rebase(api, sim.venueRestBase(venue));
    api['ws']['future'] = `${sim.venueWsBase(venue)}/ws`; // ccxt adds /public for depth streams
    await watchAndCompare(t, sim, { venue, ex, symbol: 'BTC/USDT:USDT', canonical: 'BTCUSDT', nonce: true });
    assert.ok(sim.stats().snapshotsServed >= 1, 'ccxt fetched a REST snapshot');
    assert.equal(ex.market('BTC/USDT:USDT').type, 'swap');
  },
);

test(
  'ccxt pro okx watchOrderBook: books snapshot + updates (seqId chain, CRC32 on) equal the truth',
  { timeout: TIMEOUT },
  async (t) => {
    const venue = 'okx';
    const sim = await startSim(t, {
      symbols: ['BTCUSDT', 'ETHUSDT'],
      venues: [venue],
      eventsPerSec: 50,
      levels: 500,
      seed: SEED,
      okx: { checksum: true },
    });
    const ex = new ccxt.pro.okx();
    ex.urls['api']['rest'] = sim.venueRestBase(venue);
    ex.urls['api']['ws'] = `${sim.venueWsBase(venue)}/ws/v5`; // ccxt adds /public
    await watchAndCompare(t, sim, { venue, ex, symbol: 'BTC/USDT', canonical: 'BTCUSDT', nonce: true });
    assert.equal(ex.market('BTC/USDT').id, 'BTC-USDT');
    // ccxt 4.5 dropped its OKX checksum check; run the check it used to make (its own numberToString and
    // crc32 over its top 25 levels, bid:ask interleaved) against the checksum the simulator sends now
    const p = await Probe.open(t, `${sim.venueWsBase(venue)}/ws/v5/public`);
    p.send({ op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-USDT' }] });
    const snap = await p.waitJson((o) => o.action === 'snapshot', 3000, 'a books snapshot');
    const sent = snap.data[0].checksum as number;
    assert.notEqual(sent, 0, 'the legacy checksum is on');
    const book = ex.orderbooks['BTC/USDT'] as any;
    const parts: (string | undefined)[] = [];
    for (let i = 0; i < 25; i++) {
      if (i < book.bids.length) parts.push(ex.numberToString(book.bids[i][0]), ex.numberToString(book.bids[i][1]));
      if (i < book.asks.length) parts.push(ex.numberToString(book.asks[i][0]), ex.numberToString(book.asks[i][1]));
    }
    assert.equal(ex.crc32(parts.join(':'), true), sent, "ccxt's checksum of its book equals OKX's");
  },
);

test(
  'ccxt pro okx watchOrderBook on a swap (BTC/USDT:USDT, instId BTC-USDT-SWAP): books snapshot + updates equal the truth',
  { timeout: TIMEOUT },
  async (t) => {
    const venue = 'okx';
    const sim = await startSim(t, {
      symbols: ['BTC-USDT-SWAP', 'BTCUSDT'],
      venues: [venue],
      eventsPerSec: 50,
      levels: 500,
      seed: SEED,
    });
    const ex = new ccxt.pro.okx();
    ex.urls['api']['rest'] = sim.venueRestBase(venue);
    ex.urls['api']['ws'] = `${sim.venueWsBase(venue)}/ws/v5`;
    await watchAndCompare(t, sim, { venue, ex, symbol: 'BTC/USDT:USDT', canonical: 'BTCUSDTSWAP', nonce: true });
    const m = ex.market('BTC/USDT:USDT');
    assert.equal(m.id, 'BTC-USDT-SWAP');
    assert.equal(m.type, 'swap');
    assert.equal(ex.market('BTC/USDT').id, 'BTC-USDT', 'the spot pair is listed beside it');
  },
);

// orderbook.200 on linear: another depth, its own stream (own u, own snapshot) in the simulator
for (const [venue, symbol, type, limit] of [
  ['bybit', 'BTC/USDT', 'spot', 50],
  ['bybit-linear', 'BTC/USDT:USDT', 'swap', 200],
] as const) {
  test(
    `ccxt pro bybit watchOrderBook (${type}): orderbook.${limit} snapshot + deltas equal the truth`,
    { timeout: TIMEOUT },
    async (t) => {
      const sim = await startSim(t, {
        symbols: ['BTCUSDT', 'ETHUSDT'],
        venues: [venue],
        eventsPerSec: 50,
        levels: 300,
        seed: SEED,
      });
      const ex = new ccxt.pro.bybit();
      rebase(ex.urls['api'] as Record<string, any>, sim.venueRestBase(venue));
      const ws = ex.urls['api']['ws']['public'];
      ws['spot'] = `${sim.venueWsBase(venue)}/v5/public/spot`;
      ws['linear'] = `${sim.venueWsBase(venue)}/v5/public/linear`;
      await watchAndCompare(t, sim, { venue, ex, symbol, canonical: 'BTCUSDT', nonce: false, limit });
      assert.equal(ex.market(symbol).type, type);
    },
  );
}
