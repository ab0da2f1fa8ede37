/** Segment files: round trip, rotation + index-guided range reads, torn tails, corrupt blocks, bad dirs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { BookReplica } from '../../src/core/replica.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { KIND_MESSAGE, decodeBlock, frameRecord, blockBytes, compressSync } from '../../src/recorder/format.js';
import {
  DEFAULT_STORAGE,
  StreamWriter,
  listSegments,
  recoverDir,
  scanSegment,
  segmentBlocks,
  type StorageOptions,
} from '../../src/recorder/segment.js';
import { readRecords, bookAt } from '../../src/recorder/reader.js';
import { replay, replaySync } from '../../src/recorder/replay.js';
import { checkRecordingDir, peekConsolidated, RecorderError } from '../../src/recorder/recorder.js';
import { synthStream, tmpDir, type SynthMsg } from './helpers.js';

// checkpoints far more often than the default, so every test crosses them
const opts = (o: Partial<StorageOptions> = {}): StorageOptions => ({
  ...DEFAULT_STORAGE,
  blockBytes: 8 * 1024,
  checkpointEvents: 97,
  ...o,
});

async function write(
  dir: string,
  msgs: SynthMsg[],
  o: Partial<StorageOptions> = {},
  close = true,
): Promise<StreamWriter> {
  const w = new StreamWriter(dir, 'book', 'binance', 'BTCUSDT', opts(o), silentLogger);
  for (const m of msgs) w.appendConsolidated(m.time, m.payload); // binary records, as the recorder writes them
  if (close) await w.close();
  else {
    w.seal();
    await w.drain();
  }
  return w;
}

const read = (dir: string, from?: number, to?: number, onWarning?: (m: string) => void) => [
  ...readRecords({ dir, venue: 'binance', symbol: 'BTCUSDT', stream: 'book', from, to, onWarning }),
];

for (const [codec, encoding] of [
  ['brotli', 'binary'],
  ['gzip', 'binary'],
  ['none', 'binary'],
  ['brotli', 'json'],
] as const) {
  test(`${codec}, ${encoding} records: every record comes back byte for byte with its time, and the segment is sealed with an index`, async (t) => {
    const dir = tmpDir(t);
    const msgs = synthStream(3000);
    const w = await write(dir, msgs, { codec, encoding });
    assert.equal(w.writtenRecords, 3000);
    const segs = listSegments(dir, 'binance', 'BTCUSDT', 'book');
    assert.equal(segs.length, 1);
    assert.ok(segs[0].sealed, 'index written on close');
    const back = read(dir);
    assert.equal(back.length, msgs.length);
    back.forEach((r, i) => {
      assert.equal(r.time, msgs[i].time);
      assert.ok(r.bytes.equals(msgs[i].payload), `record ${i} differs`);
    });
    if (codec !== 'none')
      assert.ok(
        w.counters.bytesOut < w.counters.bytesIn / 3,
        `compressed ${w.counters.bytesOut} of ${w.counters.bytesIn}`,
      );
  });
}

test('rotation by size; a time range reads exactly the records in it; snapshots start blocks', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(6000);
  await write(dir, msgs, { segmentBytes: 16 * 1024 });
  const segs = listSegments(dir, 'binance', 'BTCUSDT', 'book');
  assert.ok(segs.length >= 3, `expected several segments, got ${segs.length}`);
  assert.ok(segs.every((s) => s.sealed));
  for (const s of segs)
    for (const b of segmentBlocks(s).blocks) {
      // a block flagged as snapshot really starts with one
      const recs = decodeBlock(fs.readFileSync(s.path).subarray(b.offset, b.offset + 40 + b.clen));
      assert.equal((b.flags & 1) === 1, decodeConsolidated(recs[0].bytes).type === 'snapshot');
    }
  const from = msgs[2500].time;
  const to = msgs[4100].time;
  const r = read(dir, from, to);
  assert.equal(r.length, 4100 - 2500 + 1);
  assert.ok(r[0].bytes.equals(msgs[2500].payload));
  assert.ok(r[r.length - 1].bytes.equals(msgs[4100].payload));
});

test('book-at: nearest snapshot + deltas equals the book built from the whole stream', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(5000, { snapEvery: 700 });
  await write(dir, msgs, { segmentBytes: 100 * 1024 });
  const ref = new BookReplica();
  const atIdx = [0, 1, 699, 700, 701, 2345, 4999];
  let j = 0;
  for (let i = 0; i < msgs.length && j < atIdx.length; i++) {
    ref.onMessage(decodeConsolidated(msgs[i].payload));
    if (i === atIdx[j]) {
      const b = bookAt({ dir, venue: 'binance', symbol: 'BTCUSDT', at: msgs[i].time });
      assert.ok(b, `book at #${i}`);
      assert.equal(b.seq, ref.seq, `seq at #${i}`);
      assert.deepEqual(b.book.snapshot(), ref.book.snapshot(), `book at #${i}`);
      j++;
    }
  }
  assert.equal(
    bookAt({ dir, venue: 'binance', symbol: 'BTCUSDT', at: msgs[0].time - 1 }),
    undefined,
    'nothing before the first snapshot',
  );
});

test('replay from an instant starts with the rebuilt book, then the recorded messages from there', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(1500, { snapEvery: 400 });
  await write(dir, msgs);
  const items = [...replaySync({ dir, symbol: 'BTCUSDT', from: msgs[950].time })];
  assert.ok(items[0].synthetic);
  const ref = new BookReplica();
  for (let i = 0; i < 950; i++) ref.onMessage(decodeConsolidated(msgs[i].payload));
  assert.equal(items[0].message!.seq, ref.seq);
  assert.deepEqual(items[0].message!.bids, ref.book.snapshot().bids);
  assert.equal(items.length, 1 + 1500 - 950);
  assert.ok(items[1].payload.equals(msgs[950].payload));
  // chaining: the replica applies every delta after the synthetic snapshot without a gap
  const r = new BookReplica();
  for (const it of items) assert.notEqual(r.onMessage(it.message!), 'gap');
});

test('replay at recorded speed and N x takes the recorded time', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(41, { stepUs: 10_000 }); // 400 ms of recording
  await write(dir, msgs);
  for (const [speed, ms] of [
    ['recorded', 400],
    [4, 100],
  ] as const) {
    const t0 = performance.now();
    let n = 0;
    for await (const _ of replay({ dir, symbol: 'BTCUSDT', speed })) n++;
    const took = performance.now() - t0;
    assert.equal(n, 41);
    assert.ok(took >= ms * 0.9 && took < ms + 400, `speed ${speed}: ${took.toFixed(0)} ms, expected ~${ms}`);
  }
});

test('a torn tail (crash mid-write) is cut on recovery; everything before it survives and verifies', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(2000);
  const w = await write(dir, msgs, {}, false); // not closed: no index, as after kill -9
  const written = w.writtenRecords;
  const [seg] = listSegments(dir, 'binance', 'BTCUSDT', 'book');
  assert.equal(seg.sealed, false);
  // the start of a block that never finished: a valid header promising more bytes than exist
  const body = Buffer.concat(frameRecord(KIND_MESSAGE, 1, Buffer.from('{"x":1}')));
  const blk = blockBytes('brotli', 0, compressSync(body, { codec: 'brotli', level: 1 }), body.length, 1, 1, 1);
  const before = fs.statSync(seg.path).size;
  fs.appendFileSync(seg.path, blk.subarray(0, blk.length - 3));
  const warnings: unknown[] = [];
  const log = {
    ...silentLogger,
    warn: (o: unknown) => warnings.push(o),
    info: () => {},
  } as unknown as typeof silentLogger;
  const [r] = recoverDir(dir, log);
  assert.equal(r.cutBytes, blk.length - 3);
  assert.equal(fs.statSync(seg.path).size, before);
  assert.equal(warnings.length, 1, 'the cut is logged');
  assert.equal(r.records, written);
  const scan = scanSegment(seg.path, true);
  assert.equal(scan.problem, undefined, 'every remaining block verifies');
  assert.equal(read(dir).length, written);
  assert.ok(listSegments(dir, 'binance', 'BTCUSDT', 'book')[0].sealed);
  // recording continues in a new segment
  await write(dir, synthStream(10, { t0: msgs[msgs.length - 1].time + 1000 }));
  assert.equal(listSegments(dir, 'binance', 'BTCUSDT', 'book').length, 2);
  assert.equal(read(dir).length, written + 10);
});

test('a corrupt block in the middle is skipped with a warning; the rest is read', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(3000);
  await write(dir, msgs);
  const [seg] = listSegments(dir, 'binance', 'BTCUSDT', 'book');
  const blocks = segmentBlocks(seg).blocks;
  const victim = blocks[2];
  const fd = fs.openSync(seg.path, 'r+');
  fs.writeSync(fd, Buffer.from([0xff, 0x00, 0xaa]), 0, 3, victim.offset + 60);
  fs.closeSync(fd);
  const warnings: string[] = [];
  const r = read(dir, undefined, undefined, (m) => warnings.push(m));
  assert.deepEqual(warnings, ['corrupt block skipped']);
  assert.equal(r.length, 3000 - victim.count + (victim.flags & 2 ? 1 : 0)); // a checkpoint is not a recorded message
  // book-at across the damage still answers (the replica resyncs at the next snapshot)
  const b = bookAt({ dir, venue: 'binance', symbol: 'BTCUSDT', at: msgs[2999].time });
  assert.ok(b && b.synced);
});

test('an unwritable recording directory is a clear error; a failing write is logged and recording goes on', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  assert.throws(
    () => checkRecordingDir(path.join(file, 'data')),
    (e: Error) => e instanceof RecorderError && /cannot write to the recording directory .*a-file/.test(e.message),
  );
  // the stream directory turns into a file: writes fail, are counted, nothing throws; once fixed, recording resumes
  const errors: string[] = [];
  const log = {
    ...silentLogger,
    error: (_o: unknown, m: string) => errors.push(m),
    debug: () => {},
  } as unknown as typeof silentLogger;
  const w = new StreamWriter(dir, 'book', 'binance', 'BTCUSDT', opts(), log);
  fs.mkdirSync(path.join(dir, 'binance'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'binance', 'BTCUSDT'), 'in the way');
  const msgs = synthStream(100);
  for (const m of msgs.slice(0, 50)) w.append(KIND_MESSAGE, m.time, m.payload, m.snapshot);
  w.seal();
  await w.drain();
  assert.ok(w.counters.writeErrors >= 1);
  assert.equal(w.writtenRecords, 0);
  assert.match(errors[0], /write failed/);
  fs.rmSync(path.join(dir, 'binance', 'BTCUSDT'));
  for (const m of msgs.slice(50)) w.append(KIND_MESSAGE, m.time, m.payload, m.snapshot);
  await w.close();
  assert.equal(read(dir).length, 50);
});

test('peekConsolidated reads type/seq/prev/first without parsing levels, and falls back to JSON for other key orders', () => {
  const d = synthStream(2)[1].payload;
  const m = decodeConsolidated(d);
  assert.deepEqual(peekConsolidated(d), {
    type: 'delta',
    seq: m.seq,
    prev: (m as { prev: number }).prev,
    first: (m as { first: number }).first,
  });
  const other = Buffer.from(
    JSON.stringify({
      v: 1,
      symbol: 'X',
      venue: 'binance',
      type: 'delta',
      prev: 5,
      seq: 9,
      first: 6,
      bids: [],
      asks: [],
    }),
  );
  assert.deepEqual(peekConsolidated(other), { type: 'delta', seq: 9, prev: 5, first: 6 });
  assert.equal(peekConsolidated(Buffer.from('garbage')), undefined);
});

test('segments with the same start time list in creation order', (t) => {
  const dir = tmpDir(t);
  const d = path.join(dir, 'binance', 'BTCUSDT', 'book');
  fs.mkdirSync(d, { recursive: true });
  for (const n of [
    '0000000000000200-1.seg',
    '0000000000000100.seg',
    '0000000000000200.seg',
    '0000000000000200-10.seg',
    '0000000000000200-2.seg',
  ])
    fs.writeFileSync(path.join(d, n), '');
  assert.deepEqual(
    listSegments(dir, 'binance', 'BTCUSDT', 'book').map((s) => path.basename(s.path)),
    [
      '0000000000000100.seg',
      '0000000000000200.seg',
      '0000000000000200-1.seg',
      '0000000000000200-2.seg',
      '0000000000000200-10.seg',
    ],
  );
});
