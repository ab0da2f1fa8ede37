import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextScanner } from '../../src/wire/textscan.js';
import type { Level } from '../../src/core/types.js';

const sc = new TextScanner();

test('int: JSON integers only, cursor after the digits', () => {
  assert.equal(sc.at('123,').int(), 123);
  assert.equal(sc.pos, 3);
  assert.equal(sc.at('0}').int(), 0);
  assert.equal(sc.at('007').int(), -1, 'no leading zeros');
  assert.equal(sc.at('-1').int(), -1);
  assert.equal(sc.at('x').int(), -1);
  assert.equal(sc.at('9007199254740993').int(), -1, 'past 2^53: left to JSON.parse');
});

test('decimal and quotedDecimal give exactly the value JSON.parse / Number gives, or refuse', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.integer({ min: 0, max: 22 }), (m, k) => {
      const digits = String(m).padStart(k + 1, '0');
      const text = k === 0 ? digits : `${digits.slice(0, -k)}.${digits.slice(-k)}`;
      const v = sc.at(text).decimal();
      assert.equal(v, JSON.parse(text), text);
      assert.equal(sc.at(`"${text}"`).quotedDecimal(), Number(text), text);
    }),
  );
  for (const bad of ['1e5', '1.', '.5', '01', '1E2', '-3']) assert.equal(sc.at(bad).decimal(), -1, bad);
  for (const bad of ['"1e5"', '"0x1f"', '1.5', '"1.5', '"-1"']) assert.equal(sc.at(bad).quotedDecimal(), -1, bad);
});

test('levels: plain and quoted arrays; a bad element refuses the whole array', () => {
  const out: Level[] = [];
  assert.ok(sc.at('[[1.5,2],[3,0]]').levels(out, false));
  assert.deepEqual(out, [
    [1.5, 2],
    [3, 0],
  ]);
  const q: Level[] = [];
  assert.ok(sc.at('[["65000.01","0.5"]]').levels(q, true));
  assert.deepEqual(q, [[65000.01, 0.5]]);
  assert.ok(sc.at('[]').levels([], false));
  assert.ok(!sc.at('[[0,1]]').levels([], false), 'price 0');
  assert.ok(!sc.at('[[1,2],]').levels([], false));
  assert.ok(!sc.at('[[1,2,3]]').levels([], false));
});

test('plainString and cachedString: no escapes, and the cached string is returned itself', () => {
  assert.equal(sc.at('"abc",').plainString(), 'abc');
  assert.equal(sc.pos, 5);
  assert.equal(sc.at('"a\\"b"').plainString(), undefined);
  const prev = 'BTCUSDT';
  assert.equal(sc.at('"BTCUSDT"').cachedString(prev), prev);
  assert.equal(sc.at('"BTCUSDTC"').cachedString(prev), 'BTCUSDTC');
  assert.equal(sc.at('"ETH"').cachedString(''), 'ETH');
});

test('signedInt, quotedDigits and stringLevels: what the venue scanners read, or a refusal', () => {
  assert.equal(sc.at('-914047754,').signedInt(), -914047754);
  assert.equal(sc.pos, 10);
  assert.equal(sc.at('0}').signedInt(), 0);
  assert.ok(Number.isNaN(sc.at('-x').signedInt()));
  assert.equal(sc.pos, 0, 'cursor unmoved on refusal');
  assert.ok(Number.isNaN(sc.at('-01').signedInt()));
  assert.equal(sc.at('"1652459225464"').quotedDigits(), 1652459225464);
  assert.equal(sc.at('"007"').quotedDigits(), 7, 'leading zeros, as plainInteger accepts');
  for (const bad of ['""', '"1.5"', '"-1"', '"1234567890123456"', '7', '"12'])
    assert.equal(sc.at(bad).quotedDigits(), -1, bad);
  const out: Level[] = [];
  assert.ok(sc.at('[["30261","4","0","1"],["30249.4","0","0","0"]]').stringLevels(out, 2, 10));
  assert.deepEqual(out, [
    [30261, 4],
    [30249.4, 0],
  ]);
  assert.ok(sc.at('[]').stringLevels([], 0, 10));
  assert.ok(!sc.at('[["1","2","0"]]').stringLevels([], 0, 10), 'one string too many');
  assert.ok(!sc.at('[["1","2"]]').stringLevels([], 2, 10), 'extra strings missing');
  assert.ok(!sc.at('[["0","2"]]').stringLevels([], 0, 10), 'price 0');
  assert.ok(!sc.at(`[["${'9'.repeat(400)}","2"]]`).stringLevels([], 0, 10), 'price beyond the doubles');
  assert.ok(!sc.at('[["1","2"],["2","2"]]').stringLevels([], 0, 1), 'more levels than allowed');
  assert.ok(!sc.at('[["1","2","0","1.5"]]').stringLevels([], 2, 10), 'an extra string that is not an integer');
});
