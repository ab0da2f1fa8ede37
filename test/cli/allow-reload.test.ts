/**
 * SIGHUP makes a running server re-read its CURVE allow directory at once (docs/security.md, "Changing the
 * allow-list of a running server"), and does not stop it (a signal's default would).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { busFlags, freeEndpoints, startCli, waitFor } from '../helpers.js';
import { generateKeyPair, writeKeyPair } from '../../src/transport/keys.js';

test('arbitrate: SIGHUP re-reads the allow directory, and the arbiter keeps running', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-sighup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const allowDir = path.join(dir, 'allowed');
  mkdirSync(allowDir);
  const arb = writeKeyPair(dir, 'arb', await generateKeyPair());
  const newcomer = writeKeyPair(dir, 'newcomer', await generateKeyPair());
  const run = startCli([
    'arbitrate',
    ...busFlags(await freeEndpoints()),
    ...['--curve-key', arb.keyFile, '--curve-allow', allowDir, '--log-level', 'info'],
  ]);
  t.after(() => {
    if (run.proc.exitCode === null) run.proc.kill('SIGKILL');
  });
  await waitFor(() => /arbiter running/.test(run.output()), 20_000, 'the arbiter started');

  // Copied in and signalled at once: the re-read is SIGHUP's, not the directory watch's (200 ms later).
  copyFileSync(newcomer.pubFile, path.join(allowDir, 'newcomer.pub'));
  run.proc.kill('SIGHUP');
  await waitFor(() => /allow-list changed/.test(run.output()), 10_000, 'the allow-list changed');
  const changed = run
    .output()
    .split('\n')
    .filter((l) => /allow-list changed/.test(l))
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    changed.map((c) => ({ why: c.why, added: c.added })),
    [{ why: 'SIGHUP', added: ['newcomer'] }],
  );
  assert.match(run.output(), /SIGHUP: re-reading the CURVE allow-lists/);
  assert.equal(run.proc.exitCode, null, 'SIGHUP stopped the arbiter');
  run.proc.kill('SIGTERM');
  assert.equal(await run.exited, 0);
});
