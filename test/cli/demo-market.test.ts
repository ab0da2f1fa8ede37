/**
 * `bookwire demo --symbols <hundreds of books>`: the view follows a whole market on one subscription per
 * venue, and its status line (not a terminal) says how many books are synced out of how many, why the others
 * are not, and the collectors' REST weight against their limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { busFlags, freeEndpoints, freePort, sleep, startCli, waitFor } from '../helpers.js';

const BOOKS = 200;

test(`bookwire demo with ${BOOKS} Binance books: the status line reaches ${BOOKS}/${BOOKS} synced, with REST weight`, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-demo-market-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // one event a second per book, 100-level snapshots (weight 5): the books come up within the venue's budget
  const cfg = path.join(dir, 'market.yaml');
  writeFileSync(cfg, 'sim:\n  eventsPerSec: 1\nvenues:\n  binance:\n    snapshotLimit: 100\n');
  const symbols = Array.from({ length: BOOKS }, (_, i) => `S${i}USDT`).join(',');
  const demo = startCli([
    ...['demo', '--config', cfg, '--symbols', symbols, '--strict', '--no-record'],
    ...['--sim-port', String(await freePort()), ...busFlags(await freeEndpoints()), '--log-dir', dir],
  ]);
  // a failed run still stops the demo by SIGINT, so it stops its children (SIGKILL would leave them running)
  t.after(async () => {
    if (demo.proc.exitCode !== null) return;
    demo.proc.kill('SIGINT');
    if ((await Promise.race([demo.exited, sleep(15_000).then(() => 'late')])) === 'late') demo.proc.kill('SIGKILL');
  });
  const all = new RegExp(`^\\S+Z ${BOOKS} books \\| ${BOOKS}/${BOOKS} synced \\| binance ${BOOKS}/${BOOKS} `, 'm');
  try {
    await waitFor(() => all.test(demo.output()), 28_000, `${BOOKS}/${BOOKS} synced`);
  } catch (e) {
    const arbiter = readFileSync(path.join(dir, 'arbiter.log'), 'utf8').slice(-2000);
    assert.fail(`${(e as Error).message}\n${demo.output().slice(-3000)}\n--- arbiter.log\n${arbiter}`);
  }
  demo.proc.kill('SIGINT');
  const code = await demo.exited;
  const out = demo.output();
  assert.equal(code, 0, out.slice(-3000));
  // not a terminal: status lines, never a redrawn screen
  assert.doesNotMatch(out, /\x1b\[/);
  const lines = out.split('\n').filter((l) => / books \| /.test(l));
  assert.ok(
    lines.every((l) => l.includes(` ${BOOKS} books | `)),
    'every book counted from the start',
  );
  // each collector's REST weight against its limit, from the collectors' statuses
  assert.match(
    lines.find((l) => all.test(l))!,
    /REST weight a \d+\/6000 b \d+\/6000/,
  );
  // before all are synced, a line says why the others are not (or they were all up at the first line)
  const before = lines.filter((l) => !all.test(l));
  for (const l of before) assert.match(l, /unsynced: \d+ [a-z]/, l);
  // one line per run, not per book: a whole market's end summary names no synced book
  assert.match(out, /Truth checks: \d+ OK, 0 DIFF/);
  assert.match(out, new RegExp(`\\d+/${BOOKS} books checked`));
  assert.ok(out.split('\n').length < 40, `${out.split('\n').length} lines`);
});
