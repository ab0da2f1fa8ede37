/** A collector's status message (status.<collector>): what it says besides its feeds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Collector } from '../../src/collector/collector.js';
import { InprocBus } from '../../src/transport/inproc.js';
import { InprocTransport } from '../../src/transport/inproc.js';

/** Never connected: status() needs no venue. */
const urls = { wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9' };

test('a collector status carries its REST budget where snapshots cost weight (Binance), not elsewhere (OKX)', () => {
  const bus = new InprocBus();
  const binance = new Collector({ id: 'a', symbols: ['BTCUSDT'], ...urls, transport: new InprocTransport(bus) });
  assert.deepEqual(binance.status().rest, { used: 0, limit: 6000, blockedMs: 0, rateLimited: 0, banned: 0 });
  const okx = new Collector({
    id: 'o',
    venue: 'okx',
    symbols: ['BTC-USDT'],
    ...urls,
    transport: new InprocTransport(bus),
  });
  assert.equal(okx.status().rest, undefined);
});
