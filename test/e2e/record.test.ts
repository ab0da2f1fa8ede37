/**
 * Round trip over the real pipeline: simulator -> 2 collectors (one faulty) -> arbiter over ZeroMQ, a
 * recorder on its own ingest endpoint and the book channel; then replay. The replayed consolidated book
 * equals the live client's book at every seq, and the replayed raw payloads are byte-identical to what
 * a witness subscriber received.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinanceSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { subscribe } from '../../src/client/subscribe.js';
import { BookReplica } from '../../src/core/replica.js';
import type { BusMessage } from '../../src/transport/types.js';
import { decodeCollectorEvent, isHeartbeat } from '../../src/wire/messages.js';
import { Recorder } from '../../src/recorder/recorder.js';
import { readRecords } from '../../src/recorder/reader.js';
import { replaySync } from '../../src/recorder/replay.js';
import { freePort, sleep, waitFor } from '../helpers.js';
import { zmqBusWithRecorder } from './harness.js';
import { tmpDir } from '../recorder/helpers.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

function collect(sub: AsyncIterable<BusMessage>): BusMessage[] {
  const out: BusMessage[] = [];
  void (async () => {
    for await (const m of sub)
      if (!isHeartbeat(m.payload)) out.push({ topic: m.topic, payload: Buffer.from(m.payload) }); // heartbeats are not recorded
  })();
  return out;
}

/** Assert `got` is a contiguous run of `ref` (same bytes in the same order), allowing a few missing at either end. */
function assertContiguousRun(got: Buffer[], ref: Buffer[], what: string): number {
  assert.ok(got.length > 0, `${what}: nothing recorded`);
  const start = ref.findIndex((b) => b.equals(got[0]));
  assert.ok(start >= 0 && start <= 5, `${what}: first recorded message is #${start} of the witness's`);
  const n = Math.min(got.length, ref.length - start);
  assert.ok(
    ref.length - start - n <= 3 && got.length - n <= 3,
    `${what}: recorded ${got.length}, witness ${ref.length - start}`,
  );
  for (let i = 0; i < n; i++) assert.ok(got[i].equals(ref[start + i]), `${what}: message ${i} differs`);
  return n;
}

test('record a live run, replay it: same book at every seq, raw bytes identical', async (t) => {
  const dir = tmpDir(t);
  const sim = new BinanceSimulator({
    port: 0,
    symbols: SYMBOLS,
    seed: 11,
    eventsPerSec: 150,
    faults: { flaky: { dropRate: 0.05, dupRate: 0.05, disconnectEveryS: 1.5 } },
  });
  await sim.start();
  const { ep, recIngest, transport: mk, close } = await zmqBusWithRecorder();
  const witnessIngest = `tcp://127.0.0.1:${await freePort()}`;
  const arbiter = new ArbiterService({
    transport: mk(ep.ingest),
    symbols: SYMBOLS,
    gapTimeoutMs: 50,
    snapshotIntervalMs: 500,
    snapshotTimeoutMs: 1000,
  });
  await arbiter.start();
  const recorder = new Recorder({
    transport: mk([recIngest]),
    dir,
    storage: { flushIntervalMs: 50, blockBytes: 16 * 1024 },
  });
  await recorder.start();
  const witness = mk([witnessIngest]);
  const rawSeen = collect(await witness.subscriber('ingest', ['raw.']));
  const bookSeen = collect(await witness.subscriber('book', ['book.']));
  // the live client: every seq it reaches, with its top 10
  const live = new Map<number, string>();
  const ac = new AbortController();
  const client = (async () => {
    for await (const u of subscribe({ symbol: 'BTCUSDT', endpoints: ep, signal: ac.signal }))
      live.set(u.seq, JSON.stringify(u.book.top(10)));
  })();
  await sleep(300); // every SUB connected before the first event
  const collectors: Collector[] = [];
  for (const id of ['a', 'b']) {
    const prefix = id === 'b' ? '/p/flaky' : '';
    const c = new Collector({
      id,
      symbols: SYMBOLS,
      wsUrl: sim.wsBase + prefix,
      restUrl: sim.restBase + prefix,
      transport: mk([ep.ingest[0], recIngest, witnessIngest]),
      reconnectMinMs: 50,
      reconnectMaxMs: 300,
    });
    await c.start();
    collectors.push(c);
  }
  t.after(async () => {
    ac.abort();
    for (const c of collectors) await c.stop();
    await recorder.stop();
    await arbiter.stop();
    await close();
    await sim.stop();
  });
  await waitFor(() => live.size >= 400, 15_000, '400 live updates');
  for (const c of collectors) await c.stop();
  await sleep(300);
  await recorder.stop();
  ac.abort();
  await client.catch(() => {});

  assert.equal(recorder.counters.gaps, 0, 'the recorder kept up (no gap markers)');
  for (const symbol of SYMBOLS) {
    const topic = `book.binance.${symbol}`;
    const rec = [...readRecords({ dir, venue: 'binance', symbol, stream: 'book' })].map((r) => r.bytes);
    assertContiguousRun(
      rec,
      bookSeen.filter((m) => m.topic === topic).map((m) => m.payload),
      `${topic}`,
    );
  }

  // replay: the book at every seq the live client saw
  const replica = new BookReplica();
  let compared = 0;
  for (const it of replaySync({ dir, symbol: 'BTCUSDT' })) {
    const v = replica.onMessage(it.message!);
    assert.notEqual(v, 'gap', `gap in the replay at seq ${it.message!.seq}`);
    if ((v === 'applied' || v === 'reset') && live.has(replica.seq)) {
      assert.equal(JSON.stringify(replica.book.top(10)), live.get(replica.seq), `book differs at seq ${replica.seq}`);
      compared++;
    }
  }
  assert.ok(compared >= live.size - 5, `compared ${compared} of ${live.size} live seqs`);

  // raw: per collector and symbol, byte for byte what the witness received
  let rawCompared = 0;
  for (const symbol of SYMBOLS) {
    const rec = [...replaySync({ dir, symbol, book: false, raw: true })];
    assert.ok(rec.every((r) => r.stream === 'raw' && r.topic === `raw.binance.${symbol}`));
    for (const id of ['a', 'b']) {
      const mine = (ms: Buffer[]) => ms.filter((p) => decodeCollectorEvent(p).collector === id);
      rawCompared += assertContiguousRun(
        mine(rec.map((r) => r.payload)),
        mine(rawSeen.filter((m) => m.topic === `raw.binance.${symbol}`).map((m) => m.payload)),
        `raw ${symbol} ${id}`,
      );
    }
  }
  assert.ok(rawCompared > 400, `raw compared ${rawCompared}`);
  // the raw payloads carry the venue's original text
  const one = [...replaySync({ dir, symbol: 'BTCUSDT', book: false, raw: true })].find(
    (r) => decodeCollectorEvent(r.payload).type === 'delta',
  )!;
  assert.match(decodeCollectorEvent(one.payload, true).raw ?? '', /depthUpdate/);
});
