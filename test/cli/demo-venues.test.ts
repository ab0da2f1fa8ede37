/** The multi-venue demo's pieces that need no processes: each venue's default books, the book selection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/load.js';
import { demoVenueSymbols } from '../../src/cli/demo.js';
import { BookOverview, LiveBookView } from '../../src/cli/watch.js';
import type { Transport } from '../../src/transport/types.js';

test("demo --venues: BTCUSDT and ETHUSDT in each venue's spelling, spot where there is spot, else the linear perpetual", () => {
  const cfg = defaultConfig();
  assert.deepEqual(demoVenueSymbols(cfg, 'binance'), ['BTCUSDT', 'ETHUSDT']);
  assert.deepEqual(demoVenueSymbols(cfg, 'binance-usdm'), ['BTCUSDT', 'ETHUSDT']);
  assert.deepEqual(demoVenueSymbols(cfg, 'okx'), ['BTC-USDT', 'ETH-USDT']);
  assert.deepEqual(demoVenueSymbols(cfg, 'bybit'), ['BTCUSDT', 'ETHUSDT']);
  assert.deepEqual(demoVenueSymbols(cfg, 'bybit-linear'), ['BTCUSDT', 'ETHUSDT']);
  // --symbols in either spelling; venues.<id>.symbols of a config file win
  const own = validateConfig({ symbols: ['SOLUSDT', 'BTC/USDC'], venues: { okx: { symbols: ['ETH-USDT'] } } });
  assert.deepEqual(demoVenueSymbols(own, 'okx'), ['ETH-USDT']);
  assert.deepEqual(demoVenueSymbols(own, 'bybit'), ['SOLUSDT', 'BTCUSDC']);
  assert.throws(
    () => demoVenueSymbols(validateConfig({ symbols: ['FOO'] }), 'okx'),
    /symbol FOO: cannot name it on OKX/,
  );
});

test('the overview: up/down, j/k, Tab and 1-9 choose the book shown in detail', () => {
  const transport = {} as Transport; // never started: only the selection is exercised
  const views = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].map(
    (symbol) => new LiveBookView({ transport, venue: 'bybit', symbol, title: 'x' }),
  );
  const o = new BookOverview(views, 'demo');
  const sel = () => o.state().selected;
  assert.equal(sel(), 0);
  o.onKey('\x1b[B');
  assert.equal(sel(), 1);
  o.onKey('j');
  o.onKey('\t');
  assert.equal(sel(), 0, 'wraps around');
  o.onKey('k');
  assert.equal(sel(), 2);
  o.onKey('\x1b[A');
  assert.equal(sel(), 1);
  o.onKey('3');
  assert.equal(sel(), 2);
  o.onKey('9');
  o.onKey('x');
  assert.equal(sel(), 2, 'keys that name no book change nothing');
  const s = o.state();
  assert.deepEqual(
    s.books.map((b) => `${b.venue}.${b.symbol}`),
    ['bybit.BTCUSDT', 'bybit.ETHUSDT', 'bybit.SOLUSDT'],
  );
  assert.match(s.detailTitle!, /3\/3/);
});

test('the overview: PgDn/PgUp (n/p) page through the synced books; choosing a book shows its page again', () => {
  const transport = {} as Transport; // never started: only the keys are exercised
  const views = ['BTCUSDT', 'ETHUSDT'].map(
    (symbol) => new LiveBookView({ transport, venue: 'bybit', symbol, title: 'x' }),
  );
  const o = new BookOverview(views, 'demo');
  assert.equal(o.state().page, undefined, "the selected book's page");
  o.onKey('\x1b[6~');
  o.onKey('n');
  assert.equal(o.state().page, 2);
  for (let i = 0; i < 5; i++) o.onKey('n');
  assert.equal(o.state().page, 2, 'never past the number of books (the renderer clamps to the last page)');
  o.onKey('\x1b[5~');
  o.onKey('p');
  o.onKey('p');
  assert.equal(o.state().page, 0);
  o.onKey('j');
  assert.equal(o.state().page, undefined);
  assert.equal(o.state().selected, 1, 'paging keys do not move the selection');
});
