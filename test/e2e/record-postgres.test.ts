/**
 * PostgreSQL sink over the real pipeline: simulator -> 2 collectors (one faulty) -> arbiter over ZeroMQ,
 * a recorder with the sink on a throwaway PostgreSQL server; the tables equal the recorded files. And
 * `bookwire record --postgres`: a bad URL or a server that is down is a one-line error with exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import path from 'node:path';
import { Recorder } from '../../src/recorder/recorder.js';
import { PostgresSink } from '../../src/recorder/postgres.js';
import { freeEndpoints, freePort, sleep, waitFor, runCli } from '../helpers.js';
import { assertTablesEqualFiles, pgSkip, startTestPostgres } from '../pg-helpers.js';
import { tmpDir } from '../recorder/helpers.js';
import { startParts, zmqBusWithRecorder } from './harness.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

test(
  'PostgreSQL sink round trip over the live pipeline: tables equal the recorded files',
  { skip: pgSkip },
  async (t) => {
    const db = await startTestPostgres(t);
    const dir = tmpDir(t);
    const { ep, recIngest, transport: mk, close } = await zmqBusWithRecorder();
    const sink = new PostgresSink({ url: db.url, flushMs: 50, batch: 500 });
    await sink.start();
    const recorder = new Recorder({ transport: mk([recIngest]), dir, storage: { flushIntervalMs: 50 }, sink });
    await recorder.start();
    await sleep(200); // the recorder's SUB connected before the first event
    const parts = await startParts({
      symbols: SYMBOLS,
      seed: 21,
      rate: 150,
      faulty: true,
      gapTimeoutMs: 50,
      snapshotTimeoutMs: 1000,
      arbiterTransport: mk(ep.ingest),
      mk: () => mk([ep.ingest[0], recIngest]),
    });
    let stopped = false;
    t.after(async () => {
      if (!stopped) await parts.stop();
      await recorder.stop();
      await sink.stop(1000);
      await close();
    });
    await waitFor(
      () => sink.counters.bookRows >= 400 && sink.counters.rawRows >= 800,
      20_000,
      '400 book and 800 raw rows',
    );
    await parts.stop();
    stopped = true;
    await sleep(200);
    await recorder.stop();
    await sink.flush();
    const s = sink.stats();
    assert.equal(s.dropped, 0, 'the sink kept up');
    assert.equal(s.skipped, 0);
    assert.equal(s.rawRows + s.bookRows, recorder.counters.recorded, 'one row per recorded message');
    await assertTablesEqualFiles(db, dir, SYMBOLS);
    // the documented queries run (docs/recording.md, "PostgreSQL sink")
    const c = await db.client();
    const spread = await c.query(
      `SELECT date_trunc('second', rec_time)                            AS second,
            avg(ask_px - bid_px)                                      AS avg_spread,
            (array_agg(ask_px - bid_px ORDER BY rec_time DESC))[1]    AS last_spread,
            count(*)                                                  AS updates
     FROM bookwire_book
     WHERE venue = 'binance' AND symbol = 'BTCUSDT' AND bid_px IS NOT NULL
     GROUP BY 1 ORDER BY 1`,
    );
    assert.ok(spread.rowCount! >= 1);
    for (const r of spread.rows) assert.ok(r.avg_spread > 0 && r.last_spread > 0, `positive spread at ${r.second}`);
    const one = await c.query(`SELECT last_seq FROM bookwire_raw WHERE symbol = 'BTCUSDT' AND kind = 'delta' LIMIT 1`);
    const venue = await c.query(
      `SELECT collector, recv_time, split_part(payload, E'\\n', 2)::jsonb AS venue_msg
     FROM bookwire_raw WHERE venue = 'binance' AND symbol = 'BTCUSDT' AND last_seq = $1`,
      [one.rows[0].last_seq],
    );
    const vm = venue.rows[0].venue_msg as { e?: string; data?: { e?: string } }; // raw or combined stream
    assert.equal(vm.data?.e ?? vm.e, 'depthUpdate');
    const feeds = await c.query(
      `SELECT date_trunc('minute', rec_time), feed, count(*) FROM bookwire_book WHERE kind = 'delta' GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    assert.ok(feeds.rows.every((r) => r.feed === 'a' || r.feed === 'b'));
  },
);

test(
  'bookwire record --postgres: bad URL or server down -> one line, exit 2; a good URL creates the tables',
  { skip: pgSkip },
  async (t) => {
    const db = await startTestPostgres(t);
    const dir = tmpDir(t);
    const ep = await freeEndpoints();
    const bus = [
      '--publish',
      ep.publish[0],
      '--recorder-ingest',
      `tcp://127.0.0.1:${await freePort()}`,
      '--log-level',
      'warn',
    ];
    const down = `postgresql://postgres@127.0.0.1:${await freePort()}/postgres`;
    for (const [url, msg] of [
      [down, /cannot connect to PostgreSQL at .*connection refused/],
      ['mysql://x@127.0.0.1/db', /postgres.*expected a postgres:\/\/ or postgresql:\/\/ URL/],
      [db.url.replace(/\/postgres$/, '/nope'), /database "nope" does not exist/],
    ] as const) {
      const r = await runCli(['record', '--dir', path.join(dir, 'd'), '--duration', '1', '--postgres', url, ...bus]);
      assert.equal(r.code, 2, `${url}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^bookwire: /);
      assert.match(lines[0], msg);
    }
    const ok = await runCli(['record', '--dir', path.join(dir, 'd'), '--duration', '1', '--postgres', db.url, ...bus]);
    assert.equal(ok.code, 0, ok.stderr);
    const c = await db.client();
    const tables = await c.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'bookwire_%' ORDER BY 1`);
    assert.deepEqual(
      tables.rows.map((r) => r.tablename),
      ['bookwire_batches', 'bookwire_book', 'bookwire_gap', 'bookwire_raw'],
    );
  },
);
