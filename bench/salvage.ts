/**
 * Cost of reading past damage (salvage.ts): a segment-sized file of random bytes (no block to find: the
 * magic search alone), and a file full of forged block headers (the CRC budget gives up). 3 runs each.
 *
 *   node dist/bench/salvage.js
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BLOCK_MAGIC_2 } from '../src/recorder/format.js';
import { salvageSegment } from '../src/recorder/salvage.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bookwire-salvage-'));
const file = path.join(dir, '0000000000000001.seg');
try {
  const time = (label: string) => {
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const s = salvageSegment(file);
      console.log(
        `${label}: ${(performance.now() - t0).toFixed(0)} ms (${s.blocks.length} blocks; ${s.damage[0]?.reason})`,
      );
    }
  };
  fs.writeFileSync(file, crypto.randomBytes(64 * 1024 * 1024));
  time('64 MiB of random bytes');
  const size = 8 * 1024 * 1024;
  const buf = Buffer.alloc(size);
  for (let off = 0; off + 40 <= size; off += 40) {
    buf.writeUInt32LE(BLOCK_MAGIC_2, off);
    buf.writeUInt32LE(Math.max(0, size - off - 64), off + 8); // a payload to near the end of the file
    buf.writeUInt32LE(100, off + 12);
    buf.writeUInt32LE(1, off + 16);
  }
  fs.writeFileSync(file, buf);
  time('8 MiB of forged block headers');
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
