/**
 * `bookwire replay`, `export` and `book-at` on a damaged recording (first segment garbage, a bad block
 * header mid-segment without its index, last segment empty): every readable record is used, and each
 * skipped stretch is printed as one line (file, bytes, times) on stderr, never a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BookReplica } from '../../src/core/replica.js';
import { silentLogger } from '../../src/log.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { DEFAULT_STORAGE, StreamWriter, idxPath, listSegments, segmentBlocks } from '../../src/recorder/segment.js';
import { bookAt } from '../../src/recorder/reader.js';
import { freeEndpoints, runCli } from '../helpers.js';
import { synthStream, tmpDir } from '../recorder/helpers.js';

const iso = (t: number) => new Date(t / 1000).toISOString();
const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at .+:\d+:\d+/);

/** A real recording, damaged three ways; what is still readable, and an undamaged copy. */
async function damaged(t: { after(fn: () => void): void }) {
  const dir = tmpDir(t);
  const msgs = synthStream(6000, { snapEvery: 700 });
  const w = new StreamWriter(
    dir,
    'book',
    'binance',
    'BTCUSDT',
    { ...DEFAULT_STORAGE, blockBytes: 8 * 1024, checkpointEvents: 97, segmentBytes: 40 * 1024 },
    silentLogger,
  );
  for (const m of msgs) w.appendConsolidated(m.time, m.payload);
  await w.close();
  const pristine = tmpDir(t);
  fs.cpSync(dir, pristine, { recursive: true });
  const segs = listSegments(dir, 'binance', 'BTCUSDT', 'book');
  assert.ok(segs.length >= 4);
  // 1. the first segment is garbage (its index no longer matches)
  const end0 = segmentBlocks(segs[0]).blocks.at(-1)!.lastTime;
  fs.writeFileSync(segs[0].path, Buffer.alloc(3000, 0x5a));
  // 2. a bad block header in the middle of the second, whose index is gone (the scan path)
  const blocks = segmentBlocks(segs[1]).blocks;
  const vi = Math.floor(blocks.length / 2);
  const victim = blocks[vi];
  fs.rmSync(idxPath(segs[1].path));
  const fd = fs.openSync(segs[1].path, 'r+');
  fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, victim.offset);
  fs.closeSync(fd);
  // 3. an empty, unsealed last segment (the disk filled up as it was opened)
  const last = msgs[msgs.length - 1].time;
  const empty = path.join(path.dirname(segs[0].path), `${String(last + 1).padStart(16, '0')}.seg`);
  fs.writeFileSync(empty, '');
  const lost = (time: number) => time <= end0 || (time > blocks[vi - 1].lastTime && time <= victim.lastTime);
  return { dir, pristine, msgs, readable: msgs.filter((m) => !lost(m.time)), segs, blocks, vi, victim, empty, lost };
}

test('bookwire replay and export: every readable record, and one line per skipped stretch', async (t) => {
  const d = await damaged(t);
  const lines = [
    `skipped ${d.segs[0].path} bytes 0-3000: bad or torn segment header (records between ${iso(d.segs[0].start)} and ${iso(d.segs[1].start)} unreadable)`,
    `skipped ${d.segs[1].path} bytes ${d.victim.offset}-${d.victim.offset + 40 + d.victim.clen}: bad block header (records between ${iso(d.blocks[d.vi - 1].lastTime)} and ${iso(d.blocks[d.vi + 1].firstTime)} unreadable)`,
    `skipped ${d.empty} bytes 0-0: empty file (0 bytes) (records after ${iso(d.msgs.at(-1)!.time + 1)} unreadable)`,
  ];
  const ep = await freeEndpoints();
  const r = await runCli([
    'replay',
    '--dir',
    d.dir,
    '--symbol',
    'BTCUSDT',
    '--speed',
    'max',
    '--publish',
    ep.publish[0],
    '--snapshot',
    ep.snapshot[0],
    '--wait-ms',
    '0',
    '--log-level',
    'error',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `replayed ${d.readable.length} messages (3 damaged stretches skipped, listed on stderr)\n`);
  assert.deepEqual(r.stderr.trim().split('\n'), lines);

  // export: one row per message the replica applies, from the readable records
  const ref = new BookReplica();
  let rows = 0;
  for (const m of d.readable) {
    const v = ref.onMessage(decodeConsolidated(m.payload));
    if (v === 'applied' || v === 'reset') rows++;
  }
  const out = path.join(d.dir, 'out');
  const e = await runCli(['export', '--dir', d.dir, '--symbols', 'BTCUSDT', '--out', out]);
  assert.equal(e.code, 0, e.stderr);
  assert.match(
    e.stdout,
    new RegExp(`^exported ${rows} book rows to .*\\(3 damaged stretches skipped, listed on stderr\\)\n$`),
  );
  assert.deepEqual(e.stderr.trim().split('\n'), lines);
  noStack(r.stderr + e.stderr);
});

test('bookwire book-at: after the damage the undamaged book; inside it, not in sync and why; in the lost first segment, why there is none', async (t) => {
  const d = await damaged(t);
  const run = (at: number, json = true) =>
    runCli([
      'book-at',
      '--dir',
      d.dir,
      '--symbol',
      'BTCUSDT',
      '--at',
      String(at),
      '--depth',
      '5',
      ...(json ? ['--json'] : []),
    ]);
  type Out = { seq: number; synced: boolean; bids: number[][]; asks: number[][]; skipped: { file: string }[] };

  const after = d.msgs.find((m) => m.time > d.blocks[d.vi + 1].firstTime + 500)!.time;
  const want = bookAt({ dir: d.pristine, venue: 'binance', symbol: 'BTCUSDT', at: after })!;
  const a = await run(after);
  assert.equal(a.code, 0, a.stderr);
  const o = JSON.parse(a.stdout) as Out;
  assert.equal(o.seq, want.seq);
  assert.equal(o.synced, true);
  assert.deepEqual({ bids: o.bids, asks: o.asks }, want.book.top(5));
  assert.deepEqual(o.skipped, []);

  const inside = d.msgs.filter((m) => d.lost(m.time) && m.time > d.segs[1].start).at(-2)!.time;
  const i = await run(inside);
  assert.equal(i.code, 0, i.stderr);
  const oi = JSON.parse(i.stdout) as Out;
  assert.equal(oi.synced, false);
  assert.deepEqual(
    oi.skipped.map((k) => k.file),
    [d.segs[1].path],
  );
  assert.match(i.stderr, new RegExp(`^skipped ${d.segs[1].path} bytes ${d.victim.offset}-`));
  const table = await run(inside, false);
  assert.match(
    table.stdout,
    new RegExp(
      `WARNING: since that snapshot, records between ${iso(d.blocks[d.vi - 1].lastTime)} and ${iso(d.blocks[d.vi + 1].firstTime)} were unreadable \\(${d.segs[1].path}: bad block header\\)`,
    ),
  );

  const none = await run(d.segs[1].start - 1);
  assert.equal(none.code, 2);
  assert.match(none.stderr, new RegExp(`skipped ${d.segs[0].path} bytes 0-3000: bad or torn segment header`));
  assert.match(none.stderr, /no readable recorded snapshot of binance BTCUSDT at or before/);
  noStack(a.stderr + i.stderr + none.stderr);
});
