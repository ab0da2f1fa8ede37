/**
 * The recorder's PostgreSQL sink against a real throwaway server (test/pg-helpers.ts): what lands in the
 * tables equals what the recorder wrote to its files; a database that is down at start is a clear error;
 * a database killed mid-run never holds up the file recorder, and the sink says it fell behind and reconnects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { Recorder } from '../../src/recorder/recorder.js';
import { PostgresSink, PostgresSinkError, type PostgresSinkOptions } from '../../src/recorder/postgres.js';
import { readRecords } from '../../src/recorder/reader.js';
import { KIND_MESSAGE } from '../../src/recorder/format.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { configSchema, defaultConfig } from '../../src/config/schema.js';
import { freePort, waitFor } from '../helpers.js';
import { assertTablesEqualFiles, pgSkip, startTestPostgres, type TestPostgres } from '../pg-helpers.js';
import { synthStream, tmpDir } from './helpers.js';

type Hook = { after(fn: () => Promise<void> | void): void };

function captureLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

/** A raw.* payload as a collector publishes it: JSON head, "\n", the venue's text (with awkward bytes). */
function rawPayload(i: number, collector: string, symbol: string): Buffer {
  const head = `{"v":1,"type":"delta","venue":"binance","symbol":"${symbol}","first":${100 + i},"last":${100 + i},"exchTime":${1_795_428_000_000 + i},"recvTime":${1_795_428_000_000_000 + i * 1000},"collector":"${collector}","bids":[[1.5,${i}]],"asks":[]}`;
  const venueText = `{"e":"depthUpdate","u":${100 + i},"note":"tab\\there, back\\\\slash \\n, ünïcødé €, raw tab:\t cr:\r bs:\\"}`;
  return Buffer.from(`${head}\n${venueText}`);
}

async function setup(t: Hook, db: TestPostgres, sinkOpts: Partial<PostgresSinkOptions> = {}) {
  const dir = tmpDir(t);
  const bus = new InprocBus();
  const tr = new InprocTransport(bus);
  const { logger, lines } = captureLogger();
  const sink = new PostgresSink({
    url: db.url,
    flushMs: 20,
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    logger,
    ...sinkOpts,
  });
  await sink.start();
  const rec = new Recorder({ transport: tr, dir, storage: { flushIntervalMs: 10 }, sink, highWaterMark: 0 });
  await rec.start();
  const book = await tr.publisher('book');
  const ingest = await tr.publisher('ingest');
  t.after(async () => {
    await rec.stop();
    await sink.stop(1000);
    await tr.close();
  });
  return { dir, rec, sink, book, ingest, lines };
}

test(
  'PostgreSQL sink round trip: tables equal the recorded files (raw bytes, seqs, levels, gaps)',
  { skip: pgSkip },
  async (t) => {
    const db = await startTestPostgres(t);
    const { dir, rec, sink, book, ingest } = await setup(t, db, { batch: 97 });
    const btc = synthStream(1500, { snapEvery: 250, symbol: 'BTCUSDT', seed: 3 });
    const eth = synthStream(700, { snapEvery: 300, symbol: 'ETHUSDT', seed: 4 });
    const dropped = 600; // one delta the recorder never sees: a gap marker in the files and a row in bookwire_gap
    btc.forEach((m, i) => i !== dropped && book.send('book.binance.BTCUSDT', m.payload));
    eth.forEach((m) => book.send('book.binance.ETHUSDT', m.payload));
    let raws = 0;
    for (let i = 0; i < 400; i++)
      for (const c of ['a', 'b']) {
        ingest.send(`raw.binance.${i % 3 ? 'BTCUSDT' : 'ETHUSDT'}`, rawPayload(i, c, i % 3 ? 'BTCUSDT' : 'ETHUSDT'));
        raws++;
      }
    const total = btc.length - 1 + eth.length + raws;
    await waitFor(() => rec.counters.recorded === total, 10_000, 'every message recorded');
    await rec.flush();
    await sink.flush();
    assert.equal(rec.counters.gaps, 1);
    const s = sink.stats();
    assert.equal(s.dropped, 0);
    assert.equal(s.skipped, 0);
    assert.equal(s.rawRows, raws);
    assert.equal(s.bookRows, total - raws);
    assert.equal(s.gapRows, 1);
    assert.ok(s.batches >= Math.ceil(total / 97), `batched: ${s.batches} transactions`);
    await assertTablesEqualFiles(db, dir, ['BTCUSDT', 'ETHUSDT']);
    const c = await db.client();
    const b = await c.query(
      'SELECT count(*)::int AS n, sum(raw_rows + book_rows + gap_rows)::int AS rows FROM bookwire_batches',
    );
    assert.equal(b.rows[0].rows, total + 1, 'the batch log accounts for every row');
    // a second sink on the same tables: CREATE TABLE IF NOT EXISTS, nothing lost
    const again = new PostgresSink({ url: db.url });
    await again.start();
    await again.stop();
    assert.equal((await c.query('SELECT count(*)::int AS n FROM bookwire_raw')).rows[0].n, raws);
  },
);

test(
  'PostgreSQL sink: a database that is down or wrong at start is a clear one-line error',
  { skip: pgSkip },
  async (t) => {
    const db = await startTestPostgres(t);
    const port = await freePort();
    const down = new PostgresSink({ url: `postgresql://postgres@127.0.0.1:${port}/postgres` });
    await assert.rejects(down.start(), (e: Error) => {
      assert.ok(e instanceof PostgresSinkError);
      assert.match(
        e.message,
        new RegExp(
          `^cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:${port}/postgres: connection refused`,
        ),
      );
      assert.ok(!e.message.includes('\n'));
      return true;
    });
    const nodb = new PostgresSink({ url: db.url.replace(/\/postgres$/, '/nope') });
    await assert.rejects(nodb.start(), /database "nope" does not exist/);
    const norole = new PostgresSink({ url: db.url.replace('postgres@', 'nobody@') });
  await assert.rejects(norole.start(), /^PostgresSinkError: PostgreSQL authentication failed at .*role "nobody" does not exist/);
  assert.throws(() => new PostgresSink({ url: 'mysql://x@127.0.0.1/db' }), /expected postgresql:\/\//);
    assert.throws(() => new PostgresSink({ url: 'not a url' }), /expected postgresql:\/\//);
    assert.throws(() => new PostgresSink({ url: db.url, tablePrefix: 'Robert"); DROP' }), /table prefix/);
    const secret = new PostgresSink({ url: `postgresql://postgres:hunter2@127.0.0.1:${port}/postgres` });
    await assert.rejects(secret.start(), (e: Error) => !e.message.includes('hunter2') && /\*\*\*/.test(e.message));
  },
);

test(
  'PostgreSQL sink: database killed mid-run -- files keep everything, the sink says it is behind, reconnects, marks the hole',
  { skip: pgSkip },
  async (t) => {
    const db = await startTestPostgres(t);
    const { dir, rec, sink, book, lines } = await setup(t, db, { batch: 50, maxQueueBytes: 256 * 1024 });
    const msgs = synthStream(3000, { snapEvery: 100000, seed: 9 }); // one snapshot, then deltas
    let sent = 0;
    const send = (n: number) => {
      for (const end = sent + n; sent < end; sent++) book.send('book.binance.BTCUSDT', msgs[sent].payload);
    };
    send(500);
    await waitFor(() => rec.counters.recorded === 500, 10_000, 'first part recorded');
    await sink.flush();
    assert.equal(sink.counters.bookRows, 500);

    await db.kill();
    // the recorder keeps going at full speed; the sink's queue fills up and it drops new events
    send(1500);
    await waitFor(() => rec.counters.recorded === 2000, 10_000, 'recorded while the database is down');
    await waitFor(() => sink.counters.dropped > 0, 10_000, 'the sink to fall behind');
    assert.ok(sink.counters.behind >= 1);
    await waitFor(() => sink.counters.errors >= 1, 10_000, 'a failed attempt counted');
    assert.equal(sink.isConnected, false);
    assert.ok(
      lines.some((l) => l.includes('postgres sink behind')),
      'said so in the log',
    );

    await db.restart();
    await waitFor(() => sink.queueLength === 0, 20_000, 'the sink to reconnect and drain its queue');
    const droppedWhileDown = sink.counters.dropped;
    for (let k = 0; k < 5; k++) {
      send(200); // within the queue bound: nothing dropped once the database is back
      await waitFor(() => sink.queueLength === 0, 20_000, 'the queue drained');
    }
    assert.equal(sink.counters.dropped, droppedWhileDown);
    await waitFor(() => rec.counters.recorded === 3000, 10_000, 'the rest recorded');
    await rec.flush();
    await sink.flush();
    assert.ok(sink.counters.reconnects >= 1, 'reconnected');
    assert.ok(
      lines.some((l) => /postgres sink behind, dropped \d+/.test(l)),
      'logged how many it dropped',
    );

    // the files have everything
    const fileBook = [...readRecords({ dir, venue: 'binance', symbol: 'BTCUSDT', stream: 'book' })].filter(
      (r) => r.kind === KIND_MESSAGE,
    );
    assert.equal(fileBook.length, 3000);
    assert.equal(rec.counters.gaps, 0);
    // the database has everything but what the sink dropped: no duplicate, and a gap row says how many
    const c = await db.client();
    const rows = await c.query<{ seq: string }>('SELECT seq FROM bookwire_book ORDER BY seq');
    const seqs = rows.rows.map((r) => Number(r.seq));
    assert.equal(new Set(seqs).size, seqs.length, 'no duplicate rows after the reconnect');
    assert.equal(seqs.length, 3000 - sink.counters.dropped);
    const fileSeqs = new Set(fileBook.map((r) => decodeConsolidated(r.bytes).seq));
    assert.ok(seqs.every((s) => fileSeqs.has(s)));
    const g = await c.query(`SELECT sum(dropped)::int AS n FROM bookwire_gap WHERE reason = 'postgres-sink-behind'`);
    assert.equal(g.rows[0].n, sink.counters.dropped, 'the hole is marked with the number dropped');
    // the last 1000 (sent after the restart) are all there
    const tail = msgs.slice(2000).map((m) => decodeConsolidated(m.payload).seq);
    assert.ok(
      tail.every((s) => seqs.includes(s)),
      'everything after the reconnect is in the database',
    );
  },
);

test('config: recorder.postgres is off by default, defaults filled in, a bad URL says what is expected', () => {
  assert.equal(defaultConfig().recorder.postgres, undefined);
  const c = configSchema.parse({ recorder: { postgres: { url: 'postgresql://u@127.0.0.1:5432/db' } } });
  assert.deepEqual(c.recorder.postgres, {
    url: 'postgresql://u@127.0.0.1:5432/db',
    tablePrefix: 'bookwire',
    batch: 5000,
    flushMs: 500,
    maxQueueBytes: 64 * 1024 * 1024,
  });
  const bad = configSchema.safeParse({ recorder: { postgres: { url: 'http://x' } } });
  assert.ok(!bad.success);
  assert.match(bad.error.issues[0].message, /expected a postgres:\/\/ or postgresql:\/\/ URL/);
  assert.deepEqual(bad.error.issues[0].path, ['recorder', 'postgres', 'url']);
  const noUrl = configSchema.safeParse({ recorder: { postgres: { batch: 10 } } });
  assert.ok(!noUrl.success);
});

test(
  'PostgreSQL sink: a batch the server rejects is given up after 3 tries, counted and marked; the sink goes on',
  { skip: pgSkip },
  async (t) => {
    const db = await startTestPostgres(t);
    const { logger, lines } = captureLogger();
    const sink = new PostgresSink({ url: db.url, batch: 1, flushMs: 5, reconnectMinMs: 10, logger });
    await sink.start();
    t.after(() => sink.stop(1000));
    const now = Date.now() * 1000;
    sink.record('raw', 'binance', 'BTCUSDT', 1e20, rawPayload(1, 'a', 'BTCUSDT')); // rec_time out of range: NULL, refused
    sink.record('raw', 'binance', 'BTCUSDT', now, rawPayload(2, 'a', 'BTCUSDT'));
    await sink.flush(20_000);
    assert.equal(sink.counters.dropped, 1);
    assert.equal(sink.counters.rawRows, 1);
    assert.ok(lines.some((l) => l.includes('rejected a batch 3 times')));
    const c = await db.client();
    const g = await c.query(`SELECT dropped FROM bookwire_gap WHERE reason = 'postgres-rejected'`);
    assert.deepEqual(
      g.rows.map((r) => Number(r.dropped)),
      [1],
    );
    const r = await c.query<{ payload: string }>('SELECT payload FROM bookwire_raw');
    assert.ok(Buffer.from(r.rows[0].payload).equals(rawPayload(2, 'a', 'BTCUSDT')));
  },
);

test('PostgreSQL sink: a batch whose COMMIT answer was lost is not sent twice', { skip: pgSkip }, async (t) => {
  const db = await startTestPostgres(t);
  const { logger, lines } = captureLogger();
  const sink = new PostgresSink({ url: db.url, batch: 100, flushMs: 5, reconnectMinMs: 10, logger });
  // The server commits, then the client never hears back: the connection "breaks" right after COMMIT.
  type Q = (...a: unknown[]) => Promise<unknown>;
  const inner = sink as unknown as { connect(): Promise<void>; client: { query: Q } };
  const connect = inner.connect.bind(sink);
  let armed = true;
  inner.connect = async () => {
    await connect();
    const c = inner.client;
    const query = c.query.bind(c);
    // COPY streams (not strings) pass straight through: query() returns the stream itself for them
    c.query = (...a: unknown[]) => {
      if (!armed || a[0] !== 'COMMIT') return query(...a);
      armed = false;
      return query(...a).then(() => {
        throw new Error('connection lost after COMMIT (simulated)');
      });
    };
  };
  await sink.start();
  t.after(() => sink.stop(1000));
  for (let i = 0; i < 250; i++)
    sink.record('raw', 'binance', 'BTCUSDT', Date.now() * 1000 + i, rawPayload(i, 'a', 'BTCUSDT'));
  await sink.flush(20_000);
  assert.equal(armed, false, 'the failure was injected');
  assert.equal(sink.counters.errors, 1);
  assert.ok(lines.some((l) => l.includes('batch was committed before the connection broke')));
  const c = await db.client();
  const r = await c.query('SELECT count(*)::int AS n, count(DISTINCT first_seq)::int AS d FROM bookwire_raw');
  assert.deepEqual(r.rows[0], { n: 250, d: 250 }, 'every row once');
  assert.equal(sink.counters.rawRows, 250);
});

test(
  'PostgreSQL sink: a connection cut in the middle of a COPY -- retried, nothing lost, nothing twice',
  { skip: pgSkip },
  async (t) => {
    const db = await startTestPostgres(t);
    const { logger, lines } = captureLogger();
    // batchTimeoutMs 1: the sink itself cuts the connection while the first COPY is still streaming
    const sink = new PostgresSink({
      url: db.url,
      batch: 5000,
      flushMs: 5,
      reconnectMinMs: 10,
      batchTimeoutMs: 1,
      logger,
    });
    await sink.start();
    t.after(() => sink.stop(1000));
    for (let i = 0; i < 5000; i++)
      sink.record('raw', 'binance', 'BTCUSDT', Date.now() * 1000 + i, rawPayload(i, 'a', 'BTCUSDT'));
    await waitFor(() => sink.counters.errors >= 1, 20_000, 'the batch to be cut off');
    (sink as unknown as { o: { batchTimeoutMs: number } }).o.batchTimeoutMs = 60_000;
    await sink.flush(30_000);
    assert.ok(lines.some((l) => l.includes('batch timed out')));
    assert.ok(sink.counters.reconnects >= 1);
    const c = await db.client();
    const r = await c.query('SELECT count(*)::int AS n, count(DISTINCT first_seq)::int AS d FROM bookwire_raw');
    assert.deepEqual(r.rows[0], { n: 5000, d: 5000 }, 'every row once');
  },
);
