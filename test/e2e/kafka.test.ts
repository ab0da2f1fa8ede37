/**
 * The whole pipeline on Kafka (the 3-broker test cluster, real sockets), in one process:
 * simulator -> 2 collectors (b through the `flaky` fault profile) -> arbiter -> client SDK.
 * Modelled on pipeline.test.ts; skips without the test broker (see test/kafka-helpers.ts).
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from '../../src/client/subscribe.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { freePort, sleep, waitFor, startCli } from '../helpers.js';
import { kafkaSkip, startTestBroker } from '../kafka-helpers.js';
import { track } from './harness.js';
import { kafkaParts } from './kafka-rig.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

async function kafkaPipeline(t: TestContext) {
  const parts = await kafkaParts(t, {
    symbols: SYMBOLS,
    seed: 11,
    rate: 50,
    faulty: true,
    logger: process.env.DBG ? createLogger('k', 'debug') : silentLogger,
  });
  return { broker: parts.broker, sim: parts.sim, arbiter: parts.arbiter, mk: parts.transport };
}

test(
  'on Kafka: client books equal the simulator truth after faults, gap-free, for an early client and a late joiner',
  { skip: kafkaSkip, timeout: 60_000 },
  async (t) => {
    const p = await kafkaPipeline(t);
    const ac = new AbortController();
    p.broker.beforeStop(() => ac.abort());
    const early = track(subscribe({ symbol: 'BTCUSDT', transport: p.mk(), signal: ac.signal }));
    await sleep(3000);
    const late = track(subscribe({ symbol: 'BTCUSDT', transport: p.mk(), signal: ac.signal }));
    // Bad records on the ingest topic (undecodable, and one of 2 MB): logged, counted, skipped.
    const junk = await p.mk().publisher('ingest');
    junk.send('raw.binance.BTCUSDT', 'not json');
    junk.send('raw.binance.BTCUSDT', Buffer.alloc(2_000_000, 0x7b));
    await junk.flush();
    await sleep(3000);
    p.sim.pause();
    const truth = p.sim.truth('BTCUSDT', 20);
    await waitFor(
      () => early.s.last?.seq === truth.lastUpdateId && late.s.last?.seq === truth.lastUpdateId,
      10_000,
      'clients to reach the truth seq',
    );
    for (const c of [early, late]) {
      const top = c.s.last!.book.top(20);
      assert.deepEqual(top.bids, truth.bids.slice(0, 20));
      assert.deepEqual(top.asks, truth.asks.slice(0, 20));
      assert.deepEqual(c.s.broken, [], 'every delta chains onto the previous update');
      assert.equal(c.s.last!.gaps, 0, 'the client never saw a gap');
    }
    assert.ok(early.s.deltas > 100, `too few deltas: ${early.s.deltas}`);
    // The late joiner's stream began at the book's latest snapshot in the compacted topic.
    assert.ok(late.s.deltas > 50, `late joiner: too few deltas ${late.s.deltas}`);
    assert.ok(p.arbiter.counters.decodeErrors >= 2, `decode errors counted: ${p.arbiter.counters.decodeErrors}`);
    const stats = p.arbiter.bookOf('binance', 'BTCUSDT')!.feedStats();
    assert.ok(stats.get('b')!.gapsFilled > 0, 'feed b should have had gaps filled by feed a');
    ac.abort();
  },
);

test(
  'CLI on Kafka: unreachable brokers are retried with a clear message; a missing topic exits with how to create it',
  { skip: kafkaSkip, timeout: 30_000 },
  async (t) => {
    const port = await freePort(); // nothing listens there
    const a = startCli(['arbitrate', '--bus', 'kafka', '--brokers', `127.0.0.1:${port}`]);
    t.after(() => {
      if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
    });
    await waitFor(
      () => (a.output().match(/Kafka brokers unreachable/g) ?? []).length >= 2,
      15_000,
      'two retry messages',
    );
    assert.equal(a.proc.exitCode, null, 'still running: retrying, not crashing');
    assert.match(a.output(), new RegExp(`127\\.0\\.0\\.1:${port}`));
    a.proc.kill('SIGTERM');
    await a.exited;

    const broker = await startTestBroker(t, { topics: ['other:1:1'] });
    const b = startCli(['arbitrate', '--bus', 'kafka', '--brokers', broker.bootstrap.join(',')]);
    broker.beforeStop(() => {
      if (b.proc.exitCode === null) b.proc.kill('SIGKILL');
    });
    assert.equal(await b.exited, 2, b.output());
    assert.match(b.output(), /bookwire: Kafka topic "bookwire\.\w+" does not exist .*--create --topic bookwire\.\w+/);
    assert.doesNotMatch(b.output(), /internal error/);
  },
);
