/** Parquet export read back by DuckDB (real @duckdb/node-api): row counts, values, a spread-per-second query. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { BookReplica } from '../../src/core/replica.js';
import { silentLogger } from '../../src/log.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { KIND_MESSAGE } from '../../src/recorder/format.js';
import { DEFAULT_STORAGE, StreamWriter } from '../../src/recorder/segment.js';
import { ExportError, exportParquet } from '../../src/recorder/export.js';
import { synthStream, tmpDir } from './helpers.js';

test('export to Parquet: DuckDB reads every row back with the book the replica had', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(1200, { stepUs: 5000, snapEvery: 300 }); // 6 s
  const w = new StreamWriter(
    dir,
    'book',
    'binance',
    'BTCUSDT',
    { ...DEFAULT_STORAGE, blockBytes: 16 * 1024 },
    silentLogger,
  );
  for (const m of msgs) w.append(KIND_MESSAGE, m.time, m.payload, m.snapshot);
  await w.close();
  const out = path.join(dir, 'export');
  const r = await exportParquet({ dir, symbols: ['BTCUSDT'], out });

  // expectations from the stream itself
  const ref = new BookReplica();
  let levels = 0;
  let applied = 0;
  for (const m of msgs) {
    const c = decodeConsolidated(m.payload);
    const v = ref.onMessage(c);
    if (v === 'applied' || v === 'reset') applied++;
    if (c.type === 'delta') levels += c.bids.length + c.asks.length;
  }
  assert.equal(r.topRows, applied);
  assert.equal(r.levelRows, levels);

  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  t.after(() => {
    con.closeSync();
    db.closeSync();
  });
  const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJS();
  const [counts] = await rows(
    `SELECT (SELECT count(*) FROM '${r.files.top}') AS top, (SELECT count(*) FROM '${r.files.levels}') AS levels`,
  );
  assert.equal(Number(counts.top), applied);
  assert.equal(Number(counts.levels), levels);
  const [last] = await rows(
    `SELECT seq, bid, bid_size, ask, ask_size, symbol, kind FROM '${r.files.top}' ORDER BY seq DESC LIMIT 1`,
  );
  assert.equal(Number(last.seq), ref.seq);
  assert.deepEqual([last.bid, last.bid_size], ref.book.bestBid());
  assert.deepEqual([last.ask, last.ask_size], ref.book.bestAsk());
  assert.equal(last.symbol, 'BTCUSDT');
  // the README's example: spread and mid per second
  const perSecond = await rows(
    `SELECT date_trunc('second', time) AS s, avg(ask - bid) AS spread, avg((ask + bid) / 2) AS mid, count(*) AS n FROM '${r.files.top}' GROUP BY s ORDER BY s`,
  );
  assert.ok(perSecond.length >= 6 && perSecond.length <= 7, `${perSecond.length} seconds`);
  assert.equal(
    perSecond.reduce((a, x) => a + Number(x.n), 0),
    applied,
  );
  assert.ok(
    perSecond.every((x) => (x.spread as number) > 0 && (x.mid as number) > 49_000 && (x.mid as number) < 51_000),
  );
});

test('an output directory that cannot be created is an ExportError naming it (the CLI exits 2)', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'a-file');
  writeFileSync(file, '');
  await assert.rejects(exportParquet({ dir, symbols: ['BTCUSDT'], out: path.join(file, 'out') }), (e: Error) => {
    assert.ok(e instanceof ExportError, String(e));
    assert.match(e.message, /cannot create the output directory .*a-file\/out: ENOTDIR/);
    return true;
  });
});
