/**
 * Issue 14, ZeroMQ: an arbiter restarted next to a running peer (src/arbiter/peers.ts), on a replica venue's
 * book (Kraken). What it does (documented in docs/wire-format.md "Epochs"): the peer is not asked -- the
 * replica merge rebuilds each feed from its own websocket snapshot, which costs no REST either, and the
 * peer's numbering is the peer's -- so the restarted arbiter starts a new epoch of its own. A client follows
 * one epoch: the restart of the arbiter it does not follow never reaches it (no snapshot, no gap); the
 * death of the one it follows costs it one switch to the peer's epoch (one snapshot), never a gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from '../helpers.js';
import { followEpochs, hotHotArbiters } from './hot-hot-rig.js';

test('kraken: an arbiter restarted next to a running peer starts its own epoch; a client sees a switch only when its own arbiter goes', async (t) => {
  // each arbiter names the other as its peer
  const { sim, arbs, transport, both, bothSynced, synced, startArbiter, stopArbiter } = await hotHotArbiters(t, {
    venue: 'kraken',
    simSymbol: 'BTCUSD',
    symbol: 'BTC/USD',
    seed: 11,
    rate: 100,
    peers: true,
    arbiter: { snapshotTimeoutMs: 1000 },
  });
  await bothSynced();

  const ac = new AbortController();
  t.after(() => ac.abort());
  const { epochs, client, done } = followEpochs(transport(both), { venue: 'kraken', symbol: 'BTC/USD' }, ac.signal);
  await waitFor(() => client.updates > 50, 10_000, '50 updates');
  const index = (epoch: string) => arbs.findIndex((a) => a !== undefined && epoch.startsWith(`${a.id}@`));
  const restart = async (i: number) => {
    const before = arbs[i]!.bookOf('kraken', 'BTC/USD')!.streamEpoch;
    await stopArbiter(i);
    await sleep(500);
    const a = await startArbiter(i);
    await waitFor(() => synced(a), 10_000, `arb-${i + 1} synced again`);
    assert.notEqual(a.bookOf('kraken', 'BTC/USD')!.streamEpoch, before, 'a restart is a new epoch');
    assert.equal(a.counters.peerSnapshots + a.counters.peerFailures, 0, 'a replica book never asks a peer');
  };

  // the arbiter the client does not follow restarts: nothing reaches the client
  const followed = index(epochs[0]);
  await restart(1 - followed);
  let at = client.updates;
  await waitFor(() => client.updates > at + 50, 10_000, '50 updates after the other arbiter restarted');
  assert.deepEqual(epochs.length, 1, `the client stayed on its epoch (${epochs.join(', ')})`);

  // the one it follows restarts: the client moves to another epoch once (a snapshot), never a gap
  await restart(followed);
  at = client.updates;
  await waitFor(() => client.updates > at + 50, 10_000, '50 updates after its arbiter restarted');
  assert.equal(epochs.length, 2, `one switch: ${epochs.join(', ')}`);
  t.diagnostic(`epochs followed: ${epochs.join(' then ')}`);
  assert.equal(client.gaps, 0);

  sim.pause();
  await sleep(300);
  const truth = sim.truth('BTCUSD', 20, 'kraken');
  const want = JSON.stringify({ bids: truth.bids, asks: truth.asks });
  await waitFor(() => JSON.stringify(client.last) === want, 5000, 'the client to reach the truth');
  for (const a of arbs) assert.equal(JSON.stringify(a!.bookOf('kraken', 'BTC/USD')!.book.top(20)), want, a!.id);
  ac.abort();
  await done;
});
