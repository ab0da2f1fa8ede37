/**
 * A raw partition's takeover in an arbiter group (src/transport/kafka.ts), issue 13:
 * - whileBeating: the batch handler that waits (the takeover, transactions behind) keeps heartbeating, so
 *   the group does not take the member for dead after its session timeout. Without it, a cold start of
 *   2,000 books rebalanced again and again.
 * - readTo: the takeover's reading (snapshot topic, book topic) fails when it stops, not at a fixed time
 *   while it still progresses (it failed "did not catch up in time" and started over).
 * No broker: the heartbeat is a counter, the wait a promise settled by the test, the reading a counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readTo, whileBeating } from '../../src/transport/kafka.js';

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

test('a reading that progresses is waited for past its deadline; one that stops fails after stallMs', async () => {
  const start = Date.now();
  let at = 0n;
  // one offset every 20 ms until 60 are read (about 1.2 s), against a deadline already past
  const timer = setInterval(() => at++, 20);
  try {
    const slow = () => (at >= 60n ? undefined : at);
    await assert.rejects(
      readTo(slow, start, undefined, () => new Error('did not catch up in time')),
      /did not catch up/,
      'a fixed deadline fails a reading that is still going',
    );
    await readTo(slow, start, 300, () => new Error('did not catch up in time'));
    assert.equal(at >= 60n, true);
  } finally {
    clearInterval(timer);
  }
  // stopped at 60 of 100: fails once 300 ms pass without progress
  const t0 = Date.now();
  await assert.rejects(
    readTo(
      () => (at >= 100n ? undefined : 60n),
      t0,
      300,
      () => new Error('no progress'),
    ),
    /no progress/,
  );
  assert.ok(Date.now() - t0 >= 290, 'not before stallMs');
});
