/** The arbiter's arrival log (a benchmark probe of the arbiter): per collector, in arrival order, bounded. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArrivalLog } from '../../src/bench-hooks/arrivals.js';

test('arrival log: copies per collector in arrival order, exact sequence numbers, nothing past its capacity', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-arrivals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'a.json');
  const log = new ArrivalLog(file, 4);
  log.onDelta('a', 10643055061, 1_795_428_000_000_001);
  log.onDelta('b', 10643055061, 1_795_428_000_000_050);
  log.onDelta('a', 10643055062, 1_795_428_000_000_100);
  log.onDelta('b', 10643055062, 1_795_428_000_000_090);
  log.onDelta('a', 10643055063, 1_795_428_000_000_200); // past the capacity: dropped
  log.onStop();
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
    a: [10643055061, 1_795_428_000_000_001, 10643055062, 1_795_428_000_000_100],
    b: [10643055061, 1_795_428_000_000_050, 10643055062, 1_795_428_000_000_090],
  });
});
