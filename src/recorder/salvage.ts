/**
 * Reading what survives of a damaged segment: walk the block headers, and where they stop making sense
 * (a bad segment header, a bad or torn block header, a block whose length leads into garbage) search
 * forward for the next block whose header and CRC verify, so the blocks after the damage are read too.
 * Every stretch of bytes that yields nothing is returned as a Damage, so readers can say what they skipped.
 *
 * The search is bounded: it looks for the 4-byte block magic (Buffer.indexOf over 1 MiB windows) and
 * CRC-checks a candidate only if its header parses and its length fits in the file; the bytes checked
 * that way are capped per file (a file full of forged headers costs a few passes over it, never O(n^2)).
 */
import fs from 'node:fs';
import {
  BLOCK_HEADER_BYTES,
  BLOCK_MAGIC,
  BLOCK_MAGIC_2,
  blockCrcOk,
  parseBlockHeader,
  parseSegmentHeader,
  type BlockMeta,
} from './format.js';

/** Bytes of one segment file that could not be read. */
export interface Damage {
  /** Byte range [from, to) of the file. */
  from: number;
  to: number;
  reason: string;
  /**
   * An unfinished block at the end of an unsealed segment: the one being written, or one a crash cut
   * short (recovery cuts it on the recorder's next start). Not reported for the newest segment.
   */
  tail?: boolean;
}

export interface Salvaged {
  blocks: BlockMeta[];
  damage: Damage[];
  size: number;
}

const WINDOW = 1024 * 1024;
/** Bytes a file may cost in CRC checks of candidate blocks: a few times its size, plus slack for small files. */
export const salvageBudget = (size: number): number => 4 * size + 16 * 1024 * 1024;

const magicBytes = (m: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(m);
  return b;
};
const MAGIC_1 = magicBytes(BLOCK_MAGIC);
const MAGIC_2 = magicBytes(BLOCK_MAGIC_2);
/** The three bytes both magics share (they differ in the fourth). */
const MAGIC_PREFIX = MAGIC_1.subarray(0, 3);

/**
 * Blocks of a segment, read past damage. Without `verify` block headers are not CRC-checked on the way
 * (a reader checks each block it reads); where the walk fails, the block that led there is checked, and
 * dropped if its header lied about its length. With `verify` (recovery) every block is CRC-checked.
 */
export function salvageSegment(file: string, verify = false): Salvaged {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const damage: Damage[] = [];
    const blocks: BlockMeta[] = [];
    if (size === 0) return { blocks, damage: [{ from: 0, to: 0, reason: 'empty file (0 bytes)' }], size };
    const head = Buffer.alloc(Math.min(size, 4096));
    fs.readSync(fd, head, 0, head.length, 0);
    const sh = parseSegmentHeader(head); // a version this build does not read throws, by name
    const budget = { bytes: salvageBudget(size) };
    const hb = Buffer.alloc(BLOCK_HEADER_BYTES);
    let off = sh ? sh.length : 0;
    let problem = sh ? undefined : 'bad or torn segment header';
    let searchFrom = off;
    for (;;) {
      while (problem === undefined && off < size) {
        if (off + BLOCK_HEADER_BYTES > size) {
          problem = 'torn block header';
          break;
        }
        fs.readSync(fd, hb, 0, BLOCK_HEADER_BYTES, off);
        const m = parseBlockHeader(hb, off);
        if (!m) problem = 'bad block header';
        else if (off + BLOCK_HEADER_BYTES + m.clen > size) problem = 'torn block';
        else if (verify && !verifyAt(fd, m, { bytes: Infinity })) problem = 'block checksum mismatch';
        else {
          blocks.push(meta(m));
          off += BLOCK_HEADER_BYTES + m.clen;
        }
        searchFrom = off + 1;
      }
      if (problem === undefined) break;
      // The block that led here may have lied about its length: if it does not verify, the damage starts there.
      const last = blocks[blocks.length - 1];
      if (!verify && last && last.offset + BLOCK_HEADER_BYTES + last.clen === off && !verifyAt(fd, last, budget)) {
        blocks.pop();
        off = last.offset;
        searchFrom = off + 1;
        problem = 'block checksum mismatch';
      }
      const next = budget.bytes > 0 ? findBlock(fd, Math.min(searchFrom, size), size, budget) : undefined;
      const torn = problem === 'torn block header' || problem === 'torn block';
      damage.push({
        from: off,
        to: next?.offset ?? size,
        reason: budget.bytes <= 0 ? `${problem}; salvage stopped (too many false block headers)` : problem,
        ...(torn && !next ? { tail: true } : {}),
      });
      if (!next) break;
      blocks.push(next);
      off = next.offset + BLOCK_HEADER_BYTES + next.clen;
      searchFrom = off + 1;
      problem = undefined;
    }
    return { blocks, damage, size };
  } finally {
    fs.closeSync(fd);
  }
}

/** A block's index entry alone (a parsed header carries more fields than the index keeps). */
export function meta(m: BlockMeta): BlockMeta {
  return {
    offset: m.offset,
    clen: m.clen,
    count: m.count,
    firstTime: m.firstTime,
    lastTime: m.lastTime,
    flags: m.flags,
  };
}

/** Read a whole block and check its CRC, within the budget (spent even when it fails). */
function verifyAt(fd: number, m: BlockMeta, budget: { bytes: number }): boolean {
  const n = BLOCK_HEADER_BYTES + m.clen;
  if (n > budget.bytes) {
    budget.bytes = 0;
    return false;
  }
  budget.bytes -= n;
  const b = Buffer.allocUnsafe(n);
  return fs.readSync(fd, b, 0, n, m.offset) === n && blockCrcOk(b);
}

/** The first block at or after `start` whose header parses and whose CRC verifies, if any. */
function findBlock(fd: number, start: number, size: number, budget: { bytes: number }): BlockMeta | undefined {
  const win = Buffer.allocUnsafe(Math.min(WINDOW, size));
  const hb = Buffer.alloc(BLOCK_HEADER_BYTES);
  for (let base = start; base + BLOCK_HEADER_BYTES <= size; base += win.length - 3) {
    const n = fs.readSync(fd, win, 0, Math.min(win.length, size - base), base);
    const w = win.subarray(0, n);
    for (let i = w.indexOf(MAGIC_PREFIX); i >= 0; i = w.indexOf(MAGIC_PREFIX, i + 1)) {
      const at = base + i;
      if (at + BLOCK_HEADER_BYTES > size) return undefined;
      if (i + 4 <= n && w[i + 3] !== MAGIC_1[3] && w[i + 3] !== MAGIC_2[3]) continue;
      fs.readSync(fd, hb, 0, BLOCK_HEADER_BYTES, at);
      const m = parseBlockHeader(hb, at);
      if (!m || at + BLOCK_HEADER_BYTES + m.clen > size) continue;
      if (verifyAt(fd, m, budget)) return meta(m);
      if (budget.bytes <= 0) return undefined;
    }
    if (base + n >= size) break;
  }
  return undefined;
}
