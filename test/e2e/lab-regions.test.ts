/**
 * lab/regions.sh as a test: network namespaces and veth links (root only; skipped elsewhere), one region's
 * link to the exchange really cut for 10 s; the client's book must end equal to the truth with no gap.
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
  'lab/regions.sh: a region cut off for 10 s costs the client nothing',
  { skip: !canNetns && 'needs root and ip netns' },
  () => {
    const r = spawnSync('bash', [path.join(projectRoot(), 'lab/regions.sh'), '26'], {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, BW_LAB_PREFIX: `bwt${process.pid % 10000}` },
    });
    assert.equal(r.status, 0, `lab failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /region-2 exchange link DOWN/);
    assert.match(r.stdout, /client gaps 0, .*book EQUALS the truth/);
  },
);
