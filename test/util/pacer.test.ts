import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer } from '../../src/util/pacer.js';
import { sleep } from '../helpers.js';

test('a pacer starts at most perSecond per second and inFlight at once, in order', async () => {
  const p = new Pacer(10, 3);
  const starts: number[] = [];
  const order: number[] = [];
  let running = 0;
  let most = 0;
  const t0 = Date.now();
  const jobs = Array.from({ length: 25 }, (_, i) =>
    p.run(async () => {
      starts.push(Date.now() - t0);
      order.push(i);
      most = Math.max(most, ++running);
      await sleep(20);
      running--;
      return i;
    }, -1),
  );
  assert.deepEqual(await Promise.all(jobs), [...Array(25).keys()]);
  assert.deepEqual(order, [...Array(25).keys()], 'FIFO');
  assert.ok(most <= 3, `at most 3 at once (saw ${most})`);
  // 25 jobs at 10/s: the 11th cannot start before 1 s, the 21st before 2 s
  assert.ok(starts[10] >= 990 && starts[20] >= 1990, `starts ${starts[10]} ${starts[20]}`);
});

test('closing a pacer releases what waits without running it', async () => {
  const p = new Pacer(1, 1);
  let ran = 0;
  const a = p.run(async () => ++ran, -1);
  const b = p.run(async () => ++ran, -1);
  await a;
  p.close();
  assert.equal(await b, -1);
  assert.equal(ran, 1);
});
