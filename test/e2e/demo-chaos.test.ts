/**
 * No single point of failure, shown: `bookwire demo --arbiters 2 --chaos N` runs hot-hot arbiters and
 * SIGKILLs one part every N seconds (arbiters, the recorder, collectors in turn), restarting each. The view's
 * book stays equal to the simulator's truth throughout (--strict), and the recording has no gap marker:
 * an arbiter's death costs the recorder nothing, since the other arbiter's stream goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRecords } from '../../src/recorder/reader.js';
import { KIND_GAP } from '../../src/recorder/format.js';
import { busFlags, freeEndpoints, freePort, runCli } from '../helpers.js';

/**
 * `bookwire demo --arbiters 2 --chaos 2.5 --duration 24 --strict` (and `flags`) on loopback ports of its own,
 * recording into a temporary folder removed after the test: its run, and the recording's folder.
 */
async function chaosDemo(t: { after(fn: () => void): void }, flags: string[]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-demo-chaos-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  const r = await runCli(
    [
      'demo',
      ...flags,
      '--arbiters',
      '2',
      '--chaos',
      '2.5',
      '--duration',
      '24',
      '--strict',
      '--record-dir',
      data,
      '--recorder-ingest',
      `tcp://127.0.0.1:${await freePort()}`,
      '--sim-port',
      String(await freePort()),
      ...busFlags(await freeEndpoints()),
      '--log-dir',
      path.join(dir, 'logs'),
    ],
    60_000,
  );
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  return { r, data };
}

test('demo --arbiters 2 --chaos 2.5 --strict: parts killed and restarted, truth OK throughout, no gap in the recording', async (t) => {
  const { r, data } = await chaosDemo(t, []);
  const killed = /chaos: (\d+) parts killed and restarted/.exec(r.stdout);
  assert.ok(killed && Number(killed[1]) >= 3, `too few kills: ${r.stdout.slice(-500)}`);
  // arbiter-1, arbiter-2 and the recorder come first in the round
  for (const part of ['arbiter-1', 'arbiter-2', 'recorder'])
    assert.match(r.stdout, new RegExp(`killed ${part}`), `${part} was never killed`);
  const m = /Truth checks: (\d+) OK, (\d+) DIFF/.exec(r.stdout);
  assert.ok(m && Number(m[1]) >= 5 && m[2] === '0', m?.[0]);

  const records = [...readRecords({ dir: data, venue: 'binance', symbol: 'BTCUSDT', stream: 'book' })];
  assert.ok(records.length > 20, `only ${records.length} records`);
  const gaps = records.filter((x) => x.kind === KIND_GAP).length;
  assert.equal(gaps, 0, 'gap markers in the recording');
});

test('kraken (replica venue, an epoch per arbiter): demo --arbiters 2 --chaos 2.5 --strict -- kills cost no truth check and no gap in the recording', async (t) => {
  const { r, data } = await chaosDemo(t, ['--venues', 'kraken']);
  for (const part of ['arbiter-1', 'arbiter-2'])
    assert.match(r.stdout, new RegExp(`killed ${part}`), `${part} was never killed`);
  const m = /Truth checks: (\d+) OK, (\d+) DIFF/.exec(r.stdout);
  assert.ok(m && Number(m[1]) >= 5 && m[2] === '0', m?.[0]);
  const records = [...readRecords({ dir: data, venue: 'kraken', symbol: 'BTC/USDT', stream: 'book' })];
  assert.ok(records.length > 20, `only ${records.length} records`);
  assert.equal(records.filter((x) => x.kind === KIND_GAP).length, 0, 'gap markers in the recording');
});
