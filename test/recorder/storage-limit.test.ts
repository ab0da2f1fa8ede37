/**
 * A real file-size limit (RLIMIT_FSIZE via prlimit): the kernel cuts a write short and then fails it, as a
 * full disk does. The recorder must not crash, must log and count the failure, must leave only readable
 * segments, and every record it says it wrote must read back, in order, once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readRecords } from '../../src/recorder/reader.js';
import { listSegments } from '../../src/recorder/segment.js';
import { synthStream, tmpDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fsize-writer.js', import.meta.url));
const prlimit = (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test(
  'files that cannot grow (EFBIG after a short write, like a full disk): logged, counted, segments stay readable, nothing written is lost or doubled',
  { skip: prlimit ? false : 'prlimit (util-linux) not installed', timeout: 60_000 },
  (t) => {
    const dir = tmpDir(t);
    const n = 6000;
    // 40 kB per file: every segment hits the limit mid-block a few times over the run
    const r = spawnSync('prlimit', ['--fsize=40000', process.execPath, CHILD, dir, String(n)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { writtenRecords: number; writeErrors: number; errors: string[] };
    assert.ok(out.writeErrors >= 2, `the limit was hit (${out.writeErrors} write errors)`);
    assert.ok(
      out.errors.every((m) => m === 'recording write failed; block dropped'),
      out.errors.join('; '),
    );
    const segs = listSegments(dir, 'binance', 'BTCUSDT', 'book');
    assert.ok(segs.length >= 2 && segs.every((s) => s.sealed), 'a new segment after each failure, every one sealed');
    const warnings: string[] = [];
    const got = [
      ...readRecords({ dir, venue: 'binance', symbol: 'BTCUSDT', stream: 'book', onWarning: (m) => warnings.push(m) }),
    ];
    assert.deepEqual(warnings, []);
    assert.equal(got.length, out.writtenRecords, 'every record the writer counted as written reads back');
    assert.ok(got.length < n && got.length > n / 2);
    // in order, each once, byte for byte: a subsequence of what was appended
    const msgs = synthStream(n);
    let j = 0;
    for (const rec of got) {
      while (j < n && msgs[j].time !== rec.time) j++;
      assert.ok(j < n, `record at ${rec.time} is one that was appended, after the previous one`);
      assert.ok(rec.bytes.equals(msgs[j].payload), `record at ${rec.time} differs`);
      j++;
    }
  },
);
