/**
 * Issue 14: an arbiter group on Kafka taking over a REPLICA venue's book (Kraken: no id shared by
 * connections, the arbiter numbers the book itself, docs/wire-format.md "Epochs"). Real processes: the
 * simulator's Kraken -> two `bookwire collect --venue kraken` -> TWO `bookwire arbitrate --group g` -> a
 * Kafka reader of the book topic and an SDK client. The owner of the book is killed with SIGKILL (or frozen
 * with SIGSTOP past the session timeout and woken after the takeover: a zombie); the other takes it over.
 * Checked: the new owner continues the committed numbering and epoch (every record in Kafka chains, no seq
 * twice, no snapshot jumping ahead, one epoch throughout), the client takes one snapshot only (no resync, no
 * epoch switch) and ends at the simulator's truth.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { subscribe, type BookUpdate } from '../../src/client/subscribe.js';
import { silentLogger } from '../../src/log.js';
import { sleep, startCli, waitFor } from '../helpers.js';
import { kafkaSkip } from '../kafka-helpers.js';
import { collectArgs } from './harness.js';
import {
  arbiterTails,
  groupArbiter,
  kafkaTestBus,
  killAll,
  recordChainProblems,
  snapshotsJumpingAhead,
  wakeZombie,
  watchBookTopic,
  withTails,
} from './kafka-rig.js';

const VENUE = 'kraken';
const SYMBOL = 'BTC/USD';
const ARBITER_FLAGS = ['--snapshot-interval-ms', '500', '--snapshot-timeout-ms', '1500'];

async function takeover(t: TestContext, how: 'kill' | 'pause'): Promise<void> {
  const { broker, brokers, transport } = await kafkaTestBus(t);
  const sim = new ExchangeSimulator({
    venues: [VENUE],
    port: 0,
    symbols: [SYMBOL],
    seed: 14,
    eventsPerSec: 100,
    logger: silentLogger,
  });
  await sim.start();
  const arbs = [groupArbiter('x', brokers, ARBITER_FLAGS), groupArbiter('y', brokers, ARBITER_FLAGS)];
  const collectors: ReturnType<typeof startCli>[] = [];
  for (const id of ['a', 'b'] as const)
    collectors.push(startCli([...collectArgs(sim, VENUE, id, SYMBOL), '--bus', 'kafka', '--brokers', brokers]));
  const ac = new AbortController();
  broker.beforeStop(async () => {
    ac.abort();
    await killAll([...arbs, ...collectors]);
    await sim.stop();
  });
  const dump = () => arbiterTails(arbs);

  // What any Kafka reader sees on the book topic, and who publishes the book (stats.*), from the start.
  const watch = await watchBookTopic(transport(), VENUE);
  const records = watch.records(SYMBOL);
  await waitFor(() => watch.owner.has(SYMBOL) && records.length > 20, 30_000, 'the book published').catch(
    withTails(arbs),
  );

  const client = {
    snapshots: 0,
    stale: 0,
    deltas: 0,
    broken: [] as string[],
    seq: -1,
    last: undefined as BookUpdate | undefined,
  };
  void (async () => {
    for await (const u of subscribe({ venue: VENUE, symbol: SYMBOL, transport: transport(), signal: ac.signal })) {
      const m = u.message;
      if (u.kind === 'snapshot') client.snapshots++;
      if (u.kind === 'stale') client.stale++;
      if (m.type === 'delta') {
        if (client.seq >= 0 && m.prev !== client.seq) client.broken.push(`delta prev ${m.prev} after ${client.seq}`);
        client.deltas++;
      }
      if (u.kind === 'snapshot' || u.kind === 'delta') {
        client.seq = u.seq;
        client.last = u;
      }
    }
  })();
  await waitFor(() => client.deltas > 20, 10_000, 'the client to follow the book');
  const victim = arbs.find((a) => a.id === watch.owner.get(SYMBOL))!;
  const survivor = arbs.find((a) => a !== victim)!;
  assert.ok(victim, `owner: ${watch.owner.get(SYMBOL)}`);
  const before = records.length;
  const epoch = records[before - 1].epoch;
  assert.ok(epoch, 'a replica book carries an epoch');
  if (how === 'kill') {
    victim.proc.kill('SIGKILL');
    await victim.exited;
  } else victim.proc.kill('SIGSTOP');
  const killedAt = Date.now();
  await waitFor(
    () => watch.owner.get(SYMBOL) === survivor.id && records.length > before + 20,
    30_000,
    'the other arbiter to take the book over and publish',
  ).catch(withTails(arbs));
  const tookOverMs = Date.now() - killedAt;
  // The zombie wakes up believing it still owns the book (its numbering and epoch are the survivor's now);
  // the group is settled once it has rejoined.
  if (how === 'pause') await wakeZombie(victim, arbs);
  await sleep(1000);

  sim.pause();
  const truth = sim.truth(SYMBOL, 20, VENUE);
  const want = JSON.stringify({ bids: truth.bids, asks: truth.asks });
  await waitFor(
    () => JSON.stringify(client.last?.book.top(20)) === want,
    20_000,
    'the client to reach the truth',
  ).catch((e: Error) => {
    throw new Error(`${e.message}: client ${JSON.stringify(client.last?.book.top(20))}, truth ${want}\n${dump()}`);
  });

  assert.deepEqual(recordChainProblems(records).problems, [], `consolidated records in Kafka\n${dump()}`);
  // The survivor continued the committed book: no snapshot jumping ahead, no other numbering.
  const after = records.slice(before);
  const jumps = snapshotsJumpingAhead(records, before);
  assert.deepEqual(jumps, [], `the book resynced after the takeover instead of continuing\n${dump()}`);
  assert.deepEqual([...new Set(after.map((m) => m.epoch))], [epoch], 'the committed epoch continues');
  assert.deepEqual(client.broken, [], 'the client stream chains');
  assert.equal(client.last!.gaps, 0, 'the client never saw a gap');
  assert.equal(client.snapshots, 1, 'the client took its first snapshot only: no resync, no epoch switch');
  assert.match(survivor.output(), /book rebuilt from the committed output/);
  t.diagnostic(
    `takeover after ${how === 'kill' ? 'kill -9' : 'SIGSTOP'}: ${tookOverMs} ms; client deltas ${client.deltas}, stale spells ${client.stale}`,
  );
}

test(
  'Kafka arbiter group, replica venue (kraken): kill -9 the owner; the other continues its numbering and epoch, book = truth',
  { skip: kafkaSkip, timeout: 90_000 },
  (t) => takeover(t, 'kill'),
);

test(
  'Kafka arbiter group, replica venue (kraken): a zombie owner (SIGSTOP, woken after the takeover) never reaches readers',
  { skip: kafkaSkip, timeout: 120_000 },
  (t) => takeover(t, 'pause'),
);
