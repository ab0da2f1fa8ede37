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

test('apply keeps the hash of the state whatever the message size (scratch arrays or maps), with truncation', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(side(40), side(40)), { minLength: 1, maxLength: 30 }),
      fc.constantFrom(5, Infinity),
      (messages, depth) => {
        const book = new HashedBook(false, depth);
        book.reset([], []);
        for (const [bids, asks] of messages) {
          book.apply(bids, asks);
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
