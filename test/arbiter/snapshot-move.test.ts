/**
 * A cold start spends one snapshot per book (issue 13): the first collector up is asked for every book
 * before the second delivers, and its weight runs out. The requests it holds for its next window move to
 * the collector that has weight (SnapshotCancel), so every book is up within the first window, and the
 * simulator's own count shows no book's snapshot was fetched twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../helpers.js';
import { restLimitedMarket } from '../rest-limited-market.js';

const N = 200;
/** Per IP and window: the symbol check and about 110 snapshots of weight 5, so one IP cannot serve all. */
const LIMIT = 600;
const WINDOW_MS = 20_000;
/** Every book must be up well within the window: waiting for the first collector's next window fails this. */
const WITHIN_MS = 10_000;

test(`${N} books, the second collector up late: requests move to it, one snapshot per book`, async (t) => {
  // start at the beginning of a window, so no fresh budget arrives while the test runs
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < WITHIN_MS + 3000) await new Promise((r) => setTimeout(r, left + 50));
  const { arb, sim, collector, synced } = await restLimitedMarket(t, {
    books: N,
    limit: LIMIT,
    windowMs: WINDOW_MS,
    seed: 9,
  });
  const t0 = performance.now();
  const a = await collector('a', '127.0.0.2');
  await waitFor(() => synced() > 0, 10_000, 'the first book from collector a');
  const b = await collector('b', '127.0.0.3');
  await waitFor(() => synced() === N, WITHIN_MS, `all ${N} books synced within the first window`);
  const upMs = performance.now() - t0;

  const st = sim.stats();
  assert.equal(st.rest429 + st.rest418, 0, 'within the limits');
  assert.ok(st.snapshotsServed <= N + 5, `one snapshot per book: ${st.snapshotsServed} for ${N} books`);
  assert.ok(arb.counters.snapshotsMoved > 0, 'requests moved from a');
  assert.ok(a.counters.snapshotsCancelled > 0, 'a dropped the moved requests before spending weight on them');
  assert.ok(b.counters.snapshotsPublished > 0);
  console.log(
    `# ${N} books up in ${Math.round(upMs)} ms; snapshots served ${st.snapshotsServed}; moved ` +
      `${arb.counters.snapshotsMoved}, cancelled in time ${a.counters.snapshotsCancelled}`,
  );
});
