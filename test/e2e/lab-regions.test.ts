/**
 * lab/regions.sh's fault scenarios as a test, in network namespaces on veth links (root only; skipped
 * elsewhere): (a) a region's link to the exchange really cut for 10 s, (b) 200 ms added to one region,
 * (c) 5 % loss on one region, (d) one of two arbiters cut off from every collector. After each, the client
 * (listening to both arbiters) must hold the simulator's truth, with every event sent delivered, no gap and
 * no duplicate. Faults (b)-(d) last 4 s here (10 s in a full run) to keep the test under a minute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../helpers.js';

const canNetns =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;

test(
  'lab/regions.sh faults: a cut region, a slow region, a lossy region, a partitioned arbiter cost the client nothing',
  { skip: !canNetns && 'needs root and ip netns (network namespaces and veth links)' },
  () => {
    const r = spawnSync('bash', [path.join(projectRoot(), 'lab/regions.sh'), 'faults'], {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, BW_LAB_PREFIX: `bwt${process.pid % 10000}`, BW_LAB_FAULT_S: '4' },
    });
    assert.equal(r.status, 0, `lab failed:\n${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.split('\n').filter((l) => /^\([a-d]\) /.test(l));
    assert.deepEqual(
      lines.map((l) => l.slice(0, 3)),
      ['(a)', '(b)', '(c)', '(d)'],
      r.stdout,
    );
    for (const l of lines) {
      assert.match(l, /book EQUALS the truth/, l);
      const [, sent, delivered] = /events sent (\d+), delivered (\d+)/.exec(l) ?? [];
      assert.ok(Number(sent) > 0 && sent === delivered, l);
      assert.match(l, /duplicates 0;/, l);
      assert.match(l, / 0 gaps,/, l);
    }
    // (d) really partitioned arb-2: it delivered nothing in the fault's second half, arb-1 carried on
    assert.match(
      lines[3],
      /arb-1: \d+ deltas \([1-9]\d* in the fault's 2nd half\).*arb-2: \d+ deltas \(0 in the fault's 2nd half\)/,
    );
  },
);
