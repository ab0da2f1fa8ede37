/** Events held by all books together are bounded (a whole market would otherwise hold gigabytes). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { topics } from '../../src/wire/messages.js';
import { rawDelta } from './raw.js';
import { waitFor } from '../helpers.js';

test('over maxHeldTotal the books holding most drop what they hold, until 90 % of the bound is left', async (t) => {
  const bus = new InprocBus();
  const [arbT, colT] = [new InprocTransport(bus), new InprocTransport(bus)];
  const symbols = ['AUSDT', 'BUSDT', 'CUSDT'];
  const arb = new ArbiterService({ transport: arbT, symbols, maxHeldTotal: 100 });
  t.after(async () => {
    await arb.stop();
    await arbT.close();
    await colT.close();
  });
  await arb.start();
  const pub = await colT.publisher('ingest');
  // no snapshot ever comes: every delta is held while the books wait for one
  const counts = { AUSDT: 80, BUSDT: 70, CUSDT: 60 };
  for (const [symbol, n] of Object.entries(counts))
    for (let seq = 1; seq <= n; seq++) pub.send(topics.raw('binance', symbol), rawDelta(symbol, seq));
  const held = () => symbols.reduce((n, s) => n + (arb.bookOf('binance', s)?.buffered ?? 0), 0);
  await waitFor(() => arb.counters.shed > 0 && held() <= 100, 3000, 'the bound to act');
  // 210 held > 100: A (80) and B (70) drop theirs, C's 60 <= 90 stays
  assert.equal(arb.counters.shed, 150);
  assert.equal(arb.bookOf('binance', 'CUSDT')!.buffered, 60);
  assert.equal(arb.bookOf('binance', 'AUSDT')!.counters.overflowDrops, 80);
});
