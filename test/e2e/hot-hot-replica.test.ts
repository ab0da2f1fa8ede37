/**
 * Hot-hot arbiters on a venue without a per-book id (Kraken): each arbiter numbers the book its own way
 * and names its numbering (epoch). A client listening to both follows one epoch, ignores the other's
 * messages, and when its arbiter dies takes the other's book: it stays equal to the truth, never holds a
 * state the venue did not have, and never mixes the two numberings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from '../helpers.js';
import { followEpochs, hotHotArbiters } from './hot-hot-rig.js';

test('kraken, hot-hot arbiters with their own numberings: the client follows one, survives losing it, and equals the truth', async (t) => {
  const { sim, arbs, transport, both, bothSynced } = await hotHotArbiters(t, {
    venue: 'kraken',
    simSymbol: 'BTCUSD',
    symbol: 'BTC/USD',
    seed: 9,
    rate: 100,
  });
  await bothSynced();

  const ac = new AbortController();
  t.after(() => ac.abort());
  const { epochs, client, done } = followEpochs(transport(both), { venue: 'kraken', symbol: 'BTC/USD' }, ac.signal);
  await waitFor(() => client.updates > 100, 10_000, '100 updates');
  const followed = epochs.at(-1)!;
  const victim = arbs.find((a) => followed.startsWith(`${a!.id}@`))!;
  await victim.stop(); // the arbiter the client follows dies
  const at = client.updates;
  await waitFor(() => client.updates > at + 100, 15_000, '100 more updates after losing the followed arbiter');
  sim.pause();
  await sleep(300);
  const truth = sim.truth('BTCUSD', 20, 'kraken');
  await waitFor(
    () => JSON.stringify(client.last) === JSON.stringify({ bids: truth.bids, asks: truth.asks }),
    5000,
    'client to reach the truth',
  );
  assert.equal(epochs.length, 2, `followed ${epochs.join(', ')}: one switch`);
  assert.notEqual(epochs[0], epochs[1]);
  ac.abort();
  await done;
});
