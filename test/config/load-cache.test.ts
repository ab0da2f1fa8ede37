/** loadConfig parses a file once however often a command loads it, and still sees an edited file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';

test('the same file loaded again: same config, overrides apply each time; an edit is seen', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bookwire-config-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'c.yaml');
  writeFileSync(p, 'symbols: [BTCUSDT]\narbiter:\n  gapTimeoutMs: 70\n');
  const a = loadConfig(p);
  const b = loadConfig(p, { arbiter: { gapTimeoutMs: 5 } });
  const c = loadConfig(p);
  assert.equal(a.arbiter.gapTimeoutMs, 70);
  assert.equal(b.arbiter.gapTimeoutMs, 5);
  assert.deepEqual(c, a, 'an override of one load leaves the next untouched');
  writeFileSync(p, 'symbols: [ETHUSDT]\narbiter:\n  gapTimeoutMs: abc\n');
  assert.throws(() => loadConfig(p), /c\.yaml: arbiter\.gapTimeoutMs: .*\(line 3\)/);
  writeFileSync(p, 'symbols: [ETHUSDT]\n');
  assert.deepEqual(loadConfig(p).symbols, ['ETHUSDT']);
});
