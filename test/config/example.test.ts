import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';

// dist/test/config/ -> repository root
const example = fileURLToPath(new URL('../../../examples/bookwire.example.yaml', import.meta.url));

test('examples/bookwire.example.yaml loads and states the defaults', () => {
  const c = loadConfig(example);
  const d = defaultConfig();
  // The file spells out the defaults; its one addition is the extra `slow` fault profile.
  assert.deepEqual(Object.keys(c.sim.faults).sort(), ['flaky', 'slow']);
  assert.deepEqual(c.sim.faults.slow, {
    ...Object.fromEntries(Object.keys(d.sim.faults.flaky).map((k) => [k, 0])),
    snapshotErrorStatus: 500,
    delayMs: 20,
    jitterMs: 10,
  });
  delete c.sim.faults.slow;
  assert.deepEqual(c, d);
});
