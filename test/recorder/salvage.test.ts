/**
 * Damaged recordings: every readable block is read, every unreadable stretch is reported once (file,
 * bytes, times), and book-at after the damage is the book of the undamaged copy (or says why not).
 * Recordings are real StreamWriter output; damage is done to the files, as a crash or a bad disk would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import fc from 'fast-check';
import {
  BLOCK_HEADER_BYTES,
  FLAG_CHECKPOINT,
  FLAG_SNAPSHOT,
  decodeBlock,
  encodeIndex,
} from '../../src/recorder/format.js';
import {
  DEFAULT_STORAGE,
  StreamWriter,
  idxPath,
  listSegments,
  recoverDir,
  segmentBlocks,
} from '../../src/recorder/segment.js';
import { salvageSegment } from '../../src/recorder/salvage.js';
import { bookAt, readRecords, recordedRange } from '../../src/recorder/reader.js';
import { replaySync } from '../../src/recorder/replay.js';
import { SkipLog } from '../../src/recorder/skips.js';
import { synthStream, tmpDir, type SynthMsg } from './helpers.js';

const SYM = { venue: 'binance', symbol: 'BTCUSDT' } as const;

/** A sealed recording of n messages in several segments, and an undamaged copy of it. */
async function recording(t: { after(fn: () => void): void }, n = 6000) {
  const dir = tmpDir(t);
  const msgs = synthStream(n, { snapEvery: 700 });
  const w = new StreamWriter(
    dir,
    'book',
    SYM.venue,
    SYM.symbol,
    { ...DEFAULT_STORAGE, blockBytes: 8 * 1024, checkpointEvents: 97, segmentBytes: 40 * 1024 },
    silentLogger,
  );
  for (const m of msgs) w.appendConsolidated(m.time, m.payload);
  await w.close();
  assert.equal(w.writtenRecords, n);
  const pristine = tmpDir(t);
  fs.cpSync(dir, pristine, { recursive: true });
  const segs = listSegments(dir, SYM.venue, SYM.symbol, 'book');
  assert.ok(segs.length >= 4, `several segments (${segs.length})`);
  return { dir, pristine, msgs, segs };
}

function read(dir: string) {
  const skips = new SkipLog();
  const recs = [...readRecords({ dir, ...SYM, stream: 'book', onWarning: skips.add })];
  return { recs, skips };
}

/** The records read equal the messages written, except those in the given time range (lost with the damage). */
function assertAllBut(recs: { time: number; bytes: Buffer }[], msgs: SynthMsg[], lost: (t: number) => boolean) {
  const want = msgs.filter((m) => !lost(m.time));
  assert.equal(recs.length, want.length, `records read: ${recs.length}, readable: ${want.length}`);
  recs.forEach((r, i) => {
    assert.equal(r.time, want[i].time);
    assert.ok(r.bytes.equals(want[i].payload), `record ${i} differs`);
  });
}

const flip = (file: string, at: number, bytes: Buffer) => {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, at);
  fs.closeSync(fd);
};

test('first segment with its header overwritten and no index (a crash before sealing): every block in it is still read', async (t) => {
  const { dir, msgs, segs } = await recording(t);
  fs.rmSync(idxPath(segs[0].path));
  flip(segs[0].path, 0, Buffer.from('garbage!garbage!garbage!'));
  const { recs, skips } = read(dir);
  assertAllBut(recs, msgs, () => false);
  assert.deepEqual(skips.lines().length, 1);
  assert.match(skips.lines()[0], new RegExp(`skipped ${segs[0].path} bytes 0-\\d+: bad or torn segment header`));
  assert.deepEqual(recordedRange(dir, SYM.venue, SYM.symbol, 'book'), {
    first: msgs[0].time,
    last: msgs[msgs.length - 1].time,
  });
});

test('first segment truncated to garbage: the other segments are read, the lost stretch is named with its times', async (t) => {
  const { dir, pristine, msgs, segs } = await recording(t);
  const end0 = segmentBlocks(segs[0]).blocks.at(-1)!.lastTime;
  fs.writeFileSync(segs[0].path, Buffer.alloc(3000, 0x5a)); // the index left as it was: it no longer matches
  const { recs, skips } = read(dir);
  assertAllBut(recs, msgs, (time) => time <= end0);
  assert.deepEqual(skips.lines(), [
    `skipped ${segs[0].path} bytes 0-3000: bad or torn segment header (records between ${iso(segs[0].start)} and ${iso(segs[1].start)} unreadable)`,
  ]);
  const range = recordedRange(dir, SYM.venue, SYM.symbol, 'book', skips.add);
  assert.deepEqual(range, { first: segs[1].start, last: msgs[msgs.length - 1].time });
  assert.equal(skips.size, 1, 'the same stretch is listed once');
  // book-at in the lost stretch: no snapshot, and why; after it: the undamaged recording's book
  const inLost = bookAt({ dir, ...SYM, at: segs[1].start - 1 });
  assert.equal(inLost, undefined);
  const after = msgs.find((m) => m.time > segs[1].start + 50_000)!.time;
  assertSameBook(dir, pristine, after);
});

test('last segment empty (0 bytes, unsealed: the disk was full): every record before it is read, the file is named', async (t) => {
  const { dir, msgs, segs } = await recording(t);
  const last = segs[segs.length - 1];
  const empty = path.join(path.dirname(last.path), `${String(msgs[msgs.length - 1].time + 1).padStart(16, '0')}.seg`);
  fs.writeFileSync(empty, '');
  const { recs, skips } = read(dir);
  assertAllBut(recs, msgs, () => false);
  assert.deepEqual(skips.lines(), [
    `skipped ${empty} bytes 0-0: empty file (0 bytes) (records after ${iso(msgs[msgs.length - 1].time + 1)} unreadable)`,
  ]);
  assert.deepEqual(recordedRange(dir, SYM.venue, SYM.symbol, 'book'), {
    first: msgs[0].time,
    last: msgs[msgs.length - 1].time,
  });
  // up to the last record: exact; after the empty file's first time: its block was lost, and book-at says so
  const b = bookAt({ dir, ...SYM, at: msgs[msgs.length - 1].time });
  assert.ok(b && b.synced && b.skipped.length === 0);
  const past = bookAt({ dir, ...SYM, at: msgs[msgs.length - 1].time + 10 });
  assert.ok(past && !past.synced);
  assert.deepEqual(
    past.skipped.map((k) => k.file),
    [empty],
  );
});

for (const [what, damage] of [
  ['a bad block header', (file: string, off: number) => flip(file, off, Buffer.from('XXXX'))],
  [
    'a block header whose length lies',
    (file: string, off: number) => {
      const h = Buffer.alloc(4);
      const fd = fs.openSync(file, 'r');
      fs.readSync(fd, h, 0, 4, off + 8);
      fs.closeSync(fd);
      h.writeUInt32LE(h.readUInt32LE(0) + 777);
      flip(file, off + 8, h);
    },
  ],
] as const)
  test(`${what} in the middle of a segment without its index: the blocks after it are read; book-at after it is exact, inside it says why not`, async (t) => {
    const { dir, pristine, msgs, segs } = await recording(t);
    const seg = segs[1];
    const blocks = segmentBlocks(seg).blocks;
    const vi = Math.floor(blocks.length / 2);
    const victim = blocks[vi];
    assert.ok(vi + 2 < blocks.length);
    fs.rmSync(idxPath(seg.path)); // the scan path, as for a segment a crash left unsealed
    damage(seg.path, victim.offset);
    const { recs, skips } = read(dir);
    // a checkpoint's time is that of the record before it (in the block before)
    const inVictim = (time: number) => time > blocks[vi - 1].lastTime && time <= victim.lastTime;
    assertAllBut(recs, msgs, inVictim);
    const lost = msgs.filter((m) => inVictim(m.time)).length;
    assert.equal(lost, victim.count - (victim.flags & FLAG_CHECKPOINT ? 1 : 0));
    assert.equal(skips.size, 1);
    assert.match(
      skips.lines()[0],
      new RegExp(
        `^skipped ${seg.path} bytes ${victim.offset}-${victim.offset + BLOCK_HEADER_BYTES + victim.clen}: .* \\(records between ${iso(blocks[vi - 1].lastTime)} and ${iso(blocks[vi + 1].firstTime)} unreadable\\)$`,
      ),
    );
    // after the damage, past the next checkpoint: the undamaged copy's book
    const after = msgs.find((m) => m.time > blocks[vi + 1].firstTime + 500)!.time;
    assertSameBook(dir, pristine, after);
    // inside the damaged block: the book as of the last readable record, not in sync, and the stretch named
    const at = msgs.filter((m) => inVictim(m.time)).at(-2)!.time;
    const inside = bookAt({ dir, ...SYM, at });
    assert.ok(inside);
    assert.equal(inside.synced, false);
    assert.equal(inside.skipped.length, 1);
    assert.equal(inside.skipped[0].afterTime, blocks[vi - 1].lastTime);
    assert.equal(inside.lastTime, blocks[vi - 1].lastTime);
    // export/replay path (replaySync): every readable record, once
    const items = [...replaySync({ dir, symbol: SYM.symbol, onWarning: () => {} })];
    assert.equal(items.length, msgs.length - lost);
  });

test('a corrupt snapshot block: book-at starts from an earlier readable one and says what it spans', async (t) => {
  const { dir, pristine, segs } = await recording(t);
  const seg = segs[2];
  const blocks = segmentBlocks(seg).blocks;
  const starts = blocks.map((b, i) => (b.flags & (FLAG_CHECKPOINT | FLAG_SNAPSHOT) ? i : -1)).filter((i) => i >= 0);
  assert.ok(starts.length >= 2);
  const [before, vi] = starts.slice(-2);
  const victim = blocks[vi];
  flip(seg.path, victim.offset + BLOCK_HEADER_BYTES + 5, Buffer.from([1, 2, 3])); // index kept: checked per block
  const at = victim.lastTime - 1;
  assert.ok(at > victim.firstTime);
  const b = bookAt({ dir, ...SYM, at });
  assert.ok(b);
  assert.equal(b.snapshotTime, blocks[before].firstTime, 'started from the readable snapshot or checkpoint before');
  assert.equal(b.synced, false);
  assert.equal(b.skipped.at(-1)!.records, victim.count - (victim.flags & FLAG_CHECKPOINT ? 1 : 0));
  // the first instant of the next segment is exact again
  assertSameBook(dir, pristine, segs[3].start);
});

test(
  'salvage cost is bounded: a file full of forged block headers is given up on quickly, not read n^2 times',
  { timeout: 30_000 },
  (t) => {
    const dir = tmpDir(t);
    const file = path.join(dir, '0000000000000001.seg');
    // 8 MiB of headers that parse (magic, codec, count, sizes), each claiming a payload to near the end of the file
    const size = 8 * 1024 * 1024;
    const buf = Buffer.alloc(size);
    for (let off = 0; off + 40 <= size; off += 40) {
      buf.writeUInt32LE(0x32424742, off);
      buf.writeUInt32LE(Math.max(0, size - off - 64), off + 8);
      buf.writeUInt32LE(100, off + 12);
      buf.writeUInt32LE(1, off + 16);
    }
    fs.writeFileSync(file, buf);
    const t0 = performance.now();
    const s = salvageSegment(file);
    const ms = performance.now() - t0;
    assert.equal(s.blocks.length, 0);
    assert.equal(s.damage.length, 1);
    assert.match(s.damage[0].reason, /salvage stopped/);
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
  },
);

const iso = (t: number) => new Date(t / 1000).toISOString();

function assertSameBook(dir: string, pristine: string, at: number) {
  const got = bookAt({ dir, ...SYM, at });
  const want = bookAt({ dir: pristine, ...SYM, at });
  assert.ok(got && want, `a book at ${at}`);
  assert.equal(got.seq, want.seq);
  assert.equal(got.synced, true);
  assert.deepEqual(got.skipped, []);
  assert.deepEqual(got.book.snapshot(), want.book.snapshot());
}

test('recovery after a crash keeps the good blocks after a corrupt one (only the torn tail is cut); readers name the stretch', async (t) => {
  const dir = tmpDir(t);
  const msgs = synthStream(3000, { snapEvery: 700 });
  const w = new StreamWriter(
    dir,
    'book',
    SYM.venue,
    SYM.symbol,
    { ...DEFAULT_STORAGE, blockBytes: 8 * 1024, checkpointEvents: 97 },
    silentLogger,
  );
  for (const m of msgs) w.appendConsolidated(m.time, m.payload);
  w.seal();
  await w.drain(); // not closed: no index, as after kill -9
  const [seg] = listSegments(dir, SYM.venue, SYM.symbol, 'book');
  assert.equal(seg.sealed, false);
  const blocks = salvageSegment(seg.path).blocks;
  const vi = Math.floor(blocks.length / 2);
  const victim = blocks[vi];
  flip(seg.path, victim.offset + BLOCK_HEADER_BYTES + 7, Buffer.from([0, 0, 0, 0])); // page of zeros, as after power loss
  fs.appendFileSync(seg.path, Buffer.from('BGB2 a torn block')); // and a torn tail
  const warned: Record<string, unknown>[] = [];
  const log = { ...silentLogger, warn: (o: Record<string, unknown>) => warned.push(o), info: () => {} };
  const [r] = recoverDir(dir, log as unknown as typeof silentLogger);
  assert.equal(r.cutBytes, 'BGB2 a torn block'.length);
  assert.equal(r.blocks, blocks.length - 1);
  assert.deepEqual(
    r.holes.map((h) => [h.from, h.to]),
    [[victim.offset, victim.offset + BLOCK_HEADER_BYTES + victim.clen]],
  );
  assert.equal(warned.length, 2, 'the cut and the hole are logged');
  const inVictim = (time: number) => time > blocks[vi - 1].lastTime && time <= victim.lastTime;
  const { recs, skips } = read(dir);
  assertAllBut(recs, msgs, inVictim);
  assert.equal(skips.size, 1);
  assert.match(skips.lines()[0], /: damaged stretch left out of the index \(records between/);
});

test('an index that does not fit its file (a block claiming 4 GiB) is not used: the file is walked instead, every record read', async (t) => {
  const { dir, msgs, segs } = await recording(t);
  const blocks = segmentBlocks(segs[1]).blocks;
  const forged = blocks.map((b, i) => (i === 1 ? { ...b, clen: 2 ** 32 - 1 } : b));
  fs.writeFileSync(idxPath(segs[1].path), encodeIndex(forged)); // a valid index CRC over a lie
  const { recs, skips } = read(dir);
  assertAllBut(recs, msgs, () => false);
  assert.equal(skips.size, 0);
});

test('property: under any overwrites and truncations, what is read was written (in order, once, byte for byte), and every untouched block is read', async (t) => {
  const { dir: base, msgs, segs } = await recording(t);
  const byTime = new Map(msgs.map((m, i) => [m.time, i]));
  // the records of every block of the undamaged recording, by file
  const pristine = segs.map((s) => {
    const buf = fs.readFileSync(s.path);
    return segmentBlocks(s).blocks.map((b) => ({
      from: b.offset,
      to: b.offset + BLOCK_HEADER_BYTES + b.clen,
      times: decodeBlock(buf.subarray(b.offset, b.offset + BLOCK_HEADER_BYTES + b.clen)).map((r) => r.time),
    }));
  });
  const damageArb = fc.record({
    seg: fc.nat(segs.length - 1),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    len: fc.integer({ min: 1, max: 3000 }),
    kind: fc.constantFrom('random', 'zeros', 'truncate'),
    seed: fc.nat(),
  });
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(damageArb, { minLength: 1, maxLength: 4 }), fc.boolean(), async (damages, dropIdx) => {
      const dir = path.join(base, `run-${run++}`);
      const d = path.join(dir, 'binance', 'BTCUSDT', 'book');
      fs.mkdirSync(d, { recursive: true });
      for (const s of segs) {
        fs.copyFileSync(s.path, path.join(d, path.basename(s.path)));
        if (!dropIdx) fs.copyFileSync(idxPath(s.path), idxPath(path.join(d, path.basename(s.path))));
      }
      const hit = segs.map(() => [] as [number, number][]);
      for (const g of damages) {
        const file = path.join(d, path.basename(segs[g.seg].path));
        const size = fs.statSync(file).size;
        const at = Math.floor(g.at * size);
        if (g.kind === 'truncate') {
          fs.truncateSync(file, Math.min(at, size));
          hit[g.seg].push([at, Infinity]);
        } else {
          const bytes =
            g.kind === 'zeros'
              ? Buffer.alloc(g.len)
              : Buffer.from(
                  fc.sample(fc.uint8Array({ minLength: g.len, maxLength: g.len }), { seed: g.seed, numRuns: 1 })[0],
                );
          flip(file, at, bytes.subarray(0, Math.max(0, size - at)));
          hit[g.seg].push([at, at + g.len]);
        }
      }
      const { recs } = read(dir);
      let last = -1;
      for (const r of recs) {
        const i = byTime.get(r.time);
        assert.ok(i !== undefined && i > last, `record at ${r.time}: written, and after the one before`);
        assert.ok(r.bytes.equals(msgs[i].payload));
        last = i;
      }
      const got = new Set(recs.map((r) => r.time));
      pristine.forEach((blocks, si) => {
        for (const b of blocks)
          if (!hit[si].some(([a, z]) => a < b.to && z > b.from))
            for (const time of b.times) assert.ok(got.has(time), `untouched block at ${segs[si].path}:${b.from} read`);
      });
      fs.rmSync(dir, { recursive: true, force: true });
    }),
    { numRuns: 40, seed: 12 },
  );
});
