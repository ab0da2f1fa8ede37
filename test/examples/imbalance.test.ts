/**
 * The example strategy makes identical decisions live and on a replay of the same data: live it follows
 * the consolidated stream through the client SDK while a recorder writes the same stream to disk; then it
 * runs again on `replay()` of that recording. From the same seq on, with exact books at every seq, the two
 * decision lists must be equal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImbalanceStrategy, runOnReplay } from '../../examples/imbalance.js';
import { subscribe } from '../../src/client/subscribe.js';
import { Recorder } from '../../src/recorder/index.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { follow, pipeline } from '../e2e/harness.js';
import { sleep, waitFor } from '../helpers.js';

test('imbalance strategy: same decisions on the live stream and on its replay', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-strategy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = await pipeline(t, { faulty: true, rate: 200 });
  const recT = new ZmqTransport({ publish: p.ep.publish, ingest: [`tcp://127.0.0.1:*`] });
  const rec = new Recorder({ transport: recT, dir, raw: false });
  await rec.start();
  const ac = new AbortController();
  const live = new ImbalanceStrategy({ threshold: 0.3 });
  let startSeq = -1;
  let updates = 0;
  const c = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }), (u) => {
    if (++updates === 50) startSeq = u.seq; // start deciding once the recorder surely has the stream
    if (startSeq >= 0) live.onBook(u.seq, u.book);
  });
  await waitFor(() => updates > 600, 15_000, '600 live updates');
  p.sim.pause();
  await sleep(500);
  ac.abort();
  await c.done;
  const last = c.state.last!.seq; // after the live run has stopped: the last book it decided on
  await rec.stop();
  await recT.close();

  const replayed = new ImbalanceStrategy({ threshold: 0.3 });
  const onBook = replayed.onBook.bind(replayed);
  replayed.onBook = (seq, book) => (seq >= startSeq && seq <= last ? onBook(seq, book) : undefined);
  await runOnReplay(replayed, { dir, symbol: 'BTCUSDT' });
  assert.ok(live.decisions.length > 5, `too few decisions to compare: ${live.decisions.length}`);
  assert.deepEqual(replayed.decisions, live.decisions);
  assert.equal(replayed.pnl, live.pnl);
});
