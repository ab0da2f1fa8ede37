/**
 * whileBeating (src/transport/kafka.ts): an arbiter group's batch handler that waits (a raw partition's
 * takeover, transactions behind) keeps heartbeating, so the group does not take the member for dead after
 * its session timeout. Without it, a cold start of 2,000 books rebalanced again and again (issue 13).
 * No broker: the heartbeat is a counter, the wait a promise settled by the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whileBeating } from '../../src/transport/kafka.js';

test('a long wait heartbeats every interval and ends with the work', async () => {
  let beats = 0;
  let finish!: (v: string) => void;
  const work = new Promise<string>((r) => (finish = r));
  const waiting = whileBeating(work, async () => void beats++, 20);
  // a session timeout's worth of intervals (the test waits on the count, not on a sleep)
  while (beats < 5) await new Promise((r) => setTimeout(r, 5));
  finish('owned');
  assert.equal(await waiting, 'owned');
  const after = beats;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(beats, after, 'no heartbeat once the work is done');
});

test('a quick wait sends no heartbeat; the work’s error is the wait’s', async () => {
  let beats = 0;
  assert.equal(await whileBeating(Promise.resolve(7), async () => void beats++, 1000), 7);
  await assert.rejects(
    whileBeating(Promise.reject(new Error('did not catch up in time')), async () => void beats++, 1000),
    /did not catch up/,
  );
  assert.equal(beats, 0);
});

test('a heartbeat that fails (the group rebalances) ends the wait with its error; the work runs on', async () => {
  let finish!: () => void;
  let finished = false;
  const work = new Promise<void>((r) => (finish = r)).then(() => void (finished = true));
  await assert.rejects(
    whileBeating(
      work,
      async () => {
        throw new Error('The group is rebalancing, so a rejoin is needed');
      },
      10,
    ),
    /rebalancing/,
  );
  assert.equal(finished, false);
  finish();
  await work;
  assert.equal(finished, true);
});
