import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HashedBook } from '../../src/core/hashedBook.js';
import type { Level } from '../../src/core/types.js';

/** Levels on a small price grid, so that messages repeat prices and hit existing levels. */
const side = (maxLength: number) =>
  fc.array(
    fc.tuple(fc.integer({ min: 1, max: 40 }), fc.constantFrom(0, 0, 1, 2.5, 7)).map(([p, q]): Level => [p, q]),
    { maxLength },
  );

const spelled = (levels: Level[]) => levels.map(([p, q]): [string, string] => [String(p), String(q)]);

test('apply keeps the hash of the state whatever the message size (level by level or maps), with truncation', () => {
  fc.assert(
    fc.property(
      // up to 80 levels a side: past BULK_LEVELS (64) too
      fc.array(fc.tuple(side(80), side(80)), { minLength: 1, maxLength: 30 }),
      fc.constantFrom(5, Infinity),
      // numbers only; the venue's strings with them (a keepStrings book, a plain one); a side whose strings
      // say less than its numbers (the book reads that side from its strings)
      fc.constantFrom('numbers', 'strings', 'strings, plain book', 'fewer strings'),
      (messages, depth, how) => {
        const book = new HashedBook(how !== 'numbers' && how !== 'strings, plain book', depth);
        book.reset([], []);
        for (const [bids, asks] of messages) {
          if (how === 'numbers') book.apply(bids, asks);
          else {
            const strings = { bids: spelled(bids), asks: spelled(asks) };
            if (how === 'fewer strings') strings.bids.pop();
            book.apply(bids, asks, strings);
          }
          const again = new HashedBook(false, depth);
          const s = book.book.snapshot();
          again.reset(s.bids, s.asks);
          assert.equal(book.hash, again.hash);
        }
      },
    ),
    { numRuns: 500 },
  );
});
