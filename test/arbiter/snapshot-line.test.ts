/**
 * A whole market larger than one window of both collectors' weight (issue 13): the books wait in each
 * collector's REST line for several windows. Each request's place in the line says when it will go, and the
 * arbiter is told that (not "the next window" for all of them, which held only the first window's worth: the
 * rest were asked of the other collector as well, and the demo with 2,000 books fetched 4,640 snapshots).
 * The simulator's own count shows one snapshot per book.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../helpers.js';
import { restLimitedMarket } from '../rest-limited-market.js';

const N = 240;
/** Per IP and window: the symbol check (20) and 36 snapshots of weight 5: both IPs need 4 windows. */
const LIMIT = 200;
const WINDOW_MS = 3000;

test(`${N} books over 4 windows of both collectors' weight: each book's snapshot fetched once`, async (t) => {
  const { sim, arb, symbols, collector, synced } = await restLimitedMarket(t, {
    books: N,
    limit: LIMIT,
    windowMs: WINDOW_MS,
    seed: 11,
  });
  const collectors = [await collector('a', '127.0.0.2'), await collector('b', '127.0.0.3')];
  const t0 = performance.now();
  await waitFor(() => synced() === N, 8 * WINDOW_MS, `all ${N} books synced`);
  const upMs = performance.now() - t0;
  const st = sim.stats();
  // what each book's core saw, summed: on a failure this says which way the extra snapshots went
  const sum: Record<string, number> = {};
  for (const s of symbols)
    for (const [k, v] of Object.entries(arb.bookOf('binance', s)!.counters)) if (v > 0) sum[k] = (sum[k] ?? 0) + v;
  const why = JSON.stringify({
    core: sum,
    arbiter: arb.counters,
    a: collectors[0].counters,
    b: collectors[1].counters,
  });
  assert.equal(st.rest429 + st.rest418, 0, `within the limits: ${why}`);
  assert.ok(st.snapshotsServed <= N + 5, `one snapshot per book: ${st.snapshotsServed} for ${N} books: ${why}`);
  t.diagnostic(
    `${N} books up in ${Math.round(upMs)} ms; snapshots served ${st.snapshotsServed} ` +
      `(a ${collectors[0].counters.snapshotsPublished}, b ${collectors[1].counters.snapshotsPublished}): ${why}`,
  );
});
