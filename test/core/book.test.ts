import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BULK_LEVELS, forceBatchPathForTests, OrderBook, type StringLevel } from '../../src/core/book.js';
import type { Level } from '../../src/core/types.js';

/** Naive reference book: one Map per side, sorted on demand. Keeps strings alongside for keepStrings checks. */
class ModelBook {
  bids = new Map<number, { size: number; ps: string; ss: string }>();
  asks = new Map<number, { size: number; ps: string; ss: string }>();
  /** An update keeps the level's price string (the first spelling seen); the size string is the latest. */
  set(side: 'bid' | 'ask', price: number, size: number, ps = String(price), ss = String(size)): void {
    const m = side === 'bid' ? this.bids : this.asks;
    if (size > 0) m.set(price, { size, ps: m.get(price)?.ps ?? ps, ss });
    else m.delete(price);
  }
  apply(bids: readonly Level[], asks: readonly Level[]): void {
    for (const [p, s] of bids) this.set('bid', p, s);
    for (const [p, s] of asks) this.set('ask', p, s);
  }
  /** applyStrings: Number() of each string, unparsable levels skipped. */
  applyStrings(bids: readonly StringLevel[], asks: readonly StringLevel[]): void {
    for (const [side, levels] of [
      ['bid', bids],
      ['ask', asks],
    ] as const) {
      for (const [ps, ss] of levels) {
        const p = Number(ps);
        const s = Number(ss);
        if (!Number.isNaN(p) && !Number.isNaN(s)) this.set(side, p, s, ps, ss);
      }
    }
  }
  snapshot(bids: readonly Level[], asks: readonly Level[]): void {
    this.bids.clear();
    this.asks.clear();
    this.apply(bids, asks);
  }
  sorted(side: 'bid' | 'ask'): [number, { size: number; ps: string; ss: string }][] {
    const m = side === 'bid' ? this.bids : this.asks;
    return [...m.entries()].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0]));
  }
  top(n: number): { bids: Level[]; asks: Level[] } {
    const lv = (side: 'bid' | 'ask') =>
      this.sorted(side)
        .slice(0, n)
        .map(([p, v]) => [p, v.size] as Level);
    return { bids: lv('bid'), asks: lv('ask') };
  }
  topStrings(n: number): { bids: StringLevel[]; asks: StringLevel[] } {
    const lv = (side: 'bid' | 'ask') =>
      this.sorted(side)
        .slice(0, n)
        .map(([, v]) => [v.ps, v.ss] as StringLevel);
    return { bids: lv('bid'), asks: lv('ask') };
  }
  crossed(): boolean {
    if (this.bids.size === 0 || this.asks.size === 0) return false;
    return Math.max(...this.bids.keys()) >= Math.min(...this.asks.keys());
  }
}

function assertSame(book: OrderBook, model: ModelBook, where: string): void {
  const full = model.top(Infinity);
  assert.deepEqual(book.snapshot(), full, `snapshot ${where}`);
  assert.deepEqual(book.top(3), model.top(3), `top(3) ${where}`);
  assert.deepEqual(book.bestBid(), full.bids[0], `bestBid ${where}`);
  assert.deepEqual(book.bestAsk(), full.asks[0], `bestAsk ${where}`);
  assert.equal(book.bestBidPrice(), full.bids.length ? full.bids[0][0] : NaN);
  assert.equal(book.bestAskPrice(), full.asks.length ? full.asks[0][0] : NaN);
  assert.equal(book.bidDepth, model.bids.size, `bidDepth ${where}`);
  assert.equal(book.askDepth, model.asks.size, `askDepth ${where}`);
  assert.equal(book.isCrossed(), model.crossed(), `isCrossed ${where}`);
}

// Prices on a small grid so sets, updates and deletes collide often; bids and asks overlap so crossed books occur.
const price = fc.integer({ min: 1, max: 120 }).map((k) => k / 100);
const size = fc.oneof(
  { arbitrary: fc.constant(0), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 999 }).map((x) => x / 10), weight: 3 },
);
const level = fc.tuple(price, size) as fc.Arbitrary<Level>;
const sortedSide = (desc: boolean) =>
  fc
    .uniqueArray(price, { maxLength: 60 })
    .chain((ps) => fc.tuple(...ps.sort((a, b) => (desc ? b - a : a - b)).map((p) => size.map((s) => [p, s] as Level))));

// The same grid spelled as exchanges might ("0.5", "0.50", "0.500"), plus strings Number() cannot read.
const spelled = (x: number) =>
  fc.constantFrom(String(x), x.toFixed(2), x.toFixed(3), x.toFixed(2) + '0000', ' ' + String(x));
const stringLevel: fc.Arbitrary<StringLevel> = fc.oneof(
  { arbitrary: fc.tuple(price, size).chain(([p, s]) => fc.tuple(spelled(p), spelled(s))), weight: 20 },
  { arbitrary: fc.tuple(fc.constantFrom('x', '1e', 'NaN'), fc.constant('1')), weight: 1 },
  { arbitrary: fc.tuple(price.map(String), fc.constantFrom('-', 'abc')), weight: 1 },
);
/** Many levels in one message: BookSide.merge (duplicates, deletes and inserts anywhere in one pass). */
const bulk = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { minLength: BULK_LEVELS, maxLength: BULK_LEVELS + 80 });
/** Either path: under BULK_LEVELS level by level, from it on merged. */
const anySize = <T>(arb: fc.Arbitrary<T>) => fc.oneof(fc.array(arb, { maxLength: BULK_LEVELS - 1 }), bulk(arb));

type Cmd =
  | { kind: 'set'; side: 'bid' | 'ask'; price: number; size: number }
  | { kind: 'apply'; bids: Level[]; asks: Level[] }
  | { kind: 'snapshot'; bids: Level[]; asks: Level[] }
  | { kind: 'strings'; bids: StringLevel[]; asks: StringLevel[] }
  | { kind: 'snapshotStrings'; bids: StringLevel[]; asks: StringLevel[] }
  // applyWithStrings: the strings with their numbers, as a venue parser gives both
  | { kind: 'withStrings'; bids: StringLevel[]; asks: StringLevel[] }
  | { kind: 'clear' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      side: fc.constantFrom('bid' as const, 'ask' as const),
      price,
      size,
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('apply' as const),
      bids: fc.array(level, { maxLength: 12 }),
      asks: fc.array(level, { maxLength: 12 }),
    }),
    weight: 6,
  },
  // unsorted snapshots (level by level, duplicates possible) and best-first sorted ones (the bulk-load path)
  {
    arbitrary: fc.record({
      kind: fc.constant('snapshot' as const),
      bids: fc.array(level, { maxLength: 60 }),
      asks: fc.array(level, { maxLength: 60 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('snapshot' as const), bids: sortedSide(true), asks: sortedSide(false) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('apply' as const), bids: anySize(level), asks: anySize(level) }),
    weight: 4,
  },
  // best-first sorted deltas and snapshots of many levels (the no-sort merge path), either direction
  {
    arbitrary: fc.record({ kind: fc.constant('apply' as const), bids: sortedSide(false), asks: sortedSide(true) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('strings' as const),
      bids: anySize(stringLevel),
      asks: anySize(stringLevel),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('snapshotStrings' as const),
      bids: anySize(stringLevel),
      asks: anySize(stringLevel),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('withStrings' as const),
      bids: anySize(stringLevel),
      asks: anySize(stringLevel),
    }),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: 'clear' as const }), weight: 1 },
);

/** The numbers of string levels, level for level (NaN for an unparsable one: both paths skip it). */
const numbersOf = (levels: StringLevel[]): Level[] => levels.map((l): Level => [+l[0], +l[1]]);

function run(book: OrderBook, model: ModelBook, cmds: Cmd[]): void {
  cmds.forEach((c, i) => {
    switch (c.kind) {
      case 'set':
        book.setLevel(c.side, c.price, c.size);
        model.set(c.side, c.price, c.size);
        break;
      case 'apply':
        book.apply(c.bids, c.asks);
        model.apply(c.bids, c.asks);
        break;
      case 'snapshot':
        book.applySnapshot(c.bids, c.asks);
        model.snapshot(c.bids, c.asks);
        break;
      case 'strings':
        book.applyStrings(c.bids, c.asks);
        model.applyStrings(c.bids, c.asks);
        break;
      case 'withStrings':
        book.applyWithStrings(numbersOf(c.bids), numbersOf(c.asks), c.bids, c.asks);
        model.applyStrings(c.bids, c.asks);
        break;
      case 'snapshotStrings':
        book.applySnapshotStrings(c.bids, c.asks);
        model.snapshot([], []);
        model.applyStrings(c.bids, c.asks);
        break;
      case 'clear':
        book.clear();
        model.snapshot([], []);
        break;
    }
    assertSame(book, model, `after command ${i} (${c.kind})`);
    if (book.keepStrings) assert.deepEqual(book.topStrings(Infinity), model.topStrings(Infinity), `strings after ${i}`);
  });
}

// Messages of BULK_LEVELS or more levels go level by level or through one merge, whichever moves less:
// each path is checked on its own (forced), and the choice as made.
for (const path of ['merge', 'levels', undefined] as const) {
  const name = path === undefined ? '' : ` (large messages forced through ${path === 'merge' ? 'merge' : 'set()'})`;
  test(`matches a naive Map-based book on random command sequences${name}`, () => {
    forceBatchPathForTests(path);
    try {
      fc.assert(
        fc.property(fc.array(cmd, { maxLength: 80 }), (cmds) => run(new OrderBook(), new ModelBook(), cmds)),
        { numRuns: 200 },
      );
    } finally {
      forceBatchPathForTests(undefined);
    }
  });

  test(`keepStrings mode matches the model too, numbers and strings${name}`, () => {
    forceBatchPathForTests(path);
    try {
      fc.assert(
        fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
          const book = new OrderBook({ keepStrings: true });
          const model = new ModelBook();
          run(book, model, cmds);
          assert.deepEqual(book.topStrings(Infinity), model.topStrings(Infinity));
        }),
        { numRuns: 100 },
      );
    } finally {
      forceBatchPathForTests(undefined);
    }
  });
}

test('keepStrings keeps the exchange spelling through inserts, updates and deletes', () => {
  // exchange strings with trailing zeros that String(number) would not reproduce
  const spell = (x: number) => x.toFixed(8);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.array(level, { maxLength: 10 })), { maxLength: 40 }), (steps) => {
      const book = new OrderBook({ keepStrings: true });
      const model = new ModelBook();
      for (const [isBid, levels] of steps) {
        const strs = levels.map(([p, s]) => [spell(p), spell(s)] as StringLevel);
        if (isBid) book.applyStrings(strs, []);
        else book.applyStrings([], strs);
        for (const [p, s] of levels) model.set(isBid ? 'bid' : 'ask', p, s, spell(p), spell(s));
        assert.deepEqual(book.topStrings(Infinity), model.topStrings(Infinity));
        assertSame(book, model, 'after applyStrings');
      }
    }),
    { numRuns: 150 },
  );
});

test('applyStrings without keepStrings converts and applies; topStrings falls back to String(number)', () => {
  const book = new OrderBook();
  book.applyStrings(
    [
      ['100.50000000', '1.00000000'],
      ['bad', '1'],
    ],
    [['101.00000000', '2.50000000']],
  );
  assert.deepEqual(book.snapshot(), { bids: [[100.5, 1]], asks: [[101, 2.5]] });
  assert.deepEqual(book.topStrings(5), { bids: [['100.5', '1']], asks: [['101', '2.5']] });
  book.applySnapshotStrings([['99.00000000', '3.00000000']], []);
  assert.deepEqual(book.snapshot(), { bids: [[99, 3]], asks: [] });
});

test('deleting a missing level is a no-op', () => {
  const book = new OrderBook();
  book.applySnapshot([[10, 1]], [[11, 1]]);
  book.apply([[9, 0]], [[12, 0]]);
  book.setLevel('bid', 10.5, 0);
  assert.deepEqual(book.snapshot(), { bids: [[10, 1]], asks: [[11, 1]] });
  const empty = new OrderBook();
  empty.apply([[1, 0]], [[2, 0]]);
  assert.equal(empty.bidDepth + empty.askDepth, 0);
  assert.equal(empty.bestBid(), undefined);
  assert.equal(empty.bestAsk(), undefined);
  assert.equal(empty.isCrossed(), false);
});

test('zero-size snapshot levels are ignored, on both the sorted and the unsorted load path', () => {
  const book = new OrderBook();
  // sorted best-first (bids descending, asks ascending)
  book.applySnapshot(
    [
      [10, 1],
      [9, 0],
      [8, 2],
    ],
    [
      [11, 0],
      [12, 3],
    ],
  );
  assert.deepEqual(book.snapshot(), {
    bids: [
      [10, 1],
      [8, 2],
    ],
    asks: [[12, 3]],
  });
  // unsorted
  book.applySnapshot(
    [
      [8, 2],
      [9, 0],
      [10, 1],
    ],
    [
      [12, 3],
      [11, 0],
    ],
  );
  assert.deepEqual(book.snapshot(), {
    bids: [
      [10, 1],
      [8, 2],
    ],
    asks: [[12, 3]],
  });
});

test('duplicate prices in one delta or snapshot: the later entry wins', () => {
  const book = new OrderBook();
  book.applySnapshot(
    [
      [10, 1],
      [10, 5],
    ],
    [[11, 1]],
  );
  assert.deepEqual(book.bestBid(), [10, 5]);
  book.apply(
    [
      [10, 0],
      [10, 7],
    ],
    [
      [11, 2],
      [11, 0],
    ],
  );
  assert.deepEqual(book.snapshot(), { bids: [[10, 7]], asks: [] });
});

test('snapshot replaces everything that was there', () => {
  const book = new OrderBook();
  book.apply(
    [
      [1, 1],
      [2, 2],
    ],
    [[3, 3]],
  );
  book.applySnapshot([[5, 1]], [[6, 1]]);
  assert.deepEqual(book.snapshot(), { bids: [[5, 1]], asks: [[6, 1]] });
});

test('crossed detection', () => {
  const book = new OrderBook();
  book.applySnapshot([[10, 1]], [[11, 1]]);
  assert.equal(book.isCrossed(), false);
  book.setLevel('bid', 11, 1); // bid == ask
  assert.equal(book.isCrossed(), true);
  book.setLevel('bid', 11, 0);
  assert.equal(book.isCrossed(), false);
  book.setLevel('ask', 9.5, 1); // ask below bid
  assert.equal(book.isCrossed(), true);
  book.setLevel('bid', 10, 0);
  assert.equal(book.isCrossed(), false);
});

test('top(n) and snapshot order: best first, n larger than depth, n = 0', () => {
  const book = new OrderBook();
  book.applySnapshot(
    [
      [1, 1],
      [3, 1],
      [2, 1],
    ],
    [
      [6, 1],
      [4, 1],
      [5, 1],
    ],
  );
  assert.deepEqual(book.top(2), {
    bids: [
      [3, 1],
      [2, 1],
    ],
    asks: [
      [4, 1],
      [5, 1],
    ],
  });
  assert.deepEqual(book.top(0), { bids: [], asks: [] });
  assert.equal(book.top(99).bids.length, 3);
});

test('non-positive or NaN sizes delete instead of leaving a phantom level', () => {
  const book = new OrderBook();
  book.applySnapshot([[10, 1]], [[11, 1]]);
  book.apply([[10, -1]], [[11, NaN]]);
  assert.deepEqual(book.snapshot(), { bids: [], asks: [] });
});

test('large books: growth past the initial capacity and long moves match the model', () => {
  // deterministic LCG: thousands of levels, deep inserts/deletes (copyWithin paths) and top churn (short moves)
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const book = new OrderBook();
  const model = new ModelBook();
  const bids: Level[] = [];
  const asks: Level[] = [];
  for (let i = 0; i < 3000; i++) {
    bids.push([10000 - i, 1 + i]);
    asks.push([10001 + i, 1 + i]);
  }
  book.applySnapshot(bids, asks);
  model.snapshot(bids, asks);
  assertSame(book, model, 'after load');
  for (let i = 0; i < 20000; i++) {
    const isBid = rnd() < 0.5;
    const deep = rnd() < 0.3;
    const d = Math.floor(deep ? rnd() * 4000 : rnd() * 20);
    const p = isBid ? 10000 - d : 10001 + d;
    const s = rnd() < 0.4 ? 0 : Math.floor(rnd() * 100) + 1;
    book.setLevel(isBid ? 'bid' : 'ask', p, s);
    model.set(isBid ? 'bid' : 'ask', p, s);
  }
  assertSame(book, model, 'after churn');
  // grow from empty one level at a time, worst order (each insert at the far end from best)
  const grow = new OrderBook();
  for (let i = 0; i < 2500; i++) grow.setLevel('bid', 5000 - i, 1);
  assert.equal(grow.bidDepth, 2500);
  assert.deepEqual(grow.bestBid(), [5000, 1]);
  assert.deepEqual(grow.top(Infinity).bids.at(-1), [2501, 1]);
});

test('keepStrings at a fixed depth: strings follow their levels through many worst-end drops and adds', () => {
  // a venue that keeps a fixed depth drops its worst level after an insert and sends a new worst level after a
  // delete: the strings' free places below the side (strBase) are used, made, and packed again on the way
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          op: fc.constantFrom(
            'better',
            'worse',
            'delete worst',
            'delete low',
            'delete any',
            'resize',
            'truncate',
            'fill',
          ),
          at: fc.nat({ max: 1000 }),
          size: fc.integer({ min: 1, max: 9 }),
        }),
        { minLength: 1, maxLength: 400 },
      ),
      fc.integer({ min: 1, max: 40 }),
      (ops, depth) => {
        const book = new OrderBook({ keepStrings: true });
        const model = new Map<number, string>(); // bid price -> size text
        let best = 10_000;
        let worst = 10_000;
        const put = (p: number, z: number, text: string) => {
          book.applyWithStrings([[p, z]], [], [[`${p}.0`, text]], []);
          if (z > 0) model.set(p, text);
          else model.delete(p);
        };
        for (const o of ops) {
          const prices = [...model.keys()].sort((a, b) => a - b);
          if (o.op === 'better') put(++best, o.size, `${o.size}.5`);
          else if (o.op === 'worse') put(--worst, o.size, `${o.size}.25`);
          else if (o.op === 'delete worst' && prices.length > 0) put(prices[0], 0, '0');
          else if (o.op === 'delete low' && prices.length > 1)
            put(prices[1 + (o.at % Math.min(3, prices.length - 1))], 0, '0');
          else if (o.op === 'delete any' && prices.length > 0) put(prices[o.at % prices.length], 0, '0');
          else if (o.op === 'resize' && prices.length > 0) put(prices[o.at % prices.length], o.size, `${o.size}.75`);
          else if (o.op === 'fill' && best - worst > 1) {
            // a price inside the side (a gap a delete left, or an existing level resized)
            const p = worst + 1 + (o.at % (best - worst - 1));
            put(p, o.size, `${o.size}.125`);
          } else if (o.op === 'truncate') {
            book.dropBeyond(depth);
            for (const p of prices.slice(0, Math.max(0, prices.length - depth))) model.delete(p);
          }
          const want = [...model.entries()].sort((a, b) => b[0] - a[0]).map(([p, t]) => [`${p}.0`, t]);
          assert.deepEqual(book.topStrings(Infinity).bids, want);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('keepStrings at a fixed depth: the strings free places stay bounded however many levels pass through', () => {
  const book = new OrderBook({ keepStrings: true });
  // each new best pushes the worst out (a free place more below), each delete of the worst brings one in
  for (let i = 0; i < 20_000; i++) {
    book.applyWithStrings([[100 + i, 1]], [], [[`${100 + i}`, '1']], []);
    book.dropBeyond(10);
  }
  const side = book.stringSide('bid');
  assert.equal(side.n, 10);
  assert.ok(side.priceStr!.length <= 10 + 64 + 1, `strings array of ${side.priceStr!.length} for 10 levels`);
  assert.deepEqual(
    book.topStrings(3).bids,
    [20_099, 20_098, 20_097].map((p) => [`${p}`, '1']),
  );
  // and a level deleted near the worst end (its strings' lower neighbours move up) after each new best
  for (let i = 0; i < 20_000; i++) {
    book.applyWithStrings([[30_000 + i, 1]], [], [[`${30_000 + i}`, '1']], []);
    const third = book.priceAtRank('bid', book.bidDepth - 3);
    book.applyWithStrings([[third, 0]], [], [[`${third}`, '0']], []);
  }
  assert.equal(side.n, 10);
  assert.ok(side.priceStr!.length <= 10 + 64 + 1, `strings array of ${side.priceStr!.length} for 10 levels`);
});
