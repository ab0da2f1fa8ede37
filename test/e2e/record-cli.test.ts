/** `bookwire replay` feeds an unchanged subscribe() client over ZeroMQ; `bookwire book-at` prints the book. */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { subscribe } from '../../src/client/subscribe.js';
import { BookReplica } from '../../src/core/replica.js';
import { silentLogger } from '../../src/log.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { KIND_MESSAGE } from '../../src/recorder/format.js';
import { DEFAULT_STORAGE, StreamWriter } from '../../src/recorder/segment.js';
import { freeEndpoints, runCli } from '../helpers.js';
import { synthStream, tmpDir } from '../recorder/helpers.js';

async function recording(dir: string, n: number) {
  const msgs = synthStream(n, { stepUs: 1000, snapEvery: 100 });
  const w = new StreamWriter(dir, 'book', 'binance', 'BTCUSDT', { ...DEFAULT_STORAGE, blockBytes: 8192 }, silentLogger);
  for (const m of msgs) w.append(KIND_MESSAGE, m.time, m.payload, m.snapshot);
  await w.close();
  return msgs;
}

test('bookwire replay: an unchanged subscribe() client gets the recorded book, seq by seq', async (t) => {
  const dir = tmpDir(t);
  const msgs = await recording(dir, 600);
  const ep = await freeEndpoints();
  const seen = new Map<number, string>();
  const ac = new AbortController();
  t.after(() => ac.abort());
  const client = (async () => {
    for await (const u of subscribe({ symbol: 'BTCUSDT', endpoints: ep, signal: ac.signal }))
      seen.set(u.seq, JSON.stringify(u.book.top(5)));
  })();
  const r = await runCli([
    'replay',
    '--dir',
    dir,
    '--symbol',
    'BTCUSDT',
    '--speed',
    '2',
    '--publish',
    ep.publish[0],
    '--snapshot',
    ep.snapshot[0],
    '--wait-ms',
    '700',
    '--log-level',
    'warn',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /replayed 600 messages/);
  ac.abort();
  await client.catch(() => {});
  const ref = new BookReplica();
  let same = 0;
  for (const m of msgs) {
    ref.onMessage(decodeConsolidated(m.payload));
    const got = seen.get(ref.seq);
    if (got !== undefined) {
      assert.equal(got, JSON.stringify(ref.book.top(5)), `book at seq ${ref.seq}`);
      same++;
    }
  }
  assert.ok(same >= 500, `client matched ${same} of 600 seqs`);
});

test('bookwire book-at: table and --json; clear errors for a bad time or an empty range', async (t) => {
  const dir = tmpDir(t);
  const msgs = await recording(dir, 300);
  const at = msgs[250].time;
  const ref = new BookReplica();
  for (const m of msgs.slice(0, 251)) ref.onMessage(decodeConsolidated(m.payload));
  const iso = new Date(at / 1000).toISOString();
  // an ISO time has ms resolution: compare with the book at the last message at or before that ms
  const atMs = Math.floor(at / 1000) * 1000;
  const ref2 = new BookReplica();
  for (const m of msgs) if (m.time <= atMs) ref2.onMessage(decodeConsolidated(m.payload));
  const j = await runCli(['book-at', '--dir', dir, '--symbol', 'BTCUSDT', '--at', iso, '--depth', '3', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const o = JSON.parse(j.stdout) as { seq: number; bids: number[][]; asks: number[][]; synced: boolean };
  assert.equal(o.seq, ref2.seq);
  assert.deepEqual({ bids: o.bids, asks: o.asks }, ref2.book.top(3));
  assert.ok(o.synced);
  const table = await runCli(['book-at', '--dir', dir, '--symbol', 'BTCUSDT', '--at', iso, '--depth', '3']);
  assert.equal(table.code, 0);
  assert.match(table.stdout, new RegExp(`seq ${ref2.seq}`));
  assert.equal(table.stdout.trim().split('\n').length, 2 + 1 + 3);
  const early = await runCli(['book-at', '--dir', dir, '--symbol', 'BTCUSDT', '--at', '2001-01-01T00:00:00Z']);
  assert.equal(early.code, 2);
  assert.match(early.stderr, /no recorded snapshot of binance BTCUSDT/);
  const bad = await runCli(['book-at', '--dir', dir, '--symbol', 'BTCUSDT', '--at', 'yesterday-ish']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--at: expected an ISO 8601 time/);
});

test('bookwire replay --raw: the raw messages go back onto the ingest endpoint byte for byte', async (t) => {
  const dir = tmpDir(t);
  const w = new StreamWriter(dir, 'raw', 'binance', 'BTCUSDT', { ...DEFAULT_STORAGE, blockBytes: 4096 }, silentLogger);
  const sent: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const p = Buffer.from(
      `{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","first":${i + 1},"last":${i + 1},"exchTime":1,"recvTime":${i},"collector":"${i % 2 ? 'a' : 'b'}","bids":[[1.5,${i}]],"asks":[]}\n{"e":"depthUpdate","u":${i + 1}}`,
    );
    sent.push(p);
    w.append(KIND_MESSAGE, 1_795_428_000_000_000 + i * 100, p);
  }
  await w.close();
  const { ZmqTransport } = await import('../../src/transport/zeromq.js');
  const ep = await freeEndpoints();
  const tr = new ZmqTransport(ep);
  t.after(() => tr.close());
  const sub = await tr.subscriber('ingest', ['raw.']);
  const got: Buffer[] = [];
  void (async () => {
    for await (const m of sub) got.push(Buffer.from(m.payload));
  })();
  const r = await runCli([
    'replay',
    '--dir',
    dir,
    '--symbol',
    'BTCUSDT',
    '--raw',
    '--speed',
    'max',
    '--ingest',
    ep.ingest[0],
    '--publish',
    ep.publish[0],
    '--snapshot',
    ep.snapshot[0],
    '--wait-ms',
    '500',
    '--log-level',
    'warn',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /replayed 200 messages/);
  const deadline = Date.now() + 3000;
  while (got.length < 200 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.equal(got.length, 200);
  got.forEach((b, i) => assert.ok(b.equals(sent[i]), `raw message ${i} differs`));
});
