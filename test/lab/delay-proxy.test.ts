/**
 * The lab's delay proxy (lab/delay-proxy.ts): every byte arrives at least the link's delay later, both
 * ways, whole and in order (jitter never reorders), so ZMTP streams pass through it untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseRoute, startRoute } from '../../lab/delay-proxy.js';
import { freePort } from '../helpers.js';

test('delay proxy: delays both ways by at least the delay, keeps order and every byte', async (t) => {
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const port = await freePort();
  const target = (echo.address() as net.AddressInfo).port;
  const proxy = startRoute(parseRoute(`127.0.0.1:${port}=127.0.0.1:${target}@20+10`));
  t.after(() => {
    proxy.close();
    echo.close();
  });
  await new Promise<void>((r) => proxy.once('listening', r));
  const c = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => c.once('connect', r));
  const sent: number[] = [];
  let got = '';
  let firstBack: number | undefined;
  const t0 = performance.now();
  c.on('data', (d) => {
    firstBack ??= performance.now() - t0;
    got += d.toString();
  });
  for (let i = 0; i < 200; i++) {
    c.write(`${i},`);
    sent.push(i);
    if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 300));
  c.destroy();
  assert.ok(firstBack !== undefined && firstBack >= 39, `a round trip crosses the 20 ms link twice (${firstBack} ms)`);
  assert.deepEqual(got.split(',').filter(Boolean).map(Number), sent);
});

test('delay proxy: a bad route is one clear line', () => {
  assert.throws(
    () => parseRoute('127.0.0.1:1=nowhere'),
    /bad route "127.0.0.1:1=nowhere" \(want HOST:PORT=HOST:PORT@DELAY_MS/,
  );
});
