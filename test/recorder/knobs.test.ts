/** The recorder's tuning knobs: where blocks are compressed, the checkpoint interval, and their config keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { FLAG_CHECKPOINT } from '../../src/recorder/format.js';
import { readRecords, bookAt } from '../../src/recorder/reader.js';
import {
  DEFAULT_STORAGE,
  StreamWriter,
  listSegments,
  segmentBlocks,
  type StorageOptions,
} from '../../src/recorder/segment.js';
import { BookReplica } from '../../src/core/replica.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { synthStream, tmpDir, type SynthMsg } from './helpers.js';

async function write(dir: string, msgs: SynthMsg[], o: Partial<StorageOptions>): Promise<StreamWriter> {
  const w = new StreamWriter(
    dir,
    'book',
    'binance',
    'BTCUSDT',
    { ...DEFAULT_STORAGE, fsync: 'none', ...o },
    silentLogger,
  );
  for (const m of msgs) w.appendConsolidated(m.time, m.payload);
  await w.close();
  return w;
}

const records = (dir: string) =>
  [...readRecords({ dir, venue: 'binance', symbol: 'BTCUSDT', stream: 'book' })].map((r) => [r.time, r.bytes]);

test('compressIn main-thread and thread-pool write the same blocks; every record reads back byte for byte', async (t) => {
  const msgs = synthStream(6000, { snapEvery: 700 });
  for (const codec of ['brotli', 'gzip', 'none'] as const) {
    // small blocks: many seals, so the main thread's reused block buffer is exercised
    const a = path.join(tmpDir(t), 'main');
    const b = path.join(tmpDir(t), 'pool');
    const o = { codec, blockBytes: 4096, checkpointEvents: 500 };
    const wa = await write(a, msgs, { ...o, compressIn: 'main-thread' });
    const wb = await write(b, msgs, { ...o, compressIn: 'thread-pool' });
    assert.ok(wa.counters.blocks > 20, codec);
    assert.equal(wa.counters.bytesOut, wb.counters.bytesOut, codec);
    const ra = records(a);
    assert.deepEqual(ra, records(b), codec);
    assert.deepEqual(
      ra,
      msgs.map((m) => [m.time, m.payload]),
      codec,
    );
  }
});

test('checkpointEvents sets how far apart checkpoints are, and so the most messages book-at applies', async (t) => {
  const msgs = synthStream(5000, { snapEvery: 100_000 }); // one snapshot, at the start
  for (const every of [0, 300, 1000]) {
    const dir = tmpDir(t);
    await write(dir, msgs, { checkpointEvents: every });
    const seg = listSegments(dir, 'binance', 'BTCUSDT', 'book')[0];
    const cks = segmentBlocks(seg).blocks.filter((b) => b.flags & FLAG_CHECKPOINT).length;
    assert.equal(cks, every === 0 ? 0 : Math.floor((msgs.length - 1) / every), `checkpoints every ${every}`);
    const at = msgs[4321].time;
    const ref = new BookReplica();
    for (const m of msgs) if (m.time <= at) ref.onMessage(decodeConsolidated(m.payload));
    const b = bookAt({ dir, venue: 'binance', symbol: 'BTCUSDT', at })!;
    assert.equal(b.seq, ref.seq);
    assert.deepEqual(b.book.snapshot(), ref.book.snapshot());
    assert.ok(b.messagesApplied <= (every === 0 ? 4322 : every + 1), `${b.messagesApplied} applied, every ${every}`);
  }
});

test('config: recorder.checkpointEvents, compressIn and encoding, with a clear message for a bad value', () => {
  const c = validateConfig({ recorder: { checkpointEvents: 10_000, compressIn: 'thread-pool', encoding: 'json' } });
  assert.equal(c.recorder.checkpointEvents, 10_000);
  assert.equal(c.recorder.compressIn, 'thread-pool');
  assert.equal(c.recorder.encoding, 'json');
  const d = validateConfig({});
  assert.equal(d.recorder.checkpointEvents, DEFAULT_STORAGE.checkpointEvents);
  assert.equal(d.recorder.compressIn, DEFAULT_STORAGE.compressIn);
  assert.equal(d.recorder.encoding, DEFAULT_STORAGE.encoding);
  const problems = (input: unknown): string => {
    try {
      validateConfig(input);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.message;
    }
    assert.fail('expected a ConfigError');
  };
  assert.match(
    problems({ recorder: { checkpointEvents: -1 } }),
    /recorder\.checkpointEvents: expected an integer from 0 to 10000000/,
  );
  assert.match(problems({ recorder: { checkpointEvents: 2.5 } }), /recorder\.checkpointEvents: expected an integer/);
  assert.match(
    problems({ recorder: { compressIn: 'gpu' } }),
    /recorder\.compressIn: expected one of main-thread, thread-pool/,
  );
  assert.match(problems({ recorder: { encoding: 'xml' } }), /recorder\.encoding: expected one of binary, json/);
});

test('the checkpoint interval does not change what is recorded, only how fast book-at finds a book', async (t) => {
  const msgs = synthStream(3000, { snapEvery: 400 });
  const a = tmpDir(t);
  const b = tmpDir(t);
  await write(a, msgs, { checkpointEvents: 0 });
  await write(b, msgs, { checkpointEvents: 250 });
  assert.deepEqual(records(a), records(b));
  const bytes = (d: string) =>
    listSegments(d, 'binance', 'BTCUSDT', 'book').reduce((n, s) => n + fs.statSync(s.path).size, 0);
  assert.ok(bytes(b) > bytes(a), 'checkpoints take room');
});
