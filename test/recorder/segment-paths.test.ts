/** A book's folder holds its symbol whatever the venue spells: Kraken's BTC/USD is one folder, listed back as BTC/USD. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listBooks, streamDir } from '../../src/recorder/segment.js';

test("a symbol with '/' is one folder and lists back as spelled; other venues' folders keep their names", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-paths-'));
  try {
    const k = streamDir(dir, 'kraken', 'BTC/USD', 'book');
    const b = streamDir(dir, 'okx', 'BTC-USDT-SWAP', 'book');
    assert.equal(path.relative(dir, k).split(path.sep).length, 3, 'venue / symbol / stream');
    assert.equal(b, path.join(dir, 'okx', 'BTC-USDT-SWAP', 'book'));
    fs.mkdirSync(k, { recursive: true });
    fs.mkdirSync(b, { recursive: true });
    const books = listBooks(dir).sort((x, y) => x.venue.localeCompare(y.venue));
    assert.deepEqual(books, [
      { venue: 'kraken', symbol: 'BTC/USD' },
      { venue: 'okx', symbol: 'BTC-USDT-SWAP' },
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
