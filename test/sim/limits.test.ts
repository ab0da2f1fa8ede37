/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/**
 * The simulator enforces Binance's limits per client IP (src/sim/limits.ts), over real sockets: request
 * weight with X-MBX-USED-WEIGHT-1M, 429 + Retry-After, then growing 418 bans; 1,024 streams per connection;
 * new connections per IP per window; incoming messages per second. Clients bind 127.0.0.2 to be another IP.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { Probe, sleep, startSim, waitFor } from './helpers.js';

/** A window no test straddles (fixed windows are aligned to the clock, as Binance's). */
const LONG = 1e12;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** GET over a socket bound to `localAddress` (every 127.x address is the loopback on Linux). */
function getFrom(url: string, localAddress = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get(url, { localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
    }).on('error', reject);
  });
}

/** Try a websocket upgrade: 'open', or the HTTP status and body that refused it. */
function tryOpen(
  url: string,
  localAddress = '127.0.0.1',
): Promise<{ ws?: WebSocket; status?: number; body?: string; retryAfter?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body, retryAfter: res.headers['retry-after'] as string }));
    });
    ws.once('error', () => {});
  });
}

test('REST weight per IP: headers, 429 with Retry-After, then 418 bans that grow; other IPs unaffected', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    limits: { venues: { binance: { restWeight: 100, restWindowMs: LONG, banAfter429s: 2, banMs: 1000 } } },
  });
  const depth = `${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=100`; // weight 5
  for (let i = 1; i <= 20; i++) {
    const r = await getFrom(depth);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-mbx-used-weight-1m'], String(5 * i));
  }
  const over = await getFrom(depth);
  assert.equal(over.status, 429);
  assert.equal(over.body.code, -1003);
  assert.equal(over.headers['x-mbx-used-weight-1m'], '100');
  assert.ok(Number(over.headers['retry-after']) >= 1, 'Retry-After on a 429');
  assert.equal((await getFrom(depth)).status, 429);
  // a third request during the back-off: banned, even for a weight-1 ping
  const ban = await getFrom(depth);
  assert.equal(ban.status, 418);
  assert.equal(ban.headers['retry-after'], '1');
  assert.match(ban.body.msg, /banned until \d+/);
  assert.equal((await getFrom(`${sim.restBase}/api/v3/ping`)).status, 418);
  // another IP has its own budget
  const other = await getFrom(depth, '127.0.0.2');
  assert.equal(other.status, 200);
  assert.equal(other.headers['x-mbx-used-weight-1m'], '5');
  // the ban ends; still over the limit and still sending: banned again, twice as long
  await sleep(1100);
  const again = await getFrom(depth);
  assert.equal(again.status, 418);
  assert.equal(again.headers['retry-after'], '2');
  const st = sim.stats();
  assert.equal(st.rest429, 2);
  assert.equal(st.rest418, 3);
  const ips = sim.limitStats().binance!;
  assert.equal(ips['127.0.0.1'].weight, 100);
  assert.equal(ips['127.0.0.1'].bans, 2);
  assert.equal(ips['127.0.0.2'].status429, 0);
  const viaHttp = await getFrom(`${sim.restBase}/sim/limits`);
  assert.equal(viaHttp.body.binance['127.0.0.1'].status418, 3);
});

test('USD-M counts its own weights (2/5/10/20) against its own limit', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    venues: ['binance-usdm'],
    limits: { venues: { 'binance-usdm': { restWeight: 30, restWindowMs: LONG } } },
  });
  const url = (limit: number) => `${sim.restBase}/fapi/v1/depth?symbol=BTCUSDT&limit=${limit}`;
  assert.equal((await getFrom(url(1000))).headers['x-mbx-used-weight-1m'], '20');
  assert.equal((await getFrom(url(500))).headers['x-mbx-used-weight-1m'], '30');
  const r = await getFrom(url(50));
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers['retry-after']) >= 1);
});

test('at most 1,024 streams per connection: a URL naming more is refused, a SUBSCRIBE past it closes', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'] });
  const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `s${from + i}usdt@depth@100ms`);
  const refused = await tryOpen(`${sim.wsBase}/stream?streams=${names(1025).join('/')}`);
  assert.equal(refused.status, 400);
  assert.match(refused.body!, /too many streams: 1025 .*limit 1024/);
  const ok = await tryOpen(`${sim.wsBase}/stream?streams=${names(1024).join('/')}`);
  assert.ok(ok.ws, 'exactly 1,024 streams are accepted');
  t.after(() => ok.ws!.terminate());
  const p = await Probe.open(t, `${sim.wsBase}/stream?streams=${names(1000).join('/')}`);
  p.send({ method: 'SUBSCRIBE', params: names(24, 1000), id: 1 });
  await p.waitJson((o) => o.id === 1);
  p.send({ method: 'SUBSCRIBE', params: names(1, 2000), id: 2 });
  await waitFor(() => p.closed, 3000, 'the close');
  assert.equal(p.closeCode, 1008);
  const st = sim.stats();
  assert.equal(st.wsRefusedStreams, 1);
  assert.equal(st.wsStreamLimitDisconnects, 1);
});

test('new connections per IP per window: the next one is refused with 429 and Retry-After', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    limits: { venues: { binance: { connections: 3, connectionWindowMs: 1500 } } },
  });
  const url = `${sim.wsBase}/ws/btcusdt@depth`;
  const open: WebSocket[] = [];
  t.after(() => open.forEach((w) => w.terminate()));
  for (let i = 0; i < 3; i++) {
    const r = await tryOpen(url);
    assert.ok(r.ws, `connection ${i + 1} accepted`);
    open.push(r.ws);
  }
  const fourth = await tryOpen(url);
  assert.equal(fourth.status, 429);
  assert.equal(fourth.retryAfter, '2');
  assert.match(fourth.body!, /too many new connections/);
  const elsewhere = await tryOpen(url, '127.0.0.2');
  assert.ok(elsewhere.ws, 'another IP has its own count');
  open.push(elsewhere.ws);
  await sleep(1600);
  const later = await tryOpen(url);
  assert.ok(later.ws, 'accepted once the window has passed');
  open.push(later.ws);
  assert.equal(sim.stats().wsRefusedConnections, 1);
  assert.equal(sim.limitStats().binance!['127.0.0.1'].connectionsRefused, 1);
});

test('more than 5 incoming messages in a second: disconnected (1008); 5 a second are fine', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'] });
  const calm = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth`);
  for (let i = 0; i < 10; i++) {
    calm.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
    await sleep(210);
  }
  await calm.waitJson((o) => o.id === 9);
  assert.equal(calm.closed, false);
  const burst = await Probe.open(t, `${sim.wsBase}/ws/btcusdt@depth`);
  for (let i = 0; i < 6; i++) burst.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
  await waitFor(() => burst.closed, 3000, 'the close');
  assert.equal(burst.closeCode, 1008);
  assert.equal(sim.stats().wsMessageRateDisconnects, 1);
});

test('limits off: nothing is refused, weight is still counted', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    limits: { enabled: false, venues: { binance: { restWeight: 10, restWindowMs: LONG } } },
  });
  for (let i = 0; i < 5; i++) assert.equal((await getFrom(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT`)).status, 200);
  const names = Array.from({ length: 1100 }, (_, i) => `s${i}usdt@depth`);
  const r = await tryOpen(`${sim.wsBase}/stream?streams=${names.join('/')}`);
  assert.ok(r.ws);
  r.ws.terminate();
  assert.equal(sim.limitStats().binance!['127.0.0.1'].weight, 25);
  assert.equal(sim.stats().rest429, 0);
});

// ---- OKX and Bybit: limits on connections and on subscribing (limits.ts OKX_LIMITS, BYBIT_*_LIMITS) ----

const okxSub = (instIds: string[], id?: string) => ({
  ...(id !== undefined ? { id } : {}),
  op: 'subscribe',
  args: instIds.map((instId) => ({ channel: 'books', instId })),
});

test('OKX: 3 new connections a second per IP; the 4th is refused (429), another IP is not', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], venues: ['okx'] });
  const url = `${sim.venueWsBase('okx')}/ws/v5/public`;
  const open: WebSocket[] = [];
  t.after(() => open.forEach((w) => w.terminate()));
  for (let i = 0; i < 3; i++) {
    const r = await tryOpen(url);
    assert.ok(r.ws, `connection ${i + 1} accepted`);
    open.push(r.ws);
  }
  const fourth = await tryOpen(url);
  assert.equal(fourth.status, 429);
  assert.equal(fourth.retryAfter, '1');
  const elsewhere = await tryOpen(url, '127.0.0.2');
  assert.ok(elsewhere.ws, 'another IP has its own count');
  open.push(elsewhere.ws);
  await sleep(1050);
  const later = await tryOpen(url);
  assert.ok(later.ws, 'accepted a second later');
  open.push(later.ws);
  assert.equal(sim.stats().wsRefusedConnections, 1);
  assert.equal(sim.limitStats().okx!['127.0.0.1'].connectionsRefused, 1);
});

test('OKX: subscribe/unsubscribe requests per connection per window; past it: error 60014 and the close', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    venues: ['okx'],
    limits: { venues: { okx: { subscribes: 4, subscribeWindowMs: 60_000 } } },
  });
  const url = `${sim.venueWsBase('okx')}/ws/v5/public`;
  const p = await Probe.open(t, url);
  p.send(okxSub(['BTC-USDT'], '1'));
  p.send({ id: '2', op: 'unsubscribe', args: [{ channel: 'books', instId: 'BTC-USDT' }] });
  p.send(okxSub(['BTC-USDT'], '3'));
  p.send('ping'); // not a subscribe request: not counted
  p.send(okxSub(['ETH-USDT'], '4'));
  await p.waitJson((o) => o.id === '4' && o.event === 'subscribe');
  assert.equal(p.closed, false, 'four requests in the window are fine');
  p.send(okxSub(['ETH-USDT'], '5'));
  const err = await p.waitJson((o) => o.event === 'error');
  assert.deepEqual(
    { id: err.id, code: err.code, msg: err.msg },
    { id: '5', code: '60014', msg: 'Requests too frequent.' },
  );
  await waitFor(() => p.closed, 3000, 'the close');
  assert.equal(p.closeCode, 1008);
  // the count is per connection: a new one starts afresh
  const q = await Probe.open(t, url);
  q.send(okxSub(['BTC-USDT'], '6'));
  await q.waitJson((o) => o.id === '6' && o.event === 'subscribe');
  assert.equal(sim.stats().wsSubscribeRateDisconnects, 1);
});

test('OKX: the args of one request are at most 64 KB; a longer request is refused (60013), the connection stays', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], venues: ['okx'] });
  const p = await Probe.open(t, `${sim.venueWsBase('okx')}/ws/v5/public`);
  // ~40 characters an arg: 1,700 args are ~68 KB
  p.send(
    okxSub(
      Array.from({ length: 1700 }, (_, i) => `X${i}-USDT`),
      'big',
    ),
  );
  const err = await p.waitJson((o) => o.event === 'error');
  assert.equal(err.code, '60013');
  assert.match(err.msg, /args too long: \d+ characters in one request \(limit 65536\)/);
  p.send(okxSub(['BTC-USDT'], 'ok'));
  await p.waitJson((o) => o.id === 'ok' && o.event === 'subscribe');
  assert.equal(sim.stats().wsRefusedSubscribes, 1);
});

test('Bybit: 10 args per spot request ("args size >10"), none on linear; 21,000 characters of args per connection', async (t) => {
  const symbols = Array.from({ length: 12 }, (_, i) => `S${i}USDT`);
  const sim = await startSim(t, {
    symbols,
    venues: ['bybit', 'bybit-linear'],
    // 200 characters a connection: 9 topics of ~22
    limits: { venues: { bybit: { argsCharsPerConnection: 200 } } },
  });
  const topics = (syms: string[]) => syms.map((s) => `orderbook.50.${s}`);
  const spot = await Probe.open(t, `${sim.venueWsBase('bybit')}/v5/public/spot`);
  spot.send({ req_id: 'eleven', op: 'subscribe', args: topics(symbols.slice(0, 11)) });
  const r = await spot.waitJson((o) => o.req_id === 'eleven');
  assert.deepEqual({ success: r.success, ret_msg: r.ret_msg }, { success: false, ret_msg: 'args size >10' });
  spot.send({ req_id: 'eight', op: 'subscribe', args: topics(symbols.slice(0, 8)) });
  assert.equal((await spot.waitJson((o) => o.req_id === 'eight')).success, true);
  spot.send({ req_id: 'two', op: 'subscribe', args: topics(symbols.slice(8, 10)) });
  const over = await spot.waitJson((o) => o.req_id === 'two');
  assert.equal(over.success, false);
  assert.match(over.ret_msg, /args too long: \d+ characters on one connection \(limit 200\)/);
  // unsubscribing gives the characters back
  spot.send({ req_id: 'un', op: 'unsubscribe', args: topics(symbols.slice(0, 2)) });
  await spot.waitJson((o) => o.req_id === 'un');
  spot.send({ req_id: 'two again', op: 'subscribe', args: topics(symbols.slice(8, 10)) });
  assert.equal((await spot.waitJson((o) => o.req_id === 'two again')).success, true);
  const linear = await Probe.open(t, `${sim.venueWsBase('bybit-linear')}/v5/public/linear`);
  linear.send({ req_id: 'twelve', op: 'subscribe', args: topics(symbols) });
  assert.equal((await linear.waitJson((o) => o.req_id === 'twelve')).success, true, 'linear: no args limit');
  assert.equal(sim.stats().wsRefusedSubscribes, 2);
});

test('Bybit: new connections per IP per window (500 per 5 minutes): the next is refused with 429', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    venues: ['bybit'],
    limits: { venues: { bybit: { connections: 2 } } },
  });
  const url = `${sim.venueWsBase('bybit')}/v5/public/spot`;
  const open: WebSocket[] = [];
  t.after(() => open.forEach((w) => w.terminate()));
  for (let i = 0; i < 2; i++) open.push((await tryOpen(url)).ws!);
  const third = await tryOpen(url);
  assert.equal(third.status, 429);
  assert.equal(Number(third.retryAfter), 300);
  assert.equal(sim.stats().wsRefusedConnections, 1);
});

test('OKX and Bybit limits off: nothing refused', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    venues: ['okx', 'bybit'],
    limits: { enabled: false, venues: { okx: { subscribes: 1 } } },
  });
  const okx = await Probe.open(t, `${sim.venueWsBase('okx')}/ws/v5/public`);
  for (let i = 0; i < 3; i++) okx.send(okxSub(['BTC-USDT'], String(i)));
  await okx.waitJson((o) => o.id === '2' && o.event === 'subscribe');
  const bybit = await Probe.open(t, `${sim.venueWsBase('bybit')}/v5/public/spot`);
  bybit.send({ req_id: 'x', op: 'subscribe', args: Array.from({ length: 11 }, () => 'orderbook.50.BTCUSDT') });
  assert.notEqual((await bybit.waitJson((o) => o.req_id === 'x')).ret_msg, 'args size >10');
  assert.equal(okx.closed, false);
  assert.equal(sim.stats().wsSubscribeRateDisconnects + sim.stats().wsRefusedSubscribes, 0);
});
