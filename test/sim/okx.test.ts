/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** okx: /ws/v5/public books channel (acks, ping, snapshot + updates, seqId chain, checksum, keep-alive, reset), REST. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, LocalBook, Probe, sleep, startSim, waitFor } from './helpers.js';

const V = 'okx' as const;
const ARG = { channel: 'books', instId: 'BTC-USDT' };

/** CRC-32 (IEEE), written here so the test does not share the simulator's implementation. */
function crc32(s: string): number {
  let c = 0xffffffff;
  for (const byte of Buffer.from(s)) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) | 0;
}

/** OKX's legacy checksum: top 25, bid px:sz then ask px:sz alternately, joined by ':'. */
function checksum(book: LocalBook): number {
  const b = book.sorted(true);
  const a = book.sorted(false);
  const parts: string[] = [];
  for (let i = 0; i < 25; i++) {
    if (b[i]) parts.push(`${b[i][0]}:${b[i][1]}`);
    if (a[i]) parts.push(`${a[i][0]}:${a[i][1]}`);
  }
  return crc32(parts.join(':'));
}

/** `books` pushes of one instId, in arrival order. */
function pushes(p: Probe, instId = 'BTC-USDT'): any[] {
  return p.json().filter((o) => o.arg?.channel === 'books' && o.arg.instId === instId && o.action !== undefined);
}

/** The OKX procedure: the snapshot, then every update must have prevSeqId == the last seqId. */
function rebuild(msgs: any[], opts: { checksums?: boolean } = {}) {
  const book = new LocalBook();
  let seq: number | undefined;
  let updates = 0;
  for (const m of msgs) {
    const d = m.data[0];
    if (m.action === 'snapshot') {
      assert.equal(d.prevSeqId, -1);
      book.reset(d.bids, d.asks);
    } else {
      assert.equal(d.prevSeqId, seq, `update ${d.prevSeqId} -> ${d.seqId} chains onto ${seq}`);
      book.apply(d.bids, d.asks);
      updates++;
    }
    seq = d.seqId;
    if (opts.checksums) assert.equal(d.checksum, checksum(book), `checksum after seqId ${d.seqId}`);
  }
  return { book, seq, updates };
}

async function subscribe(t: Parameters<typeof Probe.open>[0], url: string, id = '1'): Promise<Probe> {
  const p = await Probe.open(t, url);
  p.send({ id, op: 'subscribe', args: [ARG] });
  return p;
}

test('okx: subscribe ack, ping/pong, 400-level snapshot then updates with an unbroken seqId chain; book = truth', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    venues: [V],
    eventsPerSec: 200,
    levels: 600,
    faults: { merge: { regroupRate: 0.5 } },
  });
  const url = `${sim.venueWsBase(V)}/ws/v5/public`;
  const p = await subscribe(t, url, 'a1');
  const merged = await subscribe(t, `${sim.venueWsBase(V)}/p/merge/ws/v5/public`);
  const ack = await p.waitJson((o) => o.event === 'subscribe');
  assert.deepEqual(Object.keys(ack), ['id', 'event', 'arg', 'connId']);
  assert.deepEqual(ack.arg, ARG);
  assert.equal(ack.id, 'a1');
  assert.match(ack.connId, /^[0-9a-f]{8}$/);
  p.ws.send('ping');
  await waitFor(() => p.frames.some((f) => f.text === 'pong'), 2000, 'pong');
  await waitFor(() => pushes(p).length >= 300, 5000, '300 pushes');
  sim.pause();
  const truth = sim.truth('BTC-USDT', 400, V);
  for (const c of [p, merged])
    await waitFor(() => pushes(c).at(-1)?.data[0].seqId === truth.lastUpdateId, 3000, 'the last update');
  const msgs = pushes(p);
  const snap = msgs[0];
  assert.equal(snap.action, 'snapshot');
  assert.deepEqual(Object.keys(snap), ['arg', 'action', 'data']);
  assert.deepEqual(Object.keys(snap.data[0]), ['asks', 'bids', 'ts', 'checksum', 'prevSeqId', 'seqId']);
  assert.equal(snap.data[0].bids.length, 400, 'books: 400 levels');
  assert.equal(snap.data[0].asks.length, 400);
  for (const l of [...snap.data[0].bids, ...snap.data[0].asks]) {
    assert.equal(l.length, 4);
    assert.equal(l[2], '0');
    assert.match(l[0], /^\d+(\.\d*[1-9])?$/, 'shortest decimal');
  }
  assert.ok(msgs.slice(1).every((m) => m.action === 'update'));
  for (let i = 2; i < msgs.length; i++) assert.ok(msgs[i].data[0].seqId > msgs[i - 1].data[0].seqId, 'seqId grows');
  assert.ok(
    msgs.every((m) => m.data[0].checksum === 0),
    'checksum 0 by default (production since 2026-06)',
  );
  assert.ok(msgs.every((m) => typeof m.data[0].ts === 'string'));
  const { book, seq, updates } = rebuild(msgs);
  assert.ok(updates > 250);
  assert.equal(seq, truth.lastUpdateId);
  assert.deepEqual(book.levels(), { bids: truth.bids, asks: truth.asks }, 'the 400-level view is exact');
  assert.ok(sim.truth('BTC-USDT', Infinity, V).bids.length > 500, 'deeper than the view');
  // regrouping: fewer messages, prevSeqId of the first and seqId of the last, same book
  const m = pushes(merged);
  assert.ok(m.length < msgs.length * 0.8, `${m.length} regrouped vs ${msgs.length}`);
  const r = rebuild(m);
  assert.equal(r.seq, truth.lastUpdateId);
  assert.deepEqual(r.book.levels(), { bids: truth.bids, asks: truth.asks });
  // unsubscribe: ack, then silence
  sim.resume();
  p.send({ op: 'unsubscribe', args: [ARG] });
  assert.deepEqual(await p.waitJson((o) => o.event === 'unsubscribe'), {
    event: 'unsubscribe',
    arg: ARG,
    connId: ack.connId,
  });
  await sleep(50);
  const n = p.frames.length;
  await sleep(150);
  assert.equal(p.frames.length, n, 'no data after unsubscribe');
});

test('okx checksum option: the legacy CRC32 of the rebuilt top 25 matches every message', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], venues: [V], eventsPerSec: 200, okx: { checksum: true } });
  const p = await subscribe(t, `${sim.venueWsBase(V)}/ws/v5/public`);
  await waitFor(() => pushes(p).length >= 150, 5000, '150 pushes');
  const msgs = pushes(p);
  assert.ok(msgs.every((m) => m.data[0].checksum !== 0));
  rebuild(msgs, { checksums: true });
});

test('okx keep-alive: an unchanged book gets empty updates with prevSeqId == seqId', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], venues: [V], eventsPerSec: 100, okx: { keepAliveMs: 150 } });
  const p = await subscribe(t, `${sim.venueWsBase(V)}/ws/v5/public`);
  await waitFor(() => pushes(p).length >= 10, 3000, 'updates');
  sim.pause();
  const truth = sim.truth('BTCUSDT', 400, V);
  await waitFor(
    () => pushes(p).filter((m) => m.data[0].bids.length + m.data[0].asks.length === 0).length >= 2,
    3000,
    'keep-alives',
  );
  const msgs = pushes(p);
  const ka = msgs.filter((m) => m.data[0].bids.length + m.data[0].asks.length === 0);
  for (const m of ka) {
    assert.equal(m.action, 'update');
    assert.equal(m.data[0].prevSeqId, truth.lastUpdateId);
    assert.equal(m.data[0].seqId, truth.lastUpdateId);
  }
  const { book, seq } = rebuild(msgs);
  assert.equal(seq, truth.lastUpdateId);
  assert.deepEqual(book.levels(), { bids: truth.bids, asks: truth.asks });
  assert.ok(sim.stats().keepAlives >= 2);
});

test('okx maintenance reset: seqId drops below prevSeqId, then counting goes on from the new low seqId', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT', 'ETHUSDT'], venues: [V], eventsPerSec: 100 });
  const p = await subscribe(t, `${sim.venueWsBase(V)}/ws/v5/public`);
  await waitFor(() => pushes(p).length >= 10, 3000, 'updates');
  sim.pause();
  const before = sim.truth('BTCUSDT', 400, V).lastUpdateId;
  await waitFor(() => pushes(p).at(-1)?.data[0].seqId === before, 3000, 'the last update');
  const r = await fetch(`${sim.restBase}/okx/sim/reset?symbol=BTC-USDT`, { method: 'POST' });
  assert.equal(r.status, 200);
  const body = (await r.json()) as any;
  assert.equal(body.prevSeqId, before);
  assert.ok(body.seqId < before && body.seqId > 0);
  const reset = await p.waitJson((o) => o.data?.[0]?.seqId === body.seqId, 2000, 'the reset update');
  assert.equal(reset.action, 'update');
  assert.equal(reset.data[0].prevSeqId, before, 'prevSeqId is still the last seqId');
  assert.equal(sim.truth('BTCUSDT', 400, V).lastUpdateId, body.seqId);
  const rest = await getJson(`${sim.venueRestBase(V)}/api/v5/market/books?instId=BTC-USDT&sz=5`);
  assert.equal(rest.body.data[0].seqId, body.seqId, 'REST follows');
  sim.resume();
  await waitFor(
    () => pushes(p).filter((m) => m.data[0].prevSeqId === body.seqId).length === 1,
    2000,
    'the next update',
  );
  await waitFor(() => pushes(p).length >= 30, 3000, 'more updates');
  sim.pause();
  const truth = sim.truth('BTCUSDT', 400, V);
  await waitFor(() => pushes(p).at(-1)?.data[0].seqId === truth.lastUpdateId, 3000, 'the last update');
  const next = pushes(p).find((m) => m.data[0].prevSeqId === body.seqId);
  assert.ok(next.data[0].seqId > body.seqId && next.data[0].seqId < before);
  const { book } = rebuild(pushes(p));
  assert.deepEqual(book.levels(), { bids: truth.bids, asks: truth.asks });
  assert.equal(sim.stats().resets, 1);
});

test('okx errors and REST: 60018 / 60012 frames, /api/v5/market/books with seqId, instruments, 429 over 40 per 2 s', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], venues: [V], eventsPerSec: 20 });
  const p = await Probe.open(t, `${sim.venueWsBase(V)}/ws/v5/public`);
  p.send({ id: '9', op: 'subscribe', args: [{ channel: 'books', instId: 'NOPE-USDT' }] });
  const e1 = await p.waitJson((o) => o.event === 'error' && o.id === '9');
  assert.equal(e1.code, '60018');
  p.send({ op: 'subscribe', args: [{ channel: 'books-l2-tbt', instId: 'BTC-USDT' }] });
  await p.waitJson((o) => o.event === 'error' && o.code === '60018' && /books-l2-tbt/.test(o.msg));
  p.send('{nope');
  await p.waitJson((o) => o.event === 'error' && o.code === '60012');
  assert.equal(pushes(p).length, 0);
  assert.equal(p.closed, false);
  await assert.rejects(Probe.open(t, `${sim.venueWsBase(V)}/ws/v5/private`), /404/);

  sim.pause();
  const rest = sim.venueRestBase(V);
  const books = await getJson(`${rest}/api/v5/market/books?instId=BTC-USDT&sz=3`);
  assert.equal(books.status, 200);
  assert.equal(books.body.code, '0');
  assert.deepEqual(Object.keys(books.body.data[0]), ['asks', 'bids', 'ts', 'seqId']);
  const truth = sim.truth('BTCUSDT', 3, V);
  assert.equal(books.body.data[0].seqId, truth.lastUpdateId);
  assert.deepEqual(
    books.body.data[0].bids.map((l: string[]) => [Number(l[0]), Number(l[1])]),
    truth.bids,
  );
  assert.equal(
    (await getJson(`${rest}/api/v5/market/books?instId=BTC-USDT`)).body.data[0].asks.length,
    1,
    'sz default 1',
  );
  assert.equal((await getJson(`${rest}/api/v5/market/books?instId=NOPE-USDT`)).body.code, '51001');
  assert.equal((await getJson(`${rest}/api/v5/market/books`)).body.code, '50014');
  const inst = await getJson(`${rest}/api/v5/public/instruments?instType=SPOT`);
  assert.deepEqual(
    inst.body.data.map((i: any) => [i.instId, i.baseCcy, i.quoteCcy, i.tickSz, i.state]),
    [['BTC-USDT', 'BTC', 'USDT', '0.01', 'live']],
  );
  // spot only is listed: the other instTypes are valid and empty (ccxt's fetchMarkets asks for all of them)
  assert.deepEqual((await getJson(`${rest}/api/v5/public/instruments?instType=SWAP`)).body, {
    code: '0',
    msg: '',
    data: [],
  });
  assert.deepEqual((await getJson(`${rest}/api/v5/public/instruments?instType=OPTION&uly=BTC-USD`)).body.data, []);
  assert.equal((await getJson(`${rest}/api/v5/public/instruments?instType=OPTION`)).body.code, '50014');
  assert.equal(
    (await getJson(`${rest}/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP`)).body.code,
    '51001',
  );
  assert.equal((await getJson(`${rest}/api/v5/public/instruments?instType=NOPE`)).body.code, '51000');
  const statuses: number[] = [];
  for (let i = 0; i < 85; i++) statuses.push((await fetch(`${rest}/api/v5/market/books?instId=BTC-USDT`)).status);
  assert.ok(statuses.includes(429), 'rate limited');
  const limited = await getJson(`${rest}/api/v5/market/books?instId=BTC-USDT`);
  if (limited.status === 429) assert.equal(limited.body.code, '50011');
});
