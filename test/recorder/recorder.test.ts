/** Recorder service on the in-process bus: routing by topic, gap markers, falling behind, one recorder per dir. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { Recorder } from '../../src/recorder/recorder.js';
import { listSegments } from '../../src/recorder/segment.js';
import { replaySync } from '../../src/recorder/replay.js';
import { waitFor } from '../helpers.js';
import { synthStream, tmpDir } from './helpers.js';

async function setup(
  t: { after(fn: () => Promise<void> | void): void },
  dir: string,
  opts: Partial<ConstructorParameters<typeof Recorder>[0]> = {},
) {
  const bus = new InprocBus();
  const tr = new InprocTransport(bus);
  const rec = new Recorder({ transport: tr, dir, storage: { flushIntervalMs: 10 }, ...opts });
  await rec.start();
  const book = await tr.publisher('book');
  const ingest = await tr.publisher('ingest');
  t.after(async () => {
    await rec.stop();
    await tr.close();
  });
  return { rec, book, ingest };
}

test('book.* and raw.* go to their own stream files; a missing delta becomes a gap marker', async (t) => {
  const dir = tmpDir(t);
  const { rec, book, ingest } = await setup(t, dir);
  const msgs = synthStream(300, { snapEvery: 1000 });
  const dropped = 150;
  msgs.forEach((m, i) => i !== dropped && book.send('book.binance.BTCUSDT', m.payload));
  const raw = Buffer.from(
    '{"v":1,"type":"delta","venue":"binance","symbol":"ETHUSDT","first":1,"last":1,"exchTime":1,"recvTime":1,"collector":"a","bids":[],"asks":[]}\n{"e":"depthUpdate"}',
  );
  ingest.send('raw.binance.ETHUSDT', raw);
  await waitFor(() => rec.counters.recorded === 300, 5000, 'every message recorded');
  await rec.flush();
  assert.equal(rec.counters.gaps, 1);
  const items = [...replaySync({ dir, symbol: 'BTCUSDT' })];
  const gaps = items.filter((i) => i.kind === 'gap');
  assert.equal(gaps.length, 1);
  const before = msgs[dropped - 1].payload.toString();
  assert.equal(gaps[0].gap!.fromSeq, Number(/"seq":(\d+)/.exec(before)![1]));
  assert.equal(items.filter((i) => i.kind === 'message').length, 299);
  const r = [...replaySync({ dir, symbol: 'ETHUSDT', book: false, raw: true })];
  assert.equal(r.length, 1);
  assert.ok(r[0].payload.equals(raw), 'raw bytes (with the venue text) kept exactly');
  assert.equal(listSegments(dir, 'binance', 'ETHUSDT', 'book').length, 0);
});

test('a recorder that falls behind the disk says so and pauses instead of growing without bound', async (t) => {
  const dir = tmpDir(t);
  const { rec, book } = await setup(t, dir, {
    maxPendingBytes: 1,
    storage: { flushIntervalMs: 10_000, blockBytes: 1024 * 1024 },
  });
  for (const m of synthStream(50)) book.send('book.binance.BTCUSDT', m.payload);
  await waitFor(() => rec.counters.recorded === 50, 5000, 'every message recorded');
  assert.ok(rec.counters.behind > 0, 'fell behind');
  await rec.flush();
  assert.equal([...replaySync({ dir, symbol: 'BTCUSDT' })].length, 50, 'nothing lost by pausing');
});

test('a second recorder on the same directory is refused', async (t) => {
  const dir = tmpDir(t);
  await setup(t, dir);
  // the lock holds our own pid: pretend it is another live process (pid 1 always exists)
  const fs = await import('node:fs');
  fs.writeFileSync(`${dir}/recorder.lock`, '1');
  const other = new Recorder({ transport: new InprocTransport(new InprocBus()), dir });
  await assert.rejects(other.start(), /another recorder \(pid 1\) is writing to/);
});
