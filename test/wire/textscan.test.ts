import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { asciiBytes, intAt, intEnd, literal, literalAt, stringLevelsAt, TextScanner } from '../../src/wire/textscan.js';
import type { Level } from '../../src/core/types.js';

const sc = new TextScanner();
/** The venue scanners' functions read the frame's bytes: asciiBytes of an ASCII text. */
const at = (text: string): Uint8Array => asciiBytes(text)!;

test('int: JSON integers only, cursor after the digits', () => {
  assert.equal(sc.at('123,').int(), 123);
  assert.equal(sc.pos, 3);
  assert.equal(sc.at('0}').int(), 0);
  assert.equal(sc.at('007').int(), -1, 'no leading zeros');
  assert.equal(sc.at('-1').int(), -1);
  assert.equal(sc.at('x').int(), -1);
  assert.equal(sc.at('9007199254740993').int(), -1, 'past 2^53: left to JSON.parse');
});

test('decimal gives exactly the value JSON.parse / Number gives, or refuse', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.integer({ min: 0, max: 22 }), (m, k) => {
      const digits = String(m).padStart(k + 1, '0');
      const text = k === 0 ? digits : `${digits.slice(0, -k)}.${digits.slice(-k)}`;
      const v = sc.at(text).decimal();
      assert.equal(v, JSON.parse(text), text);
    }),
  );
  for (const bad of ['1e5', '1.', '.5', '01', '1E2', '-3']) assert.equal(sc.at(bad).decimal(), -1, bad);
});

test('levels: plain arrays; a bad element refuses the whole array', () => {
  const out: Level[] = [];
  assert.ok(sc.at('[[1.5,2],[3,0]]').levels(out));
  assert.deepEqual(out, [
    [1.5, 2],
    [3, 0],
  ]);
  assert.ok(sc.at('[]').levels([]));
  assert.ok(!sc.at('[[0,1]]').levels([]), 'price 0');
  assert.ok(!sc.at('[[1,2],]').levels([]));
  assert.ok(!sc.at('[[1,2,3]]').levels([]));
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

test('literalAt, intAt and stringLevelsAt: what the venue scanners read, or -1', () => {
  assert.equal(literalAt(at('{"e":"x"}'), 0, literal('{"e":')), 5);
  assert.equal(literalAt(at('{"e":"x"}'), 1, literal('"e"')), 4);
  assert.equal(literalAt(at('{"e"'), 0, literal('{"e":')), -1, 'past the end');
  assert.equal(literalAt(at('{"E":'), 0, literal('{"e":')), -1);
  assert.equal(intAt(at('x1234,'), 1), 1234);
  assert.equal(intEnd, 5);
  assert.equal(intAt(at('0}'), 0), 0);
  for (const bad of ['007', '-1', 'x', '9007199254740993']) assert.equal(intAt(at(bad), 0), -1, bad);
  const out: Level[] = [];
  assert.equal(stringLevelsAt(at('[["30261","4","0","1"],["30249.4","0","0","0"]],'), 0, out, 2, 10), 47);
  assert.deepEqual(out, [
    [30261, 4],
    [30249.4, 0],
  ]);
  const q: Level[] = [];
  assert.equal(stringLevelsAt(at('[["65000.01000000","0.50000000"],["1.","007"]]'), 0, q, 0, 10), 46);
  assert.deepEqual(q, [
    [65000.01, 0.5],
    [1, 7],
  ]);
  assert.equal(stringLevelsAt(at('[]'), 0, [], 0, 10), 2);
  for (const [bad, extra, max, why] of [
    ['[["1","2","0"]]', 0, 10, 'one string too many'],
    ['[["1","2"]]', 2, 10, 'extra strings missing'],
    ['[["0","2"]]', 0, 10, 'price 0'],
    [`[["${'9'.repeat(400)}","2"]]`, 0, 10, 'price beyond the doubles'],
    [`[["1","${'9'.repeat(400)}"]]`, 0, 10, 'size beyond the doubles'],
    ['[["1","2"],["2","2"]]', 0, 1, 'more levels than allowed'],
    ['[["1","2","0","1.5"]]', 2, 10, 'an extra string that is not an integer'],
    ['[["1","2","0","1234567890123456"]]', 2, 10, 'an extra string of 16 digits'],
    ['[["1","2","0",""]]', 2, 10, 'an empty extra string'],
    ['[["1e5","2"]]', 0, 10, 'exponent'],
    ['[["1.2.3","2"]]', 0, 10, 'two dots'],
    ['[[1,2]]', 0, 10, 'numbers, not strings'],
    ['[["1","2"],]', 0, 10, 'trailing comma'],
    ['[["1","2"]', 0, 10, 'unterminated'],
  ] as const) {
    assert.equal(stringLevelsAt(at(bad), 0, [], extra, max), -1, why);
  }
});

test('stringLevelsAt gives exactly Number() of each string', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 53 - 1 }), fc.integer({ min: 0, max: 22 }), (m, k) => {
      const digits = String(m).padStart(k + 1, '0');
      const text = k === 0 ? digits : `${digits.slice(0, -k)}.${digits.slice(-k)}`;
      const out: Level[] = [];
      assert.notEqual(stringLevelsAt(at(`[["${text}","${text}"]]`), 0, out, 0, 1), -1, text);
      assert.deepEqual(out, [[Number(text), Number(text)]], text);
    }),
  );
});

test('stringLevelsAt refuses a bad price or size anywhere in the array, and more than max levels', () => {
  const out: Level[] = [];
  assert.equal(stringLevelsAt(at('[["1.5","2"],["3","0"]]'), 0, out, 0, 10), 23);
  assert.deepEqual(out, [
    [1.5, 2],
    [3, 0],
  ]);
  for (const bad of [
    '[["1","-1"]]',
    '[["-1","1"]]',
    '[["0","1"]]',
    '[["1",1]]',
    '[["1","1e3"]]',
    '[["1","2"],["x","1"]]',
  ])
    assert.equal(stringLevelsAt(at(bad), 0, [], 0, 10), -1, bad);
  assert.equal(stringLevelsAt(at('[["1","1"],["2","1"]]'), 0, [], 0, 1), -1, 'over max');
});

test('asciiBytes: the bytes of an ASCII text and four 0s after them; undefined for any other character', () => {
  const b = at('{"a":1}');
  assert.deepEqual([...b.subarray(0, 11)], [...Buffer.from('{"a":1}'), 0, 0, 0, 0]);
  // non-ASCII, one-byte (é) or two-byte (İ, U+0130, whose low byte is "0"; Ģ, U+0122, whose low byte is '"'):
  // a byte copy that kept only the low byte would read them as a digit or a quote
  for (const text of ['"1é"', '"1\u0130"', '"\u0122', '😀']) assert.equal(asciiBytes(text), undefined, text);
  assert.equal(stringLevelsAt(at('[["1","1"]]'), 0, [], 0, 10), 11);
  // a text longer than the reused buffer, and one longer than it is ever grown to
  for (const n of [100_000, 3_000_000]) {
    const long = `[${'["1","1"],'.repeat(n / 10)}["2","0"]]`;
    const out: Level[] = [];
    assert.equal(stringLevelsAt(at(long), 0, out, 0, Infinity), long.length);
    assert.equal(out.length, n / 10 + 1);
  }
  // after a long frame, a short one that stops early is refused: the 0 ends it, not the long frame's bytes
  at('[["1.50000000","2"]]');
  assert.equal(stringLevelsAt(at('[["1.5'), 0, [], 0, 10), -1);
});

test('stringLevelsAt refuses quoted numbers outside plain decimals', () => {
  for (const bad of ['"1e5"', '"0x1f"', '1.5', '"1.5', '"-1"']) {
    assert.equal(stringLevelsAt(at(`[[${bad},"1"]]`), 0, [], 0, 10), -1, bad);
  }
});
