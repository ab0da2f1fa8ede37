/**
 * `bookwire bridge`: the real command between a ZeroMQ pipeline and the Kafka test cluster in both
 * directions, and its bad-input errors. The bridging rules themselves: test/bridge/service.test.ts.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from '../../src/client/subscribe.js';
import { silentLogger } from '../../src/log.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { Transport } from '../../src/transport/types.js';
import { decodeConsolidated, encode } from '../../src/wire/messages.js';
import { freeEndpoints, freePort, sleep, waitFor, startCli } from '../helpers.js';
import { kafkaSkip } from '../kafka-helpers.js';
import { startParts, track } from './harness.js';
import { kafkaParts, kafkaTestBus } from './kafka-rig.js';

const TOPIC = 'book.binance.BTCUSDT';

async function stopProc(p: ReturnType<typeof startCli>): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGTERM');
  const k = setTimeout(() => p.proc.kill('SIGKILL'), 6000);
  await p.exited;
  clearTimeout(k);
}

/** Pause the simulator and check the clients' books against its truth. */
async function checkTruth(
  sim: { pause(): void; truth(s: string, d: number): { lastUpdateId: number; bids: unknown[]; asks: unknown[] } },
  clients: ReturnType<typeof track>[],
) {
  sim.pause();
  const truth = sim.truth('BTCUSDT', 20);
  await waitFor(
    () => clients.every((c) => c.s.last?.seq === truth.lastUpdateId),
    30_000,
    `clients to reach the truth seq ${truth.lastUpdateId}`,
  );
  for (const c of clients) {
    const top = c.s.last!.book.top(20);
    assert.deepEqual(top.bids, truth.bids.slice(0, 20));
    assert.deepEqual(top.asks, truth.asks.slice(0, 20));
    assert.deepEqual(c.s.broken, [], 'every delta chains onto the previous update');
    assert.equal(c.s.last!.gaps, 0, 'the client never saw a gap');
  }
}

test(
  'bookwire bridge --from zeromq --to kafka: Kafka clients get the ZeroMQ pipeline book, gap-free',
  { skip: kafkaSkip, timeout: 90_000 },
  async (t: TestContext) => {
    const { broker, brokers, transport: mkK } = await kafkaTestBus(t);
    const ep = await freeEndpoints();
    const zmq: Transport[] = [];
    const mk = () => {
      const tr = new ZmqTransport(ep, { logger: silentLogger });
      zmq.push(tr);
      return tr;
    };
    const parts = await startParts({
      symbols: ['BTCUSDT'],
      seed: 5,
      rate: 100,
      faulty: true,
      gapTimeoutMs: 50,
      snapshotTimeoutMs: 1000,
      arbiterTransport: mk(),
      mk,
    });
    const bridge = startCli([
      'bridge',
      '--from',
      'zeromq',
      '--to',
      'kafka',
      '--brokers',
      brokers,
      '--publish',
      ep.publish[0],
      '--snapshot',
      ep.snapshot[0],
      '--log-level',
      'info',
    ]);
    const ac = new AbortController();
    broker.beforeStop(async () => {
      ac.abort();
      await stopProc(bridge);
      await parts.stop();
      for (const tr of zmq) await tr.close();
    });
    await waitFor(() => /bridge running/.test(bridge.output()), 20_000, 'the bridge to start');
    const early = track(subscribe({ symbol: 'BTCUSDT', transport: mkK(), signal: ac.signal }));
    await sleep(3000);
    // A late joiner starts at the latest snapshot the bridge wrote to the compacted topic.
    const late = track(subscribe({ symbol: 'BTCUSDT', transport: mkK(), signal: ac.signal }));
    await sleep(3000);
    await checkTruth(parts.sim, [early, late]);
    assert.ok(early.s.deltas > 100, `too few deltas: ${early.s.deltas}`);
    assert.ok(late.s.deltas > 50, `late joiner: too few deltas ${late.s.deltas}`);
    assert.ok(
      parts.arbiter.bookOf('binance', 'BTCUSDT')!.feedStats().get('b')!.gapsFilled > 0,
      'the faulty feed had gaps filled',
    );
    await stopProc(bridge);
    assert.match(bridge.output(), /bridge stopped/);
    assert.doesNotMatch(bridge.output(), /internal error|"level":50/);
  },
);

test(
  'bookwire bridge --from kafka --to zeromq: ZeroMQ clients (and late joiners via the bridge snapshot service) get the Kafka pipeline book',
  { skip: kafkaSkip, timeout: 90_000 },
  async (t: TestContext) => {
    const parts = await kafkaParts(t, { symbols: ['BTCUSDT'], seed: 9, rate: 50, faulty: true });
    const { broker } = parts;
    const [publish, snapshot] = [`tcp://127.0.0.1:${await freePort()}`, `tcp://127.0.0.1:${await freePort()}`];
    const bridge = startCli([
      'bridge',
      '--from',
      'kafka',
      '--to',
      'zeromq',
      '--brokers',
      parts.brokers,
      '--publish',
      publish,
      '--snapshot',
      snapshot,
      '--log-level',
      'info',
    ]);
    const zt = new ZmqTransport({ publish: [publish], snapshot: [snapshot] }, { logger: silentLogger });
    const ac = new AbortController();
    broker.beforeStop(async () => {
      ac.abort();
      await zt.close();
      await stopProc(bridge);
    });
    await waitFor(() => /bridge running/.test(bridge.output()), 20_000, 'the bridge to start');
    const early = track(subscribe({ symbol: 'BTCUSDT', transport: zt, signal: ac.signal }));
    await sleep(3000);
    const late = track(subscribe({ symbol: 'BTCUSDT', transport: zt, signal: ac.signal }));
    // The late joiner's first update comes from the bridge's snapshot service well before the next periodic snapshot.
    await waitFor(() => late.s.last !== undefined, 5000, 'the late joiner to sync');
    const sc = await zt.snapshotClient();
    const reply = decodeConsolidated(
      await sc.request(TOPIC, encode({ v: 1, type: 'snapshot-query', venue: 'binance', symbol: 'BTCUSDT' })),
    );
    assert.equal(reply.type === 'snapshot' && reply.reason, 'reply');
    await sc.close();
    await sleep(2000);
    await checkTruth(parts.sim, [early, late]);
    assert.ok(early.s.deltas > 50, `too few deltas: ${early.s.deltas}`);
    await stopProc(bridge);
    assert.doesNotMatch(bridge.output(), /internal error|"level":50/);
  },
);

// Eight CLI starts in turn: ~1 s each on a quiet host, 4 s on a loaded one (a CI run at load 14 timed out at 30 s).
test('bookwire bridge: bad input is one clear line and exit code 2', { timeout: 120_000 }, async () => {
  const cases: [string[], RegExp][] = [
    [['--from', 'zeromq', '--to', 'zeromq'], /same bus on both sides with the same endpoints/],
    [
      ['--from', 'kafka', '--to', 'kafka', '--brokers', '127.0.0.1:9'],
      /same bus on both sides with the same endpoints/,
    ],
    [['--from', 'zeromq', '--to', 'kafka'], /--brokers is required for the Kafka side/],
    [['--from', 'kafka', '--to', 'zeromq', '--publish', 'tcp://127.0.0.1:1'], /--brokers is required/],
    [['--from', 'mqtt', '--to', 'kafka'], /--from: expected zeromq or kafka, got "mqtt"/],
    [['--from', 'zeromq'], /--to is required/],
    [
      ['--from', 'zeromq', '--to', 'kafka', '--brokers', 'nope'],
      /expected a Kafka broker like 127.0.0.1:9092, got "nope"/,
    ],
    [
      ['--from', 'zeromq', '--to', 'kafka', '--brokers', '127.0.0.1:9', '--topics', 'raw.'],
      /--topics: "raw\." is not on the consolidated stream/,
    ],
  ];
  for (const [args, re] of cases) {
    const p = startCli(['bridge', ...args]);
    const code = await p.exited;
    assert.equal(code, 2, `${args.join(' ')}: ${p.output()}`);
    assert.match(p.output(), re);
    assert.doesNotMatch(p.output(), /internal error|\n\s+at /);
    assert.equal(p.output().trim().split('\n').length, 1, `one line: ${p.output()}`);
  }
});
