import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenGate, WeightLimiter, backoffDelay, stableFraction } from '../../src/collector/rateLimiter.js';

test('weight budget: fixed windows as the venue counts, the next window after the skew margin', () => {
  const l = new WeightLimiter(100, 60_000, 1000);
  assert.equal(l.delayFor(50, 0), 0);
  l.take(50, 0)(10);
  l.take(50, 5)(20);
  // the window is full until the next one has surely begun everywhere (60 s + 1 s of skew)
  assert.equal(l.delayFor(5, 30_000), 31_000);
  assert.equal(l.used(61_000), 0);
  assert.equal(l.delayFor(5, 61_000), 0);
  l.block(90_000);
  assert.equal(l.delayFor(1, 61_000), 29_000);
});

test('weight budget: a request in flight across a window boundary counts in both windows', () => {
  const l = new WeightLimiter(100, 60_000, 1000);
  const done = l.take(60, 59_900);
  assert.equal(l.used(61_500), 60, 'still in flight: the venue may count it in the new window');
  done(60_100);
  assert.equal(l.used(61_500), 60, 'answered after the boundary: counted in the new window too');
  assert.equal(l.used(121_500), 0);
  const early = l.take(10, 130_000);
  early(130_050);
  assert.equal(l.used(181_100), 0, 'answered well before the next window: not counted in it');
});

test("weight budget: the venue's used-weight header corrects the count upward (others share the IP)", () => {
  const l = new WeightLimiter(100, 60_000, 1000);
  l.take(10, 1000)(1010);
  l.observe(80, 1010);
  assert.equal(l.used(2000), 80);
  l.take(10, 2000);
  assert.equal(l.used(2001), 90, 'own requests after the figure add to it');
  assert.equal(l.delayFor(20, 2001), 60_000 + 1000 - 2001);
  l.observe(50, 2002); // an older answer overtaken: ignored
  assert.equal(l.used(2003), 90);
  assert.equal(l.used(62_000), 10, 'a figure from an earlier window does not count (the in-flight one does)');
});

test('connection gate: at most n opens in any window span', () => {
  const g = new OpenGate(3, 1000);
  assert.equal(g.tryOpen(0), 0);
  assert.equal(g.tryOpen(10), 0);
  assert.equal(g.tryOpen(20), 0);
  assert.equal(g.tryOpen(500), 500);
  assert.equal(g.tryOpen(1000), 0);
  assert.equal(g.tryOpen(1001), 9);
});

test('connection gate: an open counts from its answer, not its start (the venue counts it on arrival)', () => {
  const g = new OpenGate(2, 1000);
  assert.equal(g.tryOpen(0, true), 0);
  assert.equal(g.tryOpen(0, true), 0);
  // neither answered: no window has started, so no end is known; ask again within a window
  assert.equal(g.tryOpen(100, true), 1000);
  g.done(600); // the first was answered late
  g.done(700);
  g.done(50_000); // a done() without a pending open changes nothing
  assert.equal(g.tryOpen(1000, true), 600, 'counted from 600, not 0');
  assert.equal(g.tryOpen(1600, true), 0);
  assert.equal(g.tryOpen(1650, true), 50, 'the second counts from 700');
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

test('delayInLine: a request behind others waits for the window its place falls in', () => {
  const l = new WeightLimiter(100, 60_000, 0);
  const t = 60_000 * 10 + 1000; // 1 s into a window
  l.take(60, t);
  assert.equal(l.delayInLine(10, 0, t), 0, 'room now');
  assert.equal(l.delayInLine(10, 30, t), 0, '30 ahead and 10 fit in the 40 left');
  assert.equal(l.delayInLine(10, 40, t), 59_000, 'past the room: the next window');
  assert.equal(l.delayInLine(10, 130, t), 59_000, '40 of the line now, 100 in the next: the next holds it');
  assert.equal(l.delayInLine(10, 135, t), 119_000, 'past the next window too: the one after');
  assert.equal(l.delayFor(10, t), 0, 'delayFor knows nothing of a line');
});
