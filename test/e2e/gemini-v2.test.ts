/**
 * Gemini v2 end to end (no sequence, no checksum: replicas compared): the simulator speaking the v2 `l2`
 * feed -> collector a (its stream silently corrupted now and then, and 30 ms late) and collector b (clean)
 * -> arbiter -> client. Without a checksum a corrupted copy can only be caught by the other feeds' copies:
 * coming second, it is never published, and its feed is resynced. Then a is stopped and b carries the
 * book alone. The client never holds a state the venue did not have and ends equal to the truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from '../helpers.js';
import { waitForTruthTop, zmqParts } from './harness.js';
import { followGeminiV2FromStart } from './venue-states.js';

test('gemini-v2: a late corrupted feed is caught by comparison and never published; the client ends equal to the truth', async (t) => {
  const p = await zmqParts(t, {
    venue: 'gemini-v2',
    symbols: ['BTCUSD'],
    seed: 8,
    rate: 100,
    profiles: ['corrupt', undefined],
    faults: { corrupt: { corruptRate: 0.03, delayMs: 30 } },
  });
  const { venue, c, ac, seen } = await followGeminiV2FromStart(t, p);
  const core = p.arbiter.bookOf('gemini-v2', 'BTCUSD')!;
  await waitFor(() => (core.feedStats().get('a')?.disagreements ?? 0) >= 1, 20_000, 'feed a caught');
  await p.collectors[0].stop(); // the corrupted feed goes; b carries the book alone
  await sleep(1500);
  p.sim.pause();
  await sleep(500);
  await waitForTruthTop(c, p.sim, 'gemini-v2', 'BTCUSD', 5000);
  const bad = seen.filter((s) => !venue.states.has(s));
  assert.equal(bad.length, 0, `${bad.length} of ${seen.length} client states the venue never had`);
  assert.ok(p.sim.stats().corrupted > 0);
  assert.equal(c.state.last!.gaps, 0, 'no gap at the client');
  ac.abort();
});
