/**
 * The collector's REST client always ends a request: a venue (or anything posing as one) that drips its
 * answer a byte at a time keeps the socket busy, so the idle timeout never fires -- the whole-request
 * deadline must.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RestClient } from '../../src/collector/http.js';

test('an answer dripped forever is cut at the deadline', async (t) => {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const tick = setInterval(() => res.write(' '), 50);
    timers.add(tick);
    res.on('close', () => clearInterval(tick));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const rest = new RestClient(undefined);
  t.after(() => {
    for (const x of timers) clearInterval(x);
    rest.close();
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3/depth`;
  const t0 = Date.now();
  const outcome = await Promise.race([
    rest.get(url, 400).then(
      () => 'answered',
      (e: Error) => e.message,
    ),
    new Promise((r) => setTimeout(() => r('still pending after 3 s'), 3000)),
  ]);
  assert.match(String(outcome), /within 400 ms/);
  assert.ok(Date.now() - t0 < 1500, `ended after ${Date.now() - t0} ms`);
});

test('a complete answer is read whole', async (t) => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'x-mbx-used-weight-1m': '7' });
    res.end('{"lastUpdateId":1}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const rest = new RestClient(undefined);
  t.after(() => {
    rest.close();
    server.close();
  });
  const a = await rest.get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, 2000);
  assert.equal(a.status, 200);
  assert.equal(a.body, '{"lastUpdateId":1}');
  assert.equal(a.header('X-MBX-USED-WEIGHT-1M'), '7');
});
