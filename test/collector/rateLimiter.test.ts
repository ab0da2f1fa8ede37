import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeightLimiter, backoffDelay, stableFraction } from '../../src/collector/rateLimiter.js';

test('weight budget: spends, refills per minute, and blocks after a 429', () => {
  const l = new WeightLimiter(100, 0);
  assert.equal(l.delayFor(50, 0), 0);
  l.take(50, 0);
  l.take(50, 0);
  // empty: 50 weight takes 30 s to refill at 100/min
  assert.equal(l.delayFor(50, 0), 30_000);
  assert.equal(l.delayFor(50, 30_000), 0);
  l.block(90_000);
  assert.equal(l.delayFor(1, 60_000), 30_000);
});

test('backoff grows exponentially, is capped and jittered', () => {
  assert.equal(
    backoffDelay(0, 100, 10_000, () => 0.999),
    100,
  );
  assert.equal(
    backoffDelay(3, 100, 10_000, () => 0.999),
    799,
  );
  assert.equal(
    backoffDelay(20, 100, 10_000, () => 0.999),
    9990,
  );
  assert.equal(
    backoffDelay(20, 100, 10_000, () => 0),
    100,
  );
});

test('stable fractions differ per collector id and stay put', () => {
  assert.equal(stableFraction('a'), stableFraction('a'));
  assert.notEqual(stableFraction('a'), stableFraction('b'));
  assert.ok(stableFraction('collector-1') >= 0 && stableFraction('collector-1') < 1);
});
